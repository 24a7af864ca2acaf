package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.CopySpec;
import io.dbrollback.api.ObjectStoreSpec;
import io.dbrollback.api.FailoverReport;
import io.dbrollback.api.NodeReport;
import io.dbrollback.api.PolicyMode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.api.RollbackPolicySpec;
import io.dbrollback.model.TailSummary;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The autopilot against an in-memory world (a three-pod cluster, orders-0..2): what it reports after
 * a failover, what it creates by mode, and that it never creates two rollbacks for a pod and a term,
 * across restarts, a second replica, flapping leaders and unreachable pods. Milliseconds per test.
 */
class AutopilotTest {

    static final TermHistory.Entry T1 = TermHistory.Entry.of(1, 1);
    static final TermHistory.Entry T2 = TermHistory.Entry.of(2, 11);

    FakeAutopilotWorld world;
    List<String> events;
    SimpleMeterRegistry registry;
    PolicyMetrics metrics;
    SetClock clock;

    @BeforeEach
    void cluster() {
        world = new FakeAutopilotWorld();
        events = new ArrayList<>();
        registry = new SimpleMeterRegistry();
        metrics = new PolicyMetrics(registry);
        clock = new SetClock(Instant.parse("2026-12-05T10:00:00Z"));
        // term 1: orders-0 leads, everybody holds LSNs 1..10
        world.lead("orders-0", 1);
        for (int i = 0; i < 3; i++) {
            world.timelines.put("orders-" + i, FakeAutopilotWorld.timeline("orders-" + i, 1, 10, T1));
        }
    }

    /** A wall clock that moves only when told. */
    static final class SetClock extends Clock {
        private Instant now;

