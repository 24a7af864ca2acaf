package io.dbrollback.coordinator;

import io.dbrollback.model.Lsn;
import io.dbrollback.model.Term;
import java.time.Instant;
import java.util.Objects;

/**
 * The decision of what to roll back, recorded before anything is done.
 *
 * @param number 1 for the first plan of an incident, one more for every re-plan
 * @param targetNode the former primary this plan rolls back; fixed for the incident
 * @param forkLsn the last LSN the target shares with the new primary; the recover target
 * @param commonTerm the last term both logs hold, or null when they share no record
 * @param targetLastLsn the target's last LSN when planned; the tail is (forkLsn, targetLastLsn]
 * @param targetCommitLsn the target's majority-commit LSN; the fork is never below it
 * @param oldTerm the target's term (the term of its last record)
 * @param newTerm the leader Lease's term when planned: the fencing token
 * @param newPrimary the Lease holder when planned
 * @param newPrimaryAddress where the target will stream from
 * @param expectedRecords {@code targetLastLsn - forkLsn}, or {@link #UNKNOWN} when the LSNs are positions
 *     (the count is known only once the tail is read)
 * @param plannedAt when the plan was made; also the creation time written into the plan's rollback
 *     file, so that writing the file again after a crash gives the same bytes
 */
public record Plan(
        int number,
        String targetNode,
        Lsn forkLsn,
        Term commonTerm,
        Lsn targetLastLsn,
        Lsn targetCommitLsn,
        Term oldTerm,
        Term newTerm,
        String newPrimary,
        String newPrimaryAddress,
        long expectedRecords,
        Instant plannedAt,
        boolean positions) {

    /** {@link #expectedRecords()} when the node's LSNs are positions. */
    public static final long UNKNOWN = -1;

    public Plan {
        Objects.requireNonNull(targetNode, "targetNode");
        Objects.requireNonNull(forkLsn, "forkLsn");
        Objects.requireNonNull(targetLastLsn, "targetLastLsn");
        Objects.requireNonNull(targetCommitLsn, "targetCommitLsn");
        Objects.requireNonNull(newTerm, "newTerm");
        Objects.requireNonNull(newPrimary, "newPrimary");
        Objects.requireNonNull(plannedAt, "plannedAt");
        if (number < 1) {
            throw new IllegalArgumentException("plan numbers start at 1");
        }
        if (forkLsn.isAfter(targetLastLsn)) {
            throw new IllegalArgumentException("fork " + forkLsn + " above the target's last LSN " + targetLastLsn);
        }
    }

    /** A plan of dense record numbers. */
    public Plan(int number, String targetNode, Lsn forkLsn, Term commonTerm, Lsn targetLastLsn, Lsn targetCommitLsn,
            Term oldTerm, Term newTerm, String newPrimary, String newPrimaryAddress, long expectedRecords,
            Instant plannedAt) {
        this(number, targetNode, forkLsn, commonTerm, targetLastLsn, targetCommitLsn, oldTerm, newTerm, newPrimary,
                newPrimaryAddress, expectedRecords, plannedAt, false);
    }

    /** Whether the target holds anything above the fork (a log that went on, even without a record). */
    public boolean diverged() {
        return targetLastLsn.isAfter(forkLsn);
    }
}
