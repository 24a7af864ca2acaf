package io.dbrollback.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.operator.RollbackFileFormat;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes a rollback file of N generated records and replays it (a dry run, with a report) against a
 * primary that computes each key's value instead of storing it, then prints what came out as
 * {@code key=value} lines. Run in a child JVM with a small heap by {@link ReplayMemoryIT}; run by hand
 * for the figures of docs/rollback-file.md ({@code java -cp ... io.dbrollback.cli.ReplayMemoryProbe N DIR}).
 *
 * <p>The file: record i writes key {@code k<i>}, except that every eighth record of the second half
 * writes the key of the record half a file earlier again, so a key's state must be kept across half the
 * file. Each image has some 80 bytes. The primary holds, for key {@code k<j>}: something else when
 * {@code j / 8 % 10 == 0} (a conflict; its second record is skipped as dependent), the key's last state
 * of the file when {@code j / 8 % 10 == 1} (already applied), else the first record's pre-image (would
 * apply).
 *
 * <p>Exits 0 when the replay's counts, the report's counts and the report's records all equal the counts
 * the rules give for this file.
 */
public final class ReplayMemoryProbe {

    static final Instant AT = Instant.parse("2026-12-01T10:00:00Z");
    static final long FORK = 1_000;
    private static final String PAD = "-".repeat(64);

    private ReplayMemoryProbe() {
    }

