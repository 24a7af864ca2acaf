package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.Coordinator;
import io.dbrollback.coordinator.Decision;
import io.dbrollback.coordinator.IncidentSpec;
import io.dbrollback.coordinator.Observation;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.RollbackRunner;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.RollbackEvent;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.GroupVersionKind;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Reconciles ReplicaSetRollbacks. Each reconcile runs a short list of named steps: observe (pods,
 * Lease, timelines), validate, queue behind an older rollback of the same cluster, then let the
 * coordinator decide and act one step at a time, writing the status (the durable checkpoint) after
 * every step, until the rollback waits, must retry, or ends. A restarted operator resumes from the
 * status. Waiting is a reschedule, never a sleep.
 */
// Not generation-aware: the approve and pause annotations change no generation but must act at once.
// Status-only updates (the operator's own status writes) start no reconcile: the writer went on in the
// same reconcile or rescheduled it, and a failed step's backoff must not be cut short by the write that
// records the failure (that made a lying agent a hot loop).
// A rollback that cannot be read is never reconciled (JOSDK would first add the finalizer) until it is deleted.
@ControllerConfiguration(name = RollbackReconciler.NAME, generationAwareEventProcessing = false,
        informer = @Informer(genericFilter = UnreadableRollbacks.Filter.class,
                onUpdateFilter = RollbackReconciler.NotOnlyStatus.class))
// A failed reconcile (the API server refused or lost a status write, 409 or 5xx) is retried without a
// limit, backing off to once a minute: with JOSDK's default of 5 attempts, an API server outage of a
// few minutes would leave a rollback stopped mid-flight until some unrelated event.
@GradualRetry(maxAttempts = RollbackReconciler.RETRY_FOREVER, initialInterval = 2_000, intervalMultiplier = 1.5,
        maxInterval = 60_000)
public class RollbackReconciler implements Reconciler<ReplicaSetRollback>, Cleaner<ReplicaSetRollback> {

    static final String NAME = "replicasetrollback";
    static final String LEASE_INDEX = "dbrollback.io/lease";
    public static final int MAX_STEPS_PER_RECONCILE = 40;
    static final Duration WAIT = Duration.ofSeconds(10);
    static final Duration PROBLEM = Duration.ofSeconds(20);
    /** The transport's code for a refused TLS handshake or an UNAUTHENTICATED answer. */
    static final String UNAUTHENTICATED = io.grpc.Status.Code.UNAUTHENTICATED.name();
    /** The Blocked reason while an agent refuses the operator's TLS (or the operator refuses the agent's). */
    public static final String AGENT_UNAUTHENTICATED = "AgentUnauthenticated";
    /** JOSDK's value for "no limit on attempts". */
    static final int RETRY_FOREVER = -1;

    private static final Logger LOG = Logger.getLogger(RollbackReconciler.class);

    private final KubernetesClient client;
    private final Clock clock;
    private final AgentClients clients;
    private final EventRecorder events;
    private final ClusterObserver observer;
    private final RollbackMetrics metrics;
    private final int maxSteps;
    private final java.util.concurrent.Semaphore stepBudget;
    private final RollbackFileStore.Writer writer;
    private final CrashPoints crashPoints;
    private Duration initialBackoff = Duration.ofSeconds(1);
    private Duration maxBackoff = Duration.ofSeconds(60);
    /** The resourceVersion of this process's last status write, per rollback (uid). */
    private final Map<String, String> lastWritten = new java.util.concurrent.ConcurrentHashMap<>();
    /** Rollbacks (uids) this process ended whose end Event is not written yet. */
    private final Set<String> endPending = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final UnreadableRollbacks unreadable;
    /**
     * Leases are watched as generic objects: a Lease is only mapped to its rollbacks by name, and one
     * Lease that does not fit fabric8's class must not end the watch of every Lease (each step reads
     * its own Lease afresh, typed).
     */
    static final GroupVersionKind LEASE = new GroupVersionKind("coordination.k8s.io", "v1", "Lease");
    /** The Lease informer's name (in the health checks). */
    static final String LEASE_SOURCE = "leases";

    /** The exec mode (the operator writes the rollback file through pod exec). */
    public RollbackReconciler(KubernetesClient client, Clock clock, AgentClients clients, EventRecorder events,
            RollbackMetrics metrics) {
        this(client, clock, clients, events, metrics, MAX_STEPS_PER_RECONCILE);
    }

