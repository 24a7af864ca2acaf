package io.dbrollback.operator;

import io.dbrollback.testing.MockApiServer;
import io.grpc.ClientInterceptor;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;

/**
 * The operator run in-process by JOSDK against a {@link MockApiServer}, with a Kubernetes client of its
 * own. Two things are faster than in production, so that fault tests do not wait for nothing; neither
 * changes what is retried, only how soon:
 * <ul>
 *   <li>the client retries a 5xx answer {@link #CLIENT_RETRIES} times (fabric8's default count) but
 *       10 ms apart instead of 100 ms, and reconnects a watch after 100 ms instead of 1 s;</li>
 *   <li>a failed reconcile is retried without limit, as in production ({@link RollbackReconciler}'s
 *       {@code @GradualRetry}), but from 100 ms up to 1 s instead of from 2 s up to 60 s.</li>
 * </ul>
 * An informer that stops for good is recorded in {@link #stoppedInformers} (JOSDK's default would
 * end the JVM, and every test class in it); in production the liveness check restarts the pod.
 */
final class InProcessOperator implements AutoCloseable {

    /** How often the operator's client retries a 5xx answer before its caller sees it (fabric8's default). */
    static final int CLIENT_RETRIES = 10;
    /** How many 5xx answers in a row reach the reconciler as one failed request. */
    static final int SERVER_ERRORS_SEEN_ONCE = CLIENT_RETRIES + 1;

    final KubernetesClient client;
    final Operator operator;
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final RollbackMetrics metrics;
    /** Informers that stopped on an error, with the error. */
    final List<String> stoppedInformers = new CopyOnWriteArrayList<>();

    /** An operator with the wall clock and no step budget. */
    InProcessOperator(MockApiServer api) {
        this(api, Clock.systemUTC(), null);
    }

    /**
     * @param clock the operator's wall clock (timestamps)
     * @param stepBudget see {@link RollbackReconciler}; null for none
     */
    InProcessOperator(MockApiServer api, Clock clock, Semaphore stepBudget) {
        this(api, clock, stepBudget, List.of());
    }

    /** @param interceptors see every call the operator makes to an agent */
    InProcessOperator(MockApiServer api, List<ClientInterceptor> interceptors) {
        this(api, Clock.systemUTC(), null, interceptors);
    }

    private InProcessOperator(MockApiServer api, Clock clock, Semaphore stepBudget,
            List<ClientInterceptor> interceptors) {
        client = new KubernetesClientBuilder().withConfig(new ConfigBuilder(api.client().getConfiguration())
                .withRequestRetryBackoffLimit(CLIENT_RETRIES).withRequestRetryBackoffInterval(10)
                .withWatchReconnectInterval(100).build()).build();
        metrics = new RollbackMetrics(registry);
        operator = TestOperator.against(client).clock(clock).agents(new AgentClients(interceptors)).metrics(metrics)
                .stepBudget(stepBudget).configure(o -> o.withInformerStoppedHandler((informer, e) -> {
                    if (e != null) {
                        stoppedInformers.add(informer + ": " + e);
                    }
                })).start();
    }

    @Override
    public void close() {
        try {
            operator.stop();
        } finally {
            client.close();
        }
    }
}
