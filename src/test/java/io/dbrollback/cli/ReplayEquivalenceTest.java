package io.dbrollback.cli;

import static io.dbrollback.cli.CliFiles.AT;
import static io.dbrollback.cli.CliFiles.b;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replay with its state on disk decides as the replay that held every chain in memory did
 * ({@link HeapReplayer}, the code before the change): on random files (few keys with long chains,
 * transactions holding a key more than once, UNCAPTURED changes of tables, pre-images that do not follow
 * the chain) against random primaries, a dry run, an apply and a second apply give byte for byte the same
 * report and output, the same calls to the primary in the same order, and the same primary after. Half
 * the runs use tiny memory budgets, so that the sorts merge many runs, groups are read back from the file
 * and conflicts spill to a file.
 */
class ReplayEquivalenceTest {

    private static final int SEEDS = 100;

    @TempDir
    Path dir;

    /** The in-memory primary of ReplayRulesTest, noting every call in order. */
    static final class LoggingTarget implements ReplayTarget {
        final ReplayRulesTest.MapTarget primary;
        final List<String> calls = new ArrayList<>();

        LoggingTarget(ReplayRulesTest.MapTarget primary) {
            this.primary = primary;
        }

        @Override
        public int holds(Bytes key, TailRecord sample, List<Bytes> states) {
            int i = primary.holds(key, sample, states);
            calls.add("holds " + Display.image(key) + " " + sample.lsn() + " "
                    + states.stream().map(Display::image).collect(Collectors.joining("|")) + " -> " + i);
            return i;
        }

        @Override
        public String current(Bytes key, TailRecord sample) {
            String c = primary.current(key, sample);
            calls.add("current " + Display.image(key) + " " + sample.lsn() + " -> " + c);
            return c;
        }

        @Override
        public String apply(List<TailRecord> group) {
            String refused = primary.apply(group);
            calls.add("apply " + group.stream().map(r -> r.lsn() + ":" + Display.image(r.key()))
                    .collect(Collectors.joining(",")) + " first " + group.get(0).lsn() + " -> " + refused);
            return refused;
        }

        @Override
        public boolean transactional() {
            return primary.transactional();
        }

        @Override
        public void close() {
        }
    }

    /** One generated case: the file and the primary as it stands before the first run. */
    record Case(Path file, boolean transactional, Map<Bytes, Bytes> primary) {
    }

    private Case generate(long seed) throws IOException {
        Random rnd = new Random(seed);
        boolean transactional = rnd.nextBoolean();
        boolean pg = rnd.nextBoolean();
        int keys = 1 + rnd.nextInt(10);
        int records = 1 + rnd.nextInt(rnd.nextBoolean() ? 20 : 200);
        boolean uncaptured = rnd.nextInt(3) == 0;
        boolean stale = rnd.nextInt(3) == 0;
        boolean deletes = rnd.nextInt(3) == 0;
        Map<Bytes, Bytes> now = new HashMap<>();
        Map<Bytes, List<Bytes>> chains = new HashMap<>();
        List<TailRecord> tail = new ArrayList<>();
        long lsn = 100;
        int value = 0;
        while (tail.size() < records) {
            lsn += transactional ? 1 + rnd.nextInt(3) : 1;
            String tx = "tx-" + lsn;
            int size = transactional ? 1 + rnd.nextInt(rnd.nextBoolean() ? 3 : 12) : 1;
            for (int i = 0; i < size && tail.size() < records; i++) {
                if (uncaptured && rnd.nextInt(10) == 0) {
                    String table = "t" + rnd.nextInt(3);
                    Bytes what = pg ? b("{\"schema\":\"public\",\"table\":\"" + table + "\","
                            + "\"uncaptured\":\"TRUNCATE\",\"why\":\"rows not named\"}")
                            : b("uncaptured-" + rnd.nextInt(3));
                    tail.add(TailRecord.uncaptured(lsn, 1, tx, AT, what, null, null));
                    continue;
                }
                int k = rnd.nextInt(keys);
                Bytes key = pg ? b("{\"schema\":\"public\",\"table\":\"t" + k % 3 + "\",\"key\":{\"k\":\"" + k + "\"}}")
                        : b("k" + k);
                Bytes before = now.get(key);
                if (stale && rnd.nextInt(8) == 0) {
                    // a pre-image that does not follow the key's chain
                    before = rnd.nextBoolean() ? null : b("stale-" + value++);
                }
                Bytes after = deletes && rnd.nextInt(4) == 0 && before != null ? null : b("v" + value++);
                TailRecord r = before == null ? TailRecord.insert(lsn, 1, tx, AT, key, after)
                        : after == null ? TailRecord.delete(lsn, 1, tx, AT, key, before)
                        : TailRecord.update(lsn, 1, tx, AT, key, before, after);
                chains.computeIfAbsent(key, x -> {
                    List<Bytes> c = new ArrayList<>();
                    c.add(r.before());
                    return c;
                }).add(after);
                if (after == null) {
                    now.remove(key);
                } else {
                    now.put(key, after);
                }
                tail.add(r);
            }
        }
        Path file = dir.resolve("case-" + seed + ".rollback.jsonl");
        if (transactional) {
            CliFiles.write(file, new RollbackFileHeader("i", 1, "c", "n", Lsn.of(50), tail.get(tail.size() - 1).lsn(),
                    Term.of(1), Term.of(2), "p", -1, AT, true), tail);
        } else {
            List<TailRecord> dense = new ArrayList<>();
            for (TailRecord r : tail) {
                long l = 11 + dense.size();
                dense.add(new TailRecord(Lsn.of(l), r.term(), "tx-" + l, r.commitTime(), r.operation(), r.key(),
                        r.before(), r.after()));
            }
            CliFiles.write(file, 10, dense);
        }
        // The primary: each key as at the fork (in two cases of three), or absent, at a random state
        // of its chain, or changed since the fork.
        Map<Bytes, Bytes> primary = new HashMap<>();
        boolean untouched = rnd.nextInt(3) != 0;
        for (Map.Entry<Bytes, List<Bytes>> c : chains.entrySet()) {
            int pick = untouched ? 0 : rnd.nextInt(c.getValue().size() + 2);
            Bytes v = pick < c.getValue().size() ? c.getValue().get(pick) : pick == c.getValue().size() ? null
                    : b("changed-after-fork-" + value++);
            if (v != null) {
                primary.put(c.getKey(), v);
            }
        }
        return new Case(file, transactional, primary);
    }

