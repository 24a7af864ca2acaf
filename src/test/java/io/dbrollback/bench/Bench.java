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
 * {@code --out DIR}, {@code --skip-throughput}, {@code --skip-latency}, {@code --jfr DIR} (as
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
            root.set("throughput", throughput(sizes, xmx));
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

    static ObjectNode throughput(List<Long> sizes, String xmx) throws Exception {
        long max = sizes.stream().max(Long::compare).orElseThrow();
        Path work = Files.createTempDirectory("dbrollback-bench");
        ObjectNode result = JSON.createObjectNode();
        result.put("childXmx", xmx);
        result.put("recordBytesGoal", 256);
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
                ObjectNode limit = child("limit", xmx, node.address(), from, max, work.resolve("limit"));
                ObjectNode ours = child("ours", xmx, node.address(), from, max, work.resolve("ours"));
                ObjectNode agent = child("agent", xmx, node.address(), from, max, work.resolve("agent"));
                ObjectNode run = JSON.createObjectNode();
                run.put("records", n);
                run.put("tailBytes", ours.get("tailBytes").asLong());
                run.put("avgRecordBytes", ours.get("tailBytes").asDouble() / n);
                run.set("ours", ours);
                run.set("limit", limit);
                run.set("agentWriter", agent);
                run.put("ratio", ours.get("mbPerSecond").asDouble() / limit.get("mbPerSecond").asDouble());
                run.put("agentWriterRatio", agent.get("mbPerSecond").asDouble() / limit.get("mbPerSecond").asDouble());
                runs.add(run);
                System.err.printf("[bench] %,d records: ours %.1f MB/s (%,.0f rec/s, heap peak %d MiB, "
                        + "live %d MiB, RSS %d MiB), limit %.1f MB/s, ratio %.2f; agent writer %.1f MB/s (%.1f s "
                        + "persist + %.1f s verify, live %d MiB), ratio %.2f%n", n,
                        ours.get("mbPerSecond").asDouble(), ours.get("recordsPerSecond").asDouble(),
                        ours.get("peakHeapUsedBytes").asLong() >> 20, ours.get("maxHeapAfterGcBytes").asLong() >> 20,
                        ours.get("vmHwmBytes").asLong() >> 20, limit.get("mbPerSecond").asDouble(),
                        run.get("ratio").asDouble(), agent.get("mbPerSecond").asDouble(),
                        agent.get("persistNanos").asLong() / 1e9, agent.get("verifyNanos").asLong() / 1e9,
                        agent.get("maxHeapAfterGcBytes").asLong() >> 20, run.get("agentWriterRatio").asDouble());
                System.err.printf("[bench] %,d records, CPU s (reader / its child processes / node JVM): ours %s, "
                        + "agent writer %s, limit %s%n", n, cpu(ours), cpu(agent), cpu(limit));
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

    /** Runs {@link TailBenchChild} in its own JVM with {@code -Xmx}; returns its figures. */
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
    static ObjectNode child(String mode, String xmx, String address, long from, long to, Path dir) throws Exception {
        syncDisk();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + xmx, "-cp", System.getProperty("java.class.path")));
        String jfr = System.getProperty("bench.jfr");
        if (jfr != null && !mode.equals("limit")) {
            Files.createDirectories(Path.of(jfr));
            cmd.add("-XX:StartFlightRecording=filename=" + Path.of(jfr, mode + "-" + (to - from) + ".jfr")
                    + ",settings=profile");
        }
        cmd.addAll(List.of(TailBenchChild.class.getName(), mode, address, "bench-0", Long.toString(from),
                Long.toString(to), dir.toString()));
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
