package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.RecoverResult;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.FakeCopier;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.Term;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A {@link StepFactory} over the coordinator's {@link FakeCluster}: the cluster's nodes are the pods
 * (every node has an agent address), the fake's Lease is the Lease, its calls are the agents', the
 * status lives in an {@link InMemoryStatuses}. The loud announcement goes to the reconciler's Events
 * first, as the gRPC transport does, then to the fake. {@link #block} holds every rollback with a
 * problem, as a missing object would; {@link #failResolve} makes resolving throw, as a defect would.
 */
final class FakeSteps implements StepFactory {

    final FakeCluster cluster;
    final InMemoryStatuses statuses = new InMemoryStatuses();
    /** The copy step's side effect: a copy on n2 that reads back as the file, unless scripted otherwise. */
    final FakeCopier copier = new FakeCopier("n2");
    /** Runs after each rollback event reached the cluster (for example a second failover right after it). */
    volatile Runnable afterRollbackEvent = () -> { };
    private volatile ClusterObserver.Problem problem;
    private volatile RuntimeException defect;

    FakeSteps(FakeCluster cluster) {
        this.cluster = cluster;
    }

    /** Every rollback is held by {@code p} (null: none). */
    void block(ClusterObserver.Problem p) {
        this.problem = p;
    }

    /** Resolving throws {@code e} (null: it does not). */
    void failResolve(RuntimeException e) {
        this.defect = e;
    }

    @Override
    public ClusterObserver.Resolution resolve(ReplicaSetRollback r) {
        if (defect != null) {
            throw defect;
        }
        if (problem != null) {
            return new ClusterObserver.Resolution(null, problem);
        }
        Map<String, String> addresses = new HashMap<>();
        for (String n : List.of("n0", "n1", "n2")) {
            addresses.put(n, cluster.node(n).address());
        }
        return new ClusterObserver.Resolution(new ClusterObserver.Resolved(r.getSpec().getTargetPod(), addresses,
                null, null), null);
    }

    @Override
    public ClusterObserver.Observed observe(ClusterObserver.Resolved resolved) {
        return new ClusterObserver.Observed(cluster.observe(resolved.targetPod()), null);
    }

    @Override
    public PodExec podExec(ReplicaSetRollback r) {
        return (pod, container, argv, stdin, timeout) -> {
            throw new AssertionError("the fake cluster's files are written without exec");
        };
    }

    @Override
    public RollbackTransport transport(ReplicaSetRollback r, ClusterObserver.Resolved resolved, Checkpoint cp,
            PodExec exec, Consumer<RollbackEvent> announce) {
        return new RollbackTransport() {
            @Override
            public void fence(String node, String incidentId, Term term) {
                cluster.fence(node, incidentId, term);
            }

            @Override
            public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
                return cluster.readDivergentTail(node, fromExclusive, toInclusive);
            }

            @Override
            public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
                return cluster.persistRollbackFile(header, tail);
            }

            @Override
            public VerifyResult verifyRollbackFile(RollbackFile file) {
                return cluster.verifyRollbackFile(file);
            }

            @Override
            public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId,
                    Term term, String expectedTailSha256) {
                return cluster.recoverToLsn(node, target, expectedLastLsn, incidentId, term, expectedTailSha256);
            }

            @Override
            public void emitRollbackEvent(RollbackEvent event) {
                announce.accept(event);
                cluster.emitRollbackEvent(event);
                afterRollbackEvent.run();
            }

            @Override
            public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
                cluster.rejoinAsReplica(node, primaryAddress, term, incidentId);
            }
        };
    }

    @Override
    public RollbackCopier copier(ReplicaSetRollback r, ClusterObserver.Resolved resolved) {
        return copier;
    }

    @Override
    public StatusStore statuses() {
        return statuses;
    }
}