        SetClock(Instant start) {
            this.now = start;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    Autopilot autopilot() {
        PolicyEvents recorder = (p, type, reason, note, pod, key) -> events.add(type + " " + reason + " "
                + (pod == null ? "-" : pod) + ": " + note);
        return new Autopilot(world, recorder, metrics, ReconcileSettings.DEFAULTS, clock);
    }

    static RollbackPolicy policy(PolicyMode mode) {
        RollbackPolicy p = new RollbackPolicy();
        p.getMetadata().setName("orders");
        p.getMetadata().setNamespace("db");
        RollbackPolicySpec s = new RollbackPolicySpec();
        ClusterSpec c = new ClusterSpec();
        c.setPodSelector(Map.of("app", "orders"));
        c.setLeaseName("orders-leader");
        c.setAgentPortName("agent");
        s.setCluster(c);
        s.setMode(mode);
        p.setSpec(s);
        return p;
    }

    /** orders-0 was cut off and took 5 writes; orders-1 leads in term 2 with 3 writes; orders-2 follows it. */
    void failoverToOrders1() {
        world.lead("orders-1", 2);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 1, 15, T1));
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 2, 13, T1, T2));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 2, 13, T1, T2));
    }

    Autopilot.Pass pass() {
        return autopilot().run(world.stored());
    }

    FailoverReport latest() {
        List<FailoverReport> all = world.stored().getStatus().getFailovers();
        return all.get(all.size() - 1);
    }

    static NodeReport node(FailoverReport r, String pod) {
        return r.getNodes().stream().filter(n -> n.getPod().equals(pod)).findFirst().orElseThrow();
    }

    long creates() {
        return world.log.stream().filter(l -> l.startsWith("create ") && !l.startsWith("create refused")
                && !l.startsWith("create exists")).count();
    }

    double detected() {
        return registry.get("dbrollback_failovers_detected_total").counter().count();
    }

    @Test
    void aDivergedFormerPrimaryIsReportedThenGetsExactlyOneRollback() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        assertEquals(0, creates(), "the first leader seen is no failover");
        assertEquals("orders-0", world.stored().getStatus().getLeader().getHolder());

        failoverToOrders1();
        world.summaries.put("orders-0", new TailSummary(5, 290, Instant.parse("2026-12-05T09:59:00Z"),
                Instant.parse("2026-12-05T09:59:04Z"), List.of(new TailSummary.Touch("key d1", 2),
                new TailSummary.Touch("keys k*", 2), new TailSummary.Touch("key d2", 1)), false));
        Autopilot.Pass p = pass();

        FailoverReport r = latest();
        assertEquals(2L, r.getTerm());
        assertEquals("orders-1", r.getLeader());
        assertEquals("orders-0", r.getPreviousLeader());
        assertEquals("Complete", r.getDetection());
        NodeReport n0 = node(r, "orders-0");
        assertEquals("Diverged", n0.getState());
        assertEquals(10L, n0.getForkLsn());
        assertEquals(15L, n0.getLastLsn());
        assertEquals(5L, n0.getRecords());
        assertEquals(290L, n0.getBytes());
        assertEquals("2026-12-05T09:59:00Z", n0.getFirstCommit());
        assertEquals(List.of("key d1 (2)", "keys k* (2)", "key d2 (1)"), n0.getTouches());
        assertEquals("InSync", node(r, "orders-2").getState());
        assertFalse(r.getNodes().stream().anyMatch(n -> n.getPod().equals("orders-1")), "the leader is no candidate");

        ReplicaSetRollback made = world.rollbacks.get("orders-0-rollback-t2");
        assertNotNull(made, "rollbacks: " + world.rollbacks.keySet());
        assertEquals("orders-0", made.getSpec().getTargetPod());
        assertEquals(ReplicaSetRollbackSpec.Approval.Automatic, made.getSpec().getApproval());
        assertEquals(Map.of(RollbackPolicy.POLICY_LABEL, "orders", RollbackPolicy.TARGET_LABEL, "orders-0",
                RollbackPolicy.TERM_LABEL, "2"), made.getMetadata().getLabels());
        assertEquals("uid-orders", made.getMetadata().getOwnerReferences().get(0).getUid());
        assertEquals("orders-0-rollback-t2", n0.getRollback());
        assertEquals("Automatic", n0.getApproval());

        // the report was stored before the rollback existed
        int summarized = world.log.indexOf("summary orders-0 (10, 15]");
        int reportWritten = world.log.subList(summarized, world.log.size()).indexOf("status") + summarized;
        assertTrue(summarized > 0 && reportWritten > summarized, world.log.toString());
        assertTrue(reportWritten < world.log.indexOf("create orders-0-rollback-t2"), world.log.toString());
        String diverged = events.stream().filter(e -> e.contains("DivergedNode")).findFirst().orElseThrow();
        assertTrue(diverged.startsWith("Warning DivergedNode orders-0: orders-0 diverged"), diverged);
        assertTrue(diverged.contains("LSNs (10, 15], 5 records, 290 bytes"), diverged);
        assertTrue(diverged.contains("touching key d1 (2), keys k* (2), key d2 (1)"), diverged);
        assertTrue(diverged.endsWith("Nothing has been removed."), diverged);
        assertEquals(List.of("LeaderObserved", "FailoverDetected", "DivergedNode", "RollbackCreated"), reasons());
        assertEquals(1, detected());
        assertEquals(1, world.stored().getStatus().getDivergedNodes());
        assertEquals(1, registry.get("dbrollback_diverged_nodes").gauge().value());
        assertEquals(ReconcileSettings.DEFAULTS.waitRecheck(), p.recheck(), "it follows the rollback it made");

        pass();
        pass();
        assertEquals(1, creates(), "later passes create nothing more: " + world.log);
        assertEquals(1, detected());
    }

    List<String> reasons() {
        return events.stream().map(e -> e.split(" ")[1]).toList();
    }

    @Test
    void aPodThatIsMerelyBehindIsNotDiverged() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        world.lead("orders-1", 2);
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 2, 13, T1, T2));
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 1, 10, T1));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 2, 12, T1, T2));
        Autopilot.Pass p = pass();
        FailoverReport r = latest();
        assertEquals("Behind", node(r, "orders-0").getState());
        assertEquals("Behind", node(r, "orders-2").getState());
        assertEquals(0, creates());
        assertEquals(0, world.stored().getStatus().getDivergedNodes());
        assertEquals(1, detected());
        assertEquals("True", condition("Ready"));
        assertEquals(ReconcileSettings.DEFAULTS.blockedRecheck(), p.recheck());
    }

    String condition(String type) {
        return world.stored().getStatus().getConditions().stream().filter(c -> c.getType().equals(type))
                .findFirst().orElseThrow().getStatus();
    }

    @Test
    void observeOnlyReports() {
        world.store(policy(PolicyMode.Observe));
        pass();
        failoverToOrders1();
        pass();
        assertEquals("Diverged", node(latest(), "orders-0").getState());
        assertNull(node(latest(), "orders-0").getRollback());
        assertEquals(0, creates());
        assertEquals(1, world.stored().getStatus().getDivergedNodes(), "Observe leaves it diverged");
        assertTrue(node(latest(), "orders-0").getSummaryMissing().contains("does not summarize"),
                "an agent without SummarizeTail: the report says so");
    }

    @Test
    void manualModeCreatesARollbackThatWaitsForApproval() {
        world.store(policy(PolicyMode.Manual));
        pass();
        failoverToOrders1();
        pass();
        assertEquals(ReplicaSetRollbackSpec.Approval.Manual,
                world.rollbacks.get("orders-0-rollback-t2").getSpec().getApproval());
        assertEquals("Manual", node(latest(), "orders-0").getApproval());
        assertNull(world.stored().getStatus().getLastAutomaticRollback());
    }

    @Test
    void anUnreachablePodIsReportedAndLookedAtAgainWithBackoff() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        world.down.add("orders-0");
        Autopilot.Pass p = pass();
        assertEquals("Unreachable", node(latest(), "orders-0").getState());
        assertEquals("Detecting", latest().getDetection());
        assertEquals(1, latest().getAttempts());
        assertEquals(ReconcileSettings.DEFAULTS.backoff(1), p.recheck());
        assertEquals("False", condition("Ready"));
        assertEquals(0, creates());
        assertEquals(1, reasons().stream().filter("NodeUnreachable"::equals).count());

        p = pass();
        assertEquals(ReconcileSettings.DEFAULTS.backoff(2), p.recheck(), "the backoff grows");
        assertEquals(1, reasons().stream().filter("NodeUnreachable"::equals).count(), "told once");

        world.down.clear();
        pass();
        assertEquals("Diverged", node(latest(), "orders-0").getState());
        assertEquals("Complete", latest().getDetection());
        assertEquals(1, creates());
        assertEquals(1, detected(), "one failover, however many passes");
    }

    @Test
    void anOperatorRestartedBetweenTheReportAndTheCreateMakesExactlyOne() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        world.refuseCreates = 1;
        assertThrows(IllegalStateException.class, this::pass);
        assertEquals("Diverged", node(latest(), "orders-0").getState(), "the report is stored");
        assertNull(node(latest(), "orders-0").getRollback());
        assertEquals(0, creates());

        // a new process: new Autopilot, the stored status
        pass();
        pass();
        assertEquals(1, creates(), world.log.toString());
        assertEquals("orders-0-rollback-t2", node(latest(), "orders-0").getRollback());
    }

    @Test
    void aRollbackCreatedByAnotherReplicaIsNotDoubled() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        RollbackPolicy staleCopy = world.stored();
        pass(); // replica A
        // replica B acts on the copy it read before A's writes: its first write is refused
        assertThrows(KubernetesClientException.class, () -> autopilot().run(staleCopy));
        pass(); // B again, from the stored policy
        assertEquals(1, creates());

        // A's create went through (and the rollback ended) but its status write was lost: B finds the
        // rollback by its name
        world.phase("orders-0-rollback-t2", "Completed");
        RollbackPolicy p = world.stored();
        node(p.getStatus().getFailovers().get(p.getStatus().getFailovers().size() - 1), "orders-0").setRollback(null);
        world.writeStatus(p);
        pass();
        assertEquals(1, creates());
        assertEquals("orders-0-rollback-t2", node(latest(), "orders-0").getRollback());
    }

    @Test
    void theTemplatesCopyPolicyReachesTheRollbacksItCreates() {
        RollbackPolicy p = policy(PolicyMode.Automatic);
        assertEquals(CopySpec.Target.Agent, PolicyRollbacks.build(p, "orders-0", 2,
                ReplicaSetRollbackSpec.Approval.Automatic).getSpec().getCopy().getTarget(), "the default");
        CopySpec copy = new CopySpec();
        copy.setTarget(CopySpec.Target.ObjectStore);
        copy.setOnFailure(CopySpec.OnFailure.Proceed);
        ObjectStoreSpec store = new ObjectStoreSpec();
        store.setBucket("rollbacks");
        store.setCredentialsSecret("s3-creds");
        copy.setObjectStore(store);
        p.getSpec().getRollback().setCopy(copy);
        CopySpec made = PolicyRollbacks.build(p, "orders-0", 2, ReplicaSetRollbackSpec.Approval.Automatic).getSpec()
                .getCopy();
        assertEquals(CopySpec.Target.ObjectStore, made.getTarget());
        assertEquals(CopySpec.OnFailure.Proceed, made.getOnFailure());
        assertEquals("rollbacks", made.getObjectStore().getBucket());
        assertEquals("s3-creds", made.getObjectStore().getCredentialsSecret());
    }

    @Test
    void aRollbackNotMadeByThePolicyIsFollowedNotDoubled() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        ReplicaSetRollback byHand = PolicyRollbacks.build(policy(PolicyMode.Automatic), "orders-0", 2,
                ReplicaSetRollbackSpec.Approval.Manual);
        byHand.getMetadata().setOwnerReferences(null);
        world.rollbacks.put(byHand.getMetadata().getName(), byHand);
        world.phase(byHand.getMetadata().getName(), "Completed");
        pass();
        assertEquals(0, creates());
        assertTrue(reasons().contains("RollbackAdopted"), events.toString());
        assertEquals("Manual", node(latest(), "orders-0").getApproval());
        assertNull(world.stored().getStatus().getLastAutomaticRollback());
    }

    @Test
    void twoQuickFailoversDivergeTwoPodsAndEachGetsOneRollback() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        // orders-0 took writes in term 1 and orders-1 in term 2; both were cut off; orders-2 leads in term 3
        world.lead("orders-2", 3);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 1, 15, T1));
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 2, 13, T1, T2));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 3, 12, T1,
                TermHistory.Entry.of(3, 11)));
        pass();
        assertEquals("Diverged", node(latest(), "orders-0").getState());
        assertEquals("Diverged", node(latest(), "orders-1").getState());
        assertEquals(2, creates());
        assertEquals(ReplicaSetRollbackSpec.Approval.Automatic,
                world.rollbacks.get("orders-0-rollback-t3").getSpec().getApproval());
        assertEquals(ReplicaSetRollbackSpec.Approval.Automatic,
                world.rollbacks.get("orders-1-rollback-t3").getSpec().getApproval(),
                "two pods of one failover are one decision: no cool-down between them");
        assertEquals(2, world.stored().getStatus().getDivergedNodes());
    }

    @Test
    void aRollbackUnderWayIsNotDoubledByALaterFailover() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        pass();
        world.phase("orders-0-rollback-t2", "Fenced");
        // orders-2 takes over in term 3; orders-0 is still diverged (its rollback goes on against the new leader)
        world.lead("orders-2", 3);
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 3, 13, T1, T2));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 3, 14, T1, T2,
                TermHistory.Entry.of(3, 14)));
        pass();
        assertEquals(1, creates(), world.rollbacks.keySet().toString());
        assertEquals("orders-0-rollback-t2", node(latest(), "orders-0").getRollback());
        assertEquals("Fenced", node(latest(), "orders-0").getRollbackPhase());
        assertEquals(2, detected());
    }

    @Test
    void aFlappingLeaderInsideTheCoolDownGetsARollbackThatWaitsForAPerson() {
        RollbackPolicy p = policy(PolicyMode.Automatic);
        p.getSpec().setCoolDown("10m");
        world.store(p);
        pass();
        failoverToOrders1();
        pass();
        world.phase("orders-0-rollback-t2", "Completed");
        pass();
        // one minute later orders-1 is cut off after 2 writes of its own and orders-2 takes over in term 3
        clock.advance(Duration.ofMinutes(1));
        world.lead("orders-2", 3);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 2, 13, T1, T2));
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 2, 15, T1, T2));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 3, 14, T1, T2,
                TermHistory.Entry.of(3, 14)));
        pass();
        assertEquals(ReplicaSetRollbackSpec.Approval.Manual,
                world.rollbacks.get("orders-1-rollback-t3").getSpec().getApproval());
        String created = events.stream().filter(e -> e.contains("RollbackCreated orders-1")).findFirst().orElseThrow();
        assertTrue(created.contains("inside the cool-down of 10m after orders-0-rollback-t2"), created);
        assertEquals("Behind", node(latest(), "orders-0").getState());

        // past the cool-down, the next failover's rollback proceeds on its own again
        world.phase("orders-1-rollback-t3", "Completed");
        clock.advance(Duration.ofMinutes(11));
        world.lead("orders-0", 4);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 4, 15, T1, T2,
                TermHistory.Entry.of(3, 14), TermHistory.Entry.of(4, 15)));
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 3, 14, T1, T2,
                TermHistory.Entry.of(3, 14)));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 3, 16, T1, T2,
                TermHistory.Entry.of(3, 14)));
        pass();
        assertEquals(ReplicaSetRollbackSpec.Approval.Automatic,
                world.rollbacks.get("orders-2-rollback-t4").getSpec().getApproval());
    }

    @Test
    void aFailbackToTheOldPrimaryNeverTargetsTheLeader() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        pass();
        world.phase("orders-0-rollback-t2", "Planned");
        // before its rollback went far, orders-0 wins the leadership back in term 3 (it writes LSN 16)
        world.lead("orders-0", 3);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 3, 16, T1,
                TermHistory.Entry.of(3, 16)));
        pass();
        FailoverReport r = latest();
        assertEquals("orders-0", r.getLeader());
        assertFalse(r.getNodes().stream().anyMatch(n -> n.getPod().equals("orders-0")));
        assertEquals("Diverged", node(r, "orders-1").getState(), "orders-1's term-2 writes are the tail now");
        assertEquals("Diverged", node(r, "orders-2").getState());
        assertTrue(world.rollbacks.values().stream().filter(x -> x.getMetadata().getName().endsWith("-t3"))
                .noneMatch(x -> x.getSpec().getTargetPod().equals("orders-0")));
        assertEquals(ReplicaSetRollbackSpec.Approval.Manual,
                world.rollbacks.get("orders-1-rollback-t3").getSpec().getApproval(), "inside the cool-down");
        assertEquals(3, creates());
    }

    @Test
    void theEndOfARollbackIsCountedOnce() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        pass();
        clock.advance(Duration.ofSeconds(42));
        world.phase("orders-0-rollback-t2", "Completed");
        Autopilot.Pass p = pass();
        pass();
        assertEquals("Completed", node(latest(), "orders-0").getRollbackPhase());
        assertNotNull(node(latest(), "orders-0").getEndCounted());
        var timer = registry.get("dbrollback_failover_to_rollback_end_seconds").tag("outcome", "Completed").timer();
        assertEquals(1, timer.count());
        assertEquals(42.0, timer.totalTime(TimeUnit.SECONDS), 0.001);
        assertEquals(0, world.stored().getStatus().getDivergedNodes());
        assertEquals(ReconcileSettings.DEFAULTS.blockedRecheck(), p.recheck());
    }

    @Test
    void whatCannotBeReadBlocksThePolicyWithoutASideEffect() {
        world.store(policy(PolicyMode.Automatic));
        world.leaderProblem = new ClusterObserver.Problem(BlockReason.LeaseNotFound,
                "the leader Lease db/orders-leader does not exist");
        pass();
        pass();
        assertEquals("True", condition("Blocked"));
        assertEquals(List.of("PolicyBlocked"), reasons(), "told once");
        assertTrue(world.stored().getStatus().getFailovers().isEmpty());
        world.leaderProblem = null;
        world.leader = new LeaderReader.Leader(null, Term.of(1), "Lease orders-leader");
        pass();
        assertEquals("NoLeader", world.stored().getStatus().getConditions().stream()
                .filter(c -> c.getType().equals("Blocked")).findFirst().orElseThrow().getReason());
        world.lead("orders-0", 1);
        pass();
        assertEquals("False", condition("Blocked"));
        assertEquals(0, creates());
        assertFalse(world.log.stream().anyMatch(l -> l.startsWith("create")));
    }

    @Test
    void anInvalidPolicyIsRefusedWithoutEchoingTheValue() {
        RollbackPolicy p = policy(PolicyMode.Automatic);
        p.getSpec().getCluster().setLeaseName("$(rm -rf /)");
        p.getSpec().setCoolDown("ten minutes");
        p.getSpec().getRollback().setRollbackDirectory("/data/../etc");
        world.store(p);
        pass();
        String message = world.stored().getStatus().getConditions().stream()
                .filter(c -> c.getType().equals("Blocked")).findFirst().orElseThrow().getMessage();
        assertTrue(message.contains("cluster.leaseName must be a lower-case DNS name"), message);
        assertTrue(message.contains("coolDown must look like 10m"), message);
        assertTrue(message.contains("rollback.rollbackDirectory must be a plain absolute path"), message);
        assertFalse(message.contains("rm -rf") || message.contains("ten minutes") || message.contains("/etc"), message);
        assertEquals(List.of("status"), world.log, "nothing but the status");
    }

    @Test
    void aCreateWhoseRecordWasLostStillStartsTheCoolDown() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        world.loseWriteAfterCreate = true;
        assertThrows(KubernetesClientException.class, this::pass);
        assertEquals(1, creates());
        assertNull(node(latest(), "orders-0").getRollback(), "the record of the create was lost");
        pass(); // the rollback is still Pending: it is this failover's own, found by its name
        assertEquals("orders-0-rollback-t2", node(latest(), "orders-0").getRollback());
        assertEquals("orders-0-rollback-t2", world.stored().getStatus().getLastAutomaticRollback().getName());
        assertTrue(reasons().contains("RollbackCreated"), events.toString());

        world.phase("orders-0-rollback-t2", "Completed");
        clock.advance(Duration.ofMinutes(1));
        world.lead("orders-2", 3);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 2, 13, T1, T2));
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 2, 15, T1, T2));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 3, 14, T1, T2,
                TermHistory.Entry.of(3, 14)));
        pass();
        assertEquals(ReplicaSetRollbackSpec.Approval.Manual,
                world.rollbacks.get("orders-1-rollback-t3").getSpec().getApproval(), "the cool-down held");
    }

    @Test
    void theCoolDownIsMeasuredAtTheFailoverNotWhenAPodAnswersLate() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        pass();
        world.phase("orders-0-rollback-t2", "Completed");
        clock.advance(Duration.ofMinutes(1));
        world.lead("orders-2", 3);
        world.timelines.put("orders-0", FakeAutopilotWorld.timeline("orders-0", 2, 13, T1, T2));
        world.timelines.put("orders-1", FakeAutopilotWorld.timeline("orders-1", 2, 15, T1, T2));
        world.timelines.put("orders-2", FakeAutopilotWorld.timeline("orders-2", 3, 14, T1, T2,
                TermHistory.Entry.of(3, 14)));
        world.down.add("orders-1");
        pass();
        clock.advance(Duration.ofMinutes(15)); // orders-1 answers only after the cool-down is over
        world.down.clear();
        pass();
        assertEquals(ReplicaSetRollbackSpec.Approval.Manual,
                world.rollbacks.get("orders-1-rollback-t3").getSpec().getApproval());
    }

    @Test
    void theEndOfARollbackIsCountedOnceWhenItsRecordIsRefused() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        failoverToOrders1();
        pass();
        world.phase("orders-0-rollback-t2", "Completed");
        world.failWrites = 1;
        assertThrows(KubernetesClientException.class, this::pass);
        pass();
        pass();
        assertEquals(1, registry.get("dbrollback_failover_to_rollback_end_seconds").timer().count());
    }

    @Test
    void aNewHolderInTheSameTermIsBlockedNotGuessed() {
        world.store(policy(PolicyMode.Automatic));
        pass();
        world.lead("orders-1", 1); // a Lease without a term: every leader is "term 1"
        pass();
        assertEquals("TermNotAdvanced", blockedReason());
        assertEquals(1, world.stored().getStatus().getFailovers().size(), "no report for a failover it cannot name");
        assertEquals(0, creates());
    }

    @Test
    void aLeaderThatIsNotAPodOfTheSelectorIsBlocked() {
        world.lead("orders-0_3f2a9", 1); // a client-go style identity, not a pod name
        world.store(policy(PolicyMode.Automatic));
        pass();
        assertEquals("LeaderNotAPod", blockedReason());
        assertTrue(world.stored().getStatus().getFailovers().isEmpty());
        assertFalse(world.log.stream().anyMatch(l -> l.startsWith("timeline")), "no agent was asked");
    }

    String blockedReason() {
        return world.stored().getStatus().getConditions().stream().filter(c -> c.getType().equals("Blocked"))
                .filter(c -> c.getStatus().equals("True")).findFirst().orElseThrow().getReason();
    }

    /**
     * A generated corpus of hostile values in every string field of a policy: each is refused before
     * anything is read or called, with a message that does not echo it.
     */
    @Test
    void aHostilePolicyCorpusCausesNoSideEffect() {
        String[] nasty = {";", "|", "&", "$(", "`", "<", ">", "*", "'", "\"", "\\", " ", "\n", "\u0000", "..", "../",
            "//", "-", "--", "=", "%", "@", "\u202e", "\uff0e", "A", "é"};
        Random random = new Random(4242);
        List<BiConsumer<RollbackPolicy, String>> fields = List.of(
                (p, v) -> p.getSpec().getCluster().setLeaseName(v),
                (p, v) -> p.getSpec().getCluster().setAgentPortName(v),
                (p, v) -> p.getSpec().getCluster().setDataContainer(v),
                (p, v) -> p.getSpec().getCluster().setPodSelector(Map.of("app", v)),
                (p, v) -> p.getSpec().getCluster().setPodSelector(Map.of(v, "orders")),
                (p, v) -> p.getSpec().setAgentTlsSecret(v),
                (p, v) -> p.getSpec().setCoolDown(v),
                (p, v) -> p.getSpec().getRollback().setRollbackDirectory("/var/" + v));
        int refused = 0;
        for (int f = 0; f < fields.size(); f++) {
            for (int i = 0; i < 500; i++) {
                StringBuilder b = new StringBuilder("x");
                for (int k = 0; k < 1 + random.nextInt(6); k++) {
                    b.append(nasty[random.nextInt(nasty.length)]);
                }
                String value = b.append(random.nextInt(10)).toString();
                if (value.matches("[a-z0-9.-]*") && !value.contains("..")) {
                    continue; // happened to be plain
                }
                world = new FakeAutopilotWorld();
                RollbackPolicy p = policy(PolicyMode.Automatic);
                fields.get(f).accept(p, value);
                if (Autopilot.problems(p).isEmpty()) {
                    assertTrue(value.matches("[A-Za-z0-9._/-]*"), "accepted: " + value);
                    continue; // a plain value the field allows
                }
                world.store(p);
                pass();
                assertEquals(List.of("status"), world.log, "field " + f + ": only the Blocked status is written");
                String message = world.stored().getStatus().getConditions().get(0).getMessage();
                assertTrue(message.startsWith("the policy is invalid"), message);
                assertFalse(message.contains(value), "field " + f + " echoed its value: " + message);
                refused++;
            }
        }
        assertTrue(refused > 3000, "refused " + refused);
    }
}
