package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.model.RollbackEvent;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;

/**
 * A {@link StepFactory} decorator for tests: every coordinator step takes a permit of the budget and
 * none is taken without one, so that a test can stop an operator instance after an exact number of
 * steps and hand the rollback to another.
 */
final class BudgetedSteps implements StepFactory {

    private final StepFactory inner;
    private final Semaphore budget;

    BudgetedSteps(StepFactory inner, Semaphore budget) {
        this.inner = inner;
        this.budget = budget;
    }

    @Override
    public ClusterObserver.Resolution resolve(ReplicaSetRollback r) {
        return inner.resolve(r);
    }

    @Override
    public ClusterObserver.Observed observe(ClusterObserver.Resolved cluster) {
        return inner.observe(cluster);
    }

    @Override
    public PodExec podExec(ReplicaSetRollback r) {
        return inner.podExec(r);
    }

    @Override
    public RollbackTransport transport(ReplicaSetRollback r, ClusterObserver.Resolved cluster, Checkpoint cp,
            PodExec exec, Consumer<RollbackEvent> announce) {
        return inner.transport(r, cluster, cp, exec, announce);
    }

    @Override
    public StatusStore statuses() {
        return inner.statuses();
    }

    @Override
    public boolean mayStep() {
        return inner.mayStep() && budget.tryAcquire();
    }
}
