package io.dbrollback.coordinator;

import static io.dbrollback.coordinator.RollbackAssertions.assertCompletedSafely;
import static io.dbrollback.coordinator.RollbackAssertions.assertStoppedWithNothingRemoved;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.FakeCluster.Op;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The coordinator driven through scripted stories against the fake cluster. */
class CoordinatorScenarioTest {

    @Test
    void happyPathSavesTheTailRecoversOnceAndRejoins() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.run();
        assertCompletedSafely(h);
        Checkpoint cp = h.saved;
        assertEquals(Lsn.of(11), cp.plan().forkLsn());
        assertEquals(Lsn.of(16), cp.plan().targetLastLsn());
        assertEquals(5, cp.tail().recordCount());
        assertEquals(Term.of(2), cp.plan().newTerm());
        assertEquals("n1", cp.plan().newPrimary());
        Set<Operation> ops = h.cluster.files().files().get(cp.file().location()).records.stream()
                .map(r -> r.operation()).collect(Collectors.toSet());
        assertEquals(EnumSet.of(Operation.INSERT, Operation.UPDATE, Operation.DELETE), ops,
                "inserts, updates and deletes are all kept");
        assertTrue(h.cluster.files().files().get(cp.file().location()).records.stream()
                .filter(r -> r.operation() != Operation.INSERT).allMatch(r -> r.before() != null),
                "updates and deletes keep their pre-images");
        assertEquals(List.of(Op.FENCE, Op.READ, Op.PERSIST, Op.VERIFY, Op.RECOVER, Op.EMIT, Op.REJOIN),
                callOrder(h.cluster), "one call of each, in the safe order");
        assertTrue(h.cluster.events().values().iterator().next().message().contains(cp.file().sha256()),
                "the event names the file's digest");
    }

    private static List<Op> callOrder(FakeCluster c) {
        List<Op> seen = new ArrayList<>();
        for (Op op : Op.values()) {
            for (int i = 0; i < c.count(op); i++) {
                seen.add(op);
            }
        }
        return seen;
    }

    /** A crash after each side effect in turn; each run must end exactly like the uncrashed one. */
    @TestFactory
    Stream<DynamicTest> crashAfterEverySideEffectResumesToTheSameEnd() {
        Harness reference = new Harness(Scenarios.standard(), Harness.spec());
        reference.run();
        assertCompletedSafely(reference);
        return Stream.of(Op.values()).flatMap(op -> Stream.of(Fault.CRASH_AFTER, Fault.CRASH_BEFORE,
                Fault.UNKNOWN_AFTER, Fault.UNKNOWN_BEFORE).map(fault -> DynamicTest.dynamicTest(
                        fault + " at " + op, () -> {
                            FakeCluster c = Scenarios.standard().inject(op, fault);
                            Harness h = new Harness(c, Harness.spec());
                            h.run();
                            assertCompletedSafely(h);
                            assertEquals(reference.saved.tail().sha256(), h.saved.tail().sha256(), "same digest");
                            assertEquals(reference.saved.file().sha256(), h.saved.file().sha256(), "same file");
                            assertEquals(1, c.node("n0").effectiveRecovers(), "one recover");
                            if (op == Op.RECOVER) {
                                assertEquals(fault == Fault.CRASH_BEFORE || fault == Fault.UNKNOWN_BEFORE ? 2 : 1,
                                        c.count(Op.RECOVER), "a lost recover outcome is read from the "
                                                + "node, not retried");
                            }
                        })));
    }

    /** A crash between computing a step and recording it, at every step of the story. */
    @Test
    void crashBeforeRecordingAnyStepResumes() {
        Harness reference = new Harness(Scenarios.standard(), Harness.spec());
        reference.run();
        int total = reference.steps;
        for (int crashAt = 1; crashAt <= total; crashAt++) {
            Harness h = new Harness(Scenarios.standard(), Harness.spec());
            for (int i = 1; i < crashAt; i++) {
                h.step();
            }
            Checkpoint before = h.saved;
            h.step(); // computed and performed, but the operator dies before writing status
            h.saved = before;
            h.runner = new RollbackRunner(h.cluster, h.clock);
            h.run();
            assertCompletedSafely(h);
            assertEquals(reference.saved.tail().sha256(), h.saved.tail().sha256(), "crash at step " + crashAt);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Fault.class, names = {"PERSIST_NO_SPACE", "PERSIST_FSYNC"})
    void persistFailureFailsClosedAndNeverRecovers(Fault fault) {
        FakeCluster c = Scenarios.standard().inject(Op.PERSIST, fault);
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.FAILED, Reason.PersistFailed);
        assertEquals(0, c.count(Op.RECOVER));
        assertEquals(1, c.count(Op.PERSIST), "an fsync or disk failure is not retried");
        assertTrue(h.saved.message().contains(fault == Fault.PERSIST_FSYNC ? "FSYNC_FAILED" : "NO_SPACE"));
    }

    @ParameterizedTest
    @EnumSource(value = Fault.class, names = {"STREAM_GAP", "STREAM_DUPLICATE", "STREAM_REORDER",
        "STREAM_OUT_OF_RANGE", "STREAM_WRONG_TERM", "STREAM_SHORT"})
    void corruptTailStreamAbortsBeforeAnythingIsRemoved(Fault fault) {
        FakeCluster c = Scenarios.standard().inject(Op.READ, fault);
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.ABORTED, Reason.TailCorrupt);
        assertTrue(c.files().files().isEmpty(), "no file is published from a corrupt stream");
        assertEquals(0, c.count(Op.RECOVER));
    }

    @Test
    void streamCutShortIsRetriedNotTrusted() {
        FakeCluster c = Scenarios.standard().inject(Op.READ, Fault.STREAM_CUT);
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertCompletedSafely(h);
        assertEquals(2, c.count(Op.READ), "read again after the cut");
        assertTrue(h.traceText().contains("cut after"), h.traceText());
    }

    @Test
    void fileCorruptedOnDiskFailsVerificationAndIsQuarantinedNotDeleted() {
        FakeCluster c = Scenarios.standard().inject(Op.PERSIST, Fault.FILE_BITFLIP);
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.FAILED, Reason.VerificationFailed);
        assertEquals(1, c.files().files().size());
        assertTrue(c.files().files().keySet().iterator().next().contains(".quarantined-"));
        assertTrue(h.saved.message().contains("quarantined"), h.saved.message());
    }

    @ParameterizedTest
    @EnumSource(value = Phase.class, names = {"FENCED", "TAIL_PERSISTED", "VERIFIED"})
    void termChangeBeforeTheDestructiveStepReplans(Phase at) {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, Harness.spec());
        h.runUntil(at);
        RollbackFileRef first = RollbackFileRef.of(h.saved);
        c.replicate("n1", "n2", Long.MAX_VALUE);
        c.elect("n2", 3);
        c.follow("n1", "n2");
        c.put("n2", "k0", "term-3-write");
        h.run();
        assertCompletedSafely(h);
        assertEquals(2, h.saved.plan().number(), "planned again");
        assertEquals(1, h.saved.replans());
        assertEquals("n2", h.saved.plan().newPrimary());
        assertEquals(Term.of(3), h.saved.plan().newTerm());
        if (first.file != null) {
            assertEquals(List.of(first.file), h.saved.supersededFiles(), "the first file is kept and listed");
            assertTrue(c.files().files().containsKey(first.file.location()));
        }
        assertTrue(h.trace.stream().anyMatch(t -> t.contains("Replanned")), h.traceText());
    }

    private record RollbackFileRef(RollbackFile file) {
        static RollbackFileRef of(Checkpoint cp) {
            return new RollbackFileRef(cp.file());
        }
    }

    @Test
    void termChangeBetweenRecoverIntentAndCallReplansBecauseNothingWasRemoved() {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, Harness.spec());
        h.runUntil(Phase.RECOVERING);
        c.replicate("n1", "n2", Long.MAX_VALUE);
        c.elect("n2", 3);
        c.follow("n1", "n2");
        h.run();
        assertCompletedSafely(h);
        assertEquals(2, h.saved.plan().number());
        assertEquals(1, c.count(Op.RECOVER));
    }

    @Test
    void termChangeAfterTheDestructiveStepContinuesAndRejoinsTheNewHolder() {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, Harness.spec());
        h.runUntil(Phase.RECOVERED);
        c.replicate("n1", "n2", Long.MAX_VALUE);
        c.elect("n2", 3);
        c.follow("n1", "n2");
        c.put("n2", "k2", "term-3");
        h.run();
        assertCompletedSafely(h);
        assertEquals(1, h.saved.plan().number(), "no re-plan after the recover");
        assertEquals(c.node("n2").address(), c.node("n0").following(), "follows the Lease holder at rejoin time");
        assertEquals(3, c.calls().stream().filter(call -> call.op() == Op.REJOIN).findFirst().orElseThrow().term());
    }

    @Test
    void newLeaderMissingRecordsBelowTheForkAfterRecoverFailsWithoutRejoining() {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, Harness.spec());
        h.runUntil(Phase.RECOVERED);
        // n2 lost LSN 11 (which n0 kept, as n1 had it) and wins term 3 anyway.
        c.truncate("n2", 10);
        c.elect("n2", 3);
        c.put("n2", "k0", "n2-term-3");
        h.run();
        assertEquals(Phase.FAILED, h.saved.phase(), h.traceText());
        assertEquals(Reason.NewLeaderDiverged, h.saved.reason());
        assertEquals(0, c.count(Op.REJOIN), "never rejoins a primary that lacks its log");
        assertTrue(c.node("n0").fenced(), "the node stays fenced");
    }

    @Test
    void limitExceededParksForApprovalThenProceedsWithTheFileDigest() {
        IncidentSpec spec = Harness.spec().withLimits(new Limits(2, 1L << 30, Duration.ofHours(24)));
        Harness h = new Harness(Scenarios.standard(), spec);
        Checkpoint parked = h.run();
        assertEquals(Phase.AWAITING_APPROVAL, parked.phase(), h.traceText());
        assertEquals(Set.of(Reason.RecordLimitExceeded), parked.gates());
        assertTrue(parked.message().contains("5 records exceed the limit of 2"), parked.message());
        assertEquals(0, h.cluster.count(Op.RECOVER));
        assertEquals(0, h.cluster.node("n0").effectiveRecovers());

        h.spec = spec.withApprovalToken("0000000000000000"); // a wrong digest approves nothing
        RollbackRunner.Step s = h.step();
        assertEquals(RollbackRunner.Step.Kind.WAITING, s.kind());
        h.spec = spec.withApprovalToken(parked.file().sha256().substring(0, 8)); // too short to be safe
        assertEquals(RollbackRunner.Step.Kind.WAITING, h.step().kind());

        h.spec = spec.withApprovalToken(parked.file().sha256().substring(0, 16).toUpperCase());
        h.run();
        assertCompletedSafely(h);
        assertEquals(Set.of(Reason.RecordLimitExceeded), h.saved.gates(), "the audit record keeps what was approved");
    }

    @Test
    void raisingTheLimitReleasesTheGate() {
        IncidentSpec spec = Harness.spec().withLimits(new Limits(1_000, 10, Duration.ofHours(24)));
        Harness h = new Harness(Scenarios.standard(), spec);
        assertEquals(Set.of(Reason.ByteLimitExceeded), h.run().gates());
        h.spec = spec.withLimits(Limits.DEFAULT);
        h.run();
        assertCompletedSafely(h);
    }

    @Test
    void aTailWithAnUncapturedChangeAlwaysWaitsForAPersonThenProceedsWithTheDigest() {
        // automatic, and every limit far away: the uncaptured change alone gates
        IncidentSpec spec = Harness.spec().withLimits(new Limits(1_000_000, 1L << 40, Duration.ofDays(365)));
        Harness h = new Harness(Scenarios.standard(true), spec);
        Checkpoint parked = h.run();
        assertEquals(Phase.AWAITING_APPROVAL, parked.phase(), h.traceText());
        assertEquals(Set.of(Reason.UncapturedChanges), parked.gates());
        assertEquals(6, parked.tail().recordCount());
        assertEquals(1, parked.tail().uncapturedCount());
        assertTrue(parked.message().contains("1 of the records are changes the node could not capture whole"),
                parked.message());
        assertEquals(0, h.cluster.count(Op.RECOVER), "nothing removed before a person decides");
        assertEquals(Operation.UNCAPTURED, h.cluster.files().files().get(parked.file().location()).records.get(5)
                .operation(), "the file keeps it, marked");

        h.spec = spec.withApprovalToken(parked.file().sha256().substring(0, 16));
        h.run();
        assertCompletedSafely(h);
        assertEquals(Set.of(Reason.UncapturedChanges), h.saved.gates(), "the audit record keeps why a person approved");
    }

    @Test
    void spanLimitGates() {
        FakeCluster c = Scenarios.standard();
        IncidentSpec spec = Harness.spec().withLimits(new Limits(1_000, 1L << 30, Duration.ofMillis(1)));
        Harness h = new Harness(c, spec);
        Checkpoint parked = h.run();
        assertEquals(Set.of(Reason.SpanLimitExceeded), parked.gates(), h.traceText());
        assertTrue(parked.message().contains("span"), parked.message());
    }

    @Test
    void manualApprovalAlwaysWaitsWithTheFileInHand() {
        IncidentSpec spec = Harness.spec().withApproval(ApprovalMode.MANUAL);
        Harness h = new Harness(Scenarios.standard(), spec);
        Checkpoint parked = h.run();
        assertEquals(Phase.AWAITING_APPROVAL, parked.phase());
        assertEquals(Set.of(Reason.ManualApprovalRequired), parked.gates());
        assertTrue(h.cluster.files().files().get(parked.file().location()).verified(), "the file is verified first");
        for (int i = 0; i < 3; i++) {
            assertEquals(RollbackRunner.Step.Kind.WAITING, h.step().kind(), "waits as long as it takes");
        }
        h.spec = spec.withApprovalToken(parked.file().sha256());
        h.run();
        assertCompletedSafely(h);
    }

    @Test
    void dryRunRecordsThePlanAndTouchesNothing() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withDryRun(true));
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.DRY_RUN_COMPLETED, Reason.DryRun);
        assertEquals(0, h.cluster.totalCalls(), "a dry run makes no call at all");
        assertEquals(Lsn.of(11), h.saved.plan().forkLsn());
        assertEquals(5, h.saved.plan().expectedRecords());
        assertTrue(h.saved.message().contains("would save 5 records"), h.saved.message());
        assertFalse(h.cluster.node("n0").fenced());
    }

    @Test
    void theLeaseHolderIsNeverRolledBack() {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, IncidentSpec.automatic("inc-1", "orders-db", "n1"));
        h.run();
        assertEquals(Phase.ABORTED, h.saved.phase());
        assertEquals(Reason.TargetHoldsLease, h.saved.reason());
        assertEquals(0, c.totalCalls());
    }

    @Test
    void targetTakingTheLeaseMidFlightAbortsBeforeTheDestructiveStep() {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, Harness.spec());
        h.runUntil(Phase.VERIFIED);
        c.elect("n0", 5);
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.ABORTED, Reason.TargetHoldsLease);
    }

    @Test
    void forkBelowTheCommitPointIsRefused() {
        FakeCluster c = Scenarios.standard();
        c.setCommitLsn("n0", 13); // n0 believes LSN 13 is majority-committed, yet n1 lacks it
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.ABORTED, Reason.ForkBelowCommit);
        assertEquals(0, c.totalCalls());
        assertTrue(h.saved.message().contains("committed"), h.saved.message());
    }

    @Test
    void contradictoryTermHistoriesAreRefused() {
        FakeCluster c = Scenarios.standard();
        // n0 claims its term-1 records started at LSN 3: it shares term 1 with n1 but not its beginning.
        c.overrideHistory("n0", List.of(TermHistory.Entry.of(1, 1),
                TermHistory.Entry.of(2, 3)));
        c.overrideHistory("n1", List.of(TermHistory.Entry.of(1, 1),
                TermHistory.Entry.of(2, 5)));
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.ABORTED, Reason.HistoryInconsistent);
        assertEquals(0, c.totalCalls());
        assertTrue(h.saved.message().contains("contradict"), h.saved.message());
    }

    @Test
    void unexpectedTermIsRefused() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withExpectedTerm(Term.of(7)));
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.ABORTED, Reason.UnexpectedTerm);
        assertEquals(0, h.cluster.totalCalls());
    }

    @Test
    void leaseBehindTheNodesTermWaitsWithoutCalls() {
        FakeCluster c = Scenarios.standard();
        c.setLease("n1", 1); // the Lease still shows term 1 while n1 runs term 2
        Harness h = new Harness(c, Harness.spec());
        RollbackRunner.Step s = h.step();
        assertEquals(RollbackRunner.Step.Kind.WAITING, s.kind());
        assertEquals(Reason.LeaseBehindNode, h.saved.waiting());
        assertEquals(0, c.totalCalls());
        c.setLease("n1", 2);
        h.run();
        assertCompletedSafely(h);
    }

    @Test
    void noLeaseHolderWaits() {
        FakeCluster c = Scenarios.standard();
        c.setLease(null, 2);
        Harness h = new Harness(c, Harness.spec());
        assertEquals(RollbackRunner.Step.Kind.WAITING, h.step().kind());
        assertEquals(Reason.NoLeaseHolder, h.saved.waiting());
        assertEquals(Phase.PENDING, h.saved.phase());
    }

    @Test
    void writesReachingTheFormerPrimaryBeforeTheFenceArePlannedIn() {
        FakeCluster c = Scenarios.standard();
        Harness h = new Harness(c, Harness.spec());
        h.runUntil(Phase.PLANNED);
        assertTrue(c.clientWrite("n0", new Random(1)), "n0 still takes writes before the fence");
        h.run();
        assertCompletedSafely(h);
        assertEquals(6, h.saved.tail().recordCount(), "the late write is saved too");
        assertEquals(2, h.saved.plan().number());
    }

    @Test
    void nothingDivergedStillFencesEmitsAndRejoinsButRemovesNothing() {
        FakeCluster c = Scenarios.noDivergence();
        Harness h = new Harness(c, Harness.spec());
        h.run();
        assertCompletedSafely(h);
        assertEquals(0, c.count(Op.PERSIST));
        assertEquals(0, c.count(Op.RECOVER));
        assertNull(h.saved.file());
        assertEquals(h.saved.rollbackIdBefore(), h.saved.rollbackIdAfter());
    }

    @Test
    void replansAreBounded() {
        FakeCluster c = Scenarios.standard();
        IncidentSpec spec = Harness.spec();
        Harness h = new Harness(c, spec);
        h.runUntil(Phase.PLANNED);
        long term = 2;
        for (int i = 0; i <= spec.maxReplans(); i++) {
            c.replicate("n1", "n2", Long.MAX_VALUE);
            term++;
            c.elect(i % 2 == 0 ? "n2" : "n1", term);
            c.follow(i % 2 == 0 ? "n1" : "n2", i % 2 == 0 ? "n2" : "n1");
            h.step();
        }
        h.run();
        assertStoppedWithNothingRemoved(h, Phase.FAILED, Reason.PlanUnstable);
    }
}
