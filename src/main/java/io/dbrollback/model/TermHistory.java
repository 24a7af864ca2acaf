package io.dbrollback.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The ordered (term, first LSN) entries of one node's log, like PostgreSQL's timeline history or
 * Kafka's leader-epoch cache.
 *
 * <p>Entry {@code (t, s)} says the records from LSN {@code s} up to the next entry's first LSN
 * (exclusive), or to the end of the log for the last entry, were written in term {@code t}. Terms
 * strictly increase; first LSNs never decrease; an entry whose first LSN equals the next entry's (or
 * lies beyond the log's end) covers no record, which happens when a node was elected and wrote
 * nothing. A non-empty history starts at LSN 1: it describes the whole log.
 */
public record TermHistory(List<Entry> entries) {

    /** One entry: records from {@code firstLsn} on were written in {@code term}. */
    public record Entry(Term term, Lsn firstLsn) {
        public Entry {
            Objects.requireNonNull(term, "term");
            Objects.requireNonNull(firstLsn, "firstLsn");
            if (firstLsn.value() < 1) {
                throw new IllegalArgumentException("the first LSN of a term is at least 1, got " + firstLsn);
            }
        }

        public static Entry of(long term, long firstLsn) {
            return new Entry(Term.of(term), Lsn.of(firstLsn));
        }
    }

    public static final TermHistory EMPTY = new TermHistory(List.of());

    public TermHistory {
        entries = List.copyOf(entries);
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            if (i == 0 && e.firstLsn().value() != 1) {
                throw new IllegalArgumentException(
                        "a term history describes the whole log and starts at LSN 1, got " + e.firstLsn());
            }
            if (i > 0) {
                Entry prev = entries.get(i - 1);
                if (!e.term().isAfter(prev.term())) {
                    throw new IllegalArgumentException("terms must strictly increase: " + prev.term()
                            + " then " + e.term());
                }
                if (e.firstLsn().isBefore(prev.firstLsn())) {
                    throw new IllegalArgumentException("first LSNs must not decrease: term " + prev.term()
                            + " starts at " + prev.firstLsn() + ", term " + e.term() + " at " + e.firstLsn());
                }
            }
        }
    }

    public static TermHistory of(Entry... entries) {
        return new TermHistory(List.of(entries));
    }

    /**
     * The entries that cover at least one record of a log ending at {@code lastLsn}: terms that wrote
     * nothing are dropped. The result is what two histories must agree on.
     */
    public List<Entry> effectiveEntries(Lsn lastLsn) {
        List<Entry> out = new ArrayList<>(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            Entry e = entries.get(i);
            // an entry ends where the next begins, and never past the end of the log
            long end = i + 1 < entries.size()
                    ? Math.min(entries.get(i + 1).firstLsn().value() - 1, lastLsn.value()) : lastLsn.value();
            if (e.firstLsn().value() <= end) {
                out.add(e);
            }
        }
        return out;
    }

    /** The term of the record at {@code lsn}, if the history covers it. */
    public Optional<Term> termAt(Lsn lsn) {
        if (lsn.value() < 1) {
            return Optional.empty();
        }
        int lo = 0;
        int hi = entries.size() - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (entries.get(mid).firstLsn().value() <= lsn.value()) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found < 0 ? Optional.empty() : Optional.of(entries.get(found).term());
    }

    /** The latest term of this history, if any. */
    public Optional<Term> lastTerm() {
        return entries.isEmpty() ? Optional.empty() : Optional.of(entries.get(entries.size() - 1).term());
    }
}
