package io.dbrollback.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import io.dbrollback.node.NodeClient;
import io.dbrollback.node.ReplicaNode;
import io.dbrollback.node.v1.WriteBatchRequest;
import io.dbrollback.node.v1.WriteRequest;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The benchmark suite: tail throughput against the limit (with the reader's memory), end-to-end
 * latency on the mock API server, and a scale run. Writes {@code results.json} and
 * {@code throughput.png} to the output directory (default {@code bench/results}).
 *
 * <p>Options: {@code --sizes 100000,1000000,5000000,20000000}, {@code --xmx 256m}, {@code --latency-runs 100},
 * {@code --latency-warmup 30} (untimed rollbacks first: the JIT of the operator, the mock and the nodes),
 * {@code --scale-clusters 500} (0 skips; runs 125, 250, 500), {@code --scale-sizes 40,500} (these sizes
 * instead), {@code --scale-xmx 256m} (the operator child's heap),
 * {@code --reps 3} (runs of each side per size, alternating, the median kept), {@code --reps-up-to 1000000}
 * (larger sizes run once), {@code --out DIR}, {@code --skip-throughput}, {@code --skip-latency}, {@code --jfr DIR} (as
 * {@code -Dbench.jfr=DIR}: JFR recordings of the tail and operator children).
 *
 * <p>Run with {@code mvn -B -q -Pbench test-compile exec:exec@bench} (docs/performance.md).
 */
public final class Bench {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Exception | Error e) {
            e.printStackTrace();
            System.exit(1); // threads left by a failed part (a mock server's) must not keep the JVM alive
        }
        System.exit(0);
    }

    static void run(String[] args) throws Exception {
        Map<String, String> opt = options(args);
        List<Long> sizes = new ArrayList<>();
        for (String s : opt.getOrDefault("sizes", "100000,1000000,5000000,20000000").split(",")) {
            sizes.add(Long.parseLong(s.trim()));
        }
        String xmx = opt.getOrDefault("xmx", "256m");
        int reps = Integer.parseInt(opt.getOrDefault("reps", "3"));
        long repsUpTo = Long.parseLong(opt.getOrDefault("reps-up-to", "1000000"));
        int latencyRuns = Integer.parseInt(opt.getOrDefault("latency-runs", "100"));
        int latencyWarmup = Integer.parseInt(opt.getOrDefault("latency-warmup", "30"));
        int scaleClusters = Integer.parseInt(opt.getOrDefault("scale-clusters", "500"));
        // the deployed operator's heap: JAVA_MAX_MEM_RATIO=50 of the chart's 512Mi limit (src/main/docker)
        String scaleXmx = opt.getOrDefault("scale-xmx", "256m");
        if (opt.containsKey("jfr")) {
            System.setProperty("bench.jfr", opt.get("jfr"));
        }
        Path out = Path.of(opt.getOrDefault("out", "bench/results"));
        Files.createDirectories(out);

        long started = System.nanoTime();
        ObjectNode root = JSON.createObjectNode();
        root.put("date", Instant.now().toString());
        root.set("machine", machine());
        root.put("command", "mvn -B -q -Pbench test-compile exec:exec@bench");

        // The latency part first, in a fresh JVM on a machine whose page cache the throughput part has not yet
        // filled with gigabytes of rollback files (after it, its rollbacks' fsyncs and page allocations cost more)
        if (!opt.containsKey("skip-latency") && latencyRuns > 0) {
            root.set("latency", LatencyBench.run(latencyWarmup, latencyRuns));
            write(root, out);
        }
        if (!opt.containsKey("skip-throughput")) {
            syncDisk();
            root.set("throughput", throughput(sizes, xmx, reps, repsUpTo));
            write(root, out);
        }
        if (scaleClusters > 0) {
            List<Integer> scaleSizes = new ArrayList<>();
            if (opt.containsKey("scale-sizes")) {
                for (String s : opt.get("scale-sizes").split(",")) {
                    scaleSizes.add(Integer.parseInt(s.trim()));
                }
            } else {
                scaleSizes = ScaleBench.sizes(scaleClusters);
            }
            syncDisk();
            root.set("scale", ScaleBench.run(scaleSizes, scaleXmx));
        }
        root.put("wallSeconds", (System.nanoTime() - started) / 1e9);
        write(root, out);
        if (root.has("throughput")) {
            Chart.throughput(root.get("throughput"), root.get("machine"), out.resolve("throughput.png"));
        }
        System.out.println(JSON.writeValueAsString(root));
    }

    static void write(ObjectNode root, Path out) throws IOException {
        Files.writeString(out.resolve("results.json"), JSON.writeValueAsString(root) + "\n");
    }

    static Map<String, String> options(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].startsWith("--")) {
                String k = args[i].substring(2);
                if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                    m.put(k, args[++i]);
                } else {
                    m.put(k, "true");
                }
            }
        }
        return m;
    }

    static ObjectNode machine() {
        ObjectNode m = JSON.createObjectNode();
        m.put("cpus", Runtime.getRuntime().availableProcessors());
        m.put("cpuModel", cpuModel());
        m.put("memTotalBytes", memTotal());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        m.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("jvmVendor", System.getProperty("java.vm.vendor"));
        try {
            m.put("host", InetAddress.getLocalHost().getHostName().isEmpty() ? "?" : "(local)");
        } catch (IOException e) {
            m.put("host", "?");
        }
        return m;
    }

    private static String cpuModel() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("model name")).map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    private static long memTotal() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/meminfo"))) {
            return lines.filter(l -> l.startsWith("MemTotal:")).map(l -> Long.parseLong(l.replaceAll("\\D", "")) * 1024)
                    .findFirst().orElse(-1L);
        } catch (IOException e) {
            return -1;
        }
    }

    // ---- 1. tail throughput against the limit, and the reader's memory --------------------------

    static ObjectNode throughput(List<Long> sizes, String xmx, int reps, long repsUpTo) throws Exception {
        long max = sizes.stream().max(Long::compare).orElseThrow();
        Path work = Files.createTempDirectory("dbrollback-bench");
        ObjectNode result = JSON.createObjectNode();
        result.put("childXmx", xmx);
        result.put("recordBytesGoal", 256);
        result.put("reps", reps);
        result.put("repsUpToRecords", repsUpTo);
        ArrayNode runs = result.putArray("sizes");
        try (ReplicaNode node = ReplicaNode.start(ReplicaNode.Config.of("bench-0", work.resolve("node"), 1));
                NodeClient client = new NodeClient(node.address())) {
            client.promote(1);
            long fillStart = System.nanoTime();
            fill(client, max);
            double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
            System.err.printf("[bench] node holds %,d records (filled in %.1f s)%n", max, fillSeconds);
            result.put("nodeFillSeconds", fillSeconds);
            // the fill leaves gigabytes of dirty pages; written back during a run, they would slow whichever side
            // fsyncs while the kernel flushes them (ext4 commits the journal for everyone)
            result.put("syncAfterFillSeconds", syncDisk());
            for (long n : sizes) {
                long from = max - n;
                // each side n times, the sides alternating (limit, ours, agent, floor, limit, ...), so that a slower
                // minute of the machine falls on every side; each side's median run is kept
                int times = n <= repsUpTo ? Math.max(1, reps) : 1;
                List<ObjectNode> limits = new ArrayList<>();
                List<ObjectNode> ourRuns = new ArrayList<>();
                List<ObjectNode> agents = new ArrayList<>();
                List<ObjectNode> floors = new ArrayList<>();
                for (int i = 0; i < times; i++) {
                    ObjectNode limit = child("limit", xmx, node.address(), from, max, work.resolve("limit"));
                    ObjectNode ours = child("ours", xmx, node.address(), from, max, work.resolve("ours"));
                    ObjectNode agent = child("agent", xmx, node.address(), from, max, work.resolve("agent"));
                    // the limit plus what the file's guarantees force (its size, its digests, its read-back)
                    double expansion = ours.get("fileBytes").asDouble() / limit.get("fileBytes").asDouble();
                    ObjectNode floor = child("floor", xmx, node.address(), from, max, work.resolve("floor"),
                            String.format(Locale.ROOT, "%.6f", expansion));
                    limits.add(limit);
                    ourRuns.add(ours);
                    agents.add(agent);
                    floors.add(floor);
                    System.err.printf("[bench] %,d records, run %d of %d: ours %.1f, agent writer %.1f, limit %.1f, "
                            + "floor %.1f MB/s%n", n, i + 1, times, mbps(ours), mbps(agent), mbps(limit), mbps(floor));
                }
                ObjectNode limit = median(limits);
                ObjectNode ours = median(ourRuns);
                ObjectNode agent = median(agents);
                ObjectNode floor = median(floors);
                ObjectNode run = JSON.createObjectNode();
                run.put("records", n);
                run.put("runs", times);
                run.put("tailBytes", ours.get("tailBytes").asLong());
                run.put("avgRecordBytes", ours.get("tailBytes").asDouble() / n);
                run.set("ours", ours);
                run.set("limit", limit);
                run.set("agentWriter", agent);
                run.put("ratio", mbps(ours) / mbps(limit));
                run.put("agentWriterRatio", mbps(agent) / mbps(limit));
                run.set("floor", floor);
                run.put("floorRatio", mbps(floor) / mbps(limit));
                run.put("oursToFloor", mbps(ours) / mbps(floor));
                run.put("agentWriterToFloor", mbps(agent) / mbps(floor));
                runs.add(run);
                System.err.printf("[bench] %,d records: ours %.1f MB/s (%,.0f rec/s, heap peak %d MiB, "
                        + "live %d MiB, RSS %d MiB), limit %.1f MB/s, ratio %.2f; agent writer %.1f MB/s (%.1f s "
                        + "persist + %.1f s verify, live %d MiB), ratio %.2f%n", n,
                        mbps(ours), ours.get("recordsPerSecond").asDouble(),
                        ours.get("peakHeapUsedBytes").asLong() >> 20, ours.get("maxHeapAfterGcBytes").asLong() >> 20,
                        ours.get("vmHwmBytes").asLong() >> 20, mbps(limit),
                        run.get("ratio").asDouble(), mbps(agent),
                        agent.get("persistNanos").asLong() / 1e9, agent.get("verifyNanos").asLong() / 1e9,
                        agent.get("maxHeapAfterGcBytes").asLong() >> 20, run.get("agentWriterRatio").asDouble());
                System.err.printf("[bench] %,d records: floor %.1f MB/s (file %,d bytes), floor/limit %.2f, "
                        + "ours/floor %.2f, agent writer/floor %.2f%n", n, mbps(floor),
                        floor.get("fileBytes").asLong(), run.get("floorRatio").asDouble(),
                        run.get("oursToFloor").asDouble(), run.get("agentWriterToFloor").asDouble());
                System.err.printf("[bench] %,d records, CPU s (reader / its child processes / node JVM): ours %s, "
                        + "agent writer %s, limit %s, floor %s%n", n, cpu(ours), cpu(agent), cpu(limit), cpu(floor));
            }
        } finally {
            deleteTree(work);
        }
        long minPeak = Long.MAX_VALUE;
        long maxPeak = 0;
        long minLive = Long.MAX_VALUE;
        long maxLive = 0;
        long minRss = Long.MAX_VALUE;
        long maxRss = 0;
        long minAgentLive = Long.MAX_VALUE;
        long maxAgentLive = 0;
        for (var r : runs) {
            long a = r.get("agentWriter").get("maxHeapAfterGcBytes").asLong();
            minAgentLive = Math.min(minAgentLive, a);
            maxAgentLive = Math.max(maxAgentLive, a);
            long p = r.get("ours").get("peakHeapUsedBytes").asLong();
            long l = r.get("ours").get("maxHeapAfterGcBytes").asLong();
            long s = r.get("ours").get("vmHwmBytes").asLong();
            minPeak = Math.min(minPeak, p);
            maxPeak = Math.max(maxPeak, p);
            minLive = Math.min(minLive, l);
            maxLive = Math.max(maxLive, l);
            minRss = Math.min(minRss, s);
            maxRss = Math.max(maxRss, s);
        }
        ObjectNode mem = result.putObject("memoryFlatness");
        mem.put("goalBytes", 32L << 20);
        mem.put("peakHeapSpreadBytes", maxPeak - minPeak);
        mem.put("liveHeapSpreadBytes", maxLive - minLive);
        mem.put("rssSpreadBytes", maxRss - minRss);
        mem.put("agentWriterLiveHeapSpreadBytes", maxAgentLive - minAgentLive);
        mem.put("flatWithinGoal", maxPeak - minPeak <= (32L << 20) && maxRss - minRss <= (32L << 20));
        return result;
    }

    /** Writes {@code n} records of about 256 canonical bytes (updates of 100,000 keys) in batches. */
    static void fill(NodeClient client, long n) {
        byte[] value = new byte[90];
        int batch = 4000;
        long written = 0;
        long x = 0x9E3779B97F4A7C15L;
        while (written < n) {
            WriteBatchRequest.Builder b = WriteBatchRequest.newBuilder();
            int k = (int) Math.min(batch, n - written);
            for (int i = 0; i < k; i++) {
                long seq = written + i;
                for (int j = 0; j < value.length; j++) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    value[j] = (byte) x;
                }
                b.addWrites(WriteRequest.newBuilder()
                        .setKey(ByteString.copyFrom(String.format("customer:%08d", seq % 100_000),
                                StandardCharsets.UTF_8))
                        .setValue(ByteString.copyFrom(value)));
            }
            client.db.withDeadlineAfter(60, TimeUnit.SECONDS).writeBatch(b.build());
            written += k;
        }
    }

    private static double mbps(ObjectNode side) {
        return side.get("mbPerSecond").asDouble();
    }

    /**
     * The run of median throughput (the lower middle one of an even number), with every run's MB/s in
     * {@code mbPerSecondRuns}; its memory figures are the largest of all the runs (memory is not a median).
     */
    static ObjectNode median(List<ObjectNode> sideRuns) {
        List<ObjectNode> sorted = new ArrayList<>(sideRuns);
        sorted.sort(Comparator.comparingDouble(Bench::mbps));
        ObjectNode m = sorted.get((sorted.size() - 1) / 2).deepCopy();
        ArrayNode all = m.putArray("mbPerSecondRuns");
        for (ObjectNode r : sideRuns) {
            all.add(mbps(r));
        }
        for (String k : List.of("peakHeapUsedBytes", "maxHeapAfterGcBytes", "vmHwmBytes")) {
            m.put(k, sideRuns.stream().mapToLong(r -> r.get(k).asLong()).max().orElseThrow());
        }
        return m;
    }

    private static String cpu(ObjectNode child) {
        return String.format("%.1f / %.1f / %.1f", child.get("cpuMillis").asLong() / 1e3,
                child.get("cpuChildProcessesMillis").asLong() / 1e3, child.get("cpuNodeJvmMillis").asLong() / 1e3);
    }

    /** Runs {@code sync} (every dirty page written back) and returns the seconds it took. */
    static double syncDisk() throws IOException, InterruptedException {
        long start = System.nanoTime();
        Process sync = new ProcessBuilder("sync").inheritIO().start();
        if (!sync.waitFor(10, TimeUnit.MINUTES) || sync.exitValue() != 0) {
            throw new IllegalStateException("sync failed or took more than 10 minutes");
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /** One measured child, started on a clean page cache ({@link #syncDisk}): no side pays for the one before. */
    static ObjectNode child(String mode, String xmx, String address, long from, long to, Path dir, String... extra)
            throws Exception {
        syncDisk();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + xmx, "-cp", System.getProperty("java.class.path")));
        String jfr = System.getProperty("bench.jfr");
        if (jfr != null && !mode.equals("limit") && !mode.equals("floor")) {
            Files.createDirectories(Path.of(jfr));
            cmd.add("-XX:StartFlightRecording=filename=" + Path.of(jfr, mode + "-" + (to - from) + ".jfr")
                    + ",settings=profile");
        }
        cmd.addAll(List.of(TailBenchChild.class.getName(), mode, address, "bench-0", Long.toString(from),
                Long.toString(to), dir.toString()));
        cmd.addAll(List.of(extra));
        Path log = Files.createTempFile("bench-child", ".out");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(20, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException(mode + " child timed out");
            }
            String output = Files.readString(log);
            if (p.exitValue() != 0) {
                throw new IllegalStateException(mode + " child failed (exit " + p.exitValue() + "):\n" + output);
            }
            ObjectNode r = JSON.createObjectNode();
            for (String line : output.split("\\R")) {
                int eq = line.indexOf('=');
                if (eq > 0 && line.substring(eq + 1).matches("-?\\d+")) {
                    r.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
                }
            }
            double seconds = r.get("totalNanos").asLong() / 1e9;
            r.put("seconds", seconds);
            r.put("mbPerSecond", r.get("tailBytes").asLong() / 1e6 / seconds);
            r.put("recordsPerSecond", r.get("records").asLong() / seconds);
            if (r.has("diskOnlyNanos")) {
                r.put("diskOnlyMbPerSecond",
                        r.get("fileBytes").asLong() / 1e6 / (r.get("diskOnlyNanos").asLong() / 1e9));
            }
            return r;
        } finally {
            Files.deleteIfExists(log);
        }
    }

    static void deleteTree(Path p) {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            walk.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException e) {
            System.err.println("[bench] could not delete " + p + ": " + e);
        }
    }

    static Map<String, Object> ordered() {
        return new LinkedHashMap<>();
    }

    static long rssNow() {
        return TailBenchChild.procStatus("VmRSS");
    }

    static long heapUsedNow() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
