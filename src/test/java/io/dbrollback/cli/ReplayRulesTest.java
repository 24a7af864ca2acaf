package io.dbrollback.cli;

import static io.dbrollback.cli.CliFiles.AT;
import static io.dbrollback.cli.CliFiles.b;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.Objects;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replay's conflict rules on an in-memory primary. */
class ReplayRulesTest {

    @TempDir
    Path dir;

    /** A key-value primary in memory; with {@code transactional}, groups are transactions (all or nothing). */
    static final class MapTarget implements ReplayTarget {
        final Map<Bytes, Bytes> data = new HashMap<>();
        final boolean transactional;
        int writes;

        MapTarget(boolean transactional) {
            this.transactional = transactional;
        }

        MapTarget put(String k, String v) {
            data.put(b(k), b(v));
            return this;
        }

        @Override
        public int holds(Bytes key, TailRecord sample, List<Bytes> states) {
            for (int i = states.size() - 1; i >= 0; i--) {
                if (Objects.equals(states.get(i), data.get(key))) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public String current(Bytes key, TailRecord sample) {
            return Display.image(data.get(key));
        }

        @Override
        public String apply(List<TailRecord> group) {
            Map<Bytes, Bytes> copy = new HashMap<>(data);
            for (TailRecord r : group) {
                if (!Objects.equals(copy.get(r.key()), r.before())) {
                    return "guard failed at LSN " + r.lsn();
                }
                if (r.after() == null) {
                    copy.remove(r.key());
                } else {
                    copy.put(r.key(), r.after());
                }
            }
            data.clear();
            data.putAll(copy);
            writes += group.size();
            return null;
        }

        @Override
        public boolean transactional() {
            return transactional;
        }

        @Override
        public void close() {
        }
    }

    /** The new primary of DbCluster#failover: k0..k9 as replicated, k0 and k3 changed after the failover. */
    static MapTarget newPrimary() {
        MapTarget t = new MapTarget(false);
        for (int i = 0; i < 10; i++) {
            t.put("k" + i, "v" + i);
        }
        return t.put("k3", "after-failover").put("k0", "after-failover-2").put("n1only", "x");
    }

    private Replayer.Summary replay(Path file, MapTarget target, boolean apply, Path report, StringWriter out)
            throws IOException {
        RollbackFileReader.Result check = RollbackFileReader.read(file, null, RollbackFileReader.NONE);
        assertTrue(check.ok(), check.problems().toString());
        return new Replayer(target, new Replayer.Options(apply, 0, report, "test"), new PrintWriter(out, true),
                Clock.fixed(AT, ZoneOffset.UTC)).run(file, check);
    }

    private static List<String> outcomes(Path report) throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode r : RollbackFileReader.JSON.readTree(report.toFile()).get("records")) {
            out.add(r.get("lsn").asLong() + ":" + r.get("outcome").asText());
        }
        return out;
    }

    @Test
    void aTailNothingTouchedAppliesWholeAndThenIsAlreadyApplied() throws Exception {
        Path f = CliFiles.write(dir.resolve("f.jsonl"), 10, CliFiles.failoverTail());
        MapTarget t = newPrimary();
        Map<Bytes, Bytes> before = new HashMap<>(t.data);
        Replayer.Summary dry = replay(f, t, false, dir.resolve("dry.json"), new StringWriter());
        assertEquals(before, t.data, "a dry run changes nothing");
        assertEquals(List.of("11:wouldApply", "12:wouldApply", "13:wouldApply", "14:wouldApply", "15:wouldApply"),
                outcomes(dir.resolve("dry.json")));
        assertEquals(5, dry.count(Replayer.Outcome.WOULD_APPLY));

        replay(f, t, true, dir.resolve("apply.json"), new StringWriter());
        assertEquals(List.of("11:applied", "12:applied", "13:applied", "14:applied", "15:applied"),
                outcomes(dir.resolve("apply.json")));
        assertEquals("divergent-update-2", Display.image(t.data.get(b("d1"))));
        assertEquals(null, t.data.get(b("k2")));
        Map<Bytes, Bytes> after = new HashMap<>(t.data);

        int writes = t.writes;
        replay(f, t, true, dir.resolve("again.json"), new StringWriter());
        assertEquals(after, t.data);
        assertEquals(writes, t.writes, "a second run writes nothing");
        assertEquals(List.of("11:alreadyApplied", "12:alreadyApplied", "13:alreadyApplied", "14:alreadyApplied",
                "15:alreadyApplied"), outcomes(dir.resolve("again.json")));
    }

