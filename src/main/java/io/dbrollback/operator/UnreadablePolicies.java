package io.dbrollback.operator;

import io.dbrollback.api.RollbackPolicy;
import io.javaoperatorsdk.operator.processing.event.source.filter.GenericFilter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * What the autopilot does with a RollbackPolicy it cannot read ({@link RollbackPolicy#unreadable()}: a spec or
 * status that does not fit the classes), so that one such object neither stops the operator nor is ever acted on:
 * never reconciled ({@link Filter}), so no finalizer is added, no status written, no pod looked at and no rollback
 * created; reported as the informer sees it: one Warning Event {@code ResourceUnreadable} naming the field and the
 * rule (one per problem, written again every {@link #EVENT_RETRY} while the API server refuses it), and a log line
 * and {@code dbrollback_unreadable_resources_total{kind="RollbackPolicy"}} once per problem in this process. Deleted,
 * a finalizer it has from when it was readable is released by {@link PolicyReconciler#cleanup}.
 */
public final class UnreadablePolicies extends UnreadableSource<RollbackPolicy> {

    /** The event source's name. */
    static final String NAME = "unreadable-policies";

    private static final Logger LOG = Logger.getLogger(UnreadablePolicies.class);

    private final PolicyEvents events;
    private final PolicyMetrics metrics;
    /** uid -> the problem reported. */
    private final Map<String, String> unreadable = new ConcurrentHashMap<>();

    UnreadablePolicies(PolicyEvents events, PolicyMetrics metrics) {
        super(NAME);
        this.events = events;
        this.metrics = metrics;
    }

    /** Lets JOSDK reconcile an unreadable policy only once it is being deleted (its finalizer is then released). */
    public static final class Filter implements GenericFilter<RollbackPolicy> {
        @Override
        public boolean accept(RollbackPolicy p) {
            return p.unreadable() == null || p.isMarkedForDeletion();
        }
    }

    @Override
    void forget(RollbackPolicy p) {
        unreadable.remove(p.getMetadata().getUid());
    }

    @Override
    void seen(RollbackPolicy p) {
        unreadable(p);
    }

    /** Reports {@code p} if it cannot be read and its problem was not reported yet; true when it cannot be read. */
    boolean unreadable(RollbackPolicy p) {
        String problem = p.unreadable();
        if (problem == null) {
            unreadable.remove(p.getMetadata().getUid());
            return false;
        }
        if (problem.equals(unreadable.put(p.getMetadata().getUid(), problem))) {
            return true;
        }
        metrics.unreadable();
        metrics.forget(p.getMetadata().getNamespace(), p.getMetadata().getName());
        LOG.warnf("RollbackPolicy %s/%s (resourceVersion %s) cannot be read: %s; it is skipped (no status, no"
                + " finalizer, no rollback created) until it is fixed or deleted", p.getMetadata().getNamespace(),
                p.getMetadata().getName(), p.getMetadata().getResourceVersion(), problem);
        recordLater(p, problem, Duration.ZERO);
        return true;
    }

    private void recordLater(RollbackPolicy p, String problem, Duration delay) {
        writeLater(unreadable, p, problem, () -> events.recordIfAbsent(p, EventRecorder.Type.Warning,
                PolicyEventReason.ResourceUnreadable, problem + "; the operator cannot read this RollbackPolicy and"
                + " does nothing for it (no status, no failover report, no rollback created) until it is fixed or"
                + " deleted", null, problem), delay);
    }
}
