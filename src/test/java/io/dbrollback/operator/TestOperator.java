package io.dbrollback.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.ConfigurationServiceOverrider;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.processing.retry.GenericRetry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The one way a test builds the operator in its own JVM: the production reconciler (its one
 * constructor) over the production {@link ClusterStepFactory}, with test decorators chosen here. Only
 * the pace differs from a deployment unless a test says otherwise: the failed-step backoff is 100 ms
 * doubled up to 2 s (a tenth of the deployed times) and JOSDK's failed-reconcile retry, unlimited as in
 * production, runs from 100 ms up to 1 s.
 */
public final class TestOperator {

    private final KubernetesClient client;
    private Clock clock = Clock.systemUTC();
    private AgentClients agents;
    private String instance = "operator-under-test";
    private MeterRegistry registry;
    private RollbackMetrics metrics;
    private RollbackFileStore.Writer writer = RollbackFileStore.Writer.EXEC;
    private ReconcileSettings settings = ReconcileSettings.DEFAULTS.withBackoff(Duration.ofMillis(100),
            Duration.ofSeconds(2));
    private Semaphore stepBudget;
    private boolean fastRetry = true;
    private Consumer<ConfigurationServiceOverrider> configure = o -> { };
    private boolean autopilot;
    private UnaryOperator<AutopilotWorld> autopilotWorld = UnaryOperator.identity();
    private PolicyMetrics policyMetrics;

    private TestOperator(KubernetesClient client) {
        this.client = Objects.requireNonNull(client, "client");
    }

    /** An operator that talks to the API server of {@code client}. */
    public static TestOperator against(KubernetesClient client) {
        return new TestOperator(client);
    }

    /** The operator's wall clock (timestamps; durations are monotonic). */
    public TestOperator clock(Clock c) {
        this.clock = c;
        return this;
    }

    /** Its gRPC channels to the agents (default: plaintext, the deployed deadlines). */
    public TestOperator agents(AgentClients a) {
        this.agents = a;
        return this;
    }

    /** The Events' reporting instance. */
    public TestOperator instance(String name) {
        this.instance = name;
        return this;
    }

    /** Where its metrics go (default: a registry of its own). */
    public TestOperator registry(MeterRegistry r) {
        this.registry = r;
        return this;
    }

    /** Its metrics (default: over the registry). */
    public TestOperator metrics(RollbackMetrics m) {
        this.metrics = m;
        return this;
    }

    /** Who writes the rollback file (default: exec). */
    public TestOperator writer(RollbackFileStore.Writer w) {
        this.writer = w;
        return this;
    }

    /** How many coordinator steps one reconcile takes at most (default: as deployed, 40). */
    public TestOperator maxSteps(int steps) {
        this.settings = settings.withMaxSteps(steps);
        return this;
    }

    /** How long a waiting and a blocked rollback rest before they are looked at again (default: as deployed). */
    public TestOperator rechecks(Duration waitRecheck, Duration blockedRecheck) {
        this.settings = new ReconcileSettings(settings.maxSteps(), waitRecheck, blockedRecheck,
                settings.initialBackoff(), settings.maxBackoff());
        return this;
    }

    /** The failed-step backoff (default: 100 ms doubled up to 2 s). */
    public TestOperator backoff(Duration initial, Duration max) {
        this.settings = settings.withBackoff(initial, max);
        return this;
    }

    /**
     * The coordinator steps this operator may take in all: every step takes a permit and none is taken
     * without one, so that a test can stop an operator after an exact number of steps.
     */
    public TestOperator stepBudget(Semaphore budget) {
        this.stepBudget = budget;
        return this;
    }

    /** JOSDK's failed-reconcile retry as deployed (2 s up to 60 s) rather than the fast one. */
    public TestOperator deployedRetry() {
        this.fastRetry = false;
        return this;
    }

    /** More of JOSDK's configuration (handlers of a test). */
    public TestOperator configure(Consumer<ConfigurationServiceOverrider> more) {
        this.configure = more;
        return this;
    }

    /** Runs the autopilot too: the RollbackPolicy reconciler (default: only the rollback reconciler). */
    public TestOperator autopilot() {
        this.autopilot = true;
        return this;
    }

    /** Runs the autopilot with its world decorated (a test's faults between its steps). */
    public TestOperator autopilot(UnaryOperator<AutopilotWorld> decorate) {
        this.autopilot = true;
        this.autopilotWorld = decorate;
        return this;
    }

    /** The autopilot's metrics (default: over the registry). */
    public TestOperator policyMetrics(PolicyMetrics m) {
        this.policyMetrics = m;
        return this;
    }

    /** The autopilot's reconciler as configured, not registered anywhere. */
    public PolicyReconciler policyReconciler() {
        RollbackMetrics m = metrics != null ? metrics
                : new RollbackMetrics(registry != null ? registry : new SimpleMeterRegistry());
        AutopilotWorld world = autopilotWorld.apply(new ClusterAutopilotWorld(client,
                agents != null ? agents : new AgentClients(), m));
        return new PolicyReconciler(world, new KubernetesEventRecorder(client, clock, instance),
                policyMetrics != null ? policyMetrics
                        : new PolicyMetrics(registry != null ? registry : new SimpleMeterRegistry()),
                settings, clock);
    }

    /** The reconciler as configured, not registered anywhere. */
    public RollbackReconciler reconciler() {
        RollbackMetrics m = metrics != null ? metrics
                : new RollbackMetrics(registry != null ? registry : new SimpleMeterRegistry());
        StepFactory steps = new ClusterStepFactory(client, agents != null ? agents : new AgentClients(), m, writer,
                clock);
        if (stepBudget != null) {
            steps = new BudgetedSteps(steps, stepBudget);
        }
        return new RollbackReconciler(steps, new KubernetesEventRecorder(client, clock, instance), m, settings, clock);
    }

    /** A JOSDK operator running the reconciler, started. Stop it with {@link Operator#stop()}. */
    public Operator start() {
        Operator operator = new Operator(o -> {
            o.withKubernetesClient(client).withCloseClientOnStop(false).withUseSSAToPatchPrimaryResource(false);
            configure.accept(o);
        });
        register(operator, reconciler());
        if (autopilot) {
            register(operator, policyReconciler());
        }
        operator.start();
        return operator;
    }

    private <P extends HasMetadata> void register(Operator operator, Reconciler<P> reconciler) {
        if (fastRetry) {
            operator.register(reconciler, o -> o.withRetry(new GenericRetry().withoutMaxAttempts()
                    .setInitialInterval(100).setIntervalMultiplier(1.5).setMaxInterval(1000)));
        } else {
            operator.register(reconciler);
        }
    }
}