    @Test
    void keysChangedSinceTheForkConflictAndTheirLaterRecordsAreSkipped() throws Exception {
        List<TailRecord> tail = new ArrayList<>(CliFiles.failoverTail());
        tail.add(TailRecord.update(16, 1, "orders-0-1-16", AT, b("k1"), b("divergent-update"), b("third")));
        Path f = CliFiles.write(dir.resolve("f.jsonl"), 10, tail);
        MapTarget t = newPrimary().put("k1", "changed-on-new-primary").put("d2", "taken");
        Path report = dir.resolve("r.json");
        StringWriter out = new StringWriter();
        Replayer.Summary s = replay(f, t, true, report, out);
        assertEquals(List.of("11:applied", "12:conflict", "13:applied", "14:applied", "15:conflict",
                "16:skippedDependent"), outcomes(report));
        JsonNode records = RollbackFileReader.JSON.readTree(report.toFile()).get("records");
        assertEquals("v1", records.get(1).get("expected").asText());
        assertEquals("changed-on-new-primary", records.get(1).get("current").asText());
        assertEquals("(absent)", records.get(4).get("expected").asText());
        assertEquals("taken", records.get(4).get("current").asText());
        assertEquals("depends on LSN 12 of the same key, not applied", records.get(5).get("detail").asText());
        assertTrue(s.anyLeft());
        assertEquals("changed-on-new-primary", Display.image(t.data.get(b("k1"))), "a conflict is never written");

        replay(f, t, true, report, new StringWriter());
        assertEquals(List.of("11:alreadyApplied", "12:conflict", "13:alreadyApplied", "14:alreadyApplied",
                "15:conflict", "16:skippedDependent"), outcomes(report));
        JsonNode counts = RollbackFileReader.JSON.readTree(report.toFile()).get("counts");
        assertEquals(3, counts.get("alreadyApplied").asInt());
        assertEquals(2, counts.get("conflict").asInt());
    }

    @Test
    void aRunCutShortFinishesOnTheNextRun() throws Exception {
        Path f = CliFiles.write(dir.resolve("f.jsonl"), 10, CliFiles.failoverTail());
        MapTarget t = newPrimary();
        // as if the first run stopped after LSNs 11 and 12
        t.put("d1", "divergent-insert").put("k1", "divergent-update");
        replay(f, t, true, dir.resolve("r.json"), new StringWriter());
        assertEquals(List.of("11:alreadyApplied", "12:alreadyApplied", "13:applied", "14:applied", "15:applied"),
                outcomes(dir.resolve("r.json")));
    }

    @Test
    void aTransactionWithOneConflictIsSkippedWhole() throws Exception {
        List<TailRecord> tail = List.of(
                TailRecord.insert(100, 1, "700", AT, b("a"), b("1")),
                TailRecord.update(100, 1, "700", AT, b("b"), b("2"), b("20")),
                TailRecord.update(200, 1, "701", AT, b("a"), b("1"), b("10")),
                TailRecord.uncaptured(300, 1, "702", AT, b("{\"schema\":\"public\",\"table\":\"t\","
                        + "\"uncaptured\":\"TRUNCATE\",\"why\":\"rows not named\"}"), null, null),
                TailRecord.insert(300, 1, "702", AT, b("c"), b("3")),
                TailRecord.insert(400, 1, "703", AT, b("d"), b("4")));
        Path f = CliFiles.write(dir.resolve("tx.jsonl"), new RollbackFileHeader("i", 1, "c", "n",
                Lsn.of(50), Lsn.of(400), Term.of(1), Term.of(2), "p", -1, AT, true), tail);
        MapTarget t = new MapTarget(true).put("b", "changed");
        Path report = dir.resolve("r.json");
        replay(f, t, true, report, new StringWriter());
        assertEquals(List.of("100:skippedDependent", "100:conflict", "200:skippedDependent", "300:needsPerson",
                "300:skippedDependent", "400:applied"), outcomes(report));
        assertEquals(null, t.data.get(b("a")), "the conflicting transaction wrote nothing");
        assertEquals("4", Display.image(t.data.get(b("d"))));
    }
    /** What the replay left in {@code dir}: its index directory must not be there. */
    private List<String> leftIn(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }

