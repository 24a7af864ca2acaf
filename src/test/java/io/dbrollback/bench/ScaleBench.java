package io.dbrollback.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.StepTime;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;

/**
 * Scale: N three-node clusters (N Leases, 3N pods, 3N reference nodes) on one mock API server, then
 * N ReplicaSetRollbacks created at once. The operator runs in a JVM of its own ({@link ScaleOperatorChild},
 * the deployed heap by default), so its heap, RSS and CPU are the operator's alone; this JVM keeps the
 * mock API server (pod exec included) and the nodes. Per rollback: its own completion time, from just
 * before its create() to the time its status records Completed (status.steps, the operator's clock
 * on the same machine); how long it sat before the operator's first step ({@code queued}); and the
 * time to each phase from the one before ({@code phaseSeconds}). {@link #WARMUP} rollbacks run first
 * in the same operator JVM, so that the JIT's warm-up is not counted.
 *
 * <p>Sizes: {@code maxClusters / 4}, doubled while smaller, then {@code maxClusters} (500: 125, 250, 500).
 * {@code -Dbench.jfr=DIR} records the operator child with JFR ({@code DIR/operator-N.jfr}, settings=profile),
 * and this JVM while the rollbacks run ({@code DIR/harness-N.jfr}).
 */
public final class ScaleBench {

    static final int TAIL = 100;
    /** Rollbacks run before the measured ones, in the same operator JVM (the latency run's warm-up). */
    static final int WARMUP = 4;
    /** Clusters set up at once (each waits on its nodes' replication, not on the CPU). */
    static final int SETUP_THREADS = 8;
    static final List<String> ENDS = List.of("Completed", "Failed", "Aborted");

    /** {@code maxClusters / 4}, doubled while smaller, then {@code maxClusters}. */
    static List<Integer> sizes(int maxClusters) {
        List<Integer> counts = new ArrayList<>();
        for (int n = Math.max(1, maxClusters / 4); n < maxClusters; n *= 2) {
            counts.add(n);
        }
        counts.add(maxClusters);
        return counts;
    }

    static ObjectNode run(List<Integer> counts, String xmx) throws Exception {
        ObjectNode result = Bench.JSON.createObjectNode();
        result.put("tailRecordsPerRollback", TAIL);
        result.put("operatorXmx", xmx);
        result.put("note", "the operator runs in its own JVM (heap, RSS, CPU are its own); the mock API server, pod "
                + "exec and all reference nodes run in the benchmark JVM on the same cores. completion = from just "
                + "before the rollback's create() to its Completed step time in status.steps; queued = to its first "
                + "step; allDone = from the first create() to the last completion");
        ArrayNode steps = result.putArray("runs");
        for (int n : counts) {
            steps.add(once(n, xmx));
        }
        return result;
    }

