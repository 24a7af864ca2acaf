package io.dbrollback.coordinator;

import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.Term;
import java.util.Objects;

/**
 * What the world looks like right now: the leader Lease and the timelines of the target and of the
 * Lease holder, freshly read. The coordinator decides from this and the recorded checkpoint only.
 *
 * @param leaseHolder the node holding the leader Lease, or null when none does
 * @param leaseTerm the term the Lease records
 * @param target the former primary's timeline
 * @param leader the Lease holder's timeline, or null when it could not be read
 * @param leaderAddress where replicas stream from the Lease holder, or null when unknown
 * @param leaderError why the Lease holder's timeline is missing when reading it failed, else null: a
 *     wait for the leader's timeline is then a failed attempt of that kind ({@link Failure})
 */
public record Observation(String leaseHolder, Term leaseTerm, NodeTimeline target, NodeTimeline leader,
        String leaderAddress, TransportException leaderError) {

    public Observation {
        Objects.requireNonNull(leaseTerm, "leaseTerm");
        Objects.requireNonNull(target, "target");
    }

    /** An observation in which nothing failed to be read. */
    public Observation(String leaseHolder, Term leaseTerm, NodeTimeline target, NodeTimeline leader,
            String leaderAddress) {
        this(leaseHolder, leaseTerm, target, leader, leaderAddress, null);
    }
}
