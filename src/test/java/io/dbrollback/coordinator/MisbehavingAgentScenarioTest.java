package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.FakeCluster.Op;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.RollbackEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Agents that lie, again and again, against the pure coordinator: every such story ends (bounded by
 * spec.maxRetries per plan) with a named reason, and the record says truthfully what the node holds.
 * An agent that merely does not answer is waited for without end.
 */
class MisbehavingAgentScenarioTest {

    private static final int MAX_RETRIES = 3;

    private static Harness harness(FakeCluster c) {
        return new Harness(c, Harness.spec().withMaxRetries(MAX_RETRIES));
    }

    /** Every call of {@code op} gets {@code fault}. */
    private static FakeCluster always(Op op, Fault fault) {
        FakeCluster c = Scenarios.standard();
        c.randomFaults(o -> o == op ? fault : null);
        return c;
    }

    /**
     * From {@code h}'s record on, the node's timeline breaks the protocol at every reading: the
     * incident ends FAILED with AgentAnswerInvalid once the plan's bound is spent.
     */
    private static Checkpoint unreadableUntilTheEnd(Harness h) {
        TransportException invalid = new TransportException("AgentAnswerInvalid", false,
                "GetTimeline from n0 broke rule NumberRange: every number must be below 2^63; the answer was not used");
        Checkpoint cp = h.saved;
        for (int i = 0; i <= MAX_RETRIES && !cp.phase().isTerminal(); i++) {
            cp = new Coordinator(h.clock).afterFailure(h.spec, cp, null, null, "observe failed", invalid);
        }
        assertEquals(Phase.FAILED, cp.phase());
        assertEquals(Reason.AgentAnswerInvalid, cp.reason());
        return cp;
    }

    /** Runs {@code h} to its end, which must be FAILED with {@code reason}. */
    private static Checkpoint runToFailure(Harness h, Reason reason) {
        Checkpoint cp = h.run();
        assertEquals(Phase.FAILED, cp.phase(), h.traceText());
        assertEquals(reason, cp.reason(), h.traceText());
        return cp;
    }

    private static void assertNothingRemoved(Harness h) {
        assertEquals(0, h.cluster.node("n0").effectiveRecovers(), "no recover\n" + h.traceText());
        assertEquals(h.targetLogBefore, h.cluster.node("n0").log(), "the log is whole\n" + h.traceText());
        assertEquals(0, h.cluster.count(Op.RECOVER), "never asked to recover\n" + h.traceText());
        assertTrue(h.saved.message().endsWith("; nothing was removed"), h.saved.message());
        assertNull(new Coordinator(h.clock).removalEvent("orders", h.saved), "no removal to announce");
    }

    @Test
    void aFenceTheTimelineNeverShowsIsRepeatedAtMostMaxRetriesTimesThenFails() {
        // Every fence is answered and ignored (a lying agent): the coordinator keeps seeing it unfenced.
        FakeCluster c = always(Op.FENCE, Fault.FENCE_IGNORED);
        Harness h = harness(c);
        Checkpoint cp = runToFailure(h, Reason.FenceNotHeld);
        assertEquals(MAX_RETRIES + 1, c.count(Op.FENCE), "the first fence and at most maxRetries repeats");
        assertNothingRemoved(h);
    }

    @Test
    void aTrailerThatNeverMatchesFailsAfterTheBoundWithTransferBroken() {
        FakeCluster c = always(Op.READ, Fault.TRAILER_MISMATCH);
        Harness h = harness(c);
        Checkpoint cp = runToFailure(h, Reason.TransferBroken);
        assertEquals(MAX_RETRIES + 1, c.count(Op.READ), "read at most maxRetries + 1 times");
        assertTrue(cp.message().startsWith("gave up after " + (MAX_RETRIES + 1) + " failed attempts in plan 1"),
                cp.message());
        assertTrue(cp.message().contains("TailDigestMismatch"), cp.message());
        assertNothingRemoved(h);
    }

    @Test
    void whileRetryingTheRecordShowsTheFailureAsTheWaitReason() {
        FakeCluster c = always(Op.READ, Fault.TRAILER_MISMATCH);
        Harness h = harness(c);
        h.runUntil(Phase.FENCED);
        RollbackRunner.Step s = h.step();
        assertEquals(RollbackRunner.Step.Kind.RETRY, s.kind());
        assertEquals(Reason.TransferBroken, h.saved.waiting());
        assertTrue(h.saved.waitMessage().contains("failed attempt 1 of at most " + (MAX_RETRIES + 1)),
                h.saved.waitMessage());
        assertEquals(1, h.saved.retries());
        assertEquals(1, h.saved.attempts());
    }

    @Test
    void anInvalidAnswerIsCountedAndEndsAsAgentAnswerInvalid() {
        FakeCluster c = always(Op.VERIFY, Fault.INVALID_ANSWER);
        Harness h = harness(c);
        Checkpoint cp = runToFailure(h, Reason.AgentAnswerInvalid);
        assertTrue(cp.message().contains("broke rule NumberRange"), cp.message());
        assertEquals(MAX_RETRIES + 1, c.count(Op.VERIFY));
        assertNothingRemoved(h);
    }

