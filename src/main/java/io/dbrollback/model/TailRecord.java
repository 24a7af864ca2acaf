package io.dbrollback.model;

import java.time.Instant;
import java.util.Objects;

/**
 * One record of a divergent tail: a write the former primary holds and the new primary does not.
 *
 * <p>Updates and deletes carry their before-image, so that a rolled-back delete can be restored from
 * the rollback file (MongoDB's rollback files lose deletes; ours do not).
 *
 * @param lsn position in the former primary's log
 * @param term the term the record was written in
 * @param transactionId the transaction that wrote it, opaque to the operator
 * @param commitTime when the former primary committed it locally
 * @param operation insert, update, delete, or a change the node could not capture whole
 * @param key the key written
 * @param before the value before the write; {@code null} exactly for inserts (for an uncaptured
 *     change: whatever the node knows, or {@code null})
 * @param after the value after the write; {@code null} exactly for deletes (uncaptured: as known)
 */
public record TailRecord(
        Lsn lsn,
        Term term,
        String transactionId,
        Instant commitTime,
        Operation operation,
        Bytes key,
        Bytes before,
        Bytes after) {

    public TailRecord {
        Objects.requireNonNull(lsn, "lsn");
        Objects.requireNonNull(term, "term");
        Objects.requireNonNull(transactionId, "transactionId");
        Objects.requireNonNull(commitTime, "commitTime");
        Objects.requireNonNull(operation, "operation");
        Objects.requireNonNull(key, "key");
        if (lsn.value() < 1) {
            throw new IllegalArgumentException("a record's LSN is at least 1");
        }
        // An uncaptured change carries whatever the node knows of it: either image, both or none.
        if (operation != Operation.UNCAPTURED) {
            boolean wantsBefore = operation != Operation.INSERT;
            boolean wantsAfter = operation != Operation.DELETE;
            if ((before != null) != wantsBefore) {
                throw new IllegalArgumentException(operation + " at LSN " + lsn
                        + (wantsBefore ? " must keep its before-image" : " has no before-image"));
            }
            if ((after != null) != wantsAfter) {
                throw new IllegalArgumentException(operation + " at LSN " + lsn
                        + (wantsAfter ? " must carry its after-image" : " has no after-image"));
            }
        }
    }

    public static TailRecord insert(long lsn, long term, String tx, Instant at, Bytes key, Bytes after) {
        return new TailRecord(Lsn.of(lsn), Term.of(term), tx, at, Operation.INSERT, key, null, after);
    }

    public static TailRecord update(long lsn, long term, String tx, Instant at, Bytes key, Bytes before, Bytes after) {
        return new TailRecord(Lsn.of(lsn), Term.of(term), tx, at, Operation.UPDATE, key, before, after);
    }

    public static TailRecord delete(long lsn, long term, String tx, Instant at, Bytes key, Bytes before) {
        return new TailRecord(Lsn.of(lsn), Term.of(term), tx, at, Operation.DELETE, key, before, null);
    }

    /** A change the node could not capture whole: {@code key} says what and why; images as far as known. */
    public static TailRecord uncaptured(long lsn, long term, String tx, Instant at, Bytes key, Bytes before,
            Bytes after) {
        return new TailRecord(Lsn.of(lsn), Term.of(term), tx, at, Operation.UNCAPTURED, key, before, after);
    }
}
