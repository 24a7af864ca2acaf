package io.dbrollback.coordinator;

import io.dbrollback.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.dbrollback.model.Lsn;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.dbrollback.model.TermHistory.Entry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@link ForkPoint#compute} against a brute-force reference, on histories from a simulated replication
 * process (always consistent) and on arbitrary, possibly contradictory ones.
 *
 * <p>Every dynamic test names its seed; a failure replays with
 * {@code mvn test -Dtest=ForkPointPropertyTest -Dforkpoint.seed=<base seed>} (the base seed is in the
 * display name of every dynamic test, next to its own seed).
 */
class ForkPointPropertyTest {

    private static final long DEFAULT_BASE_SEED = 0x5EED_F0A4L;
    private static final int DYNAMIC_TESTS = 20;
    private static final int CASES_PER_TEST = Integer.getInteger("forkpoint.casesPerTest", 100);

    private static final long BASE_SEED = Seeds.of("forkpoint.seed", DEFAULT_BASE_SEED);

    private static long baseSeed() {
        return BASE_SEED;
    }

    private static long seedOf(long base, int index) {
        // SplitMix-style derivation, so neighbouring indices give unrelated streams.
        return new SplittableRandom(base + 0x9E3779B97F4A7C15L * (index + 1)).nextLong();
    }

    // ---- the generated cases -------------------------------------------------------------------

    /** One log: its history and its last LSN. */
    record Log(TermHistory history, long last) {
        Lsn lastLsn() {
            return Lsn.of(last);
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder("{");
            for (Entry e : history.entries()) {
                b.append("(").append(e.term()).append(",").append(e.firstLsn()).append(")");
            }
            return b.append(" last=").append(last).append("}").toString();
        }
    }

    @TestFactory
    Stream<DynamicTest> replicatedHistoriesAlwaysHaveAForkPointThatMatchesTheReference() {
        long base = baseSeed();
        return IntStream.range(0, DYNAMIC_TESTS).mapToObj(i -> {
            long seed = seedOf(base, i);
            return DynamicTest.dynamicTest("replicated seed=" + seed + " (base " + base + ", #" + i + ")", () -> {
                Random rnd = new Random(seed);
                for (int c = 0; c < CASES_PER_TEST; c++) {
                    Log[] pair = simulateReplication(rnd);
                    String ctx = "seed=" + seed + " (-Dforkpoint.seed=" + base + ", #" + i + ") case=" + c + " a="
                            + pair[0] + " b=" + pair[1];
                    Reference ref = Reference.of(pair[0], pair[1]);
                    if (ref.inconsistent) {
                        fail("test bug: the simulated replication broke log matching: " + ctx);
                    }
                    ForkPoint.Result r = ForkPoint.compute(pair[0].history(), pair[0].lastLsn(), pair[1].history(),
                            pair[1].lastLsn());
                    if (!(r instanceof ForkPoint.Found)) {
                        fail("histories of one replicated log must have a fork point, got " + r + ": " + ctx);
                    }
                    checkAgainstReference(ref, pair[0], pair[1], r, ctx);
                    checkSymmetric(pair[0], pair[1], r, ctx);
                }
            });
        });
    }

    @TestFactory
    Stream<DynamicTest> arbitraryHistoriesAreFoundOrRefusedExactlyAsTheReferenceSays() {
        long base = baseSeed();
        return IntStream.range(0, DYNAMIC_TESTS).mapToObj(i -> {
            long seed = seedOf(base ^ 0xA5A5_A5A5_A5A5L, i); // not the same streams as the replicated cases
            return DynamicTest.dynamicTest("arbitrary seed=" + seed + " (base " + base + ", #" + i + ")", () -> {
                Random rnd = new Random(seed);
                for (int c = 0; c < CASES_PER_TEST; c++) {
                    Log a = arbitraryLog(rnd);
                    Log b = rnd.nextInt(3) == 0 ? arbitraryLog(rnd) : mutate(a, rnd);
                    String ctx = "seed=" + seed + " (-Dforkpoint.seed=" + base + ", #" + i + ") case=" + c + " a=" + a
                            + " b=" + b;
                    Reference ref = Reference.of(a, b);
                    ForkPoint.Result r = ForkPoint.compute(a.history(), a.lastLsn(), b.history(), b.lastLsn());
                    checkAgainstReference(ref, a, b, r, ctx);
                    checkSymmetric(a, b, r, ctx);
                }
            });
        });
    }

