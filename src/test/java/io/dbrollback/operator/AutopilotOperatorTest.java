package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.FailoverReport;
import io.dbrollback.api.LeaderSpec;
import io.dbrollback.api.NodeReport;
import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.PolicyMode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.api.RollbackPolicySpec;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailSummary;
import io.dbrollback.node.NodeClient;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The autopilot as a user meets it, against the mock API server and three real reference nodes:
 * apply a RollbackPolicy, cause a failover, and the operator notices it, reports the impact on the
 * policy (status and Events) and, by mode, creates the rollback that saves, verifies and removes the
 * divergent tail. Exactly one rollback per pod and term across an operator restart and two replicas.
 */
@IntegrationTest
class AutopilotOperatorTest {

    private MockApiServer api;
    private KubernetesClient client;
    private final List<Operator> operators = new ArrayList<>();

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stop() {
        operators.forEach(Operator::stop);
        api.close();
    }

    private Operator operator(TestOperator t) {
        Operator o = t.start();
        operators.add(o);
        return o;
    }

    static RollbackPolicy policy(DbCluster db, PolicyMode mode) {
        RollbackPolicy p = new RollbackPolicy();
        p.getMetadata().setName("orders");
        p.getMetadata().setNamespace(db.namespace);
        RollbackPolicySpec s = new RollbackPolicySpec();
        s.setCluster(db.rollback("template").getSpec().getCluster());
        s.setMode(mode);
        s.getRollback().setRollbackDirectory(DbCluster.VOLUME + "/rollback");
        p.setSpec(s);
        return p;
    }

    private RollbackPolicy apply(RollbackPolicy p) {
        return client.resources(RollbackPolicy.class).inNamespace(p.getMetadata().getNamespace()).resource(p)
                .create();
    }

    private RollbackPolicy stored(String ns) {
        return client.resources(RollbackPolicy.class).inNamespace(ns).withName("orders").get();
    }