    static ObjectNode once(int n, String xmx) throws Exception {
        ObjectNode r = Bench.JSON.createObjectNode();
        r.put("clusters", n);
        r.put("pods", 3 * n);
        r.put("rollbacks", n);
        List<DbCluster> clusters = new ArrayList<>();
        System.gc();
        Path log = Files.createTempFile("bench-operator", ".log");
        Process child = null;
        // sharded: the CRUD mock compares each request with every object in its store, which would make the
        // harness, not the operator, grow with the cluster count (docs/performance.md section 4)
        try (MockApiServer api = MockApiServer.startSharded()) {
            KubernetesClient client = api.client();
            long setup = System.nanoTime();
            List<DbCluster> warm = setUp(api, client, "warmup-", WARMUP, clusters);
            List<DbCluster> measured = setUp(api, client, "scale-", n, clusters);
            r.put("setupSeconds", (System.nanoTime() - setup) / 1e9);
            child = startOperator(api.url(), xmx, n, log);
            BufferedReader childOut = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String ready = childOut.readLine();
            while (ready != null && !ready.equals("ready")) {
                ready = childOut.readLine(); // JFR's own lines come first when it records
            }
            if (ready == null) {
                throw new IllegalStateException("operator child did not start:\n" + tail(log));
            }
            // a few rollbacks first, as the latency run does: the JIT's warm-up is not the scale's cost
            for (DbCluster db : warm) {
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb"))
                        .create();
            }
            for (DbCluster db : warm) {
                LatencyBench.awaitDone(client, db.namespace, "rb", Duration.ofSeconds(120));
            }
            AtomicLong harnessRss = new AtomicLong();
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (sampling.get()) {
                    harnessRss.accumulateAndGet(Bench.rssNow(), Math::max);
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampler.setDaemon(true);
            sampler.start();
            Recording harnessJfr = harnessRecording();
            long harnessCpu0 = ScaleOperatorChild.processCpuNanos();
            Map<String, Instant> created = new ConcurrentHashMap<>();
            Instant first = Instant.now();
            long t0 = System.nanoTime();
            // created at once: from SETUP_THREADS threads, as one create at a time on the mock takes long
            ExecutorService creators = Executors.newFixedThreadPool(SETUP_THREADS);
            try {
                List<Future<?>> creates = new ArrayList<>();
                for (DbCluster db : measured) {
                    creates.add(creators.submit(() -> {
                        created.put(db.namespace, Instant.now());
                        client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                                .resource(db.rollback("rb")).create();
                    }));
                }
                for (Future<?> f : creates) {
                    f.get();
                }
            } finally {
                creators.shutdownNow();
            }
            double createSeconds = (System.nanoTime() - t0) / 1e9;
            Map<String, ReplicaSetRollback> ended = new HashMap<>();
            long deadline = t0 + TimeUnit.MINUTES.toNanos(10);
            while (ended.size() < n && System.nanoTime() < deadline) {
                // a slow poll: the completion times come from the status, and the poll shares the cores
                Thread.sleep(1000);
                for (ReplicaSetRollback rb : client.resources(ReplicaSetRollback.class).inAnyNamespace().list()
                        .getItems()) {
                    if (!created.containsKey(rb.getMetadata().getNamespace())) {
                        continue;
                    }
                    String phase = rb.getStatus() == null ? null : rb.getStatus().getPhase();
                    if (phase != null && ENDS.contains(phase)) {
                        ended.putIfAbsent(rb.getMetadata().getNamespace(), rb);
                    }
                }
            }
            double harnessCpu = (ScaleOperatorChild.processCpuNanos() - harnessCpu0) / 1e9;
            if (harnessJfr != null) {
                harnessJfr.dump(Path.of(System.getProperty("bench.jfr"), "harness-" + n + ".jfr"));
                harnessJfr.close();
            }
            sampling.set(false);
            send(child.getOutputStream(), "stop\n");
            JsonNode op = null;
            for (String line = childOut.readLine(); line != null; line = childOut.readLine()) {
                if (line.startsWith("{")) {
                    op = Bench.JSON.readTree(line);
                }
            }
            if (!child.waitFor(60, TimeUnit.SECONDS) || op == null) {
                throw new IllegalStateException("operator child did not report:\n" + tail(log));
            }

            List<Double> completion = new ArrayList<>();
            List<Double> queued = new ArrayList<>();
            Map<String, List<Double>> phases = new LinkedHashMap<>();
            Instant last = first;
            long completed = 0;
            for (Map.Entry<String, ReplicaSetRollback> e : ended.entrySet()) {
                List<StepTime> st = e.getValue().getStatus().getSteps();
                Instant start = created.get(e.getKey());
                Instant end = null;
                Instant firstStep = null;
                for (StepTime t : st == null ? List.<StepTime>of() : st) {
                    Instant at = Instant.parse(t.getTime());
                    firstStep = firstStep == null || at.isBefore(firstStep) ? at : firstStep;
                    if (ENDS.contains(t.getPhase())) {
                        end = at;
                    }
                }
                if ("Completed".equals(e.getValue().getStatus().getPhase()) && end != null) {
                    completed++;
                    completion.add(Duration.between(start, end).toNanos() / 1e9);
                    queued.add(Duration.between(start, firstStep).toNanos() / 1e9);
                    LatencyBench.split(start, st).forEach((k, v) -> phases.computeIfAbsent(k, x -> new ArrayList<>())
                            .add(v / 1e3));
                    last = end.isAfter(last) ? end : last;
                }
            }
            r.put("createAllSeconds", createSeconds);
            r.put("completed", completed);
            r.put("failed", ended.size() - completed);
            r.put("notEnded", n - ended.size());
            r.put("allDoneSeconds", completed == n ? Duration.between(first, last).toNanos() / 1e9 : -1);
            ObjectNode dist = LatencyBench.stats(completion);
            r.set("completionSeconds", dist);
            r.set("queuedSeconds", LatencyBench.stats(queued));
            ObjectNode per = r.putObject("phaseSeconds");
            phases.forEach((k, v) -> per.set(k, LatencyBench.stats(v)));
            double maxOverMedian = completion.isEmpty() ? -1 : dist.get("max").asDouble() / dist.get("p50").asDouble();
            r.put("maxOverMedian", maxOverMedian);
            r.set("operator", op);
            r.put("harnessCpuSeconds", harnessCpu);
            r.put("harnessPeakRssBytes", harnessRss.get());
            System.err.printf("[bench] scale %d clusters: %d completed, %d failed, %d not ended; all done in %.1f s "
                    + "(completion p50 %.1f s, p99 %.1f s, max %.1f s, max/p50 %.2f); operator heap peak %d MiB, "
                    + "live max %d MiB, RSS %d MiB, CPU %.1f s; harness CPU %.1f s%n", n, completed,
                    ended.size() - completed, n - ended.size(), r.get("allDoneSeconds").asDouble(),
                    dist.path("p50").asDouble(), dist.path("p99").asDouble(), dist.path("max").asDouble(),
                    maxOverMedian, op.get("peakHeapUsedBytes").asLong() >> 20,
                    op.get("maxHeapAfterGcBytes").asLong() >> 20, op.get("vmHwmBytes").asLong() >> 20,
                    op.get("cpuSeconds").asDouble(), harnessCpu);
        } finally {
            if (child != null && child.isAlive()) {
                child.destroyForcibly();
            }
            for (DbCluster db : clusters) {
                db.close();
                Bench.deleteTree(db.dir);
            }
            Files.deleteIfExists(log);
        }
        return r;
    }

    /**
     * Sets up {@code n} clusters named {@code prefix + i}, each failed over with a divergent tail, on
     * {@link #SETUP_THREADS} threads; each is added to {@code all} (closed by the caller) as it is made.
     */
    static List<DbCluster> setUp(MockApiServer api, KubernetesClient client, String prefix, int n,
            List<DbCluster> all) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(SETUP_THREADS);
        try {
            List<Future<DbCluster>> made = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String ns = prefix + i;
                made.add(pool.submit(() -> {
                    DbCluster db = new DbCluster(api, client, ns);
                    synchronized (all) {
                        all.add(db);
                    }
                    LatencyBench.failover(db, TAIL);
                    return db;
                }));
            }
            List<DbCluster> out = new ArrayList<>();
            for (Future<DbCluster> f : made) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Starts {@link ScaleOperatorChild} against {@code apiUrl}: its stdout is read, its log goes to {@code log}. */
    static Process startOperator(String apiUrl, String xmx, int n, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + xmx, "-Djava.util.logging.manager=org.jboss.logmanager.LogManager"));
        String jfr = System.getProperty("bench.jfr");
        if (jfr != null) {
            Files.createDirectories(Path.of(jfr));
            cmd.add("-XX:StartFlightRecording=filename=" + Path.of(jfr, "operator-" + n + ".jfr")
                    + ",settings=profile");
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ScaleOperatorChild.class.getName(), apiUrl));
        return new ProcessBuilder(cmd).redirectError(log.toFile()).start();
    }

    /** With {@code -Dbench.jfr}, a profile of this JVM (mock API server, pod exec, nodes), started; else null. */
    private static Recording harnessRecording() throws IOException, ParseException {
        if (System.getProperty("bench.jfr") == null) {
            return null;
        }
        Recording rec = new Recording(Configuration.getConfiguration("profile"));
        rec.start();
        return rec;
    }

    /** The last lines of the child's log, for an error message. */
    private static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /** Writes {@code s} to {@code out} (the child's stdin). */
    static void send(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