    /**
     * @param writer {@code dbrollback.rollback-file.writer}: {@code exec} (pod exec, the default) or
     *     {@code agent} (the agent writes the rollback file over gRPC; no pods/exec needed)
     * @param crashPoints the crash test hook ({@link CrashPoints#OFF} unless a crash test armed it)
     */
    @Inject
    public RollbackReconciler(KubernetesClient client, Clock clock, AgentClients clients, EventRecorder events,
            RollbackMetrics metrics, @org.eclipse.microprofile.config.inject.ConfigProperty(
                    name = "dbrollback.rollback-file.writer", defaultValue = "exec") String writer,
            CrashPoints crashPoints,
            @org.eclipse.microprofile.config.inject.ConfigProperty(name = "dbrollback.retry.initial-backoff",
                    defaultValue = "1s") Duration initialBackoff,
            @org.eclipse.microprofile.config.inject.ConfigProperty(name = "dbrollback.retry.max-backoff",
                    defaultValue = "60s") Duration maxBackoff) {
        this(client, clock, clients, events, metrics, MAX_STEPS_PER_RECONCILE, null,
                RollbackFileStore.Writer.parse(writer), crashPoints);
        withBackoff(initialBackoff, maxBackoff);
    }

    /** @param maxSteps how many coordinator steps one reconcile may take before it yields */
    public RollbackReconciler(KubernetesClient client, Clock clock, AgentClients clients, EventRecorder events,
            RollbackMetrics metrics, int maxSteps) {
        this(client, clock, clients, events, metrics, maxSteps, null, RollbackFileStore.Writer.EXEC, CrashPoints.OFF);
    }

    /**
     * @param stepBudget when not null, every coordinator step takes a permit and none is taken without
     *     one: lets a test stop an operator instance after an exact number of steps
     */
    public RollbackReconciler(KubernetesClient client, Clock clock, AgentClients clients, EventRecorder events,
            RollbackMetrics metrics, int maxSteps, java.util.concurrent.Semaphore stepBudget) {
        this(client, clock, clients, events, metrics, maxSteps, stepBudget, RollbackFileStore.Writer.EXEC,
                CrashPoints.OFF);
    }

    /**
     * @param writer who writes the rollback file: the operator through pod exec, or the agent
     * @param crashPoints the crash test hook ({@link CrashPoints#OFF} unless a crash test armed it)
     */
    public RollbackReconciler(KubernetesClient client, Clock clock, AgentClients clients, EventRecorder events,
            RollbackMetrics metrics, int maxSteps, java.util.concurrent.Semaphore stepBudget,
            RollbackFileStore.Writer writer, CrashPoints crashPoints) {
        this.writer = java.util.Objects.requireNonNull(writer, "writer");
        this.crashPoints = java.util.Objects.requireNonNull(crashPoints, "crashPoints");
        this.stepBudget = stepBudget;
        this.client = client;
        this.clock = clock;
        this.clients = clients;
        this.events = events;
        this.metrics = metrics;
        this.observer = new ClusterObserver(client, clients, metrics);
        this.maxSteps = maxSteps;
        this.unreadable = new UnreadableRollbacks(client, clock, events, metrics);
    }

    /**
     * Sets the backoff between attempts of a failed step ({@code dbrollback.retry.initial-backoff},
     * default 1 s, doubled per attempt up to {@code dbrollback.retry.max-backoff}, default 60 s).
     *
     * @return this reconciler
     */
    public RollbackReconciler withBackoff(Duration initial, Duration max) {
        if (initial == null || max == null || initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("dbrollback.retry.initial-backoff must be positive and at most"
                    + " dbrollback.retry.max-backoff");
        }
        this.initialBackoff = initial;
        this.maxBackoff = max;
        return this;
    }

    /**
     * Passes an update of a ReplicaSetRollback unless it changed nothing but the status: a change of the
     * spec (generation), the annotations (approve, pause), the labels, the finalizers or the deletion
     * mark starts a reconcile at once; a status write does not.
     */
    public static final class NotOnlyStatus implements
            io.javaoperatorsdk.operator.processing.event.source.filter.OnUpdateFilter<ReplicaSetRollback> {
        @Override
        public boolean accept(ReplicaSetRollback now, ReplicaSetRollback before) {
            if (before == null || now == null) {
                return true;
            }
            io.fabric8.kubernetes.api.model.ObjectMeta a = now.getMetadata();
            io.fabric8.kubernetes.api.model.ObjectMeta b = before.getMetadata();
            return !java.util.Objects.equals(a.getGeneration(), b.getGeneration())
                    || !java.util.Objects.equals(a.getAnnotations(), b.getAnnotations())
                    || !java.util.Objects.equals(a.getLabels(), b.getLabels())
                    || !java.util.Objects.equals(a.getFinalizers(), b.getFinalizers())
                    || !java.util.Objects.equals(a.getDeletionTimestamp(), b.getDeletionTimestamp());
        }
    }

    /** Whether a Lease update changed what the operator reads from it: its holder or its term. */
    static boolean leaderChanged(GenericKubernetesResource now, GenericKubernetesResource before) {
        if (now == null || before == null) {
            return true;
        }
        return !java.util.Objects.equals(leaseField(now, "holderIdentity"), leaseField(before, "holderIdentity"))
                || !java.util.Objects.equals(leaseField(now, "leaseTransitions"), leaseField(before, "leaseTransitions"))
                || !java.util.Objects.equals(termAnnotation(now), termAnnotation(before));
    }

