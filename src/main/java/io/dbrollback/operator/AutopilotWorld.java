package io.dbrollback.operator;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailSummary;
import java.util.List;
import java.util.Optional;

/**
 * Everything the autopilot talks to, behind one narrow seam: the cluster's leader and members, the
 * agents (timelines and tail summaries), the ReplicaSetRollbacks of the namespace, and the policy's
 * status. {@link ClusterAutopilotWorld} is the one of a running operator; fast tests use a fake.
 */
public interface AutopilotWorld {

    /** The cluster's leader, or why it cannot be read. */
    LeaderReader.Reading leader(String namespace, ClusterSpec cluster);

    /** The cluster's pods, their agents' addresses and TLS, or why they cannot be read. */
    ClusterObserver.MembersReading members(String namespace, ClusterSpec cluster, String tlsSecret);

    /**
     * A member's timeline.
     *
     * @throws io.dbrollback.coordinator.TransportException when it cannot be read
     */
    NodeTimeline timeline(ClusterObserver.Members members, String pod);

    /**
     * The summary of a member's tail (fromExclusive, toInclusive]; empty when its agent does not offer one.
     *
     * @throws io.dbrollback.coordinator.TransportException when the agent failed to answer
     */
    Optional<TailSummary> summary(ClusterObserver.Members members, String pod, Lsn fromExclusive, Lsn toInclusive);

    /** The policy as stored (a cached copy may lag behind the autopilot's own last write), or null. */
    RollbackPolicy read(String namespace, String name);

    /** The ReplicaSetRollbacks of a namespace (as stored). */
    List<ReplicaSetRollback> rollbacks(String namespace);

    /**
     * Creates {@code r} unless a ReplicaSetRollback of that name exists; either way answers the stored one
     * and whether this call created it.
     */
    Created create(ReplicaSetRollback r);

    /** What {@link #create} found or made. */
    record Created(ReplicaSetRollback rollback, boolean created) {
    }

    /**
     * Writes the policy's status, locked on its resourceVersion (a stale view is refused, never a lost
     * update); answers the stored policy.
     */
    RollbackPolicy writeStatus(RollbackPolicy p);
}
