package io.dbrollback.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailValidator;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.Term;
import io.dbrollback.operator.AgentClients;
import io.dbrollback.operator.AgentRollbackFileStore;
import io.dbrollback.operator.ReadBacks;
import io.dbrollback.operator.ExecRollbackFileStore;
import io.dbrollback.operator.GrpcRollbackTransport;
import io.dbrollback.operator.LocalPodExec;
import io.dbrollback.operator.RollbackFileStore;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * One tail-throughput measurement in its own JVM (started by {@link Bench} with a fixed -Xmx), so
 * that its heap and RSS are the reader's alone; the node that holds the tail runs in the parent.
 *
 * <p>{@code ours ADDRESS NODE FROM TO DIR}: the operator's production path: {@link GrpcRollbackTransport}
 * reads the tail ({@code GrpcTailStream}: per-chunk CRC32C, trailer check), {@link TailValidator} checks
 * and digests it, {@link ExecRollbackFileStore} writes it through pod exec ({@link LocalPodExec}: the
 * pod's argv run as local processes; a file over 4 MiB: begin, an append per 4 MiB, commit) into a tmp
 * file, fsync, link, fsync dir, and then verifies it (the script's hash in the "pod": openssl, else
 * sha256sum).
 *
 * <p>{@code agent ADDRESS NODE FROM TO DIR}: the same, in the agent writer mode: {@link AgentRollbackFileStore}
 * streams the file to the node's agent (WriteRollbackFile: the agent writes, fsyncs and links it) and
 * verifies it by streaming it back (ReadRollbackFile, hashed here). The node runs in the parent JVM, so
 * the agent's share of the work is not in this child's CPU, as in a cluster.
 *
 * <p>{@code limit ADDRESS NODE FROM TO DIR}: the same agent stream consumed by a bare gRPC client that
 * writes each message's raw bytes to a FileChannel and forces it at the end; then, for reference, the
 * same number of bytes written to a second file and forced (the disk alone).
 *
 * <p>{@code floor ADDRESS NODE FROM TO DIR EXPANSION}: the limit plus only the work the rollback file's guarantees
 * force on any implementation, none of ours: the same bare client writes each message's raw bytes and then
 * EXPANSION - 1 times as many again (so that the file has the size of the JSON-lines rollback file, EXPANSION =
 * its bytes over the limit's raw bytes), hashes the raw bytes (standing for the tail digest, which hashes the
 * records' canonical bytes) and every byte written (the file's digest, which the read-back must match), forces the
 * file, reads it back and hashes it, and compares. No record is decoded or formatted, no process started: a floor
 * of the work, to tell what the format and the read-back cost from what our code adds.
 *
 * <p>Each mode first runs once, untimed, on the last {@value #WARMUP} records (a running operator's code
 * is compiled), then on FROM..TO, timed. Prints {@code key=value} lines.
 */
public final class TailBenchChild {

    private static final AtomicLong MAX_AFTER_GC = new AtomicLong();

    public static void main(String[] args) throws Exception {
        watchGc();
        String mode = args[0];
        String address = args[1];
        String node = args[2];
        long from = Long.parseLong(args[3]);
        long to = Long.parseLong(args[4]);
        Path dir = Path.of(args[5]);
        Files.createDirectories(dir);
        // Warm-up: the same path once on the last WARMUP records, untimed, as a running operator has its
        // code compiled; then the measured run. The limit gets the same warm-up.
        long warm = Math.min(WARMUP, to - from);
        double expansion = args.length > 6 ? Double.parseDouble(args[6]) : 1;
        Map<String, Long> cold = run(mode, address, node, to - warm, to, dir, "warm-", expansion);
        // CPU of the measured run: this JVM, the processes it ran and waited for (the exec writer's sh, head -c,
        // openssl), and the parent, the benchmark JVM whose node streams the tail
        String parent = String.valueOf(ProcessHandle.current().parent().orElseThrow().pid());
        long[] self0 = cpuMillis("self");
        long[] node0 = cpuMillis(parent);
        Map<String, Long> figures = run(mode, address, node, from, to, dir, "", expansion);
        long[] self1 = cpuMillis("self");
        long[] node1 = cpuMillis(parent);
        figures.put("cpuMillis", self1[0] - self0[0]);
        figures.put("cpuChildProcessesMillis", self1[1] - self0[1]);
        figures.put("cpuNodeJvmMillis", node1[0] - node0[0]);
        figures.forEach((k, v) -> System.out.println(k + "=" + v));
        System.out.println("warmupRecords=" + warm);
        System.out.println("warmupNanos=" + cold.get("totalNanos"));
        System.out.println("peakHeapUsedBytes=" + peakHeapUsed());
        System.out.println("maxHeapAfterGcBytes=" + MAX_AFTER_GC.get());
        System.out.println("maxHeapBytes=" + Runtime.getRuntime().maxMemory());
        System.out.println("vmHwmBytes=" + procStatus("VmHWM"));
        System.out.flush();
        System.exit(0);
    }

    /**
     * CPU time of process {@code pid} ("self" for this one) from /proc/PID/stat: {user + system, user + system of
     * its children that were waited for}, in milliseconds (the kernel counts 100 ticks a second).
     */
    static long[] cpuMillis(String pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", pid, "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new long[] {10 * (Long.parseLong(f[11]) + Long.parseLong(f[12])),
                10 * (Long.parseLong(f[13]) + Long.parseLong(f[14]))};
    }

    /** Records of the untimed warm-up run. */
    static final long WARMUP = 50_000;

    static Map<String, Long> run(String mode, String address, String node, long from, long to, Path dir,
            String prefix, double expansion) throws Exception {
        return switch (mode) {
            case "ours", "agent" -> ours(address, node, from, to, dir, mode.equals("agent"), prefix);
            case "floor" -> floor(address, from, to, dir, expansion);
            default -> limit(address, from, to, dir);
        };
    }

    static Map<String, Long> ours(String address, String node, long from, long to, Path dir, boolean agentWriter,
            String prefix) {
        String volume = "/var/lib/dbrollback";
        try (AgentClients clients = new AgentClients()) {
            NodeTimeline t = AgentProtos.fromProto(clients.stub(address, null).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .getTimeline(GetTimelineRequest.getDefaultInstance()));
            RollbackFileHeader header = new RollbackFileHeader(prefix + (agentWriter ? "bench-agent-" : "bench-")
                    + (to - from),
                    1, "bench", node, Lsn.of(from), Lsn.of(to), t.currentTerm(), Term.of(t.currentTerm().value() + 1),
                    "bench-1", to - from, Instant.now());
            // as the operator runs them: the read-back of the commit (exec) or of the write (agent) is the verify's
            RollbackFileStore store = agentWriter
                    ? new AgentRollbackFileStore(clients, null, Map.of(node, address), header.newTerm(),
                            new ReadBacks(16).in("bench"))
                    : new ExecRollbackFileStore(new LocalPodExec(dir, volume),
                            ExecRollbackFileStore.defaultChunkBytes(), ExecRollbackFileStore.defaultChunkBytes(),
                            ExecRollbackFileStore.defaultMaxChunkBytes(),
                            ExecRollbackFileStore.DEFAULT_TIMEOUT, new ReadBacks(16).in("bench"))
                            .in("database", volume + "/rollback");
            GrpcRollbackTransport transport = new GrpcRollbackTransport(node, clients, null, Map.of(node, address),
                    store, e -> { }, Clock.systemUTC());
            long start = System.nanoTime();
            PersistResult result;
            DivergentTail summary;
            try (TailValidator tail = new TailValidator(transport.readDivergentTail(node, Lsn.of(from), Lsn.of(to)),
                    node, Lsn.of(from), Lsn.of(to), t.currentTerm(), t.history())) {
                result = transport.persistRollbackFile(header, tail);
                if (!tail.complete()) {
                    throw new IllegalStateException("tail incomplete");
                }
                summary = tail.summary();
            }
            long persisted = System.nanoTime();
            if (!(result instanceof PersistResult.Persisted p)) {
                throw new IllegalStateException("persist failed: " + result);
            }
            VerifyResult v = transport.verifyRollbackFile(p.file());
            long verified = System.nanoTime();
            if (!(v instanceof VerifyResult.Read read) || !read.fileSha256().equals(p.file().sha256())) {
                throw new IllegalStateException("verify failed: " + v);
            }
            if (!summary.sha256().equals(p.file().tailSha256())) {
                throw new IllegalStateException("tail digest differs");
            }
            Map<String, Long> out = new LinkedHashMap<>();
            out.put("records", summary.recordCount());
            out.put("tailBytes", summary.bytes());
            out.put("fileBytes", p.file().bytes());
            out.put("persistNanos", persisted - start);
            out.put("verifyNanos", verified - persisted);
            out.put("totalNanos", verified - start);
            if (agentWriter) {
                Files.deleteIfExists(Path.of(p.file().location())); // the node's rollback directory, this machine
            } else {
                Files.deleteIfExists(dir.resolve("rollback").resolve(
                        p.file().location().substring(p.file().location().lastIndexOf('/') + 1)));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The bare client's channel: plaintext, messages up to 16 MiB. */
    private static ManagedChannel bareChannel(String address) {
        return NettyChannelBuilder.forTarget(address).usePlaintext().maxInboundMessageSize(16 << 20).build();
    }

    /** The agent's ReadDivergentTail of (from, to], as the bare client reads it (a blocking iterator). */
    private static Iterator<TailMessage> bareTail(ManagedChannel channel, long from, long to) {
        return RollbackAgentGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.MINUTES)
                .readDivergentTail(ReadDivergentTailRequest.newBuilder().setFromExclusive(from).setToInclusive(to)
                        .build());
    }

    static Map<String, Long> limit(String address, long from, long to, Path dir) throws Exception {
        ManagedChannel channel = bareChannel(address);
        Path file = dir.resolve("limit-" + (to - from) + ".bin");
        Files.deleteIfExists(file);
        long records = 0;
        long tailBytes = 0;
        long written = 0;
        long start = System.nanoTime();
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            Iterator<TailMessage> it = bareTail(channel, from, to);
            while (it.hasNext()) {
                TailMessage m = it.next();
                ByteBuffer b = m.toByteString().asReadOnlyByteBuffer();
                while (b.hasRemaining()) {
                    written += fc.write(b);
                }
                if (m.hasTrailer()) {
                    records = m.getTrailer().getRecordCount();
                    tailBytes = m.getTrailer().getBytes();
                }
            }
            fc.force(true);
        }
        long end = System.nanoTime();
        channel.shutdownNow();
        Files.deleteIfExists(file);
        // The disk alone: the same number of bytes, 1 MiB writes, one force at the end.
        Path disk = dir.resolve("disk-" + (to - from) + ".bin");
        Files.deleteIfExists(disk);
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        for (int i = 0; i < buf.capacity(); i++) {
            buf.put(i, (byte) (i * 31));
        }
        long diskStart = System.nanoTime();
        try (FileChannel fc = FileChannel.open(disk, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long left = written;
            while (left > 0) {
                buf.clear().limit((int) Math.min(buf.capacity(), left));
                left -= fc.write(buf);
            }
            fc.force(true);
        }
        long diskEnd = System.nanoTime();
        Files.deleteIfExists(disk);
        Map<String, Long> out = new LinkedHashMap<>();
        out.put("records", records);
        out.put("tailBytes", tailBytes);
        out.put("fileBytes", written);
        out.put("totalNanos", end - start);
        out.put("diskOnlyNanos", diskEnd - diskStart);
        return out;
    }

    static Map<String, Long> floor(String address, long from, long to, Path dir, double expansion) throws Exception {
        ManagedChannel channel = bareChannel(address);
        Path file = dir.resolve("floor-" + (to - from) + ".bin");
        Files.deleteIfExists(file);
        MessageDigest tailDigest = MessageDigest.getInstance("SHA-256");
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        long records = 0;
        long tailBytes = 0;
        long raw = 0;
        long written = 0;
        double owed = 0;
        long start = System.nanoTime();
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            Iterator<TailMessage> it = bareTail(channel, from, to);
            while (it.hasNext()) {
                TailMessage m = it.next();
                byte[] b = m.toByteArray();
                raw += b.length;
                tailDigest.update(b);
                written += writeHashed(fc, sent, b, b.length);
                // the rest of the file's bytes for this message: (EXPANSION - 1) times its raw bytes, from its start
                owed += b.length * (expansion - 1);
                while (owed >= 1) {
                    int n = (int) Math.min(owed, b.length);
                    written += writeHashed(fc, sent, b, n);
                    owed -= n;
                }
                if (m.hasTrailer()) {
                    records = m.getTrailer().getRecordCount();
                    tailBytes = m.getTrailer().getBytes();
                }
            }
            fc.force(true);
        }
        byte[] expected = sent.digest();
        MessageDigest back = MessageDigest.getInstance("SHA-256");
        long readBack = 0;
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            int n;
            while ((n = fc.read(buf.clear())) > 0) {
                back.update(buf.array(), 0, n);
                readBack += n;
            }
        }
        if (readBack != written || !MessageDigest.isEqual(expected, back.digest())) {
            throw new IllegalStateException("floor: the file read back differs from what was written");
        }
        tailDigest.digest();
        long end = System.nanoTime();
        channel.shutdownNow();
        Files.deleteIfExists(file);
        Map<String, Long> out = new LinkedHashMap<>();
        out.put("records", records);
        out.put("tailBytes", tailBytes);
        out.put("rawBytes", raw);
        out.put("fileBytes", written);
        out.put("totalNanos", end - start);
        return out;
    }

    private static int writeHashed(FileChannel fc, MessageDigest digest, byte[] b, int n) throws IOException {
        digest.update(b, 0, n);
        ByteBuffer buf = ByteBuffer.wrap(b, 0, n);
        while (buf.hasRemaining()) {
            fc.write(buf);
        }
        return n;
    }

    /** The largest heap occupancy right after a collection so far (see {@link #watchGc()}). */
    static long maxHeapAfterGc() {
        return MAX_AFTER_GC.get();
    }

    /** Sum of the heap pools' peak usage: an upper bound of the heap's peak (includes garbage). */
    static long peakHeapUsed() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** Tracks the largest heap occupancy right after a collection: the live set, what must fit. */
    static void watchGc() {
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter emitter) {
                emitter.addNotificationListener((n, h) -> {
                    if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                        return;
                    }
                    GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo
                            .from((CompositeData) n.getUserData());
                    long used = 0;
                    for (Map.Entry<String, MemoryUsage> e : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
                        if (isHeapPool(e.getKey())) {
                            used += e.getValue().getUsed();
                        }
                    }
                    MAX_AFTER_GC.accumulateAndGet(used, Math::max);
                }, null, null);
            }
        }
    }

    private static boolean isHeapPool(String name) {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getName().equals(name)) {
                return pool.getType() == MemoryType.HEAP;
            }
        }
        return false;
    }

    /** A field of /proc/self/status in bytes (Linux), or -1. */
    static long procStatus(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    String[] parts = line.substring(field.length() + 1).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }
}