    private static Object leaseField(GenericKubernetesResource lease, String field) {
        Object spec = lease.getAdditionalProperties().get("spec");
        return spec instanceof Map<?, ?> m ? m.get(field) : null;
    }

    private static String termAnnotation(GenericKubernetesResource lease) {
        Map<String, String> a = lease.getMetadata() == null ? null : lease.getMetadata().getAnnotations();
        return a == null ? null : a.get(ClusterObserver.TERM_ANNOTATION);
    }

    static String leaseKey(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + r.getSpec().getCluster().getLeaseName();
    }

    @Override
    public List<EventSource<?, ReplicaSetRollback>> prepareEventSources(EventSourceContext<ReplicaSetRollback> context) {
        context.getPrimaryCache().addIndexer(LEASE_INDEX, r -> r.getSpec() == null || r.getSpec().getCluster() == null
                ? List.of() : List.of(leaseKey(r)));
        InformerEventSourceConfiguration<GenericKubernetesResource> config = InformerEventSourceConfiguration
                .from(LEASE, ReplicaSetRollback.class).withName(LEASE_SOURCE)
                // an unreadable rollback is never triggered: a reconcile would first add the finalizer
                .withSecondaryToPrimaryMapper(lease -> context.getPrimaryCache()
                        .byIndex(LEASE_INDEX, lease.getMetadata().getNamespace() + "/" + lease.getMetadata().getName())
                        .stream().filter(r -> r.unreadable() == null).map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
                .withPrimaryToSecondaryMapper((ReplicaSetRollback r) -> r.getSpec() == null
                        || r.getSpec().getCluster() == null ? Set.of() : Set.of(new ResourceID(
                        r.getSpec().getCluster().getLeaseName(), r.getMetadata().getNamespace())))
                .withNamespacesInheritedFromController()
                // A Lease renewal (renewTime) must not start a reconcile: it would cut every failed step's
                // backoff short at the renewal rate. Only a new holder or a new term matters here.
                .withOnUpdateFilter(RollbackReconciler::leaderChanged)
                .build();
        return List.of(new InformerEventSource<>(config, context), unreadable);
    }

    @Override
    public UpdateControl<ReplicaSetRollback> reconcile(ReplicaSetRollback cached, Context<ReplicaSetRollback> ctx) {
        Outcome o;
        try {
            ReplicaSetRollback rollback = latest(cached);
            UpdateControl<ReplicaSetRollback> unreadableControl = unreadable.reconcile(rollback);
            if (unreadableControl != null) {
                return unreadableControl;
            }
            o = drive(rollback, ctx);
        } catch (KubernetesClientException e) {
            throw e; // the API server refused or lost a write: JOSDK retries the reconcile with backoff
        } catch (RuntimeException e) {
            o = unexpected(cached, e);
        }
        return o.after == null ? UpdateControl.noUpdate() : UpdateControl.<ReplicaSetRollback>noUpdate()
                .rescheduleAfter(o.after);
    }

    /**
     * A reconcile failed in a way no step foresaw (a defect): nothing is left unsaid and nothing loops.
     * It is logged with its stack, told by a Warning Event (the exception's type and its message, cut
     * like an agent's text), counted, and the rollback is looked at again after {@link #PROBLEM}. Every
     * step's side effect and its status write are idempotent, so the next reconcile resumes safely.
     */
    private Outcome unexpected(ReplicaSetRollback r, RuntimeException e) {
        LOG.errorf(e, "reconcile of %s/%s failed unexpectedly", r.getMetadata().getNamespace(),
                r.getMetadata().getName());
        metrics.callFailed("Reconcile", e.getClass().getSimpleName());
        events.record(r, EventRecorder.Type.Warning, EventReason.ReconcileFailed, "the operator failed unexpectedly ("
                + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": "
                        + GrpcRollbackTransport.agentText(e.getMessage())) + "); it looks again in "
                + PROBLEM.toSeconds() + " s", r.getSpec() == null ? null : r.getSpec().getTargetPod(), "unexpected");
        return new Outcome(PROBLEM, false, null);
    }

    /**
     * Deleting a rollback before its recover began is safe (nothing was removed); from the recover
     * on, the finalizer holds the resource until the rollback reaches its end.
     */
    @Override
    public DeleteControl cleanup(ReplicaSetRollback cached, Context<ReplicaSetRollback> ctx) {
        try {
            return clean(latest(cached), ctx);
        } catch (KubernetesClientException e) {
            throw e;
        } catch (RuntimeException e) {
            return DeleteControl.noFinalizerRemoval().rescheduleAfter(unexpected(cached, e).after);
        }
    }

