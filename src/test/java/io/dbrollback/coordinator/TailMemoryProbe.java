package io.dbrollback.coordinator;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.NoSuchElementException;

/**
 * Drives a {@link RollbackRunner} from a new incident through the persist step over a divergent tail
 * of N generated records, and prints what came out. Run in a child JVM with a small heap by
 * {@link TailMemoryTest}: if anything between the transport's stream and the file writer held the
 * records, it would run out of memory.
 *
 * <p>Prints {@code key=value} lines; exits 0 only if the incident reached {@link Phase#TAIL_PERSISTED}
 * with N records and the writer's own digest equals the coordinator's.
 */
public final class TailMemoryProbe {

    static final long FORK = 1_000;
    static final Instant FIRST_COMMIT = Instant.parse("2024-05-01T00:00:00Z");

    /** What one run produced. */
    record Result(Phase phase, long records, long bytes, String tailSha256, String writerTailSha256,
            String fileSha256, String reason, long elapsedMillis) {
    }

    public static void main(String[] args) {
        long n = args.length > 0 ? Long.parseLong(args[0]) : 10_000_000L;
        Result r = run(n);
        System.out.println("phase=" + r.phase());
        System.out.println("records=" + r.records());
        System.out.println("bytes=" + r.bytes());
        System.out.println("tailSha256=" + r.tailSha256());
        System.out.println("writerTailSha256=" + r.writerTailSha256());
        System.out.println("fileSha256=" + r.fileSha256());
        System.out.println("reason=" + r.reason());
        System.out.println("elapsedMillis=" + r.elapsedMillis());
        System.out.println("maxHeapBytes=" + Runtime.getRuntime().maxMemory());
        System.out.println("peakHeapUsedBytes=" + peakHeapUsed());
        boolean ok = r.phase() == Phase.TAIL_PERSISTED && r.records() == n
                && r.tailSha256() != null && r.tailSha256().equals(r.writerTailSha256());
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }

    /** Sum of the heap pools' peak usage: an upper bound of the heap's peak. */
    static long peakHeapUsed() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    static Result run(long n) {
        long last = FORK + n;
        long secondTermStart = FORK + 1 + n / 2; // the tail spans two terms of the former primary
        TermHistory targetHistory = TermHistory.of(TermHistory.Entry.of(1, 1), TermHistory.Entry.of(2, FORK + 1),
                TermHistory.Entry.of(3, secondTermStart));
        TermHistory leaderHistory = TermHistory.of(TermHistory.Entry.of(1, 1), TermHistory.Entry.of(4, FORK + 1));
        NodeTimeline leader = new NodeTimeline("db-1", NodeRole.PRIMARY, Term.of(4), Lsn.of(FORK + 500),
                Lsn.of(FORK + 500), leaderHistory, 0, false, "");
        FakeTransport transport = new FakeTransport(secondTermStart);
        Clock clock = Clock.fixed(Instant.parse("2024-05-02T00:00:00Z"), ZoneOffset.UTC);
        RollbackRunner runner = new RollbackRunner(transport, clock);
        IncidentSpec spec = IncidentSpec.automatic("inc-memory", "orders", "db-0");

        long start = System.nanoTime();
        Checkpoint cp = Checkpoint.start(spec.incidentId(), clock.instant());
        // PENDING -> PLANNED -> FENCED -> TAIL_PERSISTED, observing the world before each step.
        for (int step = 0; step < 3 && !cp.phase().isTerminal(); step++) {
            NodeTimeline target = new NodeTimeline("db-0", transport.fenced ? NodeRole.DETACHED : NodeRole.PRIMARY,
                    Term.of(3), Lsn.of(last), Lsn.of(FORK), targetHistory, 0, transport.fenced, "");
            Observation obs = new Observation("db-1", Term.of(4), target, leader, "db-1.db:7000");
            RollbackRunner.Step s = runner.step(spec, cp, obs);
            if (s.kind() == RollbackRunner.Step.Kind.WAITING || s.kind() == RollbackRunner.Step.Kind.RETRY) {
                throw new IllegalStateException("step " + step + " did not progress: " + s);
            }
            cp = s.checkpoint();
        }
        long elapsed = (System.nanoTime() - start) / 1_000_000;
        return new Result(cp.phase(), cp.tail() == null ? -1 : cp.tail().recordCount(),
                cp.tail() == null ? -1 : cp.tail().bytes(), cp.tail() == null ? null : cp.tail().sha256(),
                transport.writerTailSha256, cp.file() == null ? null : cp.file().sha256(),
                cp.reason() + ": " + cp.message(), elapsed);
    }

    /** Generates the tail lazily and writes it nowhere, digesting what passes like a real writer. */
    static final class FakeTransport implements RollbackTransport {

        private final long secondTermStart;
        boolean fenced;
        String writerTailSha256;

        FakeTransport(long secondTermStart) {
            this.secondTermStart = secondTermStart;
        }

        @Override
        public void fence(String node, String incidentId, Term term) {
            fenced = true;
        }

        @Override
        public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
            return new TailStream() {
                private long next = fromExclusive.value() + 1;

                @Override
                public boolean hasNext() {
                    return next <= toInclusive.value();
                }

                @Override
                public TailRecord next() {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    return record(next++);
                }

                @Override
                public void close() {
                }
            };
        }

        private TailRecord record(long lsn) {
            long term = lsn < secondTermStart ? 2 : 3;
            String tx = "tx-" + (lsn / 4);
            Instant at = FIRST_COMMIT.plusMillis(lsn - FORK - 1);
            Bytes key = Bytes.utf8("customer:" + (lsn % 100_000));
            return switch ((int) (lsn % 3)) {
                case 0 -> TailRecord.insert(lsn, term, tx, at, key, image(lsn, 1));
                case 1 -> TailRecord.update(lsn, term, tx, at, key, image(lsn, 2), image(lsn, 3));
                default -> TailRecord.delete(lsn, term, tx, at, key, image(lsn, 4));
            };
        }

        /** About 100 bytes of pseudo-random content. */
        private static Bytes image(long lsn, long salt) {
            byte[] b = new byte[96 + (int) (lsn % 9)];
            long x = lsn * 0x9E3779B97F4A7C15L + salt;
            for (int i = 0; i < b.length; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                b[i] = (byte) x;
            }
            return Bytes.of(b);
        }

        @Override
        public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
            TailDigest digest = new TailDigest();
            MessageDigest file = TailDigest.newSha256();
            file.update((header.incidentId() + "/" + header.planNumber() + "\n").getBytes(StandardCharsets.UTF_8));
            long fileBytes = 0;
            while (tail.hasNext()) {
                TailRecord r = tail.next();
                digest.add(r);
                fileBytes += CanonicalEncoding.encode(r, file::update);
            }
            writerTailSha256 = digest.finish();
            return new PersistResult.Persisted(new RollbackFile("/dev/null#" + header.incidentId(),
                    HexFormat.of().formatHex(file.digest()), writerTailSha256, fileBytes, digest.records()));
        }

        @Override
        public VerifyResult verifyRollbackFile(RollbackFile file) {
            throw new UnsupportedOperationException("not part of the probe");
        }

        @Override
        public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
                String expectedFileSha256) {
            throw new UnsupportedOperationException("the probe never removes anything");
        }

        @Override
        public void emitRollbackEvent(RollbackEvent event) {
            throw new UnsupportedOperationException("not part of the probe");
        }

        @Override
        public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
            throw new UnsupportedOperationException("not part of the probe");
        }
    }
}
