package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.api.Condition;
import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.ApprovalMode;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.Harness;
import io.dbrollback.coordinator.IncidentSpec;
import io.dbrollback.coordinator.Limits;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.Plan;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.Scenarios;
import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Term;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
        assertNull(StatusMapper.unreadable(stored), "phase " + cp.phase() + ": what the operator writes, it can read");
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
    void aTailWithUncapturedChangesSurvivesTheStatus() throws Exception {
        Harness h = new Harness(Scenarios.standard(true), Harness.spec());
        h.runUntil(Phase.AWAITING_APPROVAL);
        roundTrips(h.saved);
        ReplicaSetRollbackStatus s = StatusMapper.toStatus(h.saved, null, 3, false,
                Instant.parse("2026-02-01T00:00:00Z"));
        assertEquals(1L, s.getTail().getUncapturedRecords());
        assertEquals(List.of("UncapturedChanges"), s.getGates());
        assertNull(StatusMapper.toStatus(new Harness(Scenarios.standard(), Harness.spec()).runUntil(Phase.VERIFIED),
                null,
                3, false, Instant.parse("2026-02-01T00:00:00Z")).getTail().getUncapturedRecords(), "absent when none");
        s.getTail().setUncapturedRecords(7L); // more than the tail's records
        assertEquals("status.tail: must hold every value this operator records there, well formed",
                StatusMapper.unreadable(s));
    }

    @Test
    void theRetryAndRemovalRecordSurvivesTheStatus() throws Exception {
        // Counted failures, a recover's answer, a removal the node's record shows, one it does not.
        FakeCluster c = Scenarios.standard();
        c.inject(FakeCluster.Op.READ,
                Fault.TRAILER_MISMATCH);
        c.inject(FakeCluster.Op.RECOVER,
                Fault.RECOVER_DOUBLE_BUMP);
        Harness h = new Harness(c, Harness.spec());
        while (!h.saved.phase().isTerminal()) {
            h.step();
            roundTrips(h.saved);
        }
        assertEquals(Reason.RollbackIdUnexpected, h.saved.reason(), h.traceText());
        assertEquals(1, h.saved.removedPlan());
        assertEquals(2, h.saved.recoverAnswer().rollbackId());
        Checkpoint unknown = h.saved.toBuilder().removedPlan(null).removalUnknown().retried().retried().build();
        roundTrips(unknown);
        roundTrips(unknown.toBuilder().removedPlan(0).build());
    }

    @Test
    void offNodeCopiesSurviveTheStatusAndSetTheirCondition() throws Exception {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.VERIFIED);
        Instant at = Instant.parse("2026-02-01T00:00:00Z");
        Checkpoint failed = h.saved.toBuilder().copy(FileCopy.failed(1, FileCopy.AGENT, "n2", null,
                h.saved.file().bytes(), "NoSpace", "n2 has 10 bytes free", at)).failedAttempt("COPY_FILE failed")
                .waiting(Reason.CopyNotVerified, "waiting for a copy").build();
        roundTrips(failed);
        Condition waiting = StatusMapper.toStatus(failed, null, 1, false, at).getConditions().stream()
                .filter(c -> c.getType().equals("OffNodeCopy")).findFirst().orElseThrow();
        assertEquals("False", waiting.getStatus());
        assertEquals("CopyNotVerified", waiting.getReason());

        Checkpoint copied = failed.toBuilder().copy(FileCopy.failed(1, FileCopy.AGENT, "n1", null,
                h.saved.file().bytes(), "Unreachable", "n1 is down", at)).copy(FileCopy.verified(1, FileCopy.AGENT,
                "n2", "/copies/n0/x.rollback.jsonl", h.saved.file().bytes(), h.saved.file().sha256(),
                at.plusSeconds(5))).progressed().build();
        roundTrips(copied);
        assertEquals(2, copied.copies().size(), "one record per place: n2's copy replaced n2's failure");
        ReplicaSetRollbackStatus s = StatusMapper.toStatus(copied, null, 1, false, at);
        assertEquals(h.saved.file().sha256(), s.getCopies().get(1).getSha256());
        assertEquals("True", s.getConditions().stream().filter(c -> c.getType().equals("OffNodeCopy")).findFirst()
                .orElseThrow().getStatus());
        assertTrue(StatusMapper.toStatus(h.saved, null, 1, false, at).getConditions().stream()
                .noneMatch(c -> c.getType().equals("OffNodeCopy")), "no condition before a copy was tried");
    }

    @Test
    void anObjectStoreCopyNamesItsStoreNotAPod() throws Exception {
        Harness h = new Harness(Scenarios.standard(), Harness.spec());
        h.runUntil(Phase.VERIFIED);
        Instant at = Instant.parse("2026-02-01T00:00:00Z");
        String store = "http://minio.storage:9000/rollbacks";
        Checkpoint copied = h.saved.toBuilder().copy(FileCopy.failed(1, FileCopy.OBJECT_STORE, store, null,
                h.saved.file().bytes(), "CredentialsSecretNotFound", "no Secret", at)).copy(FileCopy.verified(1,
                FileCopy.OBJECT_STORE, store, "s3://rollbacks/db/rb/x-plan1.rollback.jsonl", h.saved.file().bytes(),
                h.saved.file().sha256(), at.plusSeconds(5))).progressed().build();
        roundTrips(copied);
        assertEquals(1, copied.copies().size(), "the verified copy replaced the failure at the same store");
        CopyStatus c = StatusMapper.toStatus(copied, null, 1, false, at).getCopies().get(0);
        assertEquals("ObjectStore", c.getKind());
        assertEquals(store, c.getStore());
        assertNull(c.getPod(), "an object store is not a pod");
        assertEquals("s3://rollbacks/db/rb/x-plan1.rollback.jsonl", c.getPath());
    }

    @Test
    void aPlanOfPositionsSurvivesTheStatus() throws Exception {
        Instant at = Instant.parse("2026-02-01T00:00:00Z");
        Plan positions = new Plan(1, "pg-0", Lsn.of(1000), Term.of(1),
                Lsn.of(2048), Lsn.of(900), Term.of(1),
                Term.of(2), "pg-1", "pg-1:5432", Plan.UNKNOWN, at, true);
        Checkpoint cp = Checkpoint.start("inc", at).toBuilder().plan(positions).phase(Phase.PLANNED, at).build();
        roundTrips(cp);
        ReplicaSetRollbackStatus s = StatusMapper.toStatus(cp, null, 1, false, at);
        assertEquals("Positions", s.getPlan().getLsnKind());
        assertNull(s.getPlan().getExpectedRecords());
        s.getPlan().setLsnKind("Pages");
        assertTrue(StatusMapper.unreadable(s).contains("status.plan"), StatusMapper.unreadable(s));
    }

    @Test
    void conditionsTellTheStoryAndKeepTheirTransitionTimes() {
        Harness h = new Harness(Scenarios.standard(), Harness.spec().withLimits(new Limits(1, 1L << 30,
                Duration.ofHours(1))));
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

    /** The status of a completed story with a re-plan (a superseded plan) and a manual gate, as stored JSON. */
    private static ObjectNode completedStatus() throws Exception {
        IncidentSpec spec = Harness.spec().withApproval(ApprovalMode.MANUAL);
        Harness h = new Harness(Scenarios.standard(), spec);
        h.runUntil(Phase.TAIL_PERSISTED);
        h.cluster.replicate("n1", "n2", Long.MAX_VALUE);
        h.cluster.elect("n2", 3);
        h.cluster.follow("n1", "n2");
        for (int i = 0; i < 60 && !h.saved.phase().isTerminal(); i++) {
            if (h.saved.phase() == Phase.AWAITING_APPROVAL) {
                h.spec = spec.withApprovalToken(h.saved.file().sha256());
            }
            h.step();
        }
        assertEquals(Phase.COMPLETED, h.saved.phase(), h.traceText());
        return JSON.valueToTree(StatusMapper.toStatus(h.saved, null, 3, false, Instant.parse("2026-02-01T00:00:00Z")));
    }

    /**
     * A status this operator cannot read back as a checkpoint (restored from a backup of another
     * version, edited by hand) is named field by field, with the rule and never the value; reading a
     * checkpoint from it fails rather than guessing.
     */
    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "phase|Rewinding|status.phase: not a phase this operator knows",
        "reason|Vanished|status.reason: not a reason this operator knows",
        "gates.0|Whenever|status.gates[0]: not a reason this operator knows",
        "plan.forkLsn|-|status.plan: must hold every value this operator records there, well formed",
        "plan.plannedAt|yesterday|status.plan: must hold every value this operator records there, well formed",
        "plan|-|status.tail: must come with status.plan",
        "rollbackFile.sha256|-|status.rollbackFile: must hold every value this operator records there, well formed",
        "steps.1.phase|Rewound|status.steps[1].phase: not a phase this operator knows",
        "steps.0.time|noon|status.steps[0].time: must be an RFC 3339 time",
        "supersededPlans.0.plan.newTerm|-|status.supersededPlans[0]: must hold every value this operator records"
                + " there, well formed",
        "incidentId|-|status.incidentId: must be set when status.phase is",
        "phase|-|status.phase: must be set when status.incidentId is",
    })
    void aStatusThatCannotBeReadBackIsNamedFieldByFieldAndNeverGuessed(String path, String value, String problem)
            throws Exception {
        ObjectNode json = completedStatus();
        assertNull(StatusMapper.unreadable(JSON.treeToValue(json, ReplicaSetRollbackStatus.class)));
        change(json, path, value);
        ReplicaSetRollbackStatus stored = JSON.treeToValue(json, ReplicaSetRollbackStatus.class);
        assertEquals(problem, StatusMapper.unreadable(stored));
        assertFalse(!value.equals("-") && problem.contains(value), "the value is not shown");
        if (!problem.contains("must be set when")) {
            assertThrows(RuntimeException.class, () -> StatusMapper.fromStatus(stored), "no checkpoint from it");
        }
    }

    @Test
    void aBlockedStatusKeepsEverythingStoredButWhyItWaits() throws Exception {
        ObjectNode json = completedStatus();
        json.put("phase", "Rewinding");
        ReplicaSetRollbackStatus stored = JSON.treeToValue(json, ReplicaSetRollbackStatus.class);
        Instant t1 = Instant.parse("2026-03-01T00:00:00Z");
        ReplicaSetRollbackStatus blocked =
                StatusMapper.blockedAsStored(stored, BlockReason.StatusUnreadable, "why", 4, t1);
        ObjectNode after = JSON.valueToTree(blocked);
        assertEquals("StatusUnreadable", after.get("waiting").asText());
        assertEquals("why", after.get("waitMessage").asText());
        Map<String, Condition> c = blocked.getConditions().stream().collect(Collectors.toMap(Condition::getType,
                x -> x));
        assertEquals("True", c.get("Blocked").getStatus());
        assertEquals("StatusUnreadable", c.get("Blocked").getReason());
        assertEquals("False", c.get("Progressing").getStatus());
        assertEquals(json.get("conditions").size(), blocked.getConditions().size(), "the other conditions are kept");
        for (String field : List.of("waiting", "waitMessage", "conditions")) {
            after.remove(field);
            json.remove(field);
        }
        assertEquals(json, after, "everything else stays as stored, the unknown phase too");
        ReplicaSetRollbackStatus again = StatusMapper.blockedAsStored(blocked, BlockReason.StatusUnreadable, "why", 4,
                t1.plusSeconds(60));
        assertTrue(StatusMapper.same(blocked, again), "nothing changed: the write is skipped");
        assertEquals(stored.getPhase(), blocked.getPhase());
        assertNull(StatusMapper.unreadable(new ReplicaSetRollbackStatus()), "an empty status holds no checkpoint yet");
    }

    /** Sets (or, for "-", removes) the field at a dotted path whose numeric parts are list indexes. */
    private static void change(ObjectNode json, String path, String value) {
        String[] parts = path.split("\\.");
        JsonNode at = json;
        for (int i = 0; i < parts.length - 1; i++) {
            at = parts[i].matches("\\d+") ? at.get(Integer.parseInt(parts[i])) : at.get(parts[i]);
        }
        String last = parts[parts.length - 1];
        if (at instanceof ArrayNode list) {
            list.set(Integer.parseInt(last), JSON.getNodeFactory().textNode(value));
        } else if (value.equals("-")) {
            ((ObjectNode) at).remove(last);
        } else {
            ((ObjectNode) at).put(last, value);
        }
    }
}
