package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.Condition;
import io.dbrollback.api.ConditionType;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.Scenarios;
import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.TailRecord;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reconciler, driven directly against the coordinator's fake cluster through a fake
 * {@link StepFactory}, an in-memory status store and recorded Events: what a user sees in the status
 * and the Events for each path of a reconcile, in milliseconds, without an API server or a node.
 */
class RollbackReconcilerTest {

    private static final ReconcileSettings SETTINGS = ReconcileSettings.DEFAULTS;

    private FakeCluster cluster;
    private FakeSteps steps;
    private RecordingEvents events;
    private RollbackReconciler reconciler;
    private final List<ReplicaSetRollback> others = new ArrayList<>();
    private final Function<ReplicaSetRollback, Collection<ReplicaSetRollback>> sameCluster = r -> others;

    /**
     * {@link Scenarios#standard()}: n0 wrote five records (LSN 12..16) the others never received; n1
     * was elected in term 2 and holds the Lease; the fork is LSN 11.
     */
    @BeforeEach
    void divergentFailover() {
        cluster = Scenarios.standard();
        reconciler = reconciler(SETTINGS);
    }

    private RollbackReconciler reconciler(ReconcileSettings settings) {
        steps = new FakeSteps(cluster);
        events = new RecordingEvents();
        return new RollbackReconciler(steps, events, new RollbackMetrics(new SimpleMeterRegistry()), settings,
                Clock.fixed(Instant.parse("2026-12-05T12:00:00Z"), ZoneOffset.UTC));
    }