    @Test
    void anUnreachableAgentIsWaitedForWithoutEnd() {
        FakeCluster c = always(Op.PERSIST, Fault.UNKNOWN_BEFORE);
        Harness h = harness(c);
        for (int i = 0; i < 60; i++) {
            h.step();
        }
        assertEquals(Phase.FENCED, h.saved.phase(), h.traceText());
        assertEquals(Reason.AgentUnreachable, h.saved.waiting());
        assertEquals(0, h.saved.retries(), "not counted against the bound");
        assertTrue(h.saved.attempts() > MAX_RETRIES, "attempts still grow (they drive the backoff)");
        c.randomFaults(op -> null);
        Checkpoint cp = h.run();
        assertEquals(Phase.COMPLETED, cp.phase(), h.traceText());
        RollbackAssertions.assertCompletedSafely(h);
    }

    @Test
    void progressDoesNotResetTheBound() {
        // Alternating lies still end: the trailer never matches, and after every failed read the node
        // lifts its fence, so every other step is a fence that succeeds (progress). The bound is per plan.
        FakeCluster c = always(Op.READ, Fault.TRAILER_MISMATCH);
        Harness h = harness(c);
        for (int i = 0; i < 100 && !h.saved.phase().isTerminal(); i++) {
            RollbackRunner.Step s = h.step();
            if (s.kind() == RollbackRunner.Step.Kind.RETRY) {
                c.unfence("n0");
            }
        }
        Checkpoint cp = h.saved;
        assertEquals(Phase.FAILED, cp.phase(), h.traceText());
        assertEquals(Reason.FenceNotHeld, cp.reason(), h.traceText());
        assertEquals(2, c.count(Op.READ), "two failed reads and two repeated fences spend a bound of three");
        assertNothingRemoved(h);
    }

    @Test
    void aRecoverAnsweredButNotDoneIsNeverTakenAsRecovered() {
        FakeCluster c = always(Op.RECOVER, Fault.RECOVER_CLAIMED_NOT_DONE);
        Harness h = harness(c);
        Checkpoint cp = runToFailure(h, Reason.RecoverNotConfirmed);
        assertFalse(cp.phaseTimes().containsKey(Phase.RECOVERED), "never recorded as recovered");
        assertEquals(1, c.count(Op.RECOVER), "asked once; the contradiction ends it");
        assertTrue(cp.recoverAnswered());
        assertTrue(cp.removalUnknown(), "whether anything was removed is not known");
        assertNull(cp.removedPlan(), "no removal is claimed");
        assertTrue(cp.message().contains("records no recover of it"), cp.message());
        assertTrue(cp.message().contains("whether n0 removed (11, 16] is not known"), cp.message());
        assertNull(new Coordinator(h.clock).removalEvent("orders", cp), "no event claims the recover");
        String owed = new Coordinator(h.clock).unknownRemovalMessage(cp);
        assertTrue(owed != null && owed.contains(cp.file().location()) && owed.contains(cp.file().sha256()), owed);
        assertTrue(cp.message().contains(cp.file().location()) && cp.message().contains(cp.file().sha256()),
                "names the file that holds the range: " + cp.message());
        assertFalse(cp.message().contains("nothing was removed"), cp.message());
        assertEquals(0, c.count(Op.EMIT), "no event claims the recover");
    }

    @Test
    void aRollbackIdThatJumpsEndsFailedButTheRecordSaysWhatWasRemoved() {
        FakeCluster c = Scenarios.standard().inject(Op.RECOVER, Fault.RECOVER_DOUBLE_BUMP);
        Harness h = harness(c);
        Checkpoint cp = runToFailure(h, Reason.RollbackIdUnexpected);
        assertEquals(1, c.node("n0").effectiveRecovers(), "the node did recover");
        assertEquals(1, cp.removedPlan(), "the node's own record shows the recover");
        assertFalse(cp.removalUnknown());
        assertFalse(cp.message().contains("nothing was removed"), cp.message());
        assertTrue(cp.message().contains("are saved in " + cp.file().location() + " (sha256 " + cp.file().sha256()),
                cp.message());
        RollbackEvent loud = new Coordinator(h.clock).removalEvent("orders", cp);
        assertNotNull(loud, "the loud event is owed");
        assertEquals(RollbackEvent.Type.ROLLED_BACK, loud.type());
        assertTrue(loud.message().contains(cp.file().location()) && loud.message().contains(cp.file().sha256()),
                loud.message());
    }

    @Test
    void afterTheRecoverAGiveUpNamesTheFileAndOwesTheLoudEvent() {
        // The recover is confirmed; then every event emission fails with a counted error.
        FakeCluster c = always(Op.EMIT, Fault.INVALID_ANSWER);
        Harness h = harness(c);
        Checkpoint cp = h.run();
        assertEquals(Phase.FAILED, cp.phase(), h.traceText());
        assertEquals(1, c.node("n0").effectiveRecovers());
        assertTrue(cp.phaseTimes().containsKey(Phase.RECOVERED));
        assertTrue(cp.message().contains("was rolled back to fork LSN 11")
                && cp.message().contains(cp.file().location()),
                cp.message());
        RollbackEvent loud = new Coordinator(h.clock).removalEvent("orders", cp);
        assertNotNull(loud);
        assertTrue(loud.message().contains("rollback id 0 -> 1"), loud.message());
    }

