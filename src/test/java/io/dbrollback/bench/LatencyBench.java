package io.dbrollback.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.node.NodeClient;
import io.dbrollback.node.v1.WriteBatchRequest;
import io.dbrollback.node.v1.WriteRequest;
import io.dbrollback.operator.ReconcileSettings;
import io.dbrollback.operator.TestOperator;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.javaoperatorsdk.operator.Operator;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * End-to-end latency: a ReplicaSetRollback created on the mock API server until a watch on the rollbacks sees
 * its status say Completed, with the JOSDK operator running {@link RollbackReconciler} (no Quarkus), the agents
 * over gRPC and the rollback file through the Kubernetes exec API of the mock server. Each rollback gets a fresh
 * three-node cluster whose former primary holds a divergent tail of {@code TAIL} records.
 *
 * <p>What the harness must not measure: the mock server's store in shards ({@link MockApiServer#startSharded()};
 * fabric8's CRUD mock compares every stored object on each request, so the 100th rollback would pay for the
 * 99 clusters before it, where a real API server indexes), a watch rather than a poll (one more client hammering
 * the mock's single event loop every few milliseconds), and untimed warm-up rollbacks first (the operator, the
 * mock server and the nodes share one JVM, whose JIT needs about 25 rollbacks to settle; their times are kept as
 * {@code warmupMillisInOrder}, the first one being what a rollback right after the operator started costs).
 */
public final class LatencyBench {

    static final int TAIL = 1000;

    static ObjectNode run(int warmup, int runs) throws Exception {
        ObjectNode result = Bench.JSON.createObjectNode();
        result.put("tailRecords", TAIL);
        result.put("runs", runs);
        result.put("warmupRuns", warmup);
        List<Double> totals = new ArrayList<>();
        List<Double> warmupTotals = new ArrayList<>();
        Map<String, List<Double>> phases = new LinkedHashMap<>();
        try (MockApiServer api = MockApiServer.startSharded()) {
            KubernetesClient client = api.client();
            Operator op = startOperator(client);
            Ends ends = new Ends();
            // one watch for the whole run, as `kubectl wait` would: a poll would load the single-threaded mock
            Watch watch = client.resources(ReplicaSetRollback.class).inAnyNamespace().watch(ends);
            try {
                for (int i = 0; i < warmup + runs; i++) {
                    String ns = "lat-" + i;
                    try (DbCluster db = new DbCluster(api, client, ns)) {
                        failover(db, TAIL);
                        CompletableFuture<Ended> end = ends.expect(ns);
                        long t0 = System.nanoTime();
                        Instant created = Instant.now();
                        client.resources(ReplicaSetRollback.class).inNamespace(ns).resource(db.rollback("rb")).create();
                        Ended ended = end.get(120, TimeUnit.SECONDS);
                        ReplicaSetRollbackStatus s = ended.status();
                        double total = (ended.nanos() - t0) / 1e6;
                        if (!"Completed".equals(s.getPhase())) {
                            throw new IllegalStateException(ns + " ended " + s.getPhase() + ": " + s.getMessage());
                        }
                        if (i < warmup) {
                            warmupTotals.add(total);
                        } else {
                            totals.add(total);
                            Map<String, Double> split = split(created, s.getSteps());
                            split.forEach((k, v) -> phases.computeIfAbsent(k, x -> new ArrayList<>()).add(v));
                        }
                        Bench.deleteTree(db.dir);
                    }
                }
            } finally {
                watch.close();
                op.stop();
            }
        }
        result.set("totalMillis", stats(totals));
        result.set("totalMillisInOrder", array(totals));
        // the untimed rollbacks, the first one right after the operator started: what a cold JVM costs
        result.set("warmupMillisInOrder", array(warmupTotals));
        ObjectNode per = result.putObject("phaseMillis");
        phases.forEach((k, v) -> per.set(k, stats(v)));
        result.put("note", "total = from client create() until a watch on the rollbacks saw Completed; phases from "
                + "status.steps (time each phase was first entered; 'toPending' is from create() to the first step)");
        System.err.printf("[bench] latency over %d rollbacks of %d records: p50 %.0f ms, p99 %.0f ms%n", runs, TAIL,
                result.get("totalMillis").get("p50").asDouble(), result.get("totalMillis").get("p99").asDouble());
        return result;
    }

    static Operator startOperator(KubernetesClient client) {
        // the deployed pacing: the latency measured is a deployment's
        return TestOperator.against(client).instance("bench-operator")
                .backoff(ReconcileSettings.DEFAULTS.initialBackoff(), ReconcileSettings.DEFAULTS.maxBackoff())
                .deployedRetry().start();
    }