    public static void main(String[] args) throws Exception {
        long n = args.length > 0 ? Long.parseLong(args[0]) : 300_000L;
        Path dir = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("replay-memory");
        Path file = dir.resolve("probe.rollback.jsonl");
        Path report = dir.resolve("probe.rollback.jsonl.replay.json");
        boolean ok = true;
        try {
            long started = System.nanoTime();
            write(file, n);
            long written = System.nanoTime();
            RollbackFileReader.Result check = RollbackFileReader.read(file, null, RollbackFileReader.NONE);
            if (!check.ok()) {
                throw new IllegalStateException("the generated file does not verify: " + check.problems());
            }
            long checked = System.nanoTime();
            Replayer.Summary s;
            try (PrintWriter out = new PrintWriter(Writer.nullWriter())) {
                s = new Replayer(new ComputedPrimary(n), new Replayer.Options(false, 0, report, "probe"), out,
                        Clock.fixed(AT, ZoneOffset.UTC)).run(file, check);
            }
            long replayed = System.nanoTime();
            Map<Replayer.Outcome, Long> expected = expected(n);
            Map<Replayer.Outcome, Long> reportCounts = new EnumMap<>(Replayer.Outcome.class);
            Map<Replayer.Outcome, Long> reportRecords = new EnumMap<>(Replayer.Outcome.class);
            readReport(report, reportCounts, reportRecords);
            System.out.println("records=" + n);
            System.out.println("fileBytes=" + Files.size(file));
            System.out.println("reportBytes=" + Files.size(report));
            for (Replayer.Outcome o : Replayer.Outcome.values()) {
                System.out.println("count." + o.json() + "=" + s.count(o));
                System.out.println("expected." + o.json() + "=" + expected.getOrDefault(o, 0L));
                System.out.println("reportCount." + o.json() + "=" + reportCounts.getOrDefault(o, 0L));
                System.out.println("reportRecords." + o.json() + "=" + reportRecords.getOrDefault(o, 0L));
            }
            System.out.println("writeMillis=" + (written - started) / 1_000_000);
            System.out.println("verifyMillis=" + (checked - written) / 1_000_000);
            System.out.println("replayMillis=" + (replayed - checked) / 1_000_000);
            System.out.println("maxHeapBytes=" + Runtime.getRuntime().maxMemory());
            System.out.println("peakHeapUsedBytes=" + peakHeapUsed());
            System.out.println("leftInDir=" + leftIn(dir));
            for (Replayer.Outcome o : Replayer.Outcome.values()) {
                long e = expected.getOrDefault(o, 0L);
                ok &= s.count(o) == e && reportCounts.getOrDefault(o, 0L) == e
                        && reportRecords.getOrDefault(o, 0L) == e;
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(report);
        }
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }

    /** The key index record {@code i} writes. */
    static long keyOf(long i, long n) {
        long half = n / 2 / 8 * 8;
        return i >= half && i % 8 == 7 && i - half < half ? i - half : i;
    }

    /** Whether key {@code j} has a second record. */
    static boolean twice(long j, long n) {
        long half = n / 2 / 8 * 8;
        return j < half && j % 8 == 7 && j + half < n;
    }

    static Bytes key(long j) {
        return Bytes.utf8("k" + j);
    }

    /** The key's states through the file: its pre-image, after its first record, after its second. */
    static Bytes state(long j, int i) {
        return Bytes.utf8((i == 0 ? "v" : i == 1 ? "w" : "x") + j + PAD);
    }

    static void write(Path file, long n) throws IOException {
        RollbackFileHeader h = new RollbackFileHeader("5f0c0000-0000-0000-0000-00000000000a", 1, "db/probe",
                "probe-0", Lsn.of(FORK), Lsn.of(FORK + n), Term.of(1), Term.of(2), "probe-1", n, AT);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            RollbackFileFormat f = new RollbackFileFormat(b -> {
                try {
                    out.write(b);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            f.header(h);
            for (long i = 0; i < n; i++) {
                long j = keyOf(i, n);
                int k = j == i ? 0 : 1;
                long lsn = FORK + 1 + i;
                f.record(TailRecord.update(lsn, 1, "probe-" + lsn, AT, key(j), state(j, k), state(j, k + 1)));
            }
            f.trailer();
        }
    }

    /** The outcome counts the conflict rules give for the file of {@code n} records. */
    static Map<Replayer.Outcome, Long> expected(long n) {
        Map<Replayer.Outcome, Long> m = new EnumMap<>(Replayer.Outcome.class);
        for (long j = 0; j < n; j++) {
            if (keyOf(j, n) != j) {
                continue;
            }
            long records = twice(j, n) ? 2 : 1;
            if (j / 8 % 10 == 0) {
                m.merge(Replayer.Outcome.CONFLICT, 1L, Long::sum);
                m.merge(Replayer.Outcome.SKIPPED_DEPENDENT, records - 1, Long::sum);
            } else if (j / 8 % 10 == 1) {
                m.merge(Replayer.Outcome.ALREADY_APPLIED, records, Long::sum);
            } else {
                m.merge(Replayer.Outcome.WOULD_APPLY, records, Long::sum);
            }
        }
        return m;
    }

    /** The primary: each key's value computed from its name, nothing stored. */
    static final class ComputedPrimary implements ReplayTarget {
        private final long n;

        ComputedPrimary(long n) {
            this.n = n;
        }

        private Bytes value(Bytes key) {
            long j = Long.parseLong(new String(key.toByteArray(), StandardCharsets.UTF_8).substring(1));
            if (j / 8 % 10 == 0) {
                return Bytes.utf8("changed on the new primary " + j);
            }
            return j / 8 % 10 == 1 ? state(j, twice(j, n) ? 2 : 1) : state(j, 0);
        }

        @Override
        public int holds(Bytes key, TailRecord sample, List<Bytes> states) {
            Bytes now = value(key);
            for (int i = states.size() - 1; i >= 0; i--) {
                if (now.equals(states.get(i))) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public String current(Bytes key, TailRecord sample) {
            return Display.image(value(key));
        }

        @Override
        public String apply(List<TailRecord> group) {
            throw new UnsupportedOperationException("a dry run applies nothing");
        }

        @Override
        public boolean transactional() {
            return false;
        }

        @Override
        public void close() {
        }
    }

    /** Streams the report: its counts, and its records' outcomes counted. */
    static void readReport(Path report, Map<Replayer.Outcome, Long> counts, Map<Replayer.Outcome, Long> records)
            throws IOException {
        Map<String, Replayer.Outcome> byName = new HashMap<>();
        for (Replayer.Outcome o : Replayer.Outcome.values()) {
            byName.put(o.json(), o);
        }
        try (JsonParser p = RollbackFileReader.JSON.getFactory().createParser(report.toFile())) {
            String section = null;
            int depth = 0;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    depth++;
                } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    depth--;
                } else if (t == JsonToken.FIELD_NAME && depth == 1) {
                    section = p.currentName();
                } else if (t == JsonToken.FIELD_NAME && depth == 3 && "records".equals(section)
                        && "outcome".equals(p.currentName())) {
                    p.nextToken();
                    records.merge(byName.get(p.getText()), 1L, Long::sum);
                } else if (t == JsonToken.FIELD_NAME && depth == 2 && "counts".equals(section)) {
                    Replayer.Outcome o = byName.get(p.currentName());
                    p.nextToken();
                    counts.put(o, p.getLongValue());
                }
            }
        }
    }

    static long peakHeapUsed() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** What the run left in {@code dir} besides the file and its report (the replay's temporary files). */
    static long leftIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith("probe.rollback.jsonl")).count();
        }
    }
}