    private DeleteControl clean(ReplicaSetRollback rollback, Context<ReplicaSetRollback> ctx) {
        if (unreadable.released(rollback)) {
            endPending.remove(rollback.getMetadata().getUid());
            lastWritten.remove(rollback.getMetadata().getUid());
            return DeleteControl.defaultDelete();
        }
        Checkpoint cp = StatusMapper.fromStatus(rollback.getStatus());
        if (cp == null || cp.phase().isTerminal() || cp.phase().ordinal() < Phase.RECOVERING.ordinal()) {
            metrics.forget(key(rollback));
            endPending.remove(rollback.getMetadata().getUid());
            lastWritten.remove(rollback.getMetadata().getUid());
            if (cp != null && !cp.phase().isTerminal() && cp.phase().ordinal() >= Phase.FENCED.ordinal()) {
                events.record(rollback, EventRecorder.Type.Warning, EventReason.RollbackDeleted, "deleted in phase "
                        + StatusMapper.phaseName(cp.phase()) + " before anything was removed; pod "
                        + rollback.getSpec().getTargetPod() + " stays fenced", rollback.getSpec().getTargetPod(),
                        "deleted");
            }
            return DeleteControl.defaultDelete();
        }
        Outcome o = drive(rollback, ctx);
        if (o.terminal) {
            endPending.remove(rollback.getMetadata().getUid());
            return DeleteControl.defaultDelete();
        }
        events.record(rollback, EventRecorder.Type.Normal, EventReason.DeletionDeferred, "the node is being recovered (phase "
                + StatusMapper.phaseName(o.phase) + "); the resource is kept until the rollback ends",
                rollback.getSpec().getTargetPod(), "deferred");
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(o.after == null ? WAIT : o.after);
    }

    private record Outcome(Duration after, boolean terminal, Phase phase) {
    }

    /**
     * The informer's copy may not have seen this process's last status write yet (its watch event is
     * still on the way). Acting on it would redo a step already done (up to reading the whole tail
     * again) only to have the status write refused (409). When the copy is not the version this
     * process last wrote, read the resource from the API server instead: one GET.
     */
    private ReplicaSetRollback latest(ReplicaSetRollback cached) {
        String mine = lastWritten.get(cached.getMetadata().getUid());
        if (mine == null || mine.equals(cached.getMetadata().getResourceVersion())) {
            return cached;
        }
        ReplicaSetRollback stored = client.resources(ReplicaSetRollback.class)
                .inNamespace(cached.getMetadata().getNamespace()).withName(cached.getMetadata().getName()).get();
        return stored != null && stored.getMetadata().getUid().equals(cached.getMetadata().getUid()) ? stored : cached;
    }

    /** observe -> validate -> queue -> step, write status, step... -> decide reschedule. */
    private Outcome drive(ReplicaSetRollback rollback, Context<ReplicaSetRollback> ctx) {
        org.jboss.logging.MDC.put("rollback", rollback.getMetadata().getNamespace() + "/"
                + rollback.getMetadata().getName());
        org.jboss.logging.MDC.put("incident", rollback.getMetadata().getUid());
        try {
            return driveSteps(rollback, ctx);
        } finally {
            org.jboss.logging.MDC.remove("rollback");
            org.jboss.logging.MDC.remove("incident");
        }
    }

