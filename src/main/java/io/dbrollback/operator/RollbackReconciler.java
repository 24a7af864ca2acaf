package io.dbrollback.operator;

import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.Coordinator;
import io.dbrollback.coordinator.Decision;
import io.dbrollback.coordinator.IncidentSpec;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.RollbackRunner;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.coordinator.TransportException;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.grpc.Status;
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
import io.javaoperatorsdk.operator.processing.event.source.filter.OnUpdateFilter;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.TransformingItemStore;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;
import org.jboss.logging.MDC;

/**
 * Reconciles ReplicaSetRollbacks. Each reconcile runs a short list of named steps: read past a stale
 * copy ({@link StatusWriter}), skip an unreadable status ({@link UnreadableRollbacks}), settle an owed
 * end Event ({@link RollbackEvents}), validate, queue behind an older rollback of the same cluster
 * ({@link ClusterQueue}), then let the coordinator decide and act one step at a time against what the
 * {@link StepFactory} makes, writing the status (the durable checkpoint) after every step, until the
 * rollback waits, must retry, or ends. A restarted operator resumes from the status. Waiting is a
 * reschedule, never a sleep. The maintainer's map is docs/operator.md.
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
    /** Rollbacks by cluster: "ns/Lease/name" or "ns/Patroni/scope" ({@link ClusterQueue#clusterKey}). */
    static final String CLUSTER_INDEX = "dbrollback.io/cluster";
    /** Rollbacks by the Patroni objects they read: "ns/Kind/name" ({@link #patroniKeys}). */
    static final String PATRONI_INDEX = "dbrollback.io/patroni";
    /** The transport's code for a refused TLS handshake or an UNAUTHENTICATED answer. */
    static final String UNAUTHENTICATED = Status.Code.UNAUTHENTICATED.name();
    /** JOSDK's value for "no limit on attempts". */
    static final int RETRY_FOREVER = -1;
    /** How soon a reconcile that stopped for an edit, a deletion or its step limit goes on. */
    private static final Duration SOON = Duration.ofMillis(100);
    /**
     * Leases are watched as generic objects: a Lease is only mapped to its rollbacks by name, and one
     * Lease that does not fit fabric8's class must not end the watch of every Lease (each step reads
     * its own Lease afresh, typed).
     */
    static final GroupVersionKind LEASE = new GroupVersionKind("coordination.k8s.io", "v1", "Lease");
    /** The Lease informer's name (in the health checks). */
    static final String LEASE_SOURCE = "leases";
    /**
     * Patroni's objects (its leader key, its config with the timeline history) are watched the same way,
     * as generic ConfigMaps and Endpoints, and cached pruned to the two annotations that matter
     * ({@link #pruned}): every ConfigMap and Endpoints of the watched namespaces passes through them.
     */
    static final GroupVersionKind CONFIG_MAP = new GroupVersionKind("", "v1", "ConfigMap");
    static final GroupVersionKind ENDPOINTS = new GroupVersionKind("", "v1", "Endpoints");
    /** The Patroni informers' names (in the health checks). */
    static final String PATRONI_CONFIG_MAP_SOURCE = "patroni-configmaps";
    static final String PATRONI_ENDPOINTS_SOURCE = "patroni-endpoints";

    private static final Logger LOG = Logger.getLogger(RollbackReconciler.class);

    private final StepFactory steps;
    private final RollbackMetrics metrics;
    private final ReconcileSettings settings;
    private final Clock clock;
    private final StatusWriter statuses;
    private final RollbackEvents events;
    private final UnreadableRollbacks unreadable;

    /**
     * @param steps what each step talks to (the cluster, the agents, the status store), writer mode included
     * @param events where Events are written
     * @param settings pacing: steps per reconcile, waits, the failed-step backoff
     */
    @Inject
    public RollbackReconciler(StepFactory steps, EventRecorder events, RollbackMetrics metrics,
            ReconcileSettings settings, Clock clock) {
        this.steps = Objects.requireNonNull(steps, "steps");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.clock = Objects.requireNonNull(clock, "clock");
        StatusStore store = steps.statuses();
        this.statuses = new StatusWriter(store, clock);
        this.events = new RollbackEvents(events, clock);
        this.unreadable = new UnreadableRollbacks(store, clock, events, metrics, settings.blockedRecheck());
    }

    /**
     * Passes an update of a ReplicaSetRollback unless it changed nothing but the status: a change of the
     * spec (generation), the annotations (approve, pause), the labels, the finalizers or the deletion
     * mark starts a reconcile at once; a status write does not.
     */
    public static final class NotOnlyStatus implements OnUpdateFilter<ReplicaSetRollback> {
        @Override
        public boolean accept(ReplicaSetRollback now, ReplicaSetRollback before) {
            if (before == null || now == null) {
                return true;
            }
            ObjectMeta a = now.getMetadata();
            ObjectMeta b = before.getMetadata();
            return !Objects.equals(a.getGeneration(), b.getGeneration())
                    || !Objects.equals(a.getAnnotations(), b.getAnnotations())
                    || !Objects.equals(a.getLabels(), b.getLabels())
                    || !Objects.equals(a.getFinalizers(), b.getFinalizers())
                    || !Objects.equals(a.getDeletionTimestamp(), b.getDeletionTimestamp());
        }
    }

    /** Whether a Lease update changed what the operator reads from it: its holder or its term. */
    static boolean leaderChanged(GenericKubernetesResource now, GenericKubernetesResource before) {
        if (now == null || before == null) {
            return true;
        }
        return !Objects.equals(leaseField(now, "holderIdentity"), leaseField(before, "holderIdentity"))
                || !Objects.equals(leaseField(now, "leaseTransitions"), leaseField(before, "leaseTransitions"))
                || !Objects.equals(termAnnotation(now), termAnnotation(before));
    }

    private static Object leaseField(GenericKubernetesResource lease, String field) {
        Object spec = lease.getAdditionalProperties().get("spec");
        return spec instanceof Map<?, ?> m ? m.get(field) : null;
    }

    private static String termAnnotation(GenericKubernetesResource lease) {
        return annotation(lease, ClusterObserver.TERM_ANNOTATION);
    }

    private static String annotation(GenericKubernetesResource r, String key) {
        Map<String, String> a = r.getMetadata() == null ? null : r.getMetadata().getAnnotations();
        return a == null ? null : a.get(key);
    }

    /**
     * Whether an update of a ConfigMap or Endpoints changed what the operator reads from Patroni's
     * objects: the leader key's holder ({@code leader}) or the timeline history ({@code history}).
     * Patroni renews its leader key every loop (renewTime, optime, subsets): that starts no reconcile.
     */
    static boolean patroniLeaderChanged(GenericKubernetesResource now, GenericKubernetesResource before) {
        if (now == null || before == null) {
            return true;
        }
        return !Objects.equals(annotation(now, PatroniLeader.LEADER), annotation(before, PatroniLeader.LEADER))
                || !Objects.equals(annotation(now, PatroniLeader.HISTORY), annotation(before, PatroniLeader.HISTORY));
    }

    /**
     * What the Patroni informers cache of an object: its identity and the two annotations that
     * {@link #patroniLeaderChanged} compares, never its data or subsets.
     */
    static GenericKubernetesResource pruned(GenericKubernetesResource r) {
        ObjectMeta m = r.getMetadata();
        if (m == null) {
            return r;
        }
        GenericKubernetesResource p = new GenericKubernetesResource();
        p.setApiVersion(r.getApiVersion());
        p.setKind(r.getKind());
        ObjectMeta meta = new ObjectMeta();
        meta.setName(m.getName());
        meta.setNamespace(m.getNamespace());
        meta.setUid(m.getUid());
        meta.setResourceVersion(m.getResourceVersion());
        Map<String, String> a = m.getAnnotations();
        if (a != null) {
            Map<String, String> kept = new HashMap<>();
            for (String key : List.of(PatroniLeader.LEADER, PatroniLeader.HISTORY)) {
                if (a.get(key) != null) {
                    kept.put(key, a.get(key));
                }
            }
            meta.setAnnotations(kept);
        }
        p.setMetadata(meta);
        return p;
    }

    /** The index keys of the Patroni objects {@code r} reads ("ns/Kind/name"); none for a Lease. */
    static List<String> patroniKeys(ReplicaSetRollback r) {
        PatroniLeaderSpec p = r.getSpec() == null ? null : LeaderReader.patroni(r.getSpec().getCluster());
        if (p == null || p.getScope() == null || p.getDcs() == null) {
            return List.of();
        }
        LeaderReader.PatroniObjects o = LeaderReader.objects(p);
        String prefix = r.getMetadata().getNamespace() + "/" + o.kind() + "/";
        return List.of(prefix + o.leaderName(), prefix + o.configName());
    }

    @Override
    public List<EventSource<?, ReplicaSetRollback>> prepareEventSources(
            EventSourceContext<ReplicaSetRollback> context) {
        context.getPrimaryCache().addIndexer(CLUSTER_INDEX, r -> r.getSpec() == null
                || LeaderReader.identity(r.getSpec().getCluster()) == null ? List.of()
                : List.of(ClusterQueue.clusterKey(r)));
        context.getPrimaryCache().addIndexer(PATRONI_INDEX, RollbackReconciler::patroniKeys);
        InformerEventSourceConfiguration<GenericKubernetesResource> leases = InformerEventSourceConfiguration
                .from(LEASE, ReplicaSetRollback.class).withName(LEASE_SOURCE)
                // an unreadable rollback is never triggered: a reconcile would first add the finalizer
                .withSecondaryToPrimaryMapper(lease -> readable(context, CLUSTER_INDEX,
                        lease.getMetadata().getNamespace() + "/Lease/" + lease.getMetadata().getName()))
                .withPrimaryToSecondaryMapper((ReplicaSetRollback r) -> {
                    String name = r.getSpec() == null ? null : LeaderReader.leaseName(r.getSpec().getCluster());
                    return name == null ? Set.of() : Set.of(new ResourceID(name, r.getMetadata().getNamespace()));
                })
                .withNamespacesInheritedFromController()
                // A Lease renewal (renewTime) must not start a reconcile: it would cut every failed step's
                // backoff short at the renewal rate. Only a new holder or a new term matters here.
                .withOnUpdateFilter(RollbackReconciler::leaderChanged)
                .build();
        return List.of(new InformerEventSource<>(leases, context),
                new InformerEventSource<>(patroniSource(context, CONFIG_MAP, PATRONI_CONFIG_MAP_SOURCE), context),
                new InformerEventSource<>(patroniSource(context, ENDPOINTS, PATRONI_ENDPOINTS_SOURCE), context),
                unreadable);
    }

    /**
     * The informer of one kind of Patroni object: an object is mapped to the rollbacks that read it by
     * name (kind included), and only a change of the leader or of the history starts a reconcile.
     */
    private static InformerEventSourceConfiguration<GenericKubernetesResource> patroniSource(
            EventSourceContext<ReplicaSetRollback> context, GroupVersionKind kind, String name) {
        return InformerEventSourceConfiguration.from(kind, ReplicaSetRollback.class).withName(name)
                .withSecondaryToPrimaryMapper(o -> readable(context, PATRONI_INDEX, o.getMetadata().getNamespace()
                        + "/" + kind.getKind() + "/" + o.getMetadata().getName()))
                .withPrimaryToSecondaryMapper((ReplicaSetRollback r) -> patroniKeys(r).stream()
                        .filter(k -> k.startsWith(r.getMetadata().getNamespace() + "/" + kind.getKind() + "/"))
                        .map(k -> new ResourceID(k.substring(k.lastIndexOf('/') + 1), r.getMetadata().getNamespace()))
                        .collect(Collectors.toSet()))
                .withNamespacesInheritedFromController()
                .withOnUpdateFilter(RollbackReconciler::patroniLeaderChanged)
                .withItemStore(new TransformingItemStore<>(RollbackReconciler::pruned))
                .build();
    }

    /** The readable rollbacks under {@code key} of {@code index}: an unreadable one is never triggered. */
    private static Set<ResourceID> readable(EventSourceContext<ReplicaSetRollback> context, String index,
            String key) {
        return context.getPrimaryCache().byIndex(index, key).stream().filter(r -> r.unreadable() == null)
                .map(ResourceID::fromResource).collect(Collectors.toSet());
    }

    /** The rollbacks of {@code r}'s cluster (the same leader), from the informer's cache. */
    private static Function<ReplicaSetRollback, Collection<ReplicaSetRollback>> sameCluster(
            Context<ReplicaSetRollback> ctx) {
        return r -> ctx.getPrimaryCache().byIndex(CLUSTER_INDEX, ClusterQueue.clusterKey(r));
    }

    @Override
    public UpdateControl<ReplicaSetRollback> reconcile(ReplicaSetRollback cached, Context<ReplicaSetRollback> ctx) {
        return reconcile(cached, sameCluster(ctx));
    }

    /**
     * {@link #reconcile(ReplicaSetRollback, Context)} with the rollbacks of each cluster given:
     * read past a stale copy, skip an unreadable status, drive the steps, say when to look again.
     */
    UpdateControl<ReplicaSetRollback> reconcile(ReplicaSetRollback cached,
            Function<ReplicaSetRollback, Collection<ReplicaSetRollback>> sameCluster) {
        Outcome o;
        try {
            ReplicaSetRollback rollback = statuses.latest(cached);
            UpdateControl<ReplicaSetRollback> unreadableControl = unreadable.reconcile(rollback);
            if (unreadableControl != null) {
                return unreadableControl;
            }
            o = withLogContext(rollback, () -> drive(rollback, sameCluster));
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
     * like an agent's text), counted, and the rollback is looked at again after the blocked recheck.
     * Every step's side effect and its status write are idempotent, so the next reconcile resumes safely.
     */
    private Outcome unexpected(ReplicaSetRollback r, RuntimeException e) {
        LOG.errorf(e, "reconcile of %s/%s failed unexpectedly", r.getMetadata().getNamespace(),
                r.getMetadata().getName());
        metrics.callFailed("Reconcile", e.getClass().getSimpleName());
        events.unexpected(r, e, settings.blockedRecheck());
        return new Outcome(settings.blockedRecheck(), false, null);
    }

    /**
     * Deleting a rollback before its recover began is safe (nothing was removed); from the recover
     * on, the finalizer holds the resource until the rollback reaches its end.
     */
    @Override
    public DeleteControl cleanup(ReplicaSetRollback cached, Context<ReplicaSetRollback> ctx) {
        return cleanup(cached, sameCluster(ctx));
    }

    /** {@link #cleanup(ReplicaSetRollback, Context)} with the rollbacks of each cluster given. */
    DeleteControl cleanup(ReplicaSetRollback cached,
            Function<ReplicaSetRollback, Collection<ReplicaSetRollback>> sameCluster) {
        try {
            ReplicaSetRollback rollback = statuses.latest(cached);
            return withLogContext(rollback, () -> clean(rollback, sameCluster));
        } catch (KubernetesClientException e) {
            throw e;
        } catch (RuntimeException e) {
            return DeleteControl.noFinalizerRemoval().rescheduleAfter(unexpected(cached, e).after);
        }
    }

    private DeleteControl clean(ReplicaSetRollback rollback,
            Function<ReplicaSetRollback, Collection<ReplicaSetRollback>> sameCluster) {
        if (unreadable.released(rollback)) {
            forget(rollback);
            return DeleteControl.defaultDelete();
        }
        Checkpoint cp = StatusMapper.fromStatus(rollback.getStatus());
        if (cp == null || cp.phase().isTerminal() || cp.phase().ordinal() < Phase.RECOVERING.ordinal()) {
            metrics.forget(key(rollback));
            forget(rollback);
            if (cp != null && !cp.phase().isTerminal() && cp.phase().ordinal() >= Phase.FENCED.ordinal()) {
                events.deletedFenced(rollback, cp);
            }
            return DeleteControl.defaultDelete();
        }
        Outcome o = drive(rollback, sameCluster);
        if (o.terminal) {
            events.forget(rollback);
            return DeleteControl.defaultDelete();
        }
        events.deletionDeferred(rollback, o.phase);
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(o.after == null ? settings.waitRecheck() : o.after);
    }

    private void forget(ReplicaSetRollback r) {
        events.forget(r);
        statuses.forget(r.getMetadata().getUid());
    }

    /** When to look again (null: never), whether the rollback ended, and its phase. */
    private record Outcome(Duration after, boolean terminal, Phase phase) {
    }

    /** Runs {@code work} with the rollback and its incident in the log lines' context (MDC). */
    private static <T> T withLogContext(ReplicaSetRollback r, Supplier<T> work) {
        MDC.put("rollback", key(r));
        MDC.put("incident", r.getMetadata().getUid());
        try {
            return work.get();
        } finally {
            MDC.remove("rollback");
            MDC.remove("incident");
        }
    }

    /** settle -> rest (ended or paused) -> validate -> queue -> steps. */
    private Outcome drive(ReplicaSetRollback rollback,
            Function<ReplicaSetRollback, Collection<ReplicaSetRollback>> sameCluster) {
        Checkpoint cp = checkpoint(rollback);
        if (cp.phase().isTerminal()) {
            events.settleEnd(rollback, cp);
        }
        boolean paused = IncidentSpecs.paused(rollback);
        if (cp.phase().isTerminal() || paused) {
            statuses.write(rollback, cp, paused, null);
            return new Outcome(cp.phase().isTerminal() ? afterEnd(rollback) : settings.waitRecheck(),
                    cp.phase().isTerminal(), cp.phase());
        }
        List<String> invalid = SpecValidator.problems(rollback);
        if (!invalid.isEmpty()) {
            return blocked(rollback, cp, new ClusterObserver.Problem(BlockReason.InvalidSpec,
                    String.join("; ", invalid) + "; nothing was done"));
        }
        ReplicaSetRollback ahead = ClusterQueue.ahead(rollback, sameCluster.apply(rollback));
        if (ahead != null) {
            return blocked(rollback, cp, new ClusterObserver.Problem(BlockReason.Queued, "waiting for "
                    + ahead.getMetadata().getName() + ", an older rollback of the same cluster, to end"));
        }
        return steps(rollback, cp);
    }

    /** The checkpoint the status records, or a new one (the rollback starts). */
    private Checkpoint checkpoint(ReplicaSetRollback rollback) {
        Checkpoint cp = StatusMapper.fromStatus(rollback.getStatus());
        if (cp != null) {
            return cp;
        }
        metrics.started(key(rollback));
        return Checkpoint.start(rollback.getMetadata().getUid(), clock.instant());
    }

    /**
     * Coordinator steps, each recorded in the status before the next, until one waits, must be
     * retried or ends, or the step limit of one reconcile is reached. Each step reads what the last
     * status write returned: a pause, a deletion before the recover or an edit acts at the next step.
     */
    private Outcome steps(ReplicaSetRollback rollback, Checkpoint start) {
        ReplicaSetRollback current = rollback;
        Checkpoint cp = start;
        for (int i = 0; i < settings.maxSteps(); i++) {
            if (!steps.mayStep()) {
                return new Outcome(settings.waitRecheck(), false, cp.phase());
            }
            if (i > 0) {
                Outcome interrupted = interrupted(current, cp);
                if (interrupted != null) {
                    return interrupted;
                }
            }
            StepResult r = step(current, cp);
            if (r.outcome() != null) {
                return r.outcome();
            }
            current = r.stored();
            cp = r.checkpoint();
        }
        return new Outcome(SOON, false, cp.phase());
    }

    /** Why the step loop stops before its next step, or null. */
    private Outcome interrupted(ReplicaSetRollback current, Checkpoint cp) {
        if (IncidentSpecs.paused(current)) {
            statuses.write(current, cp, true, null);
            return new Outcome(settings.waitRecheck(), false, cp.phase());
        }
        if (current.getMetadata().getDeletionTimestamp() != null && cp.phase().ordinal() < Phase.RECOVERING.ordinal()) {
            return new Outcome(SOON, false, cp.phase());
        }
        if (!SpecValidator.problems(current).isEmpty()) {
            return new Outcome(SOON, false, cp.phase());
        }
        return null;
    }

    /** One step: a progressed one (stored resource and checkpoint), or the outcome that ends the loop. */
    private record StepResult(ReplicaSetRollback stored, Checkpoint checkpoint, Outcome outcome) {
    }

    /** resolve -> observe -> one coordinator step -> record it. */
    private StepResult step(ReplicaSetRollback current, Checkpoint cp) {
        IncidentSpec spec = IncidentSpecs.from(current);
        ClusterObserver.Resolution res = steps.resolve(current);
        if (res.problem() != null) {
            return ended(blocked(current, cp, res.problem()));
        }
        ClusterObserver.Resolved cluster = res.resolved();
        ClusterObserver.Observed observed;
        try {
            observed = steps.observe(cluster);
        } catch (TransportException e) {
            return ended(observeFailed(current, cp, spec, cluster, e));
        }
        if (observed.leaderError() != null) {
            metrics.callFailed("GetTimeline", observed.leaderError().code());
        }
        RollbackTransport transport = steps.transport(current, cluster, cp, steps.podExec(current),
                e -> events.announce(current, e));
        RollbackRunner.Step step = new RollbackRunner(transport, steps.copier(current, cluster), clock).step(spec, cp,
                observed.observation());
        TransportException leaderError = observed.leaderError();
        if (step.decision() instanceof Decision.Wait w && w.reason() == Reason.LeaderNotObserved
                && leaderError != null && UNAUTHENTICATED.equals(leaderError.code())) {
            // The coordinator waits for the Lease holder's timeline, and its agent refused the
            // handshake: that is the reason to show.
            return ended(unauthenticated(current, step.checkpoint(), leaderError, cluster.tls()));
        }
        if (step.kind() != RollbackRunner.Step.Kind.PROGRESSED) {
            return ended(recordEnd(current, cp, step));
        }
        return new StepResult(record(current, cp, step.checkpoint(), observed.observation().leaseHolder()),
                step.checkpoint(), null);
    }

    private static StepResult ended(Outcome o) {
        return new StepResult(null, null, o);
    }

    /** Reading the target's timeline failed: a failed step of the current phase (or a TLS block). */
    private Outcome observeFailed(ReplicaSetRollback current, Checkpoint cp, IncidentSpec spec,
            ClusterObserver.Resolved cluster, TransportException e) {
        metrics.callFailed("GetTimeline", e.code());
        Checkpoint next = new Coordinator(clock).afterFailure(spec, cp, null, null, "observe failed", e);
        if (UNAUTHENTICATED.equals(e.code())) {
            return unauthenticated(current, next, e, cluster.tls());
        }
        return recordEnd(current, cp, new RollbackRunner.Step(next, next.phase().isTerminal()
                ? RollbackRunner.Step.Kind.DONE : RollbackRunner.Step.Kind.RETRY, null));
    }

    /** Records a step that ends this reconcile (a retry, a wait or the end) and says when to look again. */
    private Outcome recordEnd(ReplicaSetRollback current, Checkpoint before, RollbackRunner.Step step) {
        Checkpoint cp = step.checkpoint();
        ReplicaSetRollback stored = record(current, before, cp);
        return switch (step.kind()) {
            case RETRY -> new Outcome(settings.backoff(cp.attempts()), false, cp.phase());
            case WAITING, PROGRESSED -> new Outcome(settings.waitRecheck(), false, cp.phase());
            case DONE -> new Outcome(afterEnd(stored), true, cp.phase());
        };
    }

    /** Writes {@code after} as the status, then its Events and metrics; returns the stored resource. */
    private ReplicaSetRollback record(ReplicaSetRollback current, Checkpoint before, Checkpoint after) {
        return record(current, before, after, null);
    }

    /** As above, for a step taken on an observation whose Lease holder was {@code leaseHolder}. */
    private ReplicaSetRollback record(ReplicaSetRollback current, Checkpoint before, Checkpoint after,
            String leaseHolder) {
        if (after.phase().isTerminal() && !before.phase().isTerminal()) {
            events.ending(current);
        }
        ReplicaSetRollback stored = statuses.write(current, after, false, null);
        events.transition(stored, before, after, leaseHolder);
        metrics.transition(key(stored), before, after, after.waiting() != null
                || after.phase() == Phase.AWAITING_APPROVAL);
        return stored;
    }

    /**
     * When to look at an ended rollback again: only while this process still owes its end Event (the
     * API server refused it). Nothing else would bring the reconciler back to an ended rollback.
     */
    private Duration afterEnd(ReplicaSetRollback r) {
        return events.endOwed(r) ? settings.waitRecheck() : null;
    }

    private static String key(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + r.getMetadata().getName();
    }

    private Outcome blocked(ReplicaSetRollback rollback, Checkpoint cp, ClusterObserver.Problem p) {
        return blocked(rollback, cp, p, settings.blockedRecheck());
    }

    /** Held by {@code p} before any step: the status says why, a new reason is told by an Event. */
    private Outcome blocked(ReplicaSetRollback rollback, Checkpoint cp, ClusterObserver.Problem p, Duration after) {
        metrics.transition(key(rollback), cp, cp, true);
        boolean news = rollback.getStatus() == null || !p.reason().name().equals(rollback.getStatus().getWaiting());
        statuses.write(rollback, cp, false, p);
        if (news) {
            events.blocked(rollback, p);
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
        return blocked(rollback, cp, new ClusterObserver.Problem(BlockReason.AgentUnauthenticated, e.getMessage()
                + (hint == null ? "" : "; " + hint) + "; the call reached nothing on the node; retried with backoff"
                + " until the certificates are fixed"), settings.backoff(cp.attempts()));
    }
}