    private static void checkAgainstReference(Reference ref, Log a, Log b, ForkPoint.Result r, String ctx) {
        if (ref.inconsistent) {
            assertInstanceOf(ForkPoint.Inconsistent.class, r,
                    "term " + ref.witness + " appears in both logs above their common prefix of " + ref.fork
                            + " records, so the histories contradict log matching: " + ctx);
            return;
        }
        ForkPoint.Found f = assertInstanceOf(ForkPoint.Found.class, r, "reference fork " + ref.fork + ": " + ctx);
        assertEquals(ref.fork, f.lsn().value(), "fork LSN: " + ctx);
        if (ref.fork == 0) {
            assertNull(f.commonTerm(), "no shared record, so no common term: " + ctx);
        } else {
            assertEquals(a.history().termAt(Lsn.of(ref.fork)).orElseThrow(), f.commonTerm(),
                    "common term is the term of the record at the fork LSN: " + ctx);
        }
    }

    private static void checkSymmetric(Log a, Log b, ForkPoint.Result ab, String ctx) {
        ForkPoint.Result ba = ForkPoint.compute(b.history(), b.lastLsn(), a.history(), a.lastLsn());
        if (ab instanceof ForkPoint.Found) {
            assertEquals(ab, ba, "compute(a, b) and compute(b, a) differ: " + ctx);
        } else {
            assertInstanceOf(ForkPoint.Inconsistent.class, ba,
                    "compute(a, b) was " + ab + " but compute(b, a) " + ba + ": " + ctx);
        }
    }

    // ---- brute-force reference -----------------------------------------------------------------

    /** The per-LSN comparison of two logs. */
    static final class Reference {
        long fork;
        boolean inconsistent;
        long witness;

        static Reference of(Log a, Log b) {
            long[] x = expand(a);
            long[] y = expand(b);
            Reference ref = new Reference();
            int n = Math.min(x.length, y.length);
            int p = 0;
            while (p < n && x[p] == y[p]) {
                p++;
            }
            ref.fork = p;
            Set<Long> beyondA = new HashSet<>();
            for (int k = p; k < x.length; k++) {
                beyondA.add(x[k]);
            }
            for (int k = p; k < y.length; k++) {
                if (beyondA.contains(y[k])) {
                    ref.inconsistent = true;
                    ref.witness = y[k];
                    break;
                }
            }
            return ref;
        }

        /** Term of each record, index 0 holding LSN 1. */
        static long[] expand(Log log) {
            long[] terms = new long[(int) log.last()];
            for (int k = 0; k < terms.length; k++) {
                terms[k] = log.history().termAt(Lsn.of(k + 1L)).map(Term::value).orElseThrow(
                        () -> new AssertionError("test bug: history does not cover its log " + log));
            }
            return terms;
        }
    }

    // ---- (a) a simulated replication process ---------------------------------------------------