    /** Waits until the latest report of the failover to {@code term} satisfies {@code done}. */
    private FailoverReport awaitReport(String ns, long term, Predicate<FailoverReport> done) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            FailoverReport r = report(ns, term);
            return r != null && done.test(r);
        });
        return report(ns, term);
    }

    private FailoverReport report(String ns, long term) {
        RollbackPolicy p = stored(ns);
        if (p == null || p.getStatus() == null) {
            return null;
        }
        return p.getStatus().getFailovers().stream().filter(f -> f.getTerm() == term).findFirst().orElse(null);
    }

    static NodeReport node(FailoverReport r, String pod) {
        return r.getNodes().stream().filter(n -> n.getPod().equals(pod)).findFirst().orElse(null);
    }

    private ReplicaSetRollback awaitPhase(String ns, String name, String phase) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .conditionEvaluationListener(c -> {
                    if (c.getRemainingTimeInMS() <= 100) {
                        System.err.println("TIMEOUT rollbacks " + Json.write(rollbacks(ns)) + "\npolicy "
                                + Json.write(stored(ns).getStatus()));
                    }
                }).until(() -> {
            ReplicaSetRollback r = rollback(ns, name);
            String now = r == null || r.getStatus() == null ? null : r.getStatus().getPhase();
            if (!phase.equals(now) && Set.of("Failed", "Aborted", "Completed").contains(String.valueOf(now))) {
                throw new AssertionError("ended " + now + ": " + r.getStatus().getMessage());
            }
            return phase.equals(now);
        });
        return rollback(ns, name);
    }

    private ReplicaSetRollback rollback(String ns, String name) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get();
    }

    private List<ReplicaSetRollback> rollbacks(String ns) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).list().getItems();
    }

    /** The policy's Events as "Type Reason: note", oldest first. */
    private List<String> policyEvents(String ns) {
        return client.v1().events().inNamespace(ns).list().getItems().stream()
                .filter(e -> "RollbackPolicy".equals(e.getInvolvedObject().getKind()))
                .sorted((a, b) -> a.getFirstTimestamp().compareTo(b.getFirstTimestamp()))
                .map((Event e) -> e.getType() + " " + e.getReason() + ": " + e.getMessage()).toList();
    }

    /**
     * A policy stored with a mode outside the enum (a server that does not validate, a restored backup) neither stops
     * the operator nor is acted on: reported once (Warning Event naming the field and the rule, never the value, and
     * the metric), never written (no finalizer, no status), nothing created after its cluster's failover; another
     * policy's cluster is rolled back meanwhile, and deleting the unreadable one works.
     */
    @Test
    void anUnreadablePolicyIsReportedAndNeverStopsTheAutopilotOfAnotherCluster() throws Exception {
        try (DbCluster bad = new DbCluster(api, client, "unreadable-policy");
                DbCluster good = new DbCluster(api, client, "auto")) {
            RawObjects raw = new RawObjects(client);
            var unreadable = RawObjects.set(raw.raw(policy(bad, PolicyMode.Observe)), "automatic", "spec", "mode");
            unreadable.getAdditionalProperties().remove("status");
            String version = client.genericKubernetesResources(RawObjects.POLICIES).inNamespace(bad.namespace)
                    .resource(unreadable).create().getMetadata().getResourceVersion();
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            List<String> stoppedInformers = new CopyOnWriteArrayList<>();
            Operator op = operator(TestOperator.against(client).registry(registry).autopilot()
                    .policyMetrics(new PolicyMetrics(registry))
                    .configure(o -> o.withInformerStoppedHandler((informer, e) -> {
                        if (e != null) {
                            stoppedInformers.add(informer + ": " + e);
                        }
                    })));
            apply(policy(good, PolicyMode.Automatic));
            good.failover();
            bad.failover();
            awaitPhase(good.namespace, "orders-0-rollback-t2", "Completed");

            await().atMost(Duration.ofSeconds(30)).until(() -> policyEvents(bad.namespace).stream()
                    .anyMatch(e -> e.startsWith("Warning ResourceUnreadable: ")));
            List<String> events = policyEvents(bad.namespace);
            assertEquals(List.of("Warning ResourceUnreadable: spec.mode: must be one of Automatic, Manual, Observe;"
                    + " the operator cannot read this RollbackPolicy and does nothing for it (no status, no failover"
                    + " report, no rollback created) until it is fixed or deleted"), events, "the value is not shown");
            assertEquals(1.0, registry.get("dbrollback_unreadable_resources_total").tag("kind", "RollbackPolicy")
                    .counter().count());
            assertEquals(List.of(), stoppedInformers, "no informer stopped");
            assertEquals(List.of(), InformersLiveness.stopped(op), "every informer runs");
            var stored = raw.stored(RawObjects.POLICIES, bad.namespace, "orders");
            assertEquals("automatic", stored.get("spec", "mode"), "kept as stored");
            assertEquals(version, stored.getMetadata().getResourceVersion(), "never written: no finalizer, no status");
            assertTrue(rollbacks(bad.namespace).isEmpty(), "nothing created for the unreadable policy's cluster");

            raw.delete(RawObjects.POLICIES, bad.namespace, "orders");
            assertEquals(List.of(), InformersLiveness.stopped(op));
        }
    }

    @Test
    void applyingAPolicyAndCausingAFailoverIsAllAUserDoes() throws Exception {
        String ns = "auto";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            operator(TestOperator.against(client).registry(registry).autopilot()
                    .policyMetrics(new PolicyMetrics(registry)));
            apply(policy(db, PolicyMode.Automatic));
            db.failover();

            ReplicaSetRollback done = awaitPhase(ns, "orders-0-rollback-t2", "Completed");
            assertEquals("orders-0", done.getSpec().getTargetPod());
            assertEquals(5L, done.getStatus().getTail().getRecords());
            assertNotNull(done.getStatus().getRollbackFile().getSha256(), "a verified rollback file");
            assertEquals("orders", done.getMetadata().getOwnerReferences().get(0).getName());
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data(), "orders-0 converged");

            FailoverReport r = awaitReport(ns, 2, f -> node(f, "orders-0") != null
                    && "Completed".equals(node(f, "orders-0").getRollbackPhase()));
            assertEquals("orders-1", r.getLeader());
            NodeReport n0 = node(r, "orders-0");
            assertEquals("Diverged", n0.getState());
            assertEquals(10L, n0.getForkLsn());
            assertEquals(15L, n0.getLastLsn());
            assertEquals(5L, n0.getRecords(), "from the agent's SummarizeTail");
            assertEquals(done.getStatus().getTail().getBytes(), n0.getBytes(), "the bytes the file holds");
            assertEquals(List.of("key d1 (2)", "key d2 (1)", "key k1 (1)", "key k2 (1)"), n0.getTouches());
            assertNotNull(n0.getFirstCommit());
            assertEquals("orders-0-rollback-t2", n0.getRollback());
            assertEquals("Automatic", n0.getApproval());
            assertTrue(Set.of("InSync", "Behind").contains(node(r, "orders-2").getState()),
                    "a follower of the new leader (read before the leader's last writes it may be behind): "
                    + node(r, "orders-2").getMessage());
            assertNull(node(r, "orders-2").getRollback());
            RollbackPolicy p = stored(ns);
            assertEquals(0, p.getStatus().getDivergedNodes());
            assertEquals("orders-1", p.getStatus().getLeader().getHolder());
            assertEquals(1, rollbacks(ns).size(), "exactly one rollback");

            List<String> events = policyEvents(ns);
            assertTrue(events.stream().anyMatch(e -> e.startsWith("Warning DivergedNode: orders-0 diverged")
                    && e.contains("5 records") && e.contains("Nothing has been removed")), events.toString());
            assertTrue(events.stream().anyMatch(e -> e.startsWith("Normal RollbackCreated: created "
                    + "orders-0-rollback-t2 for orders-0 with approval Automatic")), events.toString());
            await().atMost(Duration.ofSeconds(10)).until(() -> registry
                    .find("dbrollback_failover_to_rollback_end_seconds").tag("outcome", "Completed").timer() != null);
            assertEquals(1, registry.get("dbrollback_failover_to_rollback_end_seconds").timer().count());
        }
    }

    @Test
    void theLeaderIsReadFromPatroniToo() throws Exception {
        String ns = "auto-patroni";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            operator(TestOperator.against(client).autopilot());
            RollbackPolicy p = policy(db, PolicyMode.Automatic);
            PatroniLeaderSpec patroni = new PatroniLeaderSpec();
            patroni.setScope("orders");
            LeaderSpec leader = new LeaderSpec();
            leader.setPatroni(patroni);
            p.getSpec().getCluster().setLeaseName(null);
            p.getSpec().getCluster().setLeader(leader);
            apply(p);
            db.failover((holder, term) -> db.setPatroniLeader("orders", false, holder, term));
            ReplicaSetRollback done = awaitPhase(ns, "orders-0-rollback-t2", "Completed");
            assertEquals("orders", done.getSpec().getCluster().getLeader().getPatroni().getScope());
            assertEquals("Patroni ConfigMap orders-leader", stored(ns).getStatus().getLeader().getSource());
            assertTrue(client.leases().inNamespace(ns).list().getItems().isEmpty(), "no Lease involved");
        }
    }

    @Test
    void aFailoverWithoutDivergenceCreatesNothing() throws Exception {
        String ns = "auto-clean";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            operator(TestOperator.against(client).autopilot());
            apply(policy(db, PolicyMode.Automatic));
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
            n0.isolate(true); // a clean switchover: orders-0 took no write of its own
            n1.promote(2);
            n2.follow(n1, 2, "failover");
            n1.put("after", "x");
            n2.await("follows", t -> t.getLastLsn() == 11);
            // The Lease moves last: the autopilot reads the pods once it moved, and the new leader already holds
            // its write then (moved before the write, a report could catch the leader at LSN 10, orders-0 in sync).
            db.setLease("orders-1", 2);

            FailoverReport r = awaitReport(ns, 2, f -> "Complete".equals(f.getDetection()));
            assertEquals("Behind", node(r, "orders-0").getState(), node(r, "orders-0").getMessage());
            assertTrue(Set.of("InSync", "Behind").contains(node(r, "orders-2").getState()));
            Thread.sleep(500);
            assertTrue(rollbacks(ns).isEmpty(), "no rollback for a pod that is merely behind: "
                    + Json.write(stored(ns).getStatus()));
            assertEquals(0, stored(ns).getStatus().getDivergedNodes());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"Observe", "Manual"})
    void observeReportsAndManualWaitsForAPerson(String mode) throws Exception {
        String ns = "auto-" + mode.toLowerCase();
        try (DbCluster db = new DbCluster(api, client, ns)) {
            operator(TestOperator.against(client).autopilot());
            apply(policy(db, PolicyMode.valueOf(mode)));
            db.failover();
            FailoverReport r = awaitReport(ns, 2, f -> "Complete".equals(f.getDetection()));
            assertEquals("Diverged", node(r, "orders-0").getState());
            assertEquals(5L, node(r, "orders-0").getRecords());
            if (mode.equals("Observe")) {
                Thread.sleep(500);
                assertTrue(rollbacks(ns).isEmpty(), "Observe creates nothing");
                assertEquals(1, stored(ns).getStatus().getDivergedNodes());
                assertEquals(15, db.node(0).timeline().getLastLsn(), "orders-0 untouched");
            } else {
                ReplicaSetRollback waiting = awaitPhase(ns, "orders-0-rollback-t2", "AwaitingApproval");
                assertEquals(ReplicaSetRollbackSpec.Approval.Manual, waiting.getSpec().getApproval());
                assertNotNull(waiting.getStatus().getRollbackFile(), "saved and verified before it waits");
                assertEquals(15, db.node(0).timeline().getLastLsn(), "nothing removed without approval");
            }
        }
    }

    @Test
    void aPodUnreachableDuringDetectionIsLookedAtAgain() throws Exception {
        String ns = "auto-unreachable";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            int port = Integer.parseInt(db.address(0).substring(db.address(0).lastIndexOf(':') + 1));
            db.pointAgentAt(0, 1); // nothing listens on port 1
            operator(TestOperator.against(client).autopilot());
            apply(policy(db, PolicyMode.Automatic));
            db.failover();
            FailoverReport r = awaitReport(ns, 2, f -> node(f, "orders-0") != null
                    && "Unreachable".equals(node(f, "orders-0").getState()));
            assertEquals("Detecting", r.getDetection());
            assertTrue(rollbacks(ns).isEmpty());
            await().atMost(Duration.ofSeconds(20)).until(() -> policyEvents(ns).stream()
                    .anyMatch(e -> e.startsWith("Warning NodeUnreachable: orders-0 could not be asked")));

            db.pointAgentAt(0, port);
            awaitPhase(ns, "orders-0-rollback-t2", "Completed");
            r = report(ns, 2);
            assertEquals("Diverged", node(r, "orders-0").getState());
            assertTrue(r.getAttempts() >= 1);
        }
    }

    @Test
    void anOperatorRestartedBetweenDetectionAndCreationCreatesExactlyOne() throws Exception {
        String ns = "auto-restart";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            Operator first = operator(TestOperator.against(client).autopilot(world -> new RefusingCreates(world)));
            apply(policy(db, PolicyMode.Automatic));
            db.failover();
            FailoverReport r = awaitReport(ns, 2, f -> node(f, "orders-0") != null
                    && "Diverged".equals(node(f, "orders-0").getState()));
            assertNull(node(r, "orders-0").getRollback());
            await().atMost(Duration.ofSeconds(20)).until(() -> policyEvents(ns).stream()
                    .anyMatch(e -> e.startsWith("Warning PolicyReconcileFailed")));
            first.stop();
            operators.remove(first);
            assertTrue(rollbacks(ns).isEmpty());

            operator(TestOperator.against(client).autopilot());
            awaitPhase(ns, "orders-0-rollback-t2", "Completed");
            assertEquals(1, rollbacks(ns).size());
            assertEquals("orders-0-rollback-t2", node(report(ns, 2), "orders-0").getRollback());
        }
    }

    @Test
    void twoOperatorReplicasCreateExactlyOne() throws Exception {
        String ns = "auto-two";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            operator(TestOperator.against(client).instance("replica-a").autopilot());
            operator(TestOperator.against(client).instance("replica-b").autopilot());
            apply(policy(db, PolicyMode.Automatic));
            db.failover();
            awaitPhase(ns, "orders-0-rollback-t2", "Completed");
            Thread.sleep(500);
            assertEquals(1, rollbacks(ns).size(), "one rollback for one pod and term");
            assertEquals(1, db.node(0).timeline().getRollbackId(), "rolled back once");
        }
    }

    /**
     * The old primary wins the leadership back (a failback) while orders-1 took writes of its own:
     * orders-1 is the diverged one now, the leader orders-0 is never a target, and, inside the
     * cool-down after orders-0's automatic rollback, orders-1's rollback waits for a person.
     */
    @Test
    void aFailbackInsideTheCoolDownWaitsForAPerson() throws Exception {
        String ns = "auto-failback";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            operator(TestOperator.against(client).autopilot());
            apply(policy(db, PolicyMode.Automatic));
            db.failover();
            awaitPhase(ns, "orders-0-rollback-t2", "Completed");
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);

            NodeClient n0 = db.node(0);
            NodeClient n1 = db.node(1);
            n1.isolate(true);
            n1.put("n1-lost-1", "x");
            n1.put("n1-lost-2", "y");
            n0.promote(3);
            db.setLease("orders-0", 3);
            db.node(2).follow(n0, 3, "failback");
            n0.put("after-failback", "z");
            n1.isolate(false);

            FailoverReport r = awaitReport(ns, 3, f -> node(f, "orders-1") != null
                    && node(f, "orders-1").getRollback() != null);
            assertEquals("orders-0", r.getLeader());
            assertNull(node(r, "orders-0"), "the leader is never a candidate");
            assertEquals("Diverged", node(r, "orders-1").getState());
            assertEquals(2L, node(r, "orders-1").getRecords());
            ReplicaSetRollback waiting = awaitPhase(ns, "orders-1-rollback-t3", "AwaitingApproval");
            assertEquals(ReplicaSetRollbackSpec.Approval.Manual, waiting.getSpec().getApproval(),
                    "a second automatic removal inside the cool-down needs a person");
            assertTrue(rollbacks(ns).stream().noneMatch(x -> x.getMetadata().getName().endsWith("-t3")
                    && x.getSpec().getTargetPod().equals("orders-0")));
            assertTrue(policyEvents(ns).stream().anyMatch(e -> e.contains("inside the cool-down of 10m")));
        }
    }

    /**
     * Two failovers in quick succession leave two diverged pods: orders-0 took writes in term 1 and
     * orders-1 in term 2, neither reached orders-2, which leads in term 3. A policy applied then finds
     * both in one report, rolls both back (one at a time, the queue of the cluster) with approval
     * Automatic (one failover, one decision), and every pod converges on orders-2.
     */
    @Test
    void twoQuickFailoversLeaveTwoDivergedPodsAndBothAreRolledBack() throws Exception {
        String ns = "auto-double";
        try (DbCluster db = new DbCluster(api, client, ns)) {
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
            n0.isolate(true);
            n0.put("lost-in-term-1", "a");
            n0.put("k1", "lost-update");
            n1.promote(2);
            db.setLease("orders-1", 2);
            n1.isolate(true);
            n1.put("lost-in-term-2", "b");
            n1.put("k2", "lost-update");
            n1.put("k3", "lost-update");
            n2.promote(3);
            db.setLease("orders-2", 3);
            n2.put("after", "c");
            n0.isolate(false);
            n1.isolate(false);

            operator(TestOperator.against(client).autopilot());
            apply(policy(db, PolicyMode.Automatic));
            FailoverReport r = awaitReport(ns, 3, f -> "Complete".equals(f.getDetection()));
            assertEquals("Diverged", node(r, "orders-0").getState());
            assertEquals(2L, node(r, "orders-0").getRecords());
            assertEquals("Diverged", node(r, "orders-1").getState());
            assertEquals(3L, node(r, "orders-1").getRecords());
            ReplicaSetRollback r0 = awaitPhase(ns, "orders-0-rollback-t3", "Completed");
            ReplicaSetRollback r1 = awaitPhase(ns, "orders-1-rollback-t3", "Completed");
            assertEquals(ReplicaSetRollbackSpec.Approval.Automatic, r0.getSpec().getApproval());
            assertEquals(ReplicaSetRollbackSpec.Approval.Automatic, r1.getSpec().getApproval());
            assertEquals(2, rollbacks(ns).size());
            n0.await("caught up", t -> t.getLastLsn() == 11);
            n1.await("caught up", t -> t.getLastLsn() == 11);
            assertEquals(n2.data(), n0.data());
            assertEquals(n2.data(), n1.data());
        }
    }

    /** The autopilot's world with every create refused, as if the operator stopped right before it. */
    static final class RefusingCreates implements AutopilotWorld {
        private final AutopilotWorld world;

        RefusingCreates(AutopilotWorld world) {
            this.world = world;
        }

        @Override
        public Created create(ReplicaSetRollback r) {
            throw new IllegalStateException("stopped before creating " + r.getMetadata().getName());
        }

        @Override
        public LeaderReader.Reading leader(String namespace, ClusterSpec cluster) {
            return world.leader(namespace, cluster);
        }

        @Override
        public ClusterObserver.MembersReading members(String namespace, ClusterSpec cluster,
                String tlsSecret) {
            return world.members(namespace, cluster, tlsSecret);
        }

        @Override
        public NodeTimeline timeline(ClusterObserver.Members members, String pod) {
            return world.timeline(members, pod);
        }

        @Override
        public Optional<TailSummary> summary(ClusterObserver.Members members,
                String pod, Lsn fromExclusive, Lsn toInclusive) {
            return world.summary(members, pod, fromExclusive, toInclusive);
        }

        @Override
        public RollbackPolicy read(String namespace, String name) {
            return world.read(namespace, name);
        }

        @Override
        public List<ReplicaSetRollback> rollbacks(String namespace) {
            return world.rollbacks(namespace);
        }

        @Override
        public RollbackPolicy writeStatus(RollbackPolicy p) {
            return world.writeStatus(p);
        }
    }
}
