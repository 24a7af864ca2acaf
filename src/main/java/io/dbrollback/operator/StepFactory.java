package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.model.RollbackEvent;
import java.util.function.Consumer;

/**
 * Everything one step of a rollback talks to, made fresh for each step: the cluster's objects (pods,
 * Lease, TLS Secret), the agents' timelines, the node (through a {@link RollbackTransport} whose
 * rollback file store follows the writer mode), the pods' exec channel, and the store of the status.
 * The reconciler holds no client of its own: it asks this factory.
 *
 * <p>{@link ClusterStepFactory} is the one of a running operator. Test behaviour is added by
 * decorators, never by arguments of production constructors: {@link CrashPoints#decorate} (the crash
 * test hook), a step budget (tests that stop an operator after an exact number of steps), and fakes
 * over the coordinator's fake cluster (fast reconciler tests).
 */
public interface StepFactory {

    /**
     * Reads the rollback's cluster afresh (a cached Lease may lag behind a failover): the target's
     * and every member's agent address, the Lease, the agents' TLS material; or the problem that
     * holds the rollback before any call.
     */
    ClusterObserver.Resolution resolve(ReplicaSetRollback r);

    /**
     * Reads the target's and the Lease holder's timelines.
     *
     * @throws io.dbrollback.coordinator.TransportException when the target's cannot be read
     */
    ClusterObserver.Observed observe(ClusterObserver.Resolved cluster);

    /** The exec channel into the pods of {@code r}'s namespace (used by the exec writer mode). */
    PodExec podExec(ReplicaSetRollback r);

    /**
     * The node as the coordinator sees it, for one step of {@code r} at {@code cp}.
     *
     * @param exec the exec channel from {@link #podExec} (the exec writer mode writes the file with it)
     * @param announce writes the loud announcement (the coordinator's EmitRollbackEvent)
     */
    RollbackTransport transport(ReplicaSetRollback r, ClusterObserver.Resolved cluster, Checkpoint cp, PodExec exec,
            Consumer<RollbackEvent> announce);

    /**
     * The copy step's side effect for one step of {@code r}: copies the verified rollback file from the
     * target pod to another pod of the cluster ({@code spec.copy}) and reads it back.
     */
    RollbackCopier copier(ReplicaSetRollback r, ClusterObserver.Resolved cluster);

    /** Where the status (the durable checkpoint) is written. */
    StatusStore statuses();

    /**
     * Whether one more coordinator step may be taken now: always, except under a test's step budget.
     * A step refused here is taken by a later reconcile.
     */
    default boolean mayStep() {
        return true;
    }
}