    private ReplicaSetRollback create(String name, String target) {
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("db").withUid("uid-" + name)
                .withGeneration(1L).withCreationTimestamp("2026-12-05T11:00:00Z").build());
        ReplicaSetRollbackSpec s = new ReplicaSetRollbackSpec();
        ClusterSpec c = new ClusterSpec();
        c.setPodSelector(Map.of("app", "orders"));
        c.setLeaseName("orders-leader");
        c.setAgentPort(7000);
        s.setCluster(c);
        s.setTargetPod(target);
        r.setSpec(s);
        return steps.statuses.create(r);
    }

    private UpdateControl<ReplicaSetRollback> reconcile(String name) {
        return reconciler.reconcile(stored(name), sameCluster);
    }

    private ReplicaSetRollback stored(String name) {
        return steps.statuses.read("db", name);
    }

    private ReplicaSetRollbackStatus status(String name) {
        return stored(name).getStatus();
    }

    private static Optional<Duration> after(UpdateControl<ReplicaSetRollback> c) {
        return c.getScheduleDelay().map(Duration::ofMillis);
    }

    private static Condition condition(ReplicaSetRollbackStatus s, ConditionType type) {
        return s.getConditions().stream().filter(c -> c.getType().equals(type.name())).findFirst().orElseThrow();
    }

    @Test
    void theRejoinEventNamesThePrimaryTheNodeRejoinedAfterASecondFailover() {
        create("rb", "n0");
        // Right after the rollback event, n2 (holding n0's log up to the fork) becomes primary in term 3.
        steps.afterRollbackEvent = () -> {
            steps.afterRollbackEvent = () -> { };
            cluster.replicate("n1", "n2", 11);
            cluster.elect("n2", 3);
        };
        reconcile("rb");
        assertEquals("Completed", status("rb").getPhase());
        assertEquals("n1", status("rb").getPlan().getNewPrimary(), "the failover the plan was made for");
        assertEquals(List.of("n0 streams from n2"), events.of(EventReason.RejoinedAsReplica).stream()
                .map(RecordingEvents.Recorded::note).toList(), "the primary it was sent to, not the plan's");
        assertEquals(cluster.node("n2").address(), cluster.node("n0").following());
    }

    @Test
    void oneReconcileSavesVerifiesRecoversAndAnnouncesTheDivergentTail() {
        List<TailRecord> kept = cluster.node("n0").log().subList(0, 11);
        create("rb", "n0");
        UpdateControl<ReplicaSetRollback> c = reconcile("rb");

        ReplicaSetRollbackStatus s = status("rb");
        assertEquals("Completed", s.getPhase());
        assertEquals(11L, s.getPlan().getForkLsn());
        assertEquals(5L, s.getTail().getRecords());
        assertEquals("True", condition(s, ConditionType.Ready).getStatus());
        assertEquals(kept, cluster.node("n0").log(), "n0 is back at the fork");
        assertTrue(cluster.files().files().values().stream().allMatch(f -> f.verified() && f.records.size() == 5));
        assertEquals(List.of(EventReason.RollbackPlanned, EventReason.NodeFenced, EventReason.TailPersisted,
                EventReason.RollbackFileVerified, EventReason.RollbackFileCopied, EventReason.NodeRecovered,
                EventReason.NodeRolledBack, EventReason.RejoinedAsReplica, EventReason.RollbackCompleted),
                events.reasons());
        assertTrue(events.of(EventReason.NodeRolledBack).get(0).note().contains(s.getRollbackFile().getSha256()),
                "the loud Event names the file's digest");
        assertEquals(Optional.empty(), after(c), "an ended rollback is not looked at again");
        assertEquals(List.of(), cluster.violations());

        reconcile("rb");
        assertEquals(1, cluster.count(FakeCluster.Op.RECOVER), "a second reconcile of an ended rollback does nothing");
        assertEquals(1, events.of(EventReason.RollbackCompleted).get(0).count());
    }

    @Test
    void theLeaseHolderIsNeverRolledBack() {
        create("rb", "n1");
        reconcile("rb");
        ReplicaSetRollbackStatus s = status("rb");
        assertEquals("Aborted", s.getPhase());
        assertEquals("TargetHoldsLease", s.getReason());
        assertEquals("True", condition(s, ConditionType.Failed).getStatus());
        assertEquals(0, cluster.count(FakeCluster.Op.FENCE) + cluster.count(FakeCluster.Op.RECOVER));
        RecordingEvents.Recorded end = events.of(EventReason.RollbackAborted).get(0);
        assertEquals(EventRecorder.Type.Warning, end.type());
        assertTrue(events.of(EventReason.RollbackBlocked).isEmpty(), "an abort is not a temporary block");
    }

    @Test
    void anInvalidSpecIsBlockedOnceWithNoCall() {
        ReplicaSetRollback r = create("rb", "n0");
        r.getSpec().setRollbackDirectory("relative/dir");
        steps.statuses.edit(r);
        UpdateControl<ReplicaSetRollback> c = reconcile("rb");
        reconcile("rb");
        ReplicaSetRollbackStatus s = status("rb");
        assertEquals(BlockReason.InvalidSpec.name(), s.getWaiting());
        assertTrue(s.getWaitMessage().startsWith("rollbackDirectory"), s.getWaitMessage());
        assertEquals("True", condition(s, ConditionType.Blocked).getStatus());
        assertEquals(1, events.of(EventReason.RollbackBlocked).size());
        assertEquals(1, events.of(EventReason.RollbackBlocked).get(0).count(), "told once, not at every look");
        assertEquals(EventRecorder.Type.Warning, events.of(EventReason.RollbackBlocked).get(0).type());
        assertEquals(0, cluster.totalCalls());
        assertEquals(Optional.of(SETTINGS.blockedRecheck()), after(c));
    }

    @Test
    void aMissingObjectBlocksUntilItExistsThenTheRollbackGoesOn() {
        create("rb", "n0");
        steps.block(new ClusterObserver.Problem(BlockReason.LeaseNotFound, "the leader Lease db/orders-leader does"
                + " not exist"));
        reconcile("rb");
        assertEquals(BlockReason.LeaseNotFound.name(), status("rb").getWaiting());
        assertTrue(events.of(EventReason.RollbackBlocked).get(0).note().startsWith("LeaseNotFound: "));
        steps.block(null);
        reconcile("rb");
        assertEquals("Completed", status("rb").getPhase());
        assertEquals("False", condition(status("rb"), ConditionType.Blocked).getStatus());
    }

    @Test
    void aRollbackWaitsBehindAStartedOneOfTheSameClusterAsANormalEvent() {
        ReplicaSetRollback first = create("first", "n0");
        ReplicaSetRollbackStatus started = new ReplicaSetRollbackStatus();
        started.setPhase("Fenced");
        first.setStatus(started);
        others.add(first);
        others.add(create("second", "n0"));
        // the first one's status cannot be read back as a checkpoint, so it is held as started
        reconcile("second");
        assertEquals(BlockReason.Queued.name(), status("second").getWaiting());
        assertTrue(status("second").getWaitMessage().contains("first"));
        assertEquals(EventRecorder.Type.Normal, events.of(EventReason.RollbackBlocked).get(0).type());
        assertEquals(0, cluster.totalCalls());
    }

    @Test
    void aPausedRollbackTakesNoStep() {
        ReplicaSetRollback r = create("rb", "n0");
        r.getMetadata().setAnnotations(Map.of(ReplicaSetRollback.PAUSE_ANNOTATION, "true"));
        steps.statuses.edit(r);
        UpdateControl<ReplicaSetRollback> c = reconcile("rb");
        assertEquals("True", condition(status("rb"), ConditionType.Paused).getStatus());
        assertEquals(0, cluster.totalCalls());
        assertEquals(Optional.of(SETTINGS.waitRecheck()), after(c));
    }

    @Test
    void aFailedStepIsRetriedAfterItsBackoffWithOneWarning() {
        create("rb", "n0");
        cluster.inject(FakeCluster.Op.PERSIST, Fault.UNKNOWN_BEFORE);
        UpdateControl<ReplicaSetRollback> c = reconcile("rb");
        ReplicaSetRollbackStatus s = status("rb");
        assertEquals("Fenced", s.getPhase());
        assertEquals(1, s.getAttempts());
        assertNotNull(s.getLastError());
        assertEquals(Optional.of(SETTINGS.backoff(1)), after(c));
        assertEquals(EventRecorder.Type.Warning, events.of(EventReason.StepFailed).get(0).type());
        assertEquals(0, cluster.count(FakeCluster.Op.RECOVER), "nothing removed before the file is verified");
        reconcile("rb");
        assertEquals("Completed", status("rb").getPhase());
        assertEquals(1, events.of(EventReason.StepFailed).size());
    }

    @Test
    void aStaleInformerCopyIsReadPastInsteadOfRedoingAStep() {
        reconciler = reconciler(SETTINGS.withMaxSteps(1));
        ReplicaSetRollback old = create("rb", "n0");
        reconciler.reconcile(old, sameCluster);
        assertEquals("Planned", status("rb").getPhase());
        reconciler.reconcile(old, sameCluster); // the informer has not seen the write yet
        assertEquals("Fenced", status("rb").getPhase());
        assertEquals(1, events.of(EventReason.RollbackPlanned).size(), "planned once");
    }

    @Test
    void aRefusedStatusWriteReachesJosdkWhichRetriesTheReconcile() {
        create("rb", "n0");
        steps.statuses.refuseNext(1);
        KubernetesClientException e = assertThrows(KubernetesClientException.class, () -> reconcile("rb"));
        assertEquals(500, e.getCode());
        assertEquals(List.of(), events.reasons(), "nothing announced for a step not recorded");
        reconcile("rb");
        assertEquals("Completed", status("rb").getPhase());
    }

    @Test
    void theLoudEventIsAStepOfItsOwnRetriedUntilWritten() {
        create("rb", "n0");
        events.refuse(EventReason.NodeRolledBack);
        reconcile("rb");
        assertEquals("Recovered", status("rb").getPhase());
        assertTrue(status("rb").getLastError().contains("could not be written"), status("rb").getLastError());
        events.allow(EventReason.NodeRolledBack);
        reconcile("rb");
        assertEquals("Completed", status("rb").getPhase());
        assertEquals(1, events.of(EventReason.NodeRolledBack).size());
        assertEquals(1, cluster.count(FakeCluster.Op.RECOVER), "recovered once");
    }

    @Test
    void anEndEventTheApiServerRefusedIsOwedAndWrittenLater() {
        create("rb", "n0");
        events.refuse(EventReason.RollbackCompleted);
        UpdateControl<ReplicaSetRollback> c = reconcile("rb");
        assertEquals("Completed", status("rb").getPhase());
        assertEquals(Optional.of(SETTINGS.waitRecheck()), after(c), "looked at again while the end Event is owed");
        events.allow(EventReason.RollbackCompleted);
        c = reconcile("rb");
        assertEquals(1, events.of(EventReason.RollbackCompleted).size());
        assertEquals(Optional.empty(), after(c));
    }

    @Test
    void aDefectIsToldAndLookedAtAgainNeverThrown() {
        create("rb", "n0");
        steps.failResolve(new IllegalStateException("a defect"));
        UpdateControl<ReplicaSetRollback> c = reconcile("rb");
        assertEquals(Optional.of(SETTINGS.blockedRecheck()), after(c));
        assertTrue(events.of(EventReason.ReconcileFailed).get(0).note().contains("IllegalStateException: a defect"));
    }

    @Test
    void deletingARollbackBeforeAnythingWasRemovedLetsItGoAndSaysThePodStaysFenced() {
        reconciler = reconciler(SETTINGS.withMaxSteps(2));
        create("rb", "n0");
        reconcile("rb");
        assertEquals("Fenced", status("rb").getPhase());
        DeleteControl d = reconciler.cleanup(stored("rb"), sameCluster);
        assertTrue(d.isRemoveFinalizer());
        assertTrue(events.of(EventReason.RollbackDeleted).get(0).note().contains("n0 stays fenced"));
        assertEquals(0, cluster.count(FakeCluster.Op.RECOVER));
    }

    @Test
    void deletingARollbackDuringItsRecoverIsDeferredUntilItEnds() {
        reconciler = reconciler(SETTINGS.withMaxSteps(6)); // plan, fence, persist, verify, copy, recover intent
        create("rb", "n0");
        reconcile("rb");
        assertEquals("Recovering", status("rb").getPhase());
        events.refuse(EventReason.NodeRolledBack);
        DeleteControl d = reconciler.cleanup(stored("rb"), sameCluster);
        assertFalse(d.isRemoveFinalizer(), "the node is being recovered: the resource is kept");
        assertEquals(1, events.of(EventReason.DeletionDeferred).size());
        events.allow(EventReason.NodeRolledBack);
        while (!reconciler.cleanup(stored("rb"), sameCluster).isRemoveFinalizer()) {
            assertTrue(cluster.count(FakeCluster.Op.RECOVER) <= 1);
        }
        assertEquals("Completed", status("rb").getPhase());
    }
}
