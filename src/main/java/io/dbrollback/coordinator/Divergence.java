package io.dbrollback.coordinator;

import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import java.util.Objects;

/**
 * After a failover, where a pod stands against the new leader: a former primary whose log goes
 * beyond the fork point holds writes the leader never received (diverged); a pod whose log is a
 * prefix of the leader's is merely behind (or in sync) and needs no rollback. Pure: the autopilot's
 * detection asks it for every pod that is not the leader.
 */
public final class Divergence {

    private Divergence() {
    }

    /** Where a pod stands. */
    public enum State {
        /** Its log goes beyond the fork point: it holds writes the leader never received. */
        Diverged,
        /** Its log is a strict prefix of the leader's. */
        Behind,
        /** Its log is the leader's. */
        InSync,
        /** The two histories cannot be compared: nothing can be decided safely. */
        Inconsistent
    }

    /**
     * A pod's state, its fork point with the leader (null when inconsistent) and why.
     *
     * @param records the divergent LSNs' count for record-numbered logs, null for position LSNs
     */
    public record Verdict(State state, Lsn forkLsn, Long records, String message) {
        public Verdict {
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(message, "message");
        }
    }

    /** Where {@code pod} stands against {@code leader}'s log. */
    public static Verdict of(NodeTimeline pod, NodeTimeline leader) {
        if (pod.positions() != leader.positions()) {
            return new Verdict(State.Inconsistent, null, null, pod.node() + " and " + leader.node()
                    + " count LSNs differently: their histories cannot be compared");
        }
        ForkPoint.Result r = ForkPoint.compute(pod, leader);
        if (r instanceof ForkPoint.Inconsistent inc) {
            return new Verdict(State.Inconsistent, null, null, "the term histories of " + pod.node() + " and "
                    + leader.node() + " contradict each other: " + inc.reason());
        }
        Lsn fork = ((ForkPoint.Found) r).lsn();
        if (pod.lastLsn().isAfter(fork)) {
            Long records = pod.positions() ? null : fork.distanceTo(pod.lastLsn());
            String commit = fork.isBefore(pod.commitLsn()) ? "; the fork is below its majority-commit LSN "
                    + pod.commitLsn() + ", so a rollback will refuse to remove committed writes" : "";
            return new Verdict(State.Diverged, fork, records, pod.node() + " holds LSNs (" + fork + ", "
                    + pod.lastLsn() + "] that " + leader.node() + " never received" + commit);
        }
        if (pod.lastLsn().isBefore(leader.lastLsn())) {
            return new Verdict(State.Behind, fork, null, pod.node() + " is at LSN " + pod.lastLsn() + ", behind "
                    + leader.node() + " at " + leader.lastLsn() + ", with nothing the leader lacks");
        }
        return new Verdict(State.InSync, fork, null, pod.node() + " holds exactly " + leader.node() + "'s log up to "
                + "LSN " + pod.lastLsn());
    }
}
