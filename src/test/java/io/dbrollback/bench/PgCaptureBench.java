package io.dbrollback.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.ForkPoint;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.postgres.PgAgentCluster;
import io.dbrollback.postgres.PgAgentConfig;
import io.dbrollback.postgres.PgCluster;
import io.dbrollback.postgres.PgInstall;
import io.dbrollback.postgres.PgLsn;
import io.dbrollback.postgres.PgServer;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * The PostgreSQL capture benchmark (docs/performance.md, "PostgreSQL capture"): a divergent tail of N
 * rows (inserts into a REPLICA IDENTITY FULL table, in transactions of 100,000) on a fenced former
 * primary, read through the agent (ReadDivergentTail over gRPC, each record's canonical bytes written to
 * a file, fsynced), against the limit: {@code pg_recvlogical} decoding the same changes from a copy of
 * the same slot with the same wal2json options into a file (fsynced). Both read the same WAL on the
 * same server in the same run, alternately, three times each; the best of each is reported.
 *
 * <pre>mvn -B -q -Pbench test-compile exec:exec@pg-capture [-Dpg-capture.rows=1000000]</pre>
 */
public final class PgCaptureBench {

    private PgCaptureBench() {
    }

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        Path out = Path.of(args.length > 1 ? args[1] : "bench/results");
        Files.createDirectories(out);
        try (PgAgentCluster c = PgAgentCluster.start(PgCluster.Options.defaults().setting("autovacuum", "off"))) {
            PgServer p0 = c.pg().primary();
            p0.execute("CREATE TABLE bench (id bigint PRIMARY KEY, payload text, amount numeric(12,2))",
                    "ALTER TABLE bench REPLICA IDENTITY FULL");
            c.awaitSlot();
            c.pg().cutOff();
            long t0 = System.nanoTime();
            for (int from = 1; from <= rows; from += 100_000) {
                int to = Math.min(rows, from + 99_999);
                p0.execute("INSERT INTO bench SELECT i, 'payload ' || i, i / 100.0 FROM generate_series(" + from + ", "
                        + to + ") i");
            }
            System.out.printf(Locale.ROOT, "pg-capture: %d divergent rows written in %.1f s%n", rows,
                    (System.nanoTime() - t0) / 1e9);
            PgCluster.Failover f = c.pg().failover();
            Timeline t1 = c.client(f.newPrimary().name()).getTimeline(GetTimelineRequest.getDefaultInstance());
            Timeline fenced = c.client(p0.name()).fence(FenceRequest.newBuilder().setTerm(t1.getCurrentTerm())
                    .setIncidentId("bench").build()).getTimeline();
            long fork = ((ForkPoint.Found) ForkPoint.compute(AgentProtos.fromProto(fenced), AgentProtos.fromProto(t1)))
                    .lsn().value();
            PgAgentConfig config = c.config(p0.name());
            Path scratch = c.pg().folder("bench");
            List<Double> agent = new ArrayList<>();
            List<Double> limit = new ArrayList<>();
            long records = 0;
            long bytes = 0;
            LiveHeap heap = new LiveHeap();
            for (int run = 0; run < 3; run++) {
                // The agent: the tail over gRPC, every record's canonical bytes into an fsynced file.
                Path file = scratch.resolve("agent-" + run + ".bin");
                System.gc();
                heap.watch();
                long start = System.nanoTime();
                long n = 0;
                try (FileOutputStream fos = new FileOutputStream(file.toFile());
                        OutputStream o = new BufferedOutputStream(fos, 1 << 20)) {
                    Iterator<TailMessage> it = c.client(p0.name()).withDeadlineAfter(30, TimeUnit.MINUTES)
                            .readDivergentTail(ReadDivergentTailRequest.newBuilder().setFromExclusive(fork)
                                    .setToInclusive(fenced.getLastLsn()).build());
                    while (it.hasNext()) {
                        TailMessage m = it.next();
                        for (io.dbrollback.agent.v1.TailRecord r : m.getChunk().getRecordsList()) {
                            o.write(CanonicalEncoding.toBytes(AgentProtos.fromProto(r)));
                            n++;
                        }
                    }
                    o.flush();
                    fos.getFD().sync();
                }
                agent.add((System.nanoTime() - start) / 1e9);
                heap.stop();
                records = n;
                bytes = Files.size(file);
                Files.delete(file);

                // The limit: pg_recvlogical on a copy of the slot, the same options, into an fsynced file.
                String copy = "bench_copy_" + run;
                try (Connection conn = p0.connectThroughSocket(config.fenceSocketDir());
                        Statement s = conn.createStatement()) {
                    s.execute("SELECT pg_copy_logical_replication_slot('dbrollback', '" + copy + "')");
                }
                Path decoded = scratch.resolve("recvlogical-" + run + ".json");
                start = System.nanoTime();
                PgInstall.Result r = c.pg().install().run(scratch, "pg_recvlogical", List.of("-h",
                        config.fenceSocketDir().toString(), "-p", Integer.toString(p0.port()), "-U", "postgres", "-d",
                        "postgres", "-S", copy, "--start", "--no-loop", "--endpos=" + PgLsn.of(fenced.getLastLsn()),
                        "-f", decoded.toString(), "-F", "0", "-o", "format-version=2", "-o", "include-xids=1", "-o",
                        "include-timestamp=1", "-o", "include-lsn=1", "-o", "include-pk=1", "-o", "include-typmod=1",
                        "-o", "include-type-oids=0"), Map.of(), Duration.ofMinutes(30));
                r.ok("pg_recvlogical");
                try (FileChannel ch = FileChannel.open(decoded,
                        StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                limit.add((System.nanoTime() - start) / 1e9);
                long lines = Files.lines(decoded).count();
                Files.delete(decoded);
                try (Connection conn = p0.connectThroughSocket(config.fenceSocketDir());
                        Statement s = conn.createStatement()) {
                    s.execute("SELECT pg_drop_replication_slot('" + copy + "')");
                }
                System.out.printf(Locale.ROOT, "pg-capture run %d: agent %d records in %.2f s; "
                        + "pg_recvlogical %d messages in %.2f s%n", run + 1, n, agent.get(run), lines, limit.get(run));
            }
            double a = agent.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
            double l = limit.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
            String json = String.format(Locale.ROOT, "{\"rows\":%d,\"records\":%d,\"canonicalBytes\":%d,"
                    + "\"agentSeconds\":%s,\"pgRecvlogicalSeconds\":%s,\"agentRecordsPerSecond\":%.0f,"
                    + "\"pgRecvlogicalRowsPerSecond\":%.0f,\"ratio\":%.2f,\"heapMaxBytes\":%d,"
                    + "\"liveHeapAfterGcMaxBytes\":%d,\"gcsDuringCaptures\":%d,\"postgres\":\"%s\"}%n", rows, records,
                    bytes, agent, limit, records / a, rows / l, l / a, Runtime.getRuntime().maxMemory(), heap.max,
                    heap.collections, c.pg().install().version());
            Files.writeString(out.resolve("pg-capture.json"), json);
            System.out.print("pg-capture: " + json);
        }
        System.exit(0);
    }

    /**
     * The heap the JVM (the agent and the benchmark's client, in one process) still used after each
     * collection while a capture ran: the most of it over every capture is the live set, which must not
     * grow with the tail (garbage is not counted).
     */
    static final class LiveHeap implements NotificationListener {
        private final Set<String> heapPools = new HashSet<>();
        private volatile boolean watching;
        volatile long max;
        volatile int collections;

        LiveHeap() {
            for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
                if (p.getType() == MemoryType.HEAP) {
                    heapPools.add(p.getName());
                }
            }
            for (GarbageCollectorMXBean gc
                    : ManagementFactory.getGarbageCollectorMXBeans()) {
                ((NotificationEmitter) gc).addNotificationListener(this, null, null);
            }
        }

        void watch() {
            watching = true;
        }

        void stop() {
            watching = false;
        }

        @Override
        public void handleNotification(Notification n, Object handback) {
            if (!watching || !GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION
                    .equals(n.getType())) {
                return;
            }
            GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo
                    .from((CompositeData) n.getUserData());
            long used = 0;
            for (Map.Entry<String, MemoryUsage> e
                    : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
                if (heapPools.contains(e.getKey())) {
                    used += e.getValue().getUsed();
                }
            }
            collections++;
            max = Math.max(max, used);
        }
    }
}