    /**
     * Raft-like: terms 1..T, one leader per term among three nodes; a leader appends records of its
     * term; followers copy a prefix of the leader's log, dropping their conflicting suffix. A node
     * elected in a term remembers it, so a leader that wrote nothing leaves an empty term in its history.
     */
    static Log[] simulateReplication(Random rnd) {
        int nodes = 3;
        List<List<Long>> logs = new ArrayList<>();
        List<Set<Long>> elected = new ArrayList<>();
        for (int n = 0; n < nodes; n++) {
            logs.add(new ArrayList<>());
            elected.add(new HashSet<>());
        }
        int terms = 1 + rnd.nextInt(8);
        long term = 0;
        for (int t = 0; t < terms; t++) {
            term += 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(3) : 0); // terms may skip values (failed elections)
            int leader = rnd.nextInt(nodes);
            elected.get(leader).add(term);
            List<Long> ll = logs.get(leader);
            int appended = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(7);
            for (int k = 0; k < appended; k++) {
                ll.add(term);
            }
            for (int f = 0; f < nodes; f++) {
                if (f == leader || rnd.nextInt(3) == 0) {
                    continue; // partitioned away this term
                }
                List<Long> fl = logs.get(f);
                int common = 0;
                while (common < fl.size() && common < ll.size() && fl.get(common).equals(ll.get(common))) {
                    common++;
                }
                int upTo = common + rnd.nextInt(ll.size() - common + 1);
                if (upTo > common) {
                    // The follower accepts entries after a matching prefix and drops what conflicts.
                    List<Long> copy = new ArrayList<>(ll.subList(0, upTo));
                    fl.clear();
                    fl.addAll(copy);
                }
            }
            // Sometimes the leader writes more after replicating (a former primary's divergent tail).
            int more = rnd.nextInt(3) == 0 ? rnd.nextInt(5) : 0;
            for (int k = 0; k < more; k++) {
                ll.add(term);
            }
        }
        int a = rnd.nextInt(nodes);
        int b = (a + 1 + rnd.nextInt(nodes - 1)) % nodes;
        return new Log[] {toLog(logs.get(a), elected.get(a)), toLog(logs.get(b), elected.get(b))};
    }

    /** The history of a per-LSN term list, with the empty terms the node was elected in. */
    static Log toLog(List<Long> log, Set<Long> electedTerms) {
        List<long[]> runs = new ArrayList<>(); // {term, firstLsn}
        for (int k = 0; k < log.size(); k++) {
            if (k == 0 || !log.get(k).equals(log.get(k - 1))) {
                runs.add(new long[] {log.get(k), k + 1L});
            }
        }
        Set<Long> present = new HashSet<>(log);
        for (long t : electedTerms.stream().sorted().toList()) {
            if (present.contains(t)) {
                continue;
            }
            int at = 0;
            while (at < runs.size() && runs.get(at)[0] < t) {
                at++;
            }
            long first = at < runs.size() ? runs.get(at)[1] : log.size() + 1L;
            runs.add(at, new long[] {t, first});
        }
        List<Entry> entries = new ArrayList<>();
        for (long[] r : runs) {
            entries.add(Entry.of(r[0], r[1]));
        }
        // An empty log with no election has an empty history; one elected but empty starts at LSN 1.
        return new Log(new TermHistory(entries), log.size());
    }

    // ---- (b) arbitrary histories ----------------------------------------------------------------

    static Log arbitraryLog(Random rnd) {
        if (rnd.nextInt(25) == 0) {
            return new Log(TermHistory.EMPTY, 0);
        }
        int n = 1 + rnd.nextInt(5);
        List<Entry> entries = new ArrayList<>();
        long term = rnd.nextInt(3);
        long first = 1;
        for (int k = 0; k < n; k++) {
            term += 1 + rnd.nextInt(2);
            if (k > 0) {
                first += rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(5); // 0: an empty term before this one
            }
            entries.add(Entry.of(term, first));
        }
        long last = rnd.nextInt(5) == 0 ? rnd.nextInt((int) first + 1) : first - 1 + rnd.nextInt(6);
        return new Log(new TermHistory(entries), last);
    }

    /** A second log that often shares terms and starts with {@code a}, then differs somewhere. */
    static Log mutate(Log a, Random rnd) {
        List<Entry> src = a.history().entries();
        if (src.isEmpty()) {
            return arbitraryLog(rnd);
        }
        int keep = 1 + rnd.nextInt(src.size());
        long[][] e = new long[keep][];
        for (int k = 0; k < keep; k++) {
            e[k] = new long[] {src.get(k).term().value(), src.get(k).firstLsn().value()};
        }
        switch (rnd.nextInt(5)) {
            case 0 -> { // shift the start of one term (not the first, which is pinned to LSN 1)
                if (keep > 1) {
                    int k = 1 + rnd.nextInt(keep - 1);
                    e[k][1] = Math.max(e[k - 1][1], e[k][1] + (rnd.nextBoolean() ? 1 : -1));
                    for (int m = k + 1; m < keep; m++) {
                        e[m][1] = Math.max(e[m][1], e[k][1]);
                    }
                }
            }
            case 1 -> { // change one term within its neighbours
                int k = rnd.nextInt(keep);
                long lo = k == 0 ? 0 : e[k - 1][0];
                long hi = k + 1 < keep ? e[k + 1][0] : e[k][0] + 3;
                if (hi - lo > 1) {
                    e[k][0] = lo + 1 + rnd.nextInt((int) (hi - lo - 1));
                }
            }
            case 2 -> { // drop one term (the log never had it)
                if (keep > 1) {
                    int k = 1 + rnd.nextInt(keep - 1);
                    long[][] shorter = new long[keep - 1][];
                    for (int m = 0, o = 0; m < keep; m++) {
                        if (m != k) {
                            shorter[o++] = e[m];
                        }
                    }
                    e = shorter;
                }
            }
            default -> { // keep the prefix as it is
            }
        }
        List<Entry> entries = new ArrayList<>();
        for (long[] x : e) {
            entries.add(Entry.of(x[0], x[1]));
        }
        long term = e[e.length - 1][0];
        long first = e[e.length - 1][1];
        int extra = rnd.nextInt(3);
        for (int k = 0; k < extra; k++) {
            term += 1 + rnd.nextInt(2);
            first += rnd.nextInt(4);
            entries.add(Entry.of(term, first));
        }
        long last = rnd.nextInt(6) == 0 ? rnd.nextInt((int) first + 1) : first - 1 + rnd.nextInt(6);
        return new Log(new TermHistory(entries), last);
    }

    // ---- the generators themselves ---------------------------------------------------------------

    @Test
    @DisplayName("the arbitrary generator reaches all three outcomes often (otherwise the property test is weak)")
    void arbitraryGeneratorCoversAllOutcomes() {
        Random rnd = new Random(baseSeed());
        int inconsistent = 0;
        int forkZero = 0;
        int forkInside = 0;
        for (int c = 0; c < 2_000; c++) {
            Log a = arbitraryLog(rnd);
            Log b = rnd.nextInt(3) == 0 ? arbitraryLog(rnd) : mutate(a, rnd);
            Reference ref = Reference.of(a, b);
            if (ref.inconsistent) {
                inconsistent++;
            } else if (ref.fork == 0) {
                forkZero++;
            } else {
                forkInside++;
            }
        }
        int[] counts = {inconsistent, forkZero, forkInside};
        for (int n : counts) {
            if (n < 100) {
                fail("outcomes [inconsistent, fork 0, fork > 0] = " + Arrays.toString(counts));
            }
        }
    }

    @Test
    @DisplayName("the replication simulator produces real divergence, not only identical logs")
    void replicationSimulatorProducesDivergence() {
        Random rnd = new Random(baseSeed());
        int diverged = 0;
        int emptyTerms = 0;
        for (int c = 0; c < 2_000; c++) {
            Log[] p = simulateReplication(rnd);
            Reference ref = Reference.of(p[0], p[1]);
            if (ref.fork > 0 && ref.fork < p[0].last() && ref.fork < p[1].last()) {
                diverged++;
            }
            for (Log l : p) {
                if (l.history().effectiveEntries(l.lastLsn()).size() < l.history().entries().size()) {
                    emptyTerms++;
                }
            }
        }
        if (diverged < 100 || emptyTerms < 100) {
            fail("diverged pairs " + diverged + ", logs with an empty term " + emptyTerms + " of 2000");
        }
    }

    // ---- hand-written examples -------------------------------------------------------------------

    private static TermHistory h(long... termAndFirst) {
        List<Entry> entries = new ArrayList<>();
        for (int k = 0; k < termAndFirst.length; k += 2) {
            entries.add(Entry.of(termAndFirst[k], termAndFirst[k + 1]));
        }
        return new TermHistory(entries);
    }

    private static ForkPoint.Found found(TermHistory a, long aLast, TermHistory b, long bLast) {
        ForkPoint.Result r = ForkPoint.compute(a, Lsn.of(aLast), b, Lsn.of(bLast));
        ForkPoint.Found f = assertInstanceOf(ForkPoint.Found.class, r);
        assertEquals(r, ForkPoint.compute(b, Lsn.of(bLast), a, Lsn.of(aLast)), "symmetric");
        return f;
    }

    private static void inconsistent(TermHistory a, long aLast, TermHistory b, long bLast) {
        assertInstanceOf(ForkPoint.Inconsistent.class, ForkPoint.compute(a, Lsn.of(aLast), b, Lsn.of(bLast)));
        assertInstanceOf(ForkPoint.Inconsistent.class, ForkPoint.compute(b, Lsn.of(bLast), a, Lsn.of(aLast)));
    }

    @Test
    @DisplayName("KIP-101: replica and leader both hold epoch 0 to different ends; the fork is the smaller end")
    void kip101() {
        // Kafka KIP-101 scenario 1 (1-based LSNs): A wrote m1, m2 in epoch 0 and crashed before B copied
        // m2; B became leader in epoch 1 and wrote m3 at the same offset. A's m2 must go, not be kept
        // because the offsets match (the old high-watermark truncation lost or diverged exactly here).
        TermHistory former = h(0, 1);
        TermHistory leader = h(0, 1, 1, 2);
        ForkPoint.Found f = found(former, 2, leader, 2);
        assertEquals(Lsn.of(1), f.lsn());
        assertEquals(Term.of(0), f.commonTerm());
    }

    @Test
    @DisplayName("KIP-279: divergence across several epochs is resolved at the last epoch both logs hold")
    void kip279MultipleEpochs() {
        // Former primary: epoch 1 [1,5], epoch 2 [6,8], epoch 4 [9,20] (it led epoch 4 while partitioned).
        // Leader: epoch 1 [1,5], epoch 2 [6,10], epoch 3 [11,14], epoch 5 [15,30].
        // Last common epoch is 2; it ends at 8 on the former primary and at 10 on the leader.
        ForkPoint.Found f = found(h(1, 1, 2, 6, 4, 9), 20, h(1, 1, 2, 6, 3, 11, 5, 15), 30);
        assertEquals(Lsn.of(8), f.lsn());
        assertEquals(Term.of(2), f.commonTerm());
    }

    @Test
    @DisplayName("former primary ahead in the same term: the fork is the new leader's end, the rest is the tail")
    void formerPrimaryAheadInSameTerm() {
        // Both in term 3 only; the former primary wrote 40 records, the leader copied 25 of them and has
        // written nothing since (its new term wrote no record yet).
        ForkPoint.Found f = found(h(1, 1, 3, 11), 40, h(1, 1, 3, 11, 4, 26), 25);
        assertEquals(Lsn.of(25), f.lsn());
        assertEquals(Term.of(3), f.commonTerm());
    }

    @Test
    @DisplayName("an elected-but-empty term on one side is ignored")
    void emptyTermOnOneSide() {
        // The former primary was elected in term 2 and wrote nothing before it was elected again in 3.
        ForkPoint.Found f = found(h(1, 1, 2, 6, 3, 6), 12, h(1, 1, 4, 9), 15);
        assertEquals(Lsn.of(5), f.lsn());
        assertEquals(Term.of(1), f.commonTerm());
        // An empty term also where the history already ends, past the last LSN.
        ForkPoint.Found g = found(h(1, 1, 2, 6, 5, 13), 12, h(1, 1, 3, 8), 15);
        assertEquals(Lsn.of(5), g.lsn());
    }

    @Test
    @DisplayName("no common term: the logs share nothing and fork at LSN 0")
    void noCommonTerm() {
        ForkPoint.Found f = found(h(1, 1, 3, 4), 9, h(2, 1), 7);
        assertEquals(Lsn.ZERO, f.lsn());
        assertNull(f.commonTerm());
        // An empty log shares nothing with anybody.
        assertEquals(Lsn.ZERO, found(TermHistory.EMPTY, 0, h(2, 1), 7).lsn());
    }

    @Test
    @DisplayName("the same term starting at different LSNs on the two sides is refused as inconsistent")
    void sameTermAtDifferentStarts() {
        inconsistent(h(1, 1, 2, 6), 10, h(1, 1, 2, 7), 10);
    }

    @Test
    @DisplayName("a shared term preceded by different terms is refused as inconsistent")
    void sharedTermAfterDifferentHistory() {
        inconsistent(h(1, 1, 3, 5), 8, h(2, 1, 3, 5), 8);
        inconsistent(h(1, 1, 2, 3, 3, 5), 8, h(1, 1, 3, 5), 8);
    }

    @Test
    @DisplayName("history entries past a log's last LSN cover no record: an emptied log shares nothing")
    void historyPastTheEndOfAnEmptyLog() {
        // The node's log is empty (say, truncated) but its history still lists terms 1 and 2 from an
        // earlier life. It holds no record, so it cannot share LSN 1 with anybody.
        ForkPoint.Found f = found(h(1, 1, 2, 2, 3, 3), 0, h(1, 1), 5);
        assertEquals(Lsn.ZERO, f.lsn());
        assertNull(f.commonTerm());
    }

    @Test
    @DisplayName("history entries past a log's last LSN cover no record: the fork never passes a log's end")
    void historyPastTheEndNeverMovesTheForkBeyondTheLog() {
        // The new leader holds only LSN 1 (term 2); its history also names terms 3 and 4 at LSNs it does
        // not hold. The former primary holds LSN 1 and 2 in term 2: its LSN 2 is divergent, fork 1.
        ForkPoint.Found f = found(h(2, 1), 2, h(2, 1, 3, 3, 4, 5), 1);
        assertEquals(Lsn.of(1), f.lsn());
        assertEquals(Term.of(2), f.commonTerm());
        // A term that starts past the end of one log is not shared, so it cannot contradict the other log.
        ForkPoint.Found g = found(h(4, 1, 6, 2, 8, 3), 7, h(4, 1, 6, 2, 8, 4, 9, 5), 3);
        assertEquals(Lsn.of(2), g.lsn());
        assertEquals(Term.of(6), g.commonTerm());
    }

    @Test
    @DisplayName("a non-empty log with an empty history is refused as inconsistent")
    void nonEmptyLogWithoutHistory() {
        inconsistent(TermHistory.EMPTY, 3, h(1, 1), 3);
    }
}