    private Outcome driveSteps(ReplicaSetRollback rollback, Context<ReplicaSetRollback> ctx) {
        Instant now = clock.instant();
        Checkpoint cp = StatusMapper.fromStatus(rollback.getStatus());
        if (cp == null) {
            cp = Checkpoint.start(rollback.getMetadata().getUid(), now);
            metrics.started(key(rollback));
        }
        boolean paused = IncidentSpecs.paused(rollback);
        if (cp.phase().isTerminal() && endPending.contains(rollback.getMetadata().getUid())) {
            ensureEndEvent(rollback, cp);
        }
        if (cp.phase().isTerminal() || paused) {
            write(rollback, cp, paused, null);
            return new Outcome(cp.phase().isTerminal() ? afterEnd(rollback) : WAIT, cp.phase().isTerminal(),
                    cp.phase());
        }
        List<String> invalid = SpecValidator.problems(rollback);
        if (!invalid.isEmpty()) {
            return problem(rollback, cp, new ClusterObserver.Problem("InvalidSpec", String.join("; ", invalid)
                    + "; nothing was done"));
        }
        IncidentSpec spec = IncidentSpecs.from(rollback);
        ReplicaSetRollback older = olderActive(rollback, ctx);
        if (older != null) {
            return problem(rollback, cp, new ClusterObserver.Problem("Queued", "waiting for "
                    + older.getMetadata().getName() + ", an older rollback of the same cluster, to end"));
        }
        ReplicaSetRollback current = rollback;
        for (int i = 0; i < maxSteps; i++) {
            if (stepBudget != null && !stepBudget.tryAcquire()) {
                return new Outcome(WAIT, false, cp.phase());
            }
            if (i > 0) {
                // `current` is what the last status write returned: the latest spec, annotations and
                // deletion mark. A pause, a deletion before the recover, or an edit acts at the next step.
                if (IncidentSpecs.paused(current)) {
                    write(current, cp, true, null);
                    return new Outcome(WAIT, false, cp.phase());
                }
                if (current.getMetadata().getDeletionTimestamp() != null
                        && cp.phase().ordinal() < Phase.RECOVERING.ordinal()) {
                    return new Outcome(Duration.ofMillis(100), false, cp.phase());
                }
                if (!SpecValidator.problems(current).isEmpty()) {
                    return new Outcome(Duration.ofMillis(100), false, cp.phase());
                }
                spec = IncidentSpecs.from(current);
            }
            ClusterObserver.Resolution res = observer.resolve(current);
            if (res.problem() != null) {
                return problem(current, cp, res.problem());
            }
            ClusterObserver.Resolved resolved = res.resolved();
            ClusterObserver.Observed observed;
            try {
                observed = observer.observe(resolved);
            } catch (TransportException e) {
                Checkpoint before = cp;
                metrics.callFailed("GetTimeline", e.code());
                Checkpoint next = new Coordinator(clock).afterFailure(spec, cp, null, null, "observe failed", e);
                RollbackRunner.Step failed = new RollbackRunner.Step(next, next.phase().isTerminal()
                        ? RollbackRunner.Step.Kind.DONE : RollbackRunner.Step.Kind.RETRY, null);
                cp = next;
                if (UNAUTHENTICATED.equals(e.code())) {
                    return unauthenticated(current, cp, e, resolved.tls());
                }
                return recordStep(current, before, failed);
            }
            if (observed.leaderError() != null) {
                metrics.callFailed("GetTimeline", observed.leaderError().code());
            }
            Observation obs = observed.observation();
            ReplicaSetRollback forEvents = current;
            String key = key(current);
            GrpcRollbackTransport transport = new GrpcRollbackTransport(resolved.targetPod(), clients, resolved.tls(),
                    resolved.agentAddresses(), files(current, resolved, cp, key), e -> announce(forEvents, e), clock);
            RollbackRunner.Step step = new RollbackRunner(crashPoints.wrap(new MeteredTransport(transport, metrics), key),
                    clock).step(spec, cp, obs);
            TransportException leaderError = observed.leaderError();
            if (step.decision() instanceof Decision.Wait w && w.reason() == Reason.LeaderNotObserved
                    && leaderError != null && UNAUTHENTICATED.equals(leaderError.code())) {
                // The coordinator waits for the Lease holder's timeline, and its agent refused the
                // handshake: that is the reason to show.
                return unauthenticated(current, step.checkpoint(), leaderError, resolved.tls());
            }
            Checkpoint before = cp;
            cp = step.checkpoint();
            if (step.kind() != RollbackRunner.Step.Kind.PROGRESSED) {
                return recordStep(current, before, step);
            }
            current = record(current, before, cp);
        }
        return new Outcome(Duration.ofMillis(100), false, cp.phase());
    }

    /** Records a step that ends this reconcile (a retry, a wait or the end) and says when to look again. */
    private Outcome recordStep(ReplicaSetRollback current, Checkpoint before, RollbackRunner.Step step) {
        Checkpoint cp = step.checkpoint();
        ReplicaSetRollback stored = record(current, before, cp);
        return switch (step.kind()) {
            case RETRY -> new Outcome(backoff(cp.attempts()), false, cp.phase());
            case WAITING, PROGRESSED -> new Outcome(WAIT, false, cp.phase());
            case DONE -> new Outcome(afterEnd(stored), true, cp.phase());
        };
    }

    /** Writes {@code after} as the status, then its Events and metrics; returns the stored resource. */
    private ReplicaSetRollback record(ReplicaSetRollback current, Checkpoint before, Checkpoint after) {
        if (after.phase().isTerminal() && !before.phase().isTerminal()) {
            endPending.add(current.getMetadata().getUid());
        }
        ReplicaSetRollback stored = write(current, after, false, null);
        transitionEvents(stored, before, after);
        metrics.transition(key(stored), before, after, after.waiting() != null
                || after.phase() == Phase.AWAITING_APPROVAL);
        return stored;
    }

    /** The rollback file store of this operator's mode, for one step of {@code r}. */
    private RollbackFileStore files(ReplicaSetRollback r, ClusterObserver.Resolved resolved, Checkpoint cp,
            String key) {
        if (writer == RollbackFileStore.Writer.AGENT) {
            return new AgentRollbackFileStore(clients, resolved.tls(), resolved.agentAddresses(),
                    cp.plan() == null ? null : cp.plan().newTerm());
        }
        PodExec exec = crashPoints.wrap(new Fabric8PodExec(client, r.getMetadata().getNamespace()), key);
        return new ExecRollbackFileStore(exec).in(r.getSpec().getCluster().getDataContainer(), r.getSpec().getRollbackDirectory());
    }

