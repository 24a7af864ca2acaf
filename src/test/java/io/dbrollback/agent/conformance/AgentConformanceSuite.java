package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.dbrollback.agent.conformance.AgentChecks.Plan;
import io.dbrollback.agent.conformance.AgentChecks.Recovered;
import io.dbrollback.agent.conformance.AgentChecks.Tail;
import io.dbrollback.agent.v1.Timeline;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Conformance suite for the rollback agent protocol v1 ({@code dbrollback/agent/v1/agent.proto},
 * normative behaviour in docs/agent-protocol.md).
 *
 * <p>A database implementer subclasses it and implements {@link #newDivergedCluster()}, which puts a
 * fresh cluster of their database in the state {@link AgentFixture} describes (a former primary
 * holding divergent writes, a new primary elected with a higher term). Every check goes through the
 * agent RPCs, except reading key/value data and waiting for replication, which the fixture does
 * through the database's own means (and the form a record gives a key or a value, which the fixture
 * says: {@link AgentFixture#recordKey}, {@link AgentFixture#recordImage}). Each test gets its own
 * cluster and closes it, so a test may take the cluster anywhere (a term above the new primary's, a
 * second recover).
 *
 * <p>The suite drives the RPCs as the operator does: it computes the fork with the coordinator's
 * {@link io.dbrollback.coordinator.ForkPoint} from both timelines, fences the former primary under the
 * new primary's term, reads the divergent tail, recovers to the fork and rejoins the new primary. The
 * checks themselves are {@link AgentChecks}, which {@link ConformanceMain} runs on one cluster given
 * only the agents' addresses.
 *
 * <p>The suite judges agents of both kinds of LSN, as their timelines say ({@code Timeline.lsn_kind}):
 * record numbers, dense, or positions (docs/agent-protocol.md, "LSNs that are positions"), where the
 * checks that rely on density become the rules of positions: a tail in commit order with whole
 * transactions and gaps between positions, a count known only from the records, resumption after a
 * transaction's position, and a fork at the switchpoint.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class AgentConformanceSuite {

    /** The ErrorInfo domain of every agent error. */
    public static final String ERROR_DOMAIN = AgentChecks.ERROR_DOMAIN;

    /** A fresh diverged cluster for one test (see {@link AgentFixture}); the suite closes it. */
    protected abstract AgentFixture newDivergedCluster() throws Exception;

    private AgentFixture cluster;
    private AgentChecks checks;

    @BeforeEach
    final void buildDivergedCluster() throws Exception {
        cluster = newDivergedCluster();
        assertNotNull(cluster, "newDivergedCluster() returned null");
        checks = new AgentChecks(cluster);
    }

    @AfterEach
    final void closeDivergedCluster() throws Exception {
        if (checks != null) {
            checks.close();
        }
        if (cluster != null) {
            cluster.close();
            cluster = null;
        }
    }

    // ---- GetTimeline ---------------------------------------------------------------------------

    @Test
    @DisplayName("GetTimeline: protocol v1, a term-ordered history from LSN 1, sane LSNs, numbers below 2^63, a fork "
            + "the fixture's writes explain")
    void timelinesAreWellFormed() throws Exception {
        Plan p = checks.plan();
        checks.checkTimelines(p);
        checks.checkFixturePromises(p);
    }

    @Test
    @DisplayName("positions: the fork is the switchpoint: the new primary's records above it carry the terms of its "
            + "history, whose entries begin at switchpoint + 1")
    void forkIsTheSwitchpoint() throws Exception {
        checks.checkForkIsTheSwitchpoint(checks.plan());
    }

    @Test
    @DisplayName("every timeline (GetTimeline, Fence, RejoinAsReplica) names the same node")
    void timelinesNameTheirNode() throws Exception {
        Plan p = checks.plan();
        String incident = AgentChecks.incident();
        checks.fenceAndRecover(p, incident);
        checks.checkRejoin(p, incident);
        checks.timeline(AgentFixture.Node.FORMER_PRIMARY);
    }

    @Test
    @DisplayName("Timeline.node is the name of the pod dialled (needs AgentFixture.nodeName)")
    void timelinesNameThePodDialled() throws Exception {
        checks.checkNodeNames();
    }

    // ---- Fence ---------------------------------------------------------------------------------

    @Test
    @DisplayName("Fence adopts a higher term, detaches the node, changes nothing else, answers the timeline after it, "
            + "and is idempotent")
    void fenceAdoptsTheTermAndIsIdempotent() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkHigherFenceAdopted(p);
    }

    @Test
    @DisplayName("Fence under a stale term is FAILED_PRECONDITION/STALE_TERM and changes nothing, on the new primary "
            + "and on a fenced node")
    void staleFenceIsRefused() throws Exception {
        Plan p = checks.plan();
        checks.checkStaleFenceOfTheNewPrimary(p);
        checks.checkFence(p);
        checks.checkStaleFenceOfAFencedNode(p);
    }

    @Test
    @DisplayName("Fence of the live primary under its own term is FAILED_PRECONDITION/LIVE_PRIMARY (after "
            + "INVALID_REQUEST) and changes nothing")
    void fencingTheLivePrimaryIsRefused() throws Exception {
        checks.checkLivePrimaryFence(checks.plan());
    }

    @Test
    @DisplayName("a fenced node refuses client writes (needs AgentFixture.tryClientWriteOnFormerPrimary)")
    void fencedNodeRefusesClientWrites() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkFencedNodeRefusesClientWrites(p);
    }

    @Test
    @DisplayName("the fence and the adopted term survive a restart (needs AgentFixture.restartFormerPrimary)")
    void fenceSurvivesRestart() throws Exception {
        Plan p = checks.plan();
        Timeline fenced = checks.checkFence(p);
        checks.checkFenceSurvivesRestart(p, fenced);
    }

    // ---- ReadDivergentTail ---------------------------------------------------------------------

    @Test
    @DisplayName("ReadDivergentTail over (fork, last]: dense records in LSN order (positions: in commit order, "
            + "transactions whole), no empty chunk, chunk CRC32Cs, one trailer whose digest we recompute, pre-images, "
            + "the fixture's writes")
    void divergentTailIsCompleteAndVerifiable() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        Tail tail = checks.checkTailForm(p);
        checks.checkTailHoldsTheWrites(p, tail);
    }

    @Test
    @DisplayName("ReadDivergentTail resumes after any LSN of the range (positions: after each transaction's position "
            + "and between them) with the remaining records and the same trailer")
    void divergentTailResumes() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkTailResumes(p);
    }

    @Test
    @DisplayName("ReadDivergentTail with 0 < resume_after < from_exclusive is INVALID_ARGUMENT/INVALID_REQUEST "
            + "before any message")
    void resumeBelowTheRangeIsInvalid() throws Exception {
        checks.checkResumeBelowTheRangeIsInvalid(checks.plan());
    }

    @Test
    @DisplayName("ReadDivergentTail clamps max_records_per_chunk above 256 to 256 and does not refuse it")
    void chunkBoundAboveTheCapIsClamped() throws Exception {
        checks.checkChunkBoundIsClamped(checks.plan());
    }

    @Test
    @DisplayName("ReadDivergentTail of an empty range (positions: also of a range between the records' positions) is "
            + "one trailer of zero records and the empty SHA-256")
    void emptyRangeIsJustATrailer() throws Exception {
        checks.checkEmptyRange(checks.plan());
    }

    @Test
    @DisplayName("ReadDivergentTail with to_inclusive above the last LSN, empty ranges included, is "
            + "OUT_OF_RANGE/RANGE_NOT_IN_LOG before any message")
    void rangeBeyondTheLogIsRefused() throws Exception {
        checks.checkRangeBeyondTheLog(checks.plan());
    }

    // ---- SummarizeTail (optional) -------------------------------------------------------------

    @Test
    @DisplayName("SummarizeTail (optional) is what ReadDivergentTail streams for the same range: record count, bytes, "
            + "first and last commit time, touches the operator takes; skipped, saying so, when UNIMPLEMENTED")
    void summaryIsTheTails() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkSummaryIsTheTails(p);
    }

    @Test
    @DisplayName("SummarizeTail (optional) refuses a reversed range and ranges above the last LSN as ReadDivergentTail "
            + "does; skipped, saying so, when UNIMPLEMENTED")
    void summaryRangeErrorsAreTheTails() throws Exception {
        checks.checkSummaryRangeErrors(checks.plan());
    }

    // ---- Malformed requests --------------------------------------------------------------------

    @Test
    @DisplayName("malformed requests (zero term, empty incident, empty address, reversed range) are "
            + "INVALID_ARGUMENT/INVALID_REQUEST and change nothing")
    void malformedRequestsAreRefused() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkMalformedRequests(p);
    }

    @Test
    @DisplayName("an incident id that is not [a-z0-9][a-z0-9-]{0,62} (upper case included) is INVALID_REQUEST on every "
            + "RPC, before the term")
    void incidentIdsArePlainIdentifiers() throws Exception {
        checks.checkIncidentIdsArePlainIdentifiers(checks.plan(), true);
    }

    @Test
    @DisplayName("RecoverToLsn with target_lsn above expected_last_lsn, or without a 64-hex file SHA-256, is "
            + "INVALID_ARGUMENT/INVALID_REQUEST and changes nothing")
    void malformedRecoverRequestsAreInvalid() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkMalformedRecoverRequests(p);
    }

    // ---- RecoverToLsn refusals -----------------------------------------------------------------

    @Test
    @DisplayName("RecoverToLsn checks in order: INVALID_REQUEST, STALE_TERM, NOT_FENCED, LOG_CHANGED, BELOW_COMMIT")
    void recoverChecksComeInOrder() throws Exception {
        Plan p = checks.plan();
        checks.checkRecoverChecksInOrder(p);
        checks.checkFence(p);
        checks.checkRecoverChecksInOrder(p);
    }

    @Test
    @DisplayName("RecoverToLsn on an unfenced node is FAILED_PRECONDITION/NOT_FENCED with no side effect")
    void recoverRefusedWhenNotFenced() throws Exception {
        checks.checkRecoverRefusedWhenNotFenced(checks.plan());
    }

    @Test
    @DisplayName("RecoverToLsn whose expected_last_lsn is not the node's last LSN is FAILED_PRECONDITION/LOG_CHANGED "
            + "with no side effect")
    void recoverRefusedWhenTheLogChanged() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkRecoverRefusedWhenTheLogChanged(p);
    }

    @Test
    @DisplayName("RecoverToLsn below the commit LSN is FAILED_PRECONDITION/BELOW_COMMIT with no side effect")
    void recoverRefusedBelowCommit() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkRecoverRefusedBelowCommit(p);
    }

    @Test
    @DisplayName("RecoverToLsn under a stale term (the node was fenced again under a newer one) is "
            + "FAILED_PRECONDITION/STALE_TERM with no side effect")
    void recoverRefusedWithAStaleTerm() throws Exception {
        Plan p = checks.plan();
        // the coordinator re-fences under the new term so that a recover of the old plan still on its way is refused
        checks.checkFence(p);
        checks.checkHigherFenceAdopted(p);
        checks.checkRecoverRefusedWithAStaleTerm(p, p.term());
    }

    // ---- RecoverToLsn --------------------------------------------------------------------------

    @Test
    @DisplayName("RecoverToLsn: rollback id + 1, last LSN = fork, data as at the fork, incident, target and file "
            + "SHA-256 recorded; a retry is already_done with no second bump")
    void recoverRollsBackToTheForkOnce() throws Exception {
        Plan p = checks.plan();
        Recovered r = checks.fenceAndRecover(p, AgentChecks.incident());
        checks.checkRecovered(p, r);
        checks.checkDataAtTheFork();
        checks.checkRecoverRetry(p, r);
    }

    @Test
    @DisplayName("a retry of the recorded incident with another target, expected last LSN or file SHA-256 is "
            + "FAILED_PRECONDITION/RECOVER_CONFLICT; the same under a higher term is already_done")
    void recoverRetryWithOtherParametersConflicts() throws Exception {
        Plan p = checks.plan();
        Recovered r = checks.fenceAndRecover(p, AgentChecks.incident());
        checks.checkRecoverConflicts(p, r);
        checks.checkRecoverRetryUnderAHigherTerm(p, r);
    }

    @Test
    @DisplayName("a recover for an incident that another incident's recover overtook is LOG_CHANGED (never "
            + "INCIDENT_SUPERSEDED) and changes nothing")
    void recoverOvertakenByAnotherIncidentIsLogChanged() throws Exception {
        Plan p = checks.plan();
        checks.fenceAndRecover(p, AgentChecks.incident());
        checks.checkOvertakenRecoverIsLogChanged(p);
    }

    @Test
    @DisplayName("a recover that removes nothing (target = expected = last LSN) is an incident: rollback id + 1, "
            + "incident recorded")
    void recoverThatRemovesNothingIsAnIncident() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkRecoverThatRemovesNothing(p);
    }

    @Test
    @DisplayName("Fence, RecoverToLsn and RejoinAsReplica add no term history entry; after the recover no entry begins "
            + "above the new last LSN")
    void termHistoryOnlyFollowsRecords() throws Exception {
        Plan p = checks.plan();
        String incident = AgentChecks.incident();
        checks.checkFence(p);
        checks.recoverToTheFork(p, incident);
        checks.checkHistoryAfterTheRecover(p);
        checks.checkRejoin(p, incident);
    }

    @Test
    @DisplayName("a recover survives a restart: rollback id, last LSN, incident, file SHA-256, fence and data; a retry "
            + "is still already_done (needs restartFormerPrimary)")
    void recoverSurvivesRestart() throws Exception {
        Plan p = checks.plan();
        Recovered r = checks.fenceAndRecover(p, AgentChecks.incident());
        checks.checkRecoverSurvivesRestart(r);
    }

    // ---- RejoinAsReplica -----------------------------------------------------------------------

    @Test
    @DisplayName("RejoinAsReplica: a replica following the given address, unfenced, idempotent; after catch-up its "
            + "data is the new primary's")
    void rejoinFollowsTheNewPrimary() throws Exception {
        Plan p = checks.plan();
        String incident = AgentChecks.incident();
        checks.fenceAndRecover(p, incident);
        checks.checkRejoin(p, incident);
        checks.checkCaughtUp(p);
        checks.checkCaughtUpData();
    }

    @Test
    @DisplayName("RejoinAsReplica of a node whose log the primary does not hold (before its recover) is "
            + "FAILED_PRECONDITION/LOG_DIVERGED; it stays fenced, its data unchanged")
    void rejoinOfADivergedNodeIsRefused() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkRejoinOfADivergedNodeIsRefused(p);
    }

    @Test
    @DisplayName("RejoinAsReplica to a primary that cannot be reached is UNAVAILABLE and changes nothing")
    void rejoinOfAnUnreachablePrimaryIsUnavailable() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkRejoinOfAnUnreachablePrimary(p);
    }

    @Test
    @DisplayName("a late retry of the recover after the rejoin answers the recorded outcome (already_done, same "
            + "rollback id, last LSN = target) and removes nothing")
    void lateRecoverRetryAfterRejoinRemovesNothing() throws Exception {
        Plan p = checks.plan();
        String incident = AgentChecks.incident();
        Recovered r = checks.fenceAndRecover(p, incident);
        checks.checkRejoin(p, incident);
        checks.checkCaughtUp(p);
        checks.checkLateRecoverRetry(p, r);
    }

    @Test
    @DisplayName("RejoinAsReplica under a stale term is FAILED_PRECONDITION/STALE_TERM: a fenced node stays fenced, a "
            + "replica keeps its primary")
    void staleRejoinIsRefused() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkStaleRejoinOfAFencedNode(p);
        String incident = AgentChecks.incident();
        checks.recoverToTheFork(p, incident);
        checks.checkRejoin(p, incident);
        checks.checkStaleRejoinOfAReplica(p);
    }

    // ---- Rollback files ------------------------------------------------------------------------

    @Test
    @DisplayName("WriteRollbackFile makes the bytes durable under <incident>-plan<N>.rollback.jsonl, answers their "
            + "size and SHA-256; ReadRollbackFile streams them back; a retry finds the file")
    void rollbackFileIsWrittenAndReadBack() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkFileWrittenAndReadBack(p);
    }

    @Test
    @DisplayName("onto an existing name WriteRollbackFile takes the whole stream: the same bytes are already_existed, "
            + "other bytes ALREADY_EXISTS/FILE_EXISTS, never replaced")
    void rollbackFileIsNeverReplaced() throws Exception {
        checks.checkFileNeverReplaced(checks.plan());
    }

    @Test
    @DisplayName("WriteRollbackFile and QuarantineRollbackFile under a stale term are FAILED_PRECONDITION/STALE_TERM "
            + "and change nothing; a higher term is adopted")
    void staleRollbackFileCallsAreRefused() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkStaleFileCallsAreRefused(p);
        checks.checkFileWriteAdoptsAHigherTerm(p);
    }

    @Test
    @DisplayName("a WriteRollbackFile whose term goes stale while its bytes stream is STALE_TERM at the half-close and "
            + "publishes nothing")
    void staleTermAtTheLinkPublishesNothing() throws Exception {
        Plan p = checks.plan();
        checks.checkFence(p);
        checks.checkStaleTermAtTheLinkPublishesNothing(p);
    }

    @Test
    @DisplayName("malformed WriteRollbackFile calls are INVALID_ARGUMENT/INVALID_REQUEST (a wrong end message "
            + "ABORTED/TRANSFER_MISMATCH) and publish nothing")
    void malformedRollbackFileCallsPublishNothing() throws Exception {
        checks.checkMalformedFileCalls(checks.plan());
    }

    @Test
    @DisplayName("a WriteRollbackFile data message above 1 MiB is INVALID_ARGUMENT/INVALID_REQUEST and publishes "
            + "nothing; 1 MiB is accepted")
    void dataMessagesAreAtMostOneMebibyte() throws Exception {
        checks.checkDataMessagesAtMostOneMebibyte(checks.plan());
    }

    @Test
    @DisplayName("a WriteRollbackFile call cancelled in the middle publishes nothing; a complete write "
            + "afterwards succeeds")
    void abandonedWritePublishesNothing() throws Exception {
        checks.checkAbandonedWritePublishesNothing(checks.plan());
    }

    @Test
    @DisplayName("QuarantineRollbackFile renames to <name>.quarantined-<stamp>, idempotently, never replaces other "
            + "bytes; FILE_NOT_FOUND for no file")
    void quarantineRenamesAndNeverReplaces() throws Exception {
        checks.checkQuarantine(checks.plan());
    }

    @Test
    @DisplayName("QuarantineRollbackFile with both names holding the same bytes (a cut rename) completes it and "
            + "answers the quarantined name")
    void quarantineCompletesAnInterruptedRename() throws Exception {
        checks.checkQuarantineCompletesAnInterruptedRename(checks.plan());
    }

    @Test
    @DisplayName("a rollback file is mode 0600 in a 0700 directory, and no temporary file is left (needs "
            + "AgentFixture.localFile)")
    void rollbackFileIsPrivate() throws Exception {
        checks.checkFileIsPrivate(checks.plan());
    }

    @Test
    @DisplayName("every WriteRollbackFile that publishes nothing removes its own temporary file (needs "
            + "AgentFixture.localFile)")
    void failedWritesLeaveNoTemporaryFile() throws Exception {
        checks.checkFailedWritesLeaveNoTemporaryFile(checks.plan());
    }

    @Test
    @DisplayName("temporary files a killed agent left are removed at the next begin for the incident, never a "
            + "published or quarantined file (needs localFile and restartFormerPrimary)")
    void leftoverTemporaryFilesAreRemovedAtBegin() throws Exception {
        checks.checkLeftoversRemovedAtBegin(checks.plan());
    }

    // ---- Off-node copies (optional) -------------------------------------------------------------

    @Test
    @DisplayName("StoreRollbackCopy keeps another pod's file under copies/<source>/<incident>-plan<N>.rollback.jsonl, "
            + "ReadRollbackCopy streams it back, a retry finds it, other bytes are FILE_EXISTS; no term or log change "
            + "(optional: skipped when UNIMPLEMENTED)")
    void rollbackCopyIsStoredAndReadBack() throws Exception {
        checks.checkCopyStoredAndReadBack(checks.plan());
    }

    @Test
    @DisplayName("malformed StoreRollbackCopy calls (a source that is not a pod name, a path, a bad digest, bytes "
            + "that are not those announced) are INVALID_REQUEST or TRANSFER_MISMATCH and publish nothing")
    void malformedRollbackCopiesPublishNothing() throws Exception {
        checks.checkMalformedCopyCalls(checks.plan());
    }

    @Test
    @DisplayName("a copy larger than the storing node's free space is RESOURCE_EXHAUSTED/NO_SPACE at begin and "
            + "publishes nothing (needs AgentFixture.limitCopySpace)")
    void rollbackCopyNeedsFreeSpace() throws Exception {
        checks.checkCopyNeedsFreeSpace(checks.plan());
    }

    @Test
    @DisplayName("a copy is mode 0600 in 0700 directories; a cancelled StoreRollbackCopy leaves no file (needs "
            + "AgentFixture.localFile)")
    void rollbackCopyIsPrivate() throws Exception {
        checks.checkCopyIsPrivateAndCancelledStoresLeaveNothing(checks.plan());
    }
}
