package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.Phase;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * One rollback at a time per database cluster (rollbacks naming the same leader: the same Lease, or
 * the same Patroni scope, in the same namespace): a rollback
 * that has started holds the cluster; among those not started, the oldest goes first unless a
 * problem of its own holds it up. Pure: it reads only the rollbacks it is given.
 */
final class ClusterQueue {

    private static final Comparator<ReplicaSetRollback> AGE = Comparator
            .comparing((ReplicaSetRollback x) -> x.getMetadata().getCreationTimestamp() == null ? ""
                    : x.getMetadata().getCreationTimestamp())
            .thenComparing(x -> x.getMetadata().getUid());

    private ClusterQueue() {
    }

    /**
     * The index key of a rollback's cluster: its namespace and its leader's identity ("ns/Lease/name" or
     * "ns/Patroni/scope", {@link LeaderReader#identity}).
     */
    static String clusterKey(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + LeaderReader.identity(r.getSpec().getCluster());
    }

    /**
     * The rollback {@code r} must wait for, if any, among the rollbacks of its cluster
     * ({@code sameCluster}, which may include {@code r}). A rollback that has started (past Pending,
     * not ended) holds the cluster against every other, whatever their age. Among rollbacks that have
     * not started, the older goes first, unless it is held up by a problem of its own (an invalid
     * spec, a missing pod), which must not block the others.
     */
    static ReplicaSetRollback ahead(ReplicaSetRollback r, Collection<ReplicaSetRollback> sameCluster) {
        if (started(r)) {
            return null;
        }
        List<ReplicaSetRollback> others = sameCluster.stream()
                .filter(x -> !x.getMetadata().getUid().equals(r.getMetadata().getUid())).toList();
        ReplicaSetRollback running = others.stream().filter(ClusterQueue::started).min(AGE).orElse(null);
        if (running != null) {
            return running;
        }
        return others.stream().filter(ClusterQueue::readyToStart).filter(x -> AGE.compare(x, r) < 0).min(AGE)
                .orElse(null);
    }

    /** Past Pending and not ended: it holds the cluster. */
    static boolean started(ReplicaSetRollback x) {
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
        return waiting == null || BlockReason.Queued.name().equals(waiting);
    }
}