    private static String key(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + r.getMetadata().getName();
    }

    private Outcome problem(ReplicaSetRollback rollback, Checkpoint cp, ClusterObserver.Problem p) {
        return problem(rollback, cp, p, PROBLEM);
    }

    private Outcome problem(ReplicaSetRollback rollback, Checkpoint cp, ClusterObserver.Problem p, Duration after) {
        metrics.transition(key(rollback), cp, cp, true);
        boolean news = rollback.getStatus() == null || !p.reason().equals(rollback.getStatus().getWaiting());
        write(rollback, cp, false, p);
        if (news) {
            events.record(rollback, p.reason().equals("Queued") ? EventRecorder.Type.Normal : EventRecorder.Type.Warning,
                    EventReason.RollbackBlocked, p.reason() + ": " + p.message(), rollback.getSpec().getTargetPod(), p.reason());
        }
        return new Outcome(after, false, cp.phase());
    }

    /**
     * An agent refused the TLS handshake (or the call, as UNAUTHENTICATED): blocked with a reason of
     * its own and a Warning event, retried with backoff, since a rotated certificate or a fixed Secret
     * ends it. Nothing reached the node, so nothing is to be resolved.
     */
    private Outcome unauthenticated(ReplicaSetRollback rollback, Checkpoint cp, TransportException e,
            AgentClients.Tls tls) {
        String hint = TlsRefusals.clientCertificateProblem(tls, clock.instant());
        return problem(rollback, cp, new ClusterObserver.Problem(AGENT_UNAUTHENTICATED, e.getMessage()
                + (hint == null ? "" : "; " + hint) + "; the call reached nothing on the node; retried with backoff until"
                + " the certificates are fixed"), backoff(cp.attempts()));
    }

    /**
     * The rollback this one must wait for, if any. A rollback that has started (past Pending, not
     * ended) holds the cluster against every other, whatever their age. Among rollbacks that have not
     * started, the older goes first, unless it is held up by a problem of its own (an invalid spec, a
     * missing pod), which must not block the others.
     */
    private static ReplicaSetRollback olderActive(ReplicaSetRollback r, Context<ReplicaSetRollback> ctx) {
        if (started(r)) {
            return null;
        }
        Comparator<ReplicaSetRollback> age = Comparator
                .comparing((ReplicaSetRollback x) -> x.getMetadata().getCreationTimestamp() == null ? ""
                        : x.getMetadata().getCreationTimestamp())
                .thenComparing(x -> x.getMetadata().getUid());
        List<ReplicaSetRollback> others = ctx.getPrimaryCache().byIndex(LEASE_INDEX, leaseKey(r)).stream()
                .filter(x -> !x.getMetadata().getUid().equals(r.getMetadata().getUid())).toList();
        ReplicaSetRollback running = others.stream().filter(RollbackReconciler::started).min(age).orElse(null);
        if (running != null) {
            return running;
        }
        return others.stream().filter(RollbackReconciler::readyToStart).filter(x -> age.compare(x, r) < 0).min(age)
                .orElse(null);
    }

    /** Past Pending and not ended: it holds the cluster. */
    private static boolean started(ReplicaSetRollback x) {
        if (StatusMapper.unreadable(x.getStatus()) != null) {
            return true; // how far it went cannot be told: it holds the cluster rather than be guessed idle
        }
        Checkpoint c = StatusMapper.fromStatus(x.getStatus());
        return c != null && c.phase() != Phase.PENDING && !c.phase().isTerminal();
    }

    /** Not started, and not held up by a problem of its own. */
    private static boolean readyToStart(ReplicaSetRollback x) {
        if (x.getMetadata().getDeletionTimestamp() != null) {
            return false;
        }
        Checkpoint c = StatusMapper.fromStatus(x.getStatus());
        if (c != null && c.phase() != Phase.PENDING) {
            return false;
        }
        String waiting = x.getStatus() == null ? null : x.getStatus().getWaiting();
        return waiting == null || "Queued".equals(waiting);
    }

