package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.fake.FakeCluster.Op;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.Term;
import org.junit.jupiter.api.Test;

/** Safety holes found in review, each pinned by the story that exposed it. */
class ReviewRegressionTest {

    @Test
    void expectedTermAlsoHoldsOnReplan() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withExpectedTerm(Term.of(2)));
        h.runUntil(Phase.PLANNED);
        h.cluster.elect("n2", 3);
        h.run();
        RollbackAssertions.assertStoppedWithNothingRemoved(h, Phase.ABORTED, Reason.UnexpectedTerm);
    }

    @Test
    void aTargetObservedUnfencedIsFencedAgainBeforeTheRecover() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.VERIFIED);
        Observation o = h.cluster.observe("n0");
        NodeTimeline t = o.target();
        NodeTimeline unfenced = new NodeTimeline(t.node(), t.role(), t.currentTerm(), t.lastLsn(), t.commitLsn(),
                t.history(), t.rollbackId(), false, t.lastRecoveryIncident());
        Observation obs = new Observation(o.leaseHolder(), o.leaseTerm(), unfenced, o.leader(), o.leaderAddress());
        Decision d = new Coordinator(h.clock).decide(h.spec, h.saved, obs);
        assertEquals(new Decision.Act(Decision.Action.FENCE, Term.of(2)), d);
        Checkpoint intent = h.saved.toBuilder().phase(Phase.RECOVERING, h.clock.instant()).rollbackIdBefore(0L).build();
        assertEquals(new Decision.Act(Decision.Action.FENCE, Term.of(2)),
                new Coordinator(h.clock).decide(h.spec, intent, obs), "never RECOVER an unfenced node");
    }

    @Test
    void aDelayedRecoverOfAnEarlierPlanIsRefusedByTheNewTerm() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.RECOVERING);
        String plan1Sha = h.saved.file().sha256();
        h.cluster.inject(Op.RECOVER, Fault.UNKNOWN_BEFORE);
        h.step(); // outcome unknown: the call may still be on its way
        h.cluster.replicate("n1", "n2", Long.MAX_VALUE);
        h.cluster.elect("n2", 3);
        h.cluster.follow("n1", "n2");
        h.step(); // fences under term 3 before concluding the recover never began
        h.step(); // re-plans
        assertEquals(Phase.PLANNED, h.saved.phase(), h.traceText());
        assertEquals(2, h.saved.plan().number());
        boolean refused = false;
        try {
            h.cluster.recoverToLsn("n0", Lsn.of(11), Lsn.of(16), "inc-1", Term.of(2), plan1Sha); // the delayed call
        } catch (TransportException e) {
            refused = e.code().equals("StaleTerm");
        }
        assertTrue(refused, "the delayed term-2 recover is refused");
        h.run();
        RollbackAssertions.assertCompletedSafely(h);
        assertEquals(RollbackEvent.Type.ROLLED_BACK, h.cluster.events().values().iterator().next().type());
        assertEquals(1, h.saved.supersededPlans().size());
        assertEquals(plan1Sha, h.saved.supersededPlans().get(0).file().sha256(), "plan 1 and its file stay on record");
    }

    @Test
    void aWaitDoesNotOverwriteTheAuditReason() {
        IncidentSpec spec = Harness.spec().withApproval(ApprovalMode.MANUAL);
        Harness h = new Harness(Scenarios.standard(), spec);
        h.run();
        h.spec = spec.withApprovalToken(h.saved.file().sha256());
        h.runUntil(Phase.RECOVERING);
        String approved = h.saved.message();
        assertTrue(approved.startsWith("approved for file sha256"), approved);
        h.cluster.setLease(null, 2);
        h.step();
        assertEquals(Reason.NoLeaseHolder, h.saved.waiting());
        assertEquals(approved, h.saved.message(), "the approval stays on record while waiting");
    }

    @Test
    void changingTheTargetMidIncidentWaitsInsteadOfActingOnAnotherNode() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.VERIFIED);
        h.spec = IncidentSpec.automatic("inc-1", "orders-db", "n2");
        assertEquals(RollbackRunner.Step.Kind.WAITING, h.step().kind());
        assertEquals(Reason.SpecChanged, h.saved.waiting());
        assertEquals(0, h.cluster.count(Op.RECOVER));
    }

    @Test
    void changingTheTargetToTheLeaseHolderDuringTheRecoverWaitsAndNeverSaysNothingWasRemoved() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.RECOVERING);
        IncidentSpec original = h.spec;
        // A server without the CEL rule lets the target be edited to the live primary mid-recover.
        h.spec = IncidentSpec.automatic("inc-1", "orders-db", "n1");
        assertEquals(RollbackRunner.Step.Kind.WAITING, h.step().kind());
        assertEquals(Reason.SpecChanged, h.saved.waiting(), "not TargetHoldsLease: the incident's target is n0");
        assertEquals(Phase.RECOVERING, h.saved.phase());
        h.spec = original;
        h.run();
        RollbackAssertions.assertCompletedSafely(h);
    }

    @Test
    void dryRunSetMidIncidentStopsBeforeRemovingAnything() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.VERIFIED);
        h.spec = h.spec.withDryRun(true);
        h.run();
        RollbackAssertions.assertStoppedWithNothingRemoved(h, Phase.DRY_RUN_COMPLETED, Reason.DryRun);
    }

    @Test
    void aTargetAlreadyRejoinedByAnotherActorAfterTheRecoverIsNotAFailure() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.RECOVERED);
        // Another operator instance, working from a newer record, already emitted and rejoined.
        h.cluster.rejoinAsReplica("n0", h.cluster.node("n1").address(), Term.of(2), "inc-1");
        h.cluster.shipLogs();
        h.run();
        RollbackAssertions.assertCompletedSafely(h);
    }
}
