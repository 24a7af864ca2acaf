package io.dbrollback.coordinator;

import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.util.NoSuchElementException;
import java.util.Optional;

/**
 * Checks a tail stream as it passes and digests it, in constant memory: every LSN of (from, to]
 * exactly once and in order, each record with the term the node's history gives its LSN, and a
 * clean end only at {@code to}. A violation throws {@link TailIntegrityException} from the
 * iteration, so the file writer never publishes a file of a bad tail.
 *
 * <p>When the LSNs are positions (a WAL LSN), the records of one transaction share their commit's
 * position and a range may hold any number of records: each record must then lie in (from, to], its
 * position must not go back, and its term is the history's at that position; whether a transaction is
 * missing cannot be told from positions (the trailer's count and digest are the agent's own).
 *
 * <p>The digest is the source's own when it keeps one ({@link TailStream#digest()}: the canonical
 * encoding is hashed once per record, not once per stage); the validator checks that it covers exactly
 * the records that passed here, and computes its own otherwise.
 */
public final class TailValidator implements TailStream {

    private final TailStream source;
    private final String node;
    private final Lsn from;
    private final Lsn to;
    private final Term nodeTerm;
    private final TermHistory history;
    /** The source's digest (shared), or this validator's own. */
    private final TailDigest digest;
    private final boolean shared;
    private final boolean positions;
    private long passed;
    private long expectedNext;
    private long uncaptured;
    private boolean complete;

    /**
     * @param source the raw stream
     * @param node the node the tail is read from
     * @param from the fork LSN (exclusive)
     * @param to the node's last LSN (inclusive)
     * @param nodeTerm the node's term, for the summary
     * @param history the node's term history, for the per-record term check
     * @param positions whether the LSNs are positions rather than dense record numbers
     */
    public TailValidator(TailStream source, String node, Lsn from, Lsn to, Term nodeTerm, TermHistory history,
            boolean positions) {
        this.positions = positions;
        this.source = source;
        this.node = node;
        this.from = from;
        this.to = to;
        this.nodeTerm = nodeTerm;
        this.history = history;
        this.expectedNext = from.value() + 1;
        this.complete = from.equals(to);
        TailDigest sourceDigest = source.digest();
        this.shared = sourceDigest != null;
        this.digest = shared ? sourceDigest : new TailDigest();
    }

    /** A validator of dense record numbers. */
    public TailValidator(TailStream source, String node, Lsn from, Lsn to, Term nodeTerm, TermHistory history) {
        this(source, node, from, to, nodeTerm, history, false);
    }

    @Override
    public boolean hasNext() {
        if (source.hasNext()) {
            return true;
        }
        if (!positions && expectedNext <= to.value()) {
            throw new TailIntegrityException(TailIntegrityException.Kind.INCOMPLETE,
                    "the tail of " + node + " ended after LSN " + (expectedNext - 1) + ", expected it to reach " + to);
        }
        complete = true;
        return false;
    }

    @Override
    public TailRecord next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        TailRecord r = source.next();
        long lsn = r.lsn().value();
        if (lsn <= from.value() || lsn > to.value()) {
            throw fail(TailIntegrityException.Kind.OUT_OF_RANGE,
                    "record at LSN " + lsn + " lies outside (" + from + ", " + to + "]");
        }
        if (positions) {
            if (lsn < expectedNext - 1) {
                throw fail(TailIntegrityException.Kind.DUPLICATE_OR_REORDERED,
                        "record at position " + lsn + " after position " + (expectedNext - 1));
            }
        } else if (lsn < expectedNext) {
            throw fail(TailIntegrityException.Kind.DUPLICATE_OR_REORDERED,
                    "record at LSN " + lsn + " after LSN " + (expectedNext - 1));
        } else if (lsn > expectedNext) {
            throw fail(TailIntegrityException.Kind.GAP, "LSN " + expectedNext + " is missing before LSN " + lsn);
        }
        Optional<Term> want = history.termAt(r.lsn());
        if (want.isEmpty() || !want.get().equals(r.term())) {
            throw fail(TailIntegrityException.Kind.WRONG_TERM, "record at LSN " + lsn + " has term " + r.term()
                    + ", the node's history says " + want.map(Term::toString).orElse("none"));
        }
        if (!shared) {
            digest.add(r);
        }
        passed++;
        if (r.operation() == Operation.UNCAPTURED) {
            uncaptured++;
        }
        expectedNext = lsn + 1; // positions: the next record may share this one's position (one transaction)
        return r;
    }

    private TailIntegrityException fail(TailIntegrityException.Kind kind, String message) {
        return new TailIntegrityException(kind, "tail of " + node + ": " + message);
    }

    /** Whether every record of the range passed and the stream ended at {@code to}. */
    public boolean complete() {
        return complete;
    }

    /** The summary of what passed; call once, after the stream was consumed. */
    public DivergentTail summary() {
        checkCovered();
        return new DivergentTail(from, to, node, nodeTerm, digest.records(), digest.bytes(), digest.sha256(),
                digest.firstCommit(), digest.lastCommit(), uncaptured);
    }

    /** The digest of exactly the records that passed here (the source's, when it keeps one); read only. */
    @Override
    public TailDigest digest() {
        checkCovered();
        return digest;
    }

    private void checkCovered() {
        if (digest.records() != passed) {
            throw new IllegalStateException("the digest of the tail of " + node + " covers " + digest.records()
                    + " records, " + passed + " passed the validator");
        }
    }

    @Override
    public void close() {
        source.close();
    }
}