    /** Like {@link DbCluster#failover()}, but the former primary takes {@code divergent} writes. */
    static void failover(DbCluster db, int divergent) throws InterruptedException {
        NodeClient n0 = db.node(0);
        NodeClient n1 = db.node(1);
        NodeClient n2 = db.node(2);
        n0.promote(1);
        db.setLease("orders-0", 1);
        n1.follow(n0, 1, "bootstrap");
        n2.follow(n0, 1, "bootstrap");
        for (int i = 0; i < 10; i++) {
            n0.put("k" + i, "v" + i);
        }
        n1.await("replicated", t -> t.getLastLsn() == 10);
        n2.await("replicated", t -> t.getLastLsn() == 10);
        n0.await("committed", t -> t.getCommitLsn() == 10);
        n0.isolate(true);
        WriteBatchRequest.Builder b = WriteBatchRequest.newBuilder();
        for (int i = 0; i < divergent; i++) {
            b.addWrites(WriteRequest.newBuilder().setKey(utf8("d" + (i % 200)))
                    .setValue(utf8("divergent-" + i + "-" + "x".repeat(180))));
        }
        n0.db.writeBatch(b.build());
        n1.promote(2);
        db.setLease("orders-1", 2);
        n2.follow(n1, 2, "failover");
        n1.put("k3", "after-failover");
        n2.await("follows orders-1", t -> t.getLastLsn() == 11);
        n0.isolate(false);
    }

    static ByteString utf8(String s) {
        return ByteString.copyFrom(s, StandardCharsets.UTF_8);
    }

    /** A rollback's end as the watch saw it: its status and when it arrived. */
    record Ended(ReplicaSetRollbackStatus status, long nanos) {
    }

    /** Completes the future of a namespace's rollback when the watch sees it end. */
    static final class Ends implements Watcher<ReplicaSetRollback> {
        private final Map<String, CompletableFuture<Ended>> expected = new ConcurrentHashMap<>();

        CompletableFuture<Ended> expect(String ns) {
            return expected.computeIfAbsent(ns, k -> new CompletableFuture<>());
        }

        @Override
        public void eventReceived(Action action, ReplicaSetRollback r) {
            long now = System.nanoTime();
            ReplicaSetRollbackStatus s = r.getStatus();
            if (s != null && ENDED.contains(s.getPhase())) {
                expect(r.getMetadata().getNamespace()).complete(new Ended(s, now));
            }
        }

        @Override
        public void onClose(WatcherException cause) {
            expected.values().forEach(f -> f.completeExceptionally(new IllegalStateException("watch closed", cause)));
        }
    }

    static final List<String> ENDED = List.of("Completed", "Failed", "Aborted", "DryRunCompleted");

    static ReplicaSetRollbackStatus awaitDone(KubernetesClient client, String ns, String name, Duration max)
            throws InterruptedException {
        long until = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < until) {
            ReplicaSetRollback r = client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get();
            ReplicaSetRollbackStatus s = r == null ? null : r.getStatus();
            if (s != null && s.getPhase() != null
                    && ENDED.contains(s.getPhase())) {
                return s;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException(ns + "/" + name + " did not finish within " + max);
    }

    /** Time spent before each phase was entered, from the previous one (create() for the first). */
    static Map<String, Double> split(Instant created, List<StepTime> steps) {
        List<StepTime> sorted = new ArrayList<>(steps);
        sorted.sort((a, b) -> Instant.parse(a.getTime()).compareTo(Instant.parse(b.getTime())));
        Map<String, Double> out = new LinkedHashMap<>();
        Instant prev = created;
        for (StepTime t : sorted) {
            Instant at = Instant.parse(t.getTime());
            out.put("to" + t.getPhase(), Math.max(0, Duration.between(prev, at).toNanos() / 1e6));
            prev = at;
        }
        return out;
    }

    static ObjectNode stats(List<Double> values) {
        List<Double> v = new ArrayList<>(values);
        Collections.sort(v);
        ObjectNode n = Bench.JSON.createObjectNode();
        n.put("n", v.size());
        if (v.isEmpty()) {
            return n;
        }
        n.put("min", v.get(0));
        n.put("p50", percentile(v, 50));
        n.put("p90", percentile(v, 90));
        n.put("p99", percentile(v, 99));
        n.put("max", v.get(v.size() - 1));
        n.put("mean", v.stream().mapToDouble(Double::doubleValue).average().orElse(0));
        return n;
    }

    /** Nearest-rank percentile (with 30 values p99 is the maximum). */
    static double percentile(List<Double> sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }

    static ArrayNode array(List<Double> v) {
        ArrayNode a = Bench.JSON.createArrayNode();
        v.forEach(a::add);
        return a;
    }
}
