package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.filter.GenericFilter;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * What the operator does with a ReplicaSetRollback it cannot read, so that one such object neither
 * stops the operator nor is ever acted on:
 * <ul>
 *   <li>a spec or status that does not fit the classes ({@link ReplicaSetRollback#unreadable()}): never
 *       reconciled ({@link Filter}), so no finalizer is added, no status written and nothing called on
 *       any node; reported as the informer sees it: a Warning Event {@code ResourceUnreadable} on it naming
 *       the field and the rule (one per problem), and a log line and
 *       {@code dbrollback_unreadable_resources_total{kind="ReplicaSetRollback"}} once per problem in
 *       this process;</li>
 *   <li>a status that reads but cannot be read back as a checkpoint ({@link StatusMapper#unreadable}):
 *       Blocked {@code StatusUnreadable}, the status otherwise kept as stored, a Warning Event when
 *       it becomes blocked, the log line and the metric once per problem in this process; nothing
 *       called on any node;</li>
 *   <li>either one deleted: its finalizer, if it has one, is released at once with a Warning Event.</li>
 * </ul>
 * It is a JOSDK event source only to hear of every rollback event before JOSDK's filters drop the
 * unreadable ones; it triggers no reconcile. Events are written off the informer's thread.
 */
public final class UnreadableRollbacks extends UnreadableSource<ReplicaSetRollback> {

    /** The event source's name. */
    static final String NAME = "unreadable-rollbacks";
    private static final EventReason UNREADABLE = EventReason.ResourceUnreadable;
    private static final BlockReason STATUS_UNREADABLE = BlockReason.StatusUnreadable;
    static final String KIND = "ReplicaSetRollback";

    private static final Logger LOG = Logger.getLogger(UnreadableRollbacks.class);

    private final StatusStore statuses;
    private final Clock clock;
    private final Duration recheck;
    private final EventRecorder events;
    private final RollbackMetrics metrics;
    /** uid -> the problem reported, for rollbacks that cannot be read. */
    private final Map<String, String> unreadable = new ConcurrentHashMap<>();
    /** uid -> the problem reported, for rollbacks whose status cannot be read back. */
    private final Map<String, String> statusUnreadable = new ConcurrentHashMap<>();

    /** @param recheck when to try again a Blocked status the API server refused */
    UnreadableRollbacks(StatusStore statuses, Clock clock, EventRecorder events, RollbackMetrics metrics,
            Duration recheck) {
        super(NAME);
        this.statuses = statuses;
        this.clock = clock;
        this.recheck = recheck;
        this.events = events;
        this.metrics = metrics;
    }

    /**
     * Lets JOSDK reconcile an unreadable rollback only once it is being deleted (its finalizer, if it
     * has one, is then released): any other reconcile would first add the finalizer.
     */
    public static final class Filter implements GenericFilter<ReplicaSetRollback> {
        @Override
        public boolean accept(ReplicaSetRollback r) {
            return r.unreadable() == null || r.isMarkedForDeletion();
        }
    }

    @Override
    void forget(ReplicaSetRollback r) {
        unreadable.remove(r.getMetadata().getUid());
        statusUnreadable.remove(r.getMetadata().getUid());
    }

    /** Reports {@code r} if it cannot be read and its problem was not reported yet. */
    @Override
    void seen(ReplicaSetRollback r) {
        String problem = r.unreadable();
        if (problem == null) {
            unreadable.remove(r.getMetadata().getUid());
            return;
        }
        if (report(unreadable, r, problem, "cannot be read: %s; it is skipped (no status, no finalizer, no call to any"
                + " node) until it is fixed or deleted")) {
            metrics.forget(key(r));
            recordLater(r, problem, Duration.ZERO);
        }
    }

    /** The log line and the metric, once per rollback and problem in this process; true when they were new. */
    private boolean report(Map<String, String> reported, ReplicaSetRollback r, String problem, String what) {
        if (problem.equals(reported.put(r.getMetadata().getUid(), problem))) {
            return false;
        }
        metrics.unreadable(KIND);
        LOG.warnf("ReplicaSetRollback %s (resourceVersion %s) " + what, key(r), r.getMetadata().getResourceVersion(),
                problem);
        return true;
    }

    private void recordLater(ReplicaSetRollback r, String problem, Duration delay) {
        writeLater(unreadable, r, problem, () -> events.recordIfAbsent(r, EventRecorder.Type.Warning, UNREADABLE,
                problem + "; the operator cannot read this ReplicaSetRollback and does nothing for it (no status, no"
                + " finalizer, no call to any node) until it is fixed or deleted", null, problem), delay);
    }

    /**
     * The reconcile of {@code r} when it must not go on, else null: an unreadable rollback is reported
     * (a reconcile reaches one only when a wait scheduled while it was readable ends); one whose status
     * cannot be read back is marked Blocked, its status otherwise kept. Never throws: a status write
     * the API server refuses is tried again later.
     */
    UpdateControl<ReplicaSetRollback> reconcile(ReplicaSetRollback r) {
        if (r.unreadable() != null) {
            seen(r);
            return UpdateControl.noUpdate();
        }
        String problem = StatusMapper.unreadable(r.getStatus());
        if (problem == null) {
            statusUnreadable.remove(r.getMetadata().getUid());
            return null;
        }
        String message = problem + "; how far this rollback went cannot be told, so nothing is done and the status"
                + " is kept as stored: fix the status or delete the resource";
        ReplicaSetRollbackStatus stored = r.getStatus();
        ReplicaSetRollbackStatus blocked = StatusMapper.blockedAsStored(stored, STATUS_UNREADABLE, message,
                r.getMetadata().getGeneration() == null ? 0 : r.getMetadata().getGeneration(), clock.instant());
        metrics.blocked(key(r));
        if (!StatusMapper.same(blocked, stored)) {
            r.setStatus(blocked);
            try {
                statuses.writeStatus(r);
            } catch (KubernetesClientException e) {
                LOG.infof("ReplicaSetRollback %s: the Blocked status (%s) was not written (%s); tried again in %s",
                        key(r), STATUS_UNREADABLE, e.getMessage(), recheck);
                return UpdateControl.<ReplicaSetRollback>noUpdate().rescheduleAfter(recheck);
            }
        }
        report(statusUnreadable, r, problem, "has a status that cannot be read back: %s; blocked ("
                + STATUS_UNREADABLE + "), nothing is done");
        if (!STATUS_UNREADABLE.name().equals(stored.getWaiting())) {
            events.record(r, EventRecorder.Type.Warning, EventReason.RollbackBlocked,
                    STATUS_UNREADABLE + ": " + message,
                    r.getSpec() == null ? null : r.getSpec().getTargetPod(), STATUS_UNREADABLE.name());
        }
        return UpdateControl.noUpdate();
    }

    /**
     * Whether a deleted {@code r} cannot be read (in either way): then it is let go at once, with a
     * Warning Event, and nothing is called on any node; a finalizer held for a rollback that cannot be
     * driven to its end would hold it forever.
     */
    boolean released(ReplicaSetRollback r) {
        String problem = r.unreadable() != null ? r.unreadable() : StatusMapper.unreadable(r.getStatus());
        if (problem == null) {
            return false;
        }
        forget(r);
        metrics.forget(key(r));
        LOG.warnf("ReplicaSetRollback %s deleted while it cannot be read (%s): let go without any call to a node",
                key(r), problem);
        events.record(r, EventRecorder.Type.Warning, EventReason.RollbackDeleted,
                "deleted while it cannot be read (" + problem
                + "); let go at once: nothing was called on any node for it, and what an earlier version of it did"
                + " to a node was neither checked nor undone", null, "unreadable");
        return true;
    }

    private static String key(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + r.getMetadata().getName();
    }
}