    /** Writes the status for {@code cp} (skipped when nothing changed); returns the stored resource. */
    private ReplicaSetRollback write(ReplicaSetRollback r, Checkpoint cp, boolean paused,
            ClusterObserver.Problem problem) {
        ReplicaSetRollbackStatus status = StatusMapper.toStatus(cp, r.getStatus(), r.getMetadata().getGeneration() == null
                ? 0 : r.getMetadata().getGeneration(), paused, clock.instant());
        if (problem != null) {
            StatusMapper.block(status, problem.reason(), problem.message(), r.getStatus(), clock.instant());
        }
        if (r.getStatus() != null && StatusMapper.same(status, r.getStatus())) {
            return r;
        }
        r.setStatus(status);
        // Optimistic lock: a status written from a stale view (another operator instance, an old cache)
        // is refused with 409 and the reconcile starts again from the stored record; never a lost update.
        ReplicaSetRollback stored = client.resources(ReplicaSetRollback.class)
                .inNamespace(r.getMetadata().getNamespace()).resource(r).lockResourceVersion().updateStatus();
        crashPoints.afterStatusWrite(key(r), status.getRecoverAnswer() != null
                && "Recovering".equals(status.getPhase()) ? CrashPoints.RECOVER_ANSWERED : status.getPhase());
        if (stored != null && stored.getMetadata().getResourceVersion() != null) {
            lastWritten.put(stored.getMetadata().getUid(), stored.getMetadata().getResourceVersion());
        }
        return stored == null ? r : stored;
    }

    /** The loud announcement the coordinator emits after the recover. */
    private void announce(ReplicaSetRollback r, RollbackEvent e) {
        boolean removed = e.type() == RollbackEvent.Type.ROLLED_BACK;
        if (!events.record(r, removed ? EventRecorder.Type.Warning : EventRecorder.Type.Normal,
                removed ? EventReason.NodeRolledBack : EventReason.NoDivergence, e.message(), e.node(), e.type().name())) {
            // The loud announcement is a step of its own: it is retried until it is written.
            throw new TransportException("EventNotWritten", false, "the rollback event could not be written");
        }
        LOG.infof("rollback %s/%s incident %s: %s", r.getMetadata().getNamespace(), r.getMetadata().getName(),
                e.incidentId(), e.message());
    }

    private void transitionEvents(ReplicaSetRollback r, Checkpoint before, Checkpoint after) {
        String pod = r.getSpec().getTargetPod();
        if (after.phase() != before.phase()) {
            String message = after.message() != null ? after.message() : describe(after);
            switch (after.phase()) {
                case PLANNED -> events.record(r, EventRecorder.Type.Normal, EventReason.RollbackPlanned, describe(after)
                        + (after.reason() != null ? " (" + after.reason().code() + ")" : ""), pod,
                        "plan" + after.plan().number());
                case FENCED -> events.record(r, EventRecorder.Type.Normal, EventReason.NodeFenced, pod
                        + " refuses writes under term " + after.plan().newTerm(), pod, "plan" + after.plan().number());
                case TAIL_PERSISTED -> events.record(r, EventRecorder.Type.Normal, EventReason.TailPersisted,
                        after.tail().recordCount() + " records (" + after.tail().bytes() + " bytes) saved to "
                                + after.file().location() + " in pod " + pod, pod, "plan" + after.plan().number());
                case VERIFIED -> events.record(r, EventRecorder.Type.Normal, EventReason.RollbackFileVerified,
                        after.file().location() + " read back with SHA-256 " + after.file().sha256(), pod,
                        "plan" + after.plan().number());
                case AWAITING_APPROVAL -> events.record(r, EventRecorder.Type.Warning, EventReason.AwaitingApproval, message,
                        pod, "plan" + after.plan().number());
                case RECOVERED -> events.record(r, EventRecorder.Type.Warning, EventReason.NodeRecovered, pod
                        + " recovered to LSN " + after.plan().forkLsn() + "; rollback id " + after.rollbackIdBefore()
                        + " -> " + after.rollbackIdAfter(), pod, "recovered");
                case REJOINED -> events.record(r, EventRecorder.Type.Normal, EventReason.RejoinedAsReplica, pod
                        + " streams from " + after.plan().newPrimary(), pod, "rejoined");
                case COMPLETED, DRY_RUN_COMPLETED, FAILED, ABORTED -> {
                    if (announceEnd(r, after, true)) {
                        endPending.remove(r.getMetadata().getUid());
                    }
                }
                default -> {
                }
            }
        }
        boolean failedNow = after.lastError() != null && after.attempts() > before.attempts();
        if (after.waiting() != null && after.waiting() != before.waiting() && !failedNow) {
            events.record(r, EventRecorder.Type.Normal, EventReason.RollbackWaiting, after.waiting().code() + ": "
                    + after.waitMessage(), pod, "wait-" + after.waiting().code());
        }
        if (failedNow) {
            // One Event per phase and kind of failure (what failed: the observation or the step), whose
            // count rises with every failed attempt: a later failure of another kind never overwrites the
            // message of the first. An answer that broke the protocol has an Event reason of its own,
            // naming the RPC and the rule.
            boolean invalid = after.waiting() == Reason.AgentAnswerInvalid;
            String error = after.lastError();
            String what = error.indexOf(':') > 0 ? error.substring(0, error.indexOf(':')) : "";
            events.record(r, EventRecorder.Type.Warning, invalid ? EventReason.AgentAnswerInvalid : EventReason.StepFailed,
                    error, pod, "error-" + StatusMapper.phaseName(before.phase()) + "-" + what
                            + (invalid ? "-invalid" : ""));
        }
    }

