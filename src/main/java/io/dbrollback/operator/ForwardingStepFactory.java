package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.model.RollbackEvent;
import java.util.Objects;
import java.util.function.Consumer;

/** A {@link StepFactory} decorator's base: everything goes to the factory it decorates unless overridden. */
public abstract class ForwardingStepFactory implements StepFactory {

    protected final StepFactory inner;

    protected ForwardingStepFactory(StepFactory inner) {
        this.inner = Objects.requireNonNull(inner, "inner");
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
    public RollbackCopier copier(ReplicaSetRollback r, ClusterObserver.Resolved cluster) {
        return inner.copier(r, cluster);
    }

    @Override
    public StatusStore statuses() {
        return inner.statuses();
    }

    @Override
    public boolean mayStep() {
        return inner.mayStep();
    }
}
