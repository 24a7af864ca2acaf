package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.FakeFileStore;
import io.dbrollback.coordinator.fake.FakeNode;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import java.util.List;

/** Domain assertions on a finished incident. */
final class RollbackAssertions {

    private RollbackAssertions() {
    }

    /** The incident completed and every promise held: file, one recover, event, rejoin, convergence. */
    static void assertCompletedSafely(Harness h) {
        Checkpoint cp = h.saved;
        FakeCluster c = h.cluster;
        String ctx = "\n" + h.traceText();
        assertEquals(Phase.COMPLETED, cp.phase(), "phase" + ctx);
        assertEquals(List.of(), c.violations(), "invariant violations" + ctx);
        c.files().checkNothingDeleted();
        FakeNode target = c.node(h.spec.targetNode());
        Plan plan = cp.plan();
        List<TailRecord> before = target.logBeforeRecover() != null ? target.logBeforeRecover() : h.targetLogBefore;
        List<TailRecord> doomed = before.subList((int) plan.forkLsn().value(), before.size());
        if (doomed.isEmpty()) {
            assertEquals(Reason.NoDivergence, cp.reason(), ctx);
            assertEquals(0, target.effectiveRecovers(), "no recover without divergence" + ctx);
        } else {
            assertEquals(Reason.Completed, cp.reason(), ctx);
            assertEquals(1, target.effectiveRecovers(), "exactly one recover" + ctx);
            assertEquals(cp.rollbackIdBefore() + 1, cp.rollbackIdAfter(), "rollback id +1" + ctx);
            FakeFileStore.StoredFile f = c.files().files().get(cp.file().location());
            assertNotNull(f, "the recorded rollback file exists" + ctx);
            assertTrue(f.verified(), "the rollback file was verified" + ctx);
            assertEquals(doomed, f.records, "the file holds exactly the divergent tail" + ctx);
            TailDigest d = new TailDigest();
            doomed.forEach(d::add);
            assertEquals(d.finish(), cp.tail().sha256(), "recorded digest is the tail's" + ctx);
            assertEquals(cp.tail().sha256(), cp.file().tailSha256(), ctx);
        }
        RollbackEvent ev = c.events().get(cp.incidentId() + "/"
                + (doomed.isEmpty() ? RollbackEvent.Type.NO_DIVERGENCE : RollbackEvent.Type.ROLLED_BACK));
        assertNotNull(ev, "the rollback event was emitted" + ctx);
        assertEquals(1, c.events().size(), "one event per incident (deduplicated)" + ctx);
        assertEquals(doomed.size(), ev.records(), ctx);
        FakeNode holder = c.node(c.leaseHolder());
        assertEquals(holder.address(), target.following(), "rejoined the Lease holder" + ctx);
        c.shipLogs();
        assertEquals(List.of(), c.violations(), "catch-up after rejoin" + ctx);
        assertEquals(holder.log(), target.log(), "the target converged to the primary's log" + ctx);
        assertEquals(holder.data(), target.data(), "the target's data equals the primary's" + ctx);
        assertTrue(cp.phaseTimes().keySet().containsAll(List.of(Phase.PLANNED, Phase.FENCED, Phase.RECOVERED,
                Phase.EVENT_EMITTED, Phase.REJOINED, Phase.COMPLETED)), "a time for every step" + ctx);
    }

    /** The incident stopped with nothing removed from the target. */
    static void assertStoppedWithNothingRemoved(Harness h, Phase phase, Reason reason) {
        String ctx = "\n" + h.traceText();
        assertEquals(phase, h.saved.phase(), ctx);
        assertEquals(reason, h.saved.reason(), ctx);
        assertNotNull(h.saved.message(), ctx);
        FakeNode target = h.cluster.node(h.spec.targetNode());
        assertEquals(0, target.effectiveRecovers(), "no recover" + ctx);
        assertEquals(h.targetLogBefore, target.log().subList(0, h.targetLogBefore.size()), "nothing removed" + ctx);
        assertEquals(List.of(), h.cluster.violations(), ctx);
        h.cluster.files().checkNothingDeleted();
    }
}