    /** What one run produced. */
    record Run(Replayer.Summary summary, byte[] report, String out, List<String> calls) {
    }

    private Run run(boolean heap, Case c, ReplayRulesTest.MapTarget primary, boolean apply, ReplayIndex.Limits limits,
            String name) throws IOException {
        RollbackFileReader.Result check = RollbackFileReader.read(c.file(), null, RollbackFileReader.NONE);
        assertTrue(check.ok(), check.problems().toString());
        Path report = dir.resolve(name + (heap ? ".heap" : ".disk") + ".json");
        LoggingTarget target = new LoggingTarget(primary);
        StringWriter out = new StringWriter();
        Replayer.Options options = new Replayer.Options(apply, 0, report, "test");
        Clock clock = Clock.fixed(AT, ZoneOffset.UTC);
        Replayer.Summary s;
        try (PrintWriter w = new PrintWriter(out, true)) {
            s = heap ? new HeapReplayer(target, options, w, clock).run(c.file(), check)
                    : new Replayer(target, options, w, clock, limits).run(c.file(), check);
        }
        return new Run(s, Files.readAllBytes(report), out.toString(), target.calls);
    }

    private static ReplayRulesTest.MapTarget primary(Case c) {
        ReplayRulesTest.MapTarget t = new ReplayRulesTest.MapTarget(c.transactional());
        t.data.putAll(c.primary());
        return t;
    }

    @Test
    void randomFilesReplayAsTheyDidWithEverythingInMemory() throws Exception {
        for (long seed = 1; seed <= SEEDS; seed++) {
            Case c = generate(seed);
            Random rnd = new Random(-seed);
            ReplayIndex.Limits limits = seed % 2 == 0 ? ReplayIndex.Limits.DEFAULT
                    : new ReplayIndex.Limits(1 + rnd.nextInt(4), 200 + rnd.nextInt(1500), rnd.nextInt(64));
            String what = "seed " + seed + " (" + (c.transactional() ? "transactions" : "one record a group") + ", "
                    + limits + ")";
            ReplayRulesTest.MapTarget heapPrimary = primary(c);
            ReplayRulesTest.MapTarget diskPrimary = primary(c);
            String[] modes = {"dry", "apply", "again"};
            for (String mode : modes) {
                boolean apply = !mode.equals("dry");
                Run heap = run(true, c, heapPrimary, apply, limits, "s" + seed + "-" + mode);
                Run disk = run(false, c, diskPrimary, apply, limits, "s" + seed + "-" + mode);
                assertEquals(heap.calls(), disk.calls(), what + ", " + mode + ": the calls to the primary");
                assertEquals(heap.out(), disk.out(), what + ", " + mode + ": the output");
                assertArrayEquals(heap.report(), disk.report(), what + ", " + mode + ": the report");
                assertEquals(heap.summary().counts(), disk.summary().counts(), what + ", " + mode);
                assertEquals(heapPrimary.data, diskPrimary.data, what + ", " + mode + ": the primary after");
            }
            try (Stream<Path> left = Files.list(dir)) {
                assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith(".")).toList(),
                        what + ": the replay's directory is removed");
            }
        }
    }

    @Test
    void theRandomCasesReachEveryOutcomeAndPath() throws Exception {
        // The comparison above means little unless the cases reach every rule: count what they reach.
        Map<String, Integer> reached = new HashMap<>();
        for (long seed = 1; seed <= SEEDS; seed++) {
            Case c = generate(seed);
            ReplayRulesTest.MapTarget t = primary(c);
            for (boolean apply : new boolean[] {false, true}) {
                Run r = run(true, c, t, apply, ReplayIndex.Limits.DEFAULT, "count-" + seed + "-" + apply);
                for (Replayer.Outcome o : Replayer.Outcome.values()) {
                    if (r.summary().count(o) > 0) {
                        reached.merge(o.json(), 1, Integer::sum);
                    }
                }
                for (String detail : List.of("part of the transaction is already", "holds an earlier state",
                        "guard failed", "an UNCAPTURED change of table", "of the same key, not applied",
                        "its transaction conflicts", "an earlier record of the same key conflicts")) {
                    if (r.out().contains(detail)) {
                        reached.merge(detail, 1, Integer::sum);
                    }
                }
            }
        }
        for (String must : List.of("applied", "wouldApply", "alreadyApplied", "conflict", "skippedDependent",
                "needsPerson", "part of the transaction is already", "holds an earlier state", "guard failed",
                "an UNCAPTURED change of table", "of the same key, not applied", "its transaction conflicts",
                "an earlier record of the same key conflicts")) {
            assertTrue(reached.getOrDefault(must, 0) >= 3, "the random cases reach \"" + must + "\" in fewer than "
                    + "3 runs: " + reached);
        }
    }
}