    @Test
    void aCompletedRollbackOwesNoSecondLoudEvent() {
        Harness h = harness(Scenarios.standard());
        Checkpoint cp = h.run();
        assertEquals(Phase.COMPLETED, cp.phase());
        assertNull(new Coordinator(h.clock).removalEvent("orders", cp), "the event step announced it");
    }

    @Test
    void retriesAreClearedByAReplan() {
        FakeCluster c = Scenarios.standard();
        c.randomFaults(op -> op == Op.READ ? Fault.TRAILER_MISMATCH : null);
        Harness h = harness(c);
        h.runUntil(Phase.FENCED);
        h.step();
        h.step();
        assertEquals(2, h.saved.retries());
        c.elect("n2", 3); // the Lease moves: a new plan
        c.randomFaults(op -> null);
        h.run();
        assertEquals(Phase.COMPLETED, h.saved.phase(), h.traceText());
        assertEquals(0, h.saved.retries());
        assertEquals(List.of(1), h.saved.supersededPlans().stream().map(p -> p.plan().number()).toList());
        assertEquals(2, h.saved.plan().number());
    }

    @Test
    void givingUpWhileARecoverMayHaveRunNeverSaysNothingWasRemoved() {
        // Three trailers that do not match spend most of the bound; then the recover takes effect but is
        // answered INTERNAL (outcome unknown, counted): the bound is spent with the recover's fate open.
        FakeCluster c = Scenarios.standard();
        for (int i = 0; i < MAX_RETRIES; i++) {
            c.inject(Op.READ, Fault.TRAILER_MISMATCH);
        }
        c.inject(Op.RECOVER, Fault.INTERNAL_AFTER);
        Harness h = harness(c);
        Checkpoint cp = runToFailure(h, Reason.TransferBroken);
        assertEquals(1, c.node("n0").effectiveRecovers(), "the node did recover");
        assertTrue(cp.removalUnknown(), h.traceText());
        assertFalse(cp.message().contains("nothing was removed"), cp.message());
        assertTrue(cp.message().contains("whether n0 removed (11, 16] is not known")
                && cp.message().contains(cp.file().location()), cp.message());
        assertNotNull(new Coordinator(h.clock).unknownRemovalMessage(cp));
    }

    @Test
    void unreadableTimelinesAfterTheRecoverIntentNeverSayNothingWasRemoved() {
        // The recover took effect but its answer was lost; from then on the node's timeline is unreadable.
        FakeCluster c = Scenarios.standard().inject(Op.RECOVER, Fault.UNKNOWN_AFTER);
        Harness h = harness(c);
        h.runUntil(Phase.RECOVERING);
        h.step(); // the recover, answered DEADLINE_EXCEEDED after it took effect
        assertEquals(1, c.node("n0").effectiveRecovers());
        Checkpoint cp = unreadableUntilTheEnd(h);
        assertTrue(cp.removalUnknown());
        assertFalse(cp.message().contains("nothing was removed"), cp.message());
    }

    @Test
    void aFailedReadBeforeTheRecoverIntentStillSaysNothingWasRemoved() {
        FakeCluster c = Scenarios.standard();
        Harness h = harness(c);
        h.runUntil(Phase.VERIFIED);
        Checkpoint cp = unreadableUntilTheEnd(h);
        assertFalse(cp.removalUnknown());
        assertTrue(cp.message().endsWith("; nothing was removed"), cp.message());
    }

    @Test
    void aDelayedRecoverOfASupersededPlanIsNamedWithThatPlansFile() {
        FakeCluster c = Scenarios.standard();
        Harness h = harness(c);
        Checkpoint planOne = h.runUntil(Phase.VERIFIED);
        c.elect("n2", 3); // the Lease moves before the recover: plan 2
        h.step();
        assertEquals(2, h.saved.plan().number(), h.traceText());
        // Plan 1's recover, delayed on the wire, lands now (the node has not yet heard of term 3).
        c.recoverToLsn("n0", planOne.plan().forkLsn(), planOne.plan().targetLastLsn(), planOne.incidentId(),
                planOne.plan().newTerm(), planOne.file().sha256());
        Checkpoint cp = runToFailure(h, Reason.RecoverOutOfPlan);
        assertEquals(1, cp.removedPlan());
        assertTrue(cp.message().contains("of plan 1, are saved in " + planOne.file().location()), cp.message());
        RollbackEvent loud = new Coordinator(h.clock).removalEvent("orders", cp);
        assertNotNull(loud);
        assertTrue(loud.message().contains(planOne.file().location()) && loud.message().contains(
                planOne.file().sha256()), loud.message());
    }
}
