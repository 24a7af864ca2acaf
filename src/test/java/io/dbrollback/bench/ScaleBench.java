package io.dbrollback.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Scale: N three-node clusters (N Leases, 3N pods, 3N reference nodes) on one mock API server, then
 * N ReplicaSetRollbacks created at once; the time until all complete, the spread of completion times
 * (starvation shows as a long tail), and the heap and RSS of the benchmark JVM. Everything runs in
 * one JVM (operator, mock API server and all nodes), so the memory is an upper bound for the
 * operator's, not the operator's alone.
 */
public final class ScaleBench {

    static final int TAIL = 100;

    static ObjectNode run(int maxClusters) throws Exception {
        ObjectNode result = Bench.JSON.createObjectNode();
        result.put("tailRecordsPerRollback", TAIL);
        result.put("note", "operator, mock API server and all reference nodes share one JVM: heap and RSS are an upper "
                + "bound of the operator's; completion = first 50 ms poll (one list call) that saw Completed");
        ArrayNode steps = result.putArray("runs");
        List<Integer> counts = new ArrayList<>();
        for (int n = Math.max(1, maxClusters / 4); n < maxClusters; n *= 2) {
            counts.add(n);
        }
        counts.add(maxClusters);
        for (int n : counts) {
            steps.add(once(n));
        }
        return result;
    }

    static ObjectNode once(int n) throws Exception {
        ObjectNode r = Bench.JSON.createObjectNode();
        r.put("clusters", n);
        r.put("pods", 3 * n);
        r.put("rollbacks", n);
        List<DbCluster> clusters = new ArrayList<>();
        System.gc();
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            long setup = System.nanoTime();
            for (int i = 0; i < n; i++) {
                DbCluster db = new DbCluster(api, client, "scale-" + i);
                clusters.add(db);
                LatencyBench.failover(db, TAIL);
            }
            r.put("setupSeconds", (System.nanoTime() - setup) / 1e9);
            Operator op = LatencyBench.startOperator(client);
            AtomicLong maxHeap = new AtomicLong();
            AtomicLong maxRss = new AtomicLong();
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (sampling.get()) {
                    maxHeap.accumulateAndGet(Bench.heapUsedNow(), Math::max);
                    maxRss.accumulateAndGet(Bench.rssNow(), Math::max);
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            sampler.setDaemon(true);
            long heapBefore = Bench.heapUsedNow();
            try {
                long t0 = System.nanoTime();
                for (DbCluster db : clusters) {
                    client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb"))
                            .create();
                }
                double createSeconds = (System.nanoTime() - t0) / 1e9;
                sampler.start();
                Map<String, Double> done = new HashMap<>();
                Map<String, String> outcome = new HashMap<>();
                long deadline = t0 + 10L * 60 * 1_000_000_000L;
                while (done.size() < n && System.nanoTime() < deadline) {
                    for (ReplicaSetRollback rb : client.resources(ReplicaSetRollback.class).inAnyNamespace().list()
                            .getItems()) {
                        String ns = rb.getMetadata().getNamespace();
                        String phase = rb.getStatus() == null ? null : rb.getStatus().getPhase();
                        if (!done.containsKey(ns) && phase != null
                                && List.of("Completed", "Failed", "Aborted").contains(phase)) {
                            done.put(ns, (System.nanoTime() - t0) / 1e9);
                            outcome.put(ns, phase);
                        }
                    }
                    Thread.sleep(50);
                }
                sampling.set(false);
                List<Double> times = new ArrayList<>(done.values());
                r.put("createAllSeconds", createSeconds);
                r.put("completed", outcome.values().stream().filter("Completed"::equals).count());
                r.put("notCompleted", n - outcome.values().stream().filter("Completed"::equals).count());
                r.put("allDoneSeconds", times.stream().mapToDouble(Double::doubleValue).max().orElse(-1));
                ObjectNode dist = LatencyBench.stats(times);
                r.set("completionSeconds", dist);
                r.put("maxOverMedian", dist.get("max").asDouble() / dist.get("p50").asDouble());
                r.put("heapUsedBeforeBytes", heapBefore);
                r.put("peakHeapUsedBytes", maxHeap.get());
                r.put("peakRssBytes", maxRss.get());
                System.err.printf("[bench] scale %d clusters: all %d done in %.1f s (p50 %.1f s, max %.1f s), "
                        + "heap peak %d MiB%n", n, done.size(), r.get("allDoneSeconds").asDouble(),
                        dist.get("p50").asDouble(), dist.get("max").asDouble(), maxHeap.get() >> 20);
            } finally {
                sampling.set(false);
                op.stop();
                for (DbCluster db : clusters) {
                    db.close();
                    Bench.deleteTree(db.dir);
                }
            }
        }
        return r;
    }
}
