package io.dbrollback.model;

import java.time.Instant;
import java.util.Objects;

/**
 * What a rollback file says about itself before its first record, so that the file alone tells an
 * auditor where it came from.
 *
 * @param planNumber which plan of the incident the file belongs to (a re-plan writes a new file and
 *     never overwrites the old one)
 * @param expectedRecords the number of records the plan expects, {@code lastLsn - forkLsn}, or -1 when
 *     the LSNs are positions (the count is known once the tail is read)
 * @param positions whether the LSNs are positions (a WAL LSN) rather than dense record numbers
 */
public record RollbackFileHeader(
        String incidentId,
        int planNumber,
        String cluster,
        String node,
        Lsn forkLsn,
        Lsn lastLsn,
        Term oldTerm,
        Term newTerm,
        String newPrimary,
        long expectedRecords,
        Instant createdAt,
        boolean positions) {

    public RollbackFileHeader {
        Objects.requireNonNull(incidentId, "incidentId");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(forkLsn, "forkLsn");
        Objects.requireNonNull(lastLsn, "lastLsn");
        Objects.requireNonNull(newTerm, "newTerm");
        Objects.requireNonNull(createdAt, "createdAt");
        if (planNumber < 1) {
            throw new IllegalArgumentException("plan numbers start at 1");
        }
    }

    /** The header of a file of dense record numbers. */
    public RollbackFileHeader(String incidentId, int planNumber, String cluster, String node, Lsn forkLsn, Lsn lastLsn,
            Term oldTerm, Term newTerm, String newPrimary, long expectedRecords, Instant createdAt) {
        this(incidentId, planNumber, cluster, node, forkLsn, lastLsn, oldTerm, newTerm, newPrimary, expectedRecords,
                createdAt, false);
    }
}