    @Test
    void aPrimaryThatFailsMidRunLeavesNoIndexBehind() throws Exception {
        Path f = CliFiles.write(dir.resolve("f.jsonl"), 10, CliFiles.failoverTail());
        MapTarget t = newPrimary();
        int[] calls = {0};
        ReplayTarget failing = new ReplayTarget() {
            @Override
            public int holds(Bytes key, TailRecord sample, List<Bytes> states) throws IOException {
                if (++calls[0] == 3) {
                    throw new IOException("the primary went away");
                }
                return t.holds(key, sample, states);
            }

            @Override
            public String current(Bytes key, TailRecord sample) {
                return t.current(key, sample);
            }

            @Override
            public String apply(List<TailRecord> group) {
                return t.apply(group);
            }

            @Override
            public boolean transactional() {
                return false;
            }

            @Override
            public void close() {
            }
        };
        RollbackFileReader.Result check = RollbackFileReader.read(f, null, RollbackFileReader.NONE);
        for (Path report : new Path[] {dir.resolve("r.json"), null}) {
            calls[0] = 0;
            IOException e = assertThrows(IOException.class, () -> new Replayer(failing,
                    new Replayer.Options(true, 0, report, "test"), new PrintWriter(new StringWriter()),
                    Clock.fixed(AT, ZoneOffset.UTC)).run(f, check));
            assertEquals("the primary went away", e.getMessage());
            assertEquals(List.of(), leftIn(dir), "the index is removed when the run fails");
        }
    }

    @Test
    void aFileChangedAfterItWasVerifiedIsNotReplayed() throws Exception {
        Path f = CliFiles.write(dir.resolve("f.jsonl"), 10, CliFiles.failoverTail());
        RollbackFileReader.Result check = RollbackFileReader.read(f, null, RollbackFileReader.NONE);
        CliFiles.write(f, 10, CliFiles.failoverTail().subList(0, 4));
        MapTarget t = newPrimary();
        Map<Bytes, Bytes> before = new HashMap<>(t.data);
        IOException e = assertThrows(IOException.class, () -> new Replayer(t, new Replayer.Options(true, 0,
                dir.resolve("r.json"), "test"), new PrintWriter(new StringWriter()), Clock.fixed(AT, ZoneOffset.UTC))
                .run(f, check));
        assertTrue(e.getMessage().endsWith("changed after it was verified: nothing replayed"), e.getMessage());
        assertEquals(before, t.data);
        assertEquals(List.of(), leftIn(dir));
    }

    private static Bytes pgKey(String table, String k) {
        return b("{\"schema\":\"public\",\"table\":\"" + table + "\",\"key\":{\"k\":\"" + k + "\"}}");
    }

    @Test
    void anUncapturedTruncateHoldsBackLaterChangesOfItsTableOnly() throws Exception {
        List<TailRecord> tail = List.of(
                TailRecord.uncaptured(100, 1, "800", AT, b("{\"schema\":\"public\",\"table\":\"wiped\","
                        + "\"uncaptured\":\"TRUNCATE\",\"why\":\"a TRUNCATE removes rows the WAL does not name\"}"),
                        null, null),
                TailRecord.insert(200, 1, "801", AT, pgKey("wiped", "a"), b("[]")),
                TailRecord.insert(200, 1, "801", AT, pgKey("kept", "b"), b("[]")),
                TailRecord.insert(300, 1, "802", AT, pgKey("kept", "c"), b("[]")));
        Path f = CliFiles.write(dir.resolve("truncate.jsonl"), new RollbackFileHeader("i", 1, "c", "n",
                Lsn.of(50), Lsn.of(300), Term.of(1), Term.of(2), "p", -1, AT, true), tail);
        MapTarget t = new MapTarget(true);
        Path report = dir.resolve("r.json");
        Replayer.Summary s = replay(f, t, true, report, new StringWriter());
        assertEquals(List.of("100:needsPerson", "200:skippedDependent", "200:skippedDependent", "300:applied"),
                outcomes(report));
        JsonNode records = RollbackFileReader.JSON.readTree(report.toFile()).get("records");
        assertEquals("UNCAPTURED: a TRUNCATE removes rows the WAL does not name", records.get(0).get("detail")
                .asText());
        assertEquals("depends on LSN 100, an UNCAPTURED change of table public.wiped", records.get(1).get("detail")
                .asText());
        assertEquals("public.kept", records.get(3).get("table").asText());
        assertEquals("k=c", records.get(3).get("key").asText());
        assertEquals(1, s.count(Replayer.Outcome.NEEDS_PERSON));
        assertEquals(1, t.data.size(), "only the transaction that touches neither");
    }
}
