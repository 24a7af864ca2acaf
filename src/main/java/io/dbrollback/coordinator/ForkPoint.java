package io.dbrollback.coordinator;

import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.util.List;
import java.util.Objects;

/**
 * Where the former primary's log forks from the new primary's: the last LSN both logs share.
 *
 * <p>Kafka's leader-epoch rule (KIP-101, KIP-279): take the last term both histories contain; the
 * fork is the end of that term in the former primary's log or in the new primary's, whichever is
 * smaller, which also caps it by both logs' ends. Since a term has one leader, two logs holding
 * records of the same term agree on everything before that term's first record; the checks below
 * refuse histories that break that rule instead of guessing.
 */
public final class ForkPoint {

    private ForkPoint() {
    }

    /** The result of comparing two histories. */
    public sealed interface Result {
    }

    /**
     * The logs agree up to and including {@code lsn}.
     *
     * @param commonTerm the last term both logs hold records of, or {@code null} when they share none
     */
    public record Found(Lsn lsn, Term commonTerm) implements Result {
        public Found {
            Objects.requireNonNull(lsn, "lsn");
        }
    }

    /** The histories contradict each other; no fork point can be trusted. */
    public record Inconsistent(String reason) implements Result {
    }

    /** Fork point of {@code former}'s log against {@code leader}'s. */
    public static Result compute(NodeTimeline former, NodeTimeline leader) {
        return compute(former.history(), former.lastLsn(), leader.history(), leader.lastLsn());
    }

    /**
     * Fork point of a log with history {@code a} ending at {@code aLast} against one with history
     * {@code b} ending at {@code bLast}. Symmetric in its two logs.
     */
    public static Result compute(TermHistory a, Lsn aLast, TermHistory b, Lsn bLast) {
        if (a.entries().isEmpty() && aLast.value() > 0 || b.entries().isEmpty() && bLast.value() > 0) {
            return new Inconsistent("a non-empty log reports an empty term history");
        }
        List<TermHistory.Entry> ea = a.effectiveEntries(aLast);
        List<TermHistory.Entry> eb = b.effectiveEntries(bLast);

        // The last common term: walk both (term-sorted) lists from the end.
        int i = ea.size() - 1;
        int j = eb.size() - 1;
        while (i >= 0 && j >= 0) {
            int c = ea.get(i).term().compareTo(eb.get(j).term());
            if (c == 0) {
                break;
            } else if (c > 0) {
                i--;
            } else {
                j--;
            }
        }
        if (i < 0 || j < 0) {
            // No common term: both logs start at LSN 1 with different terms (or one is empty).
            return new Found(Lsn.ZERO, null);
        }
        if (i != j) {
            return new Inconsistent("term " + ea.get(i).term() + " is the " + ordinal(i) + " term of one log and the "
                    + ordinal(j) + " of the other");
        }
        for (int k = 0; k <= i; k++) {
            TermHistory.Entry x = ea.get(k);
            TermHistory.Entry y = eb.get(k);
            if (!x.equals(y)) {
                return new Inconsistent("the logs share term " + ea.get(i).term() + " but disagree before it: term "
                        + x.term() + " from LSN " + x.firstLsn() + " versus term " + y.term() + " from LSN "
                        + y.firstLsn());
            }
        }
        Lsn endA = endOf(ea, i, aLast);
        Lsn endB = endOf(eb, j, bLast);
        return new Found(Lsn.min(endA, endB), ea.get(i).term());
    }

    private static Lsn endOf(List<TermHistory.Entry> entries, int index, Lsn last) {
        return index + 1 < entries.size() ? Lsn.of(entries.get(index + 1).firstLsn().value() - 1) : last;
    }

    private static String ordinal(int index) {
        return "#" + (index + 1);
    }
}
