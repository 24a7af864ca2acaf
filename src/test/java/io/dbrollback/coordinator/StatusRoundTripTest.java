package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.api.Condition;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.operator.StatusMapper;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The status is the durable checkpoint: every checkpoint a real story goes through is written as
 * the custom resource's status (JSON, as the API server stores it) and read back identical, so a
 * restarted operator resumes from exactly where it stopped.
 */
class StatusRoundTripTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static void roundTrips(Checkpoint cp) throws Exception {
        ReplicaSetRollbackStatus s = StatusMapper.toStatus(cp, null, 3, false, Instant.parse("2026-02-01T00:00:00Z"));
        ReplicaSetRollbackStatus stored = JSON.readValue(JSON.writeValueAsString(s), ReplicaSetRollbackStatus.class);
        assertEquals(cp, StatusMapper.fromStatus(stored), "phase " + cp.phase());
    }

    @Test
    void everyCheckpointOfAStoryWithReplanApprovalAndFaultsSurvivesTheStatus() throws Exception {
        IncidentSpec spec = Harness.spec().withApproval(ApprovalMode.MANUAL);
        Harness h = new Harness(Scenarios.standard(), spec);
        roundTrips(h.saved);
        h.runUntil(Phase.TAIL_PERSISTED);
        roundTrips(h.saved);
        h.cluster.replicate("n1", "n2", Long.MAX_VALUE);
        h.cluster.elect("n2", 3);
        h.cluster.follow("n1", "n2");
        int seen = 0;
        while (!h.saved.phase().isTerminal() && seen++ < 60) {
            if (h.saved.phase() == Phase.AWAITING_APPROVAL) {
                h.spec = spec.withApprovalToken(h.saved.file().sha256());
            }
            h.step();
            roundTrips(h.saved);
        }
        assertEquals(Phase.COMPLETED, h.saved.phase(), h.traceText());
        assertEquals(1, h.saved.supersededPlans().size());
        roundTrips(h.saved);
    }

    @Test
    void conditionsTellTheStoryAndKeepTheirTransitionTimes() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withLimits(new Limits(1, 1L << 30,
                java.time.Duration.ofHours(1))));
        h.run();
        Instant t1 = Instant.parse("2026-02-01T00:00:00Z");
        ReplicaSetRollbackStatus parked = StatusMapper.toStatus(h.saved, null, 1, false, t1);
        Map<String, Condition> c = parked.getConditions().stream()
                .collect(Collectors.toMap(Condition::getType, x -> x));
        assertEquals("AwaitingApproval", parked.getPhase());
        assertEquals("True", c.get("AwaitingApproval").getStatus());
        assertEquals("RecordLimitExceeded", c.get("AwaitingApproval").getReason());
        assertEquals("False", c.get("Ready").getStatus());
        assertEquals("False", c.get("Progressing").getStatus());
        assertTrue(c.get("AwaitingApproval").getMessage().contains(h.saved.file().sha256()));
        assertEquals(List.of("RecordLimitExceeded"), parked.getGates());

        ReplicaSetRollbackStatus later = StatusMapper.toStatus(h.saved, parked, 1, false, t1.plusSeconds(60));
        assertEquals(t1.toString(), later.getConditions().get(2).getLastTransitionTime(), "unchanged: kept");
        assertTrue(StatusMapper.same(parked, later), "nothing changed: the write is skipped");

        h.spec = h.spec.withApprovalToken(h.saved.file().sha256());
        h.run();
        ReplicaSetRollbackStatus done = StatusMapper.toStatus(h.saved, later, 1, false, t1.plusSeconds(120));
        Map<String, Condition> d = done.getConditions().stream().collect(Collectors.toMap(Condition::getType, x -> x));
        assertEquals("Completed", done.getPhase());
        assertEquals("True", d.get("Ready").getStatus());
        assertEquals("Completed", d.get("Ready").getReason());
        assertEquals(t1.plusSeconds(120).toString(), d.get("Ready").getLastTransitionTime(), "flipped: new time");
        assertEquals(h.saved.file().sha256(), done.getApprovedFor(), "the audit record names what was approved");
        assertEquals(h.saved.file().location(), done.getRollbackFile().getPath());
        assertEquals("n0", done.getRollbackFile().getPod());
        assertEquals(0L, done.getRollbackIdBefore());
        assertEquals(1L, done.getRollbackIdAfter());
        assertTrue(done.getSteps().size() >= 9, "a time for every step");
    }
}