    /**
     * Writes the Events that announce how a rollback ended: the loud NodeRolledBack first when the node
     * removed (or began removing) a plan's range and the rollback ended before announcing it (whatever
     * the answers said later, the Event names the file that holds what was removed), then the end
     * Event. True when both exist afterwards.
     *
     * @param repeat whether an Event that exists already counts again (false when making up for an
     *     Event whose write may have been lost)
     */
    private boolean announceEnd(ReplicaSetRollback r, Checkpoint cp, boolean repeat) {
        String pod = r.getSpec().getTargetPod();
        boolean written = true;
        RollbackEvent removal = new Coordinator(clock).removalEvent(r.getMetadata().getNamespace() + "/"
                + (r.getSpec().getCluster() == null ? "" : r.getSpec().getCluster().getLeaseName()), cp);
        if (removal != null) {
            written = repeat ? events.record(r, EventRecorder.Type.Warning, EventReason.NodeRolledBack, removal.message(), pod,
                    removal.type().name()) : events.recordIfAbsent(r, EventRecorder.Type.Warning, EventReason.NodeRolledBack,
                            removal.message(), pod, removal.type().name());
        }
        String unknown = new Coordinator(clock).unknownRemovalMessage(cp);
        if (unknown != null) {
            // Whether the node removed the range is not known: never claimed, never denied; the file is named.
            written = (repeat ? events.record(r, EventRecorder.Type.Warning, EventReason.RollbackOutcomeUnknown, unknown, pod,
                    "outcome-unknown") : events.recordIfAbsent(r, EventRecorder.Type.Warning, EventReason.RollbackOutcomeUnknown,
                            unknown, pod, "outcome-unknown")) && written;
        }
        EndEvent end = endEvent(cp);
        return (repeat ? events.record(r, end.type(), end.reason(), end.message(), pod, end.dedupKey())
                : events.recordIfAbsent(r, end.type(), end.reason(), end.message(), pod, end.dedupKey())) && written;
    }

    /**
     * When to look at an ended rollback again: only while this process still owes its end Event (the
     * API server refused it). Nothing else would bring the reconciler back to an ended rollback.
     */
    private Duration afterEnd(ReplicaSetRollback r) {
        return endPending.contains(r.getMetadata().getUid()) ? WAIT : null;
    }

    /** The Event that announces how a rollback ended. */
    private record EndEvent(EventRecorder.Type type, EventReason reason, String message, String dedupKey) {
    }

    private static EndEvent endEvent(Checkpoint cp) {
        String message = cp.message() != null ? cp.message() : describe(cp);
        return switch (cp.phase()) {
            case COMPLETED -> new EndEvent(EventRecorder.Type.Normal, EventReason.RollbackCompleted, message, "completed");
            case DRY_RUN_COMPLETED -> new EndEvent(EventRecorder.Type.Normal, EventReason.DryRunCompleted, message, "dryrun");
            case FAILED -> new EndEvent(EventRecorder.Type.Warning, EventReason.RollbackFailed, message, "failed");
            case ABORTED -> new EndEvent(EventRecorder.Type.Warning, EventReason.RollbackBlocked, message, "aborted");
            default -> throw new IllegalArgumentException("not an end: " + cp.phase());
        };
    }

    /**
     * Writes the end Event of a rollback this process ended, unless it exists: when the answer to the
     * status write that ended it was lost (the API server applied it but the reply failed), the step
     * never announced the end. Only for rollbacks ended here, so that a restarted operator does not
     * announce again every rollback whose Events have expired.
     */
    private void ensureEndEvent(ReplicaSetRollback r, Checkpoint cp) {
        if (announceEnd(r, cp, false)) {
            endPending.remove(r.getMetadata().getUid());
        }
    }

    private static String describe(Checkpoint cp) {
        if (cp.plan() == null) {
            return "phase " + StatusMapper.phaseName(cp.phase());
        }
        return "plan " + cp.plan().number() + ": save and remove " + Coordinator.records(cp.plan()) + " ("
                + cp.plan().forkLsn() + ", " + cp.plan().targetLastLsn() + "] of " + cp.plan().targetNode()
                + "; new primary " + cp.plan().newPrimary() + " in term " + cp.plan().newTerm();
    }

    /**
     * How long to wait before attempt {@code attempts + 1} of a failed step: the initial backoff,
     * doubled per failed attempt, at most the maximum.
     */
    Duration backoff(int attempts) {
        return backoff(attempts, initialBackoff, maxBackoff);
    }

    static Duration backoff(int attempts, Duration initial, Duration max) {
        int doublings = Math.min(30, Math.max(0, attempts - 1));
        Duration d = initial.multipliedBy(1L << doublings);
        return d.compareTo(max) > 0 || d.isNegative() ? max : d;
    }
}
