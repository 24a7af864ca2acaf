package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.fake.FakeCluster.Op;
import io.dbrollback.coordinator.fake.FakeCopier;
import io.dbrollback.coordinator.fake.FakeCopier.Outcome;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The copy step's decisions, against the fake cluster and a {@link FakeCopier}: milliseconds, no I/O. */
class CopyStepTest {

    private static Harness harness(CopyPolicy policy, FakeCopier copier) {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withCopy(policy));
        h.runner = new RollbackRunner(h.cluster, copier, h.clock);
        return h;
    }

    @Test
    void aVerifiedCopyIsRecordedWithItsDigestBeforeAnythingIsRemoved() {
        FakeCopier copier = new FakeCopier("n2");
        Harness h = harness(CopyPolicy.AGENT_OR_WAIT, copier);
        h.runUntil(Phase.VERIFIED);
        RollbackRunner.Step s = h.step();
        assertEquals(Decision.Action.COPY_FILE, ((Decision.Act) s.decision()).action());
        assertEquals(0, h.cluster.count(Op.RECOVER), "the copy comes before the recover");
        FileCopy c = h.saved.verifiedCopy();
        assertNotNull(c, "the copy is recorded");
        assertEquals(h.saved.file().sha256(), c.sha256());
        assertEquals(h.saved.file().bytes(), c.bytes());
        assertEquals("n2", c.where());
        assertEquals(List.of(new FakeCopier.Call("n0", "inc-1", 1, h.saved.file())), copier.calls());
        Checkpoint end = h.run();
        assertEquals(Phase.COMPLETED, end.phase());
        assertEquals(1, copier.calls().size(), "one copy: a verified copy is never made again");
        assertEquals(List.of(c), end.copies());
    }

    @Test
    void waitRetriesAFailedCopyWithoutCountingItAndRemovesNothingUntilOneVerifies() {
        FakeCopier copier = new FakeCopier("n2").next(Outcome.UNREACHABLE, Outcome.NO_SPACE, Outcome.WRONG_DIGEST,
                Outcome.UNREACHABLE, Outcome.UNREACHABLE, Outcome.UNREACHABLE, Outcome.UNREACHABLE,
                Outcome.UNREACHABLE, Outcome.UNREACHABLE, Outcome.UNREACHABLE);
        Harness h = harness(CopyPolicy.AGENT_OR_WAIT, copier);
        h.runUntil(Phase.VERIFIED);
        for (int i = 0; i < 10; i++) {
            RollbackRunner.Step s = h.step();
            assertEquals(RollbackRunner.Step.Kind.RETRY, s.kind(), "a failed copy is retried with backoff");
            assertEquals(Phase.VERIFIED, h.saved.phase());
            assertEquals(Reason.CopyNotVerified, h.saved.waiting());
            assertEquals(i + 1, h.saved.attempts(), "the backoff grows with the attempts");
            assertEquals(0, h.saved.retries(), "never counted: more than spec.maxRetries failures do not end it");
            assertNull(h.saved.verifiedCopy());
        }
        assertEquals("Unreachable", h.saved.failedCopies().get(0).failure(), "the last failure on n2 is shown");
        assertEquals(0, h.cluster.count(Op.RECOVER));
        Checkpoint end = h.run();
        assertEquals(Phase.COMPLETED, end.phase(), "the copy verified at the 11th attempt, then the rollback went on");
        assertNotNull(end.verifiedCopy());
        assertTrue(end.failedCopies().isEmpty(), "the verified copy replaced the failure of the same place");
    }

    @Test
    void aCopyThatReadsBackOtherBytesIsAFailureNeverAVerifiedCopy() {
        FakeCopier copier = new FakeCopier("n2").next(Outcome.WRONG_DIGEST);
        Harness h = harness(CopyPolicy.AGENT_OR_WAIT, copier);
        h.runUntil(Phase.VERIFIED);
        h.step();
        assertNull(h.saved.verifiedCopy());
        FileCopy f = h.saved.failedCopies().get(0);
        assertEquals("DigestMismatch", f.failure());
        assertTrue(f.message().contains(h.saved.file().sha256()), f.message());
        assertEquals(Reason.CopyNotVerified, h.saved.waiting());
    }

    @Test
    void proceedGoesOnWithOneCopyAfterOneFailedAttempt() {
        FakeCopier copier = new FakeCopier("n2").next(Outcome.NO_SPACE, Outcome.NO_SPACE);
        Harness h = harness(new CopyPolicy(CopyPolicy.Target.AGENT, CopyPolicy.OnFailure.PROCEED), copier);
        h.runUntil(Phase.VERIFIED);
        RollbackRunner.Step s = h.step();
        assertEquals(RollbackRunner.Step.Kind.PROGRESSED, s.kind());
        assertNull(h.saved.waiting());
        assertEquals("NoSpace", h.saved.failedCopies().get(0).failure());
        Checkpoint end = h.run();
        assertEquals(Phase.COMPLETED, end.phase());
        assertEquals(1, copier.calls().size(), "Proceed tries once per plan");
        assertNull(end.verifiedCopy());
    }

    @Test
    void noCopyMeansNoCallAndTheDefaultOfTheCoordinatorIsNone() {
        FakeCopier copier = new FakeCopier("n2");
        Harness h = harness(CopyPolicy.NONE, copier);
        assertEquals(Phase.COMPLETED, h.run().phase());
        assertEquals(List.of(), copier.calls());
        assertEquals(CopyPolicy.NONE, Harness.spec().copy());
    }

    @Test
    void aCopierThatThrowsIsAFailedAttemptNotAnEnd() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withCopy(CopyPolicy.AGENT_OR_WAIT));
        h.runner = new RollbackRunner(h.cluster, (s, i, p, f) -> {
            throw new IllegalStateException("boom");
        }, h.clock);
        h.runUntil(Phase.VERIFIED);
        assertEquals(RollbackRunner.Step.Kind.RETRY, h.step().kind());
        assertEquals("CopyFailed", h.saved.failedCopies().get(0).failure());
        assertEquals(Phase.VERIFIED, h.saved.phase());
    }

    @Test
    void aReplanOwesANewCopyOfTheNewPlansFile() {
        FakeCopier copier = new FakeCopier("n2");
        Harness h = harness(CopyPolicy.AGENT_OR_WAIT, copier);
        h.runUntil(Phase.VERIFIED);
        h.step();
        assertNotNull(h.saved.verifiedCopy());
        Checkpoint replanned = h.saved.toBuilder().replan(h.saved.plan(), "test", h.clock.instant()).build();
        assertNull(replanned.verifiedCopy(), "plan 1's copy is not plan 2's");
        assertEquals(1, replanned.copies().size(), "plan 1's copy stays recorded");
    }

    @Test
    void theTargetIsAReadyFollowerBeforeTheLeaderByNameNeverTheSource() {
        List<CopyTargets.Candidate> pods = List.of(new CopyTargets.Candidate("orders-2", true, true),
                new CopyTargets.Candidate("orders-1", true, true), new CopyTargets.Candidate("orders-0", true, true),
                new CopyTargets.Candidate("orders-3", false, true), new CopyTargets.Candidate("orders-4", true, false),
                new CopyTargets.Candidate("orders-5", true, true));
        assertEquals(List.of("orders-2", "orders-5", "orders-1"), CopyTargets.order(pods, "orders-0", "orders-1"));
        assertEquals(List.of("orders-1", "orders-2", "orders-5"), CopyTargets.order(pods, "orders-0", null));
        assertEquals(List.of(), CopyTargets.order(List.of(new CopyTargets.Candidate("orders-0", true, true)),
                "orders-0", "orders-1"), "no other pod: no target");
    }
}
