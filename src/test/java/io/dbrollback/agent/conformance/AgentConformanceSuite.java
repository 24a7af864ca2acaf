package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.dbrollback.agent.conformance.AgentFixture.Node;
import io.dbrollback.agent.conformance.AgentFixture.Write;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackFileBegin;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.ForkPoint;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Conformance suite for the rollback agent protocol v1 ({@code dbrollback/agent/v1/agent.proto}).
 *
 * <p>A database implementer subclasses it and implements {@link #newDivergedCluster()}, which puts a
 * fresh cluster of their database in the state {@link AgentFixture} describes (a former primary
 * holding divergent writes, a new primary elected with a higher term). Every check goes through the
 * agent RPCs, except reading key/value data and waiting for replication, which the fixture does
 * through the database's own means. Each test gets its own cluster and closes it.
 *
 * <p>The suite drives the RPCs as the operator does: it computes the fork with the coordinator's
 * {@link ForkPoint} from both timelines, fences the former primary under the new primary's term,
 * reads the divergent tail, recovers to the fork and rejoins the new primary.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class AgentConformanceSuite {

    /** The ErrorInfo domain of every agent error. */
    public static final String ERROR_DOMAIN = "agent.dbrollback.io";

    private static final Duration RPC_DEADLINE = Duration.ofSeconds(10);
    private static final Duration CATCH_UP_TIMEOUT = Duration.ofSeconds(20);
    private static final int NODE_MAX_RECORDS_PER_CHUNK = 256;
    private static final Set<Status.Code> PRECONDITION = Set.of(Status.Code.FAILED_PRECONDITION);
    private static final Set<Status.Code> INVALID = Set.of(Status.Code.INVALID_ARGUMENT);
    private static final Set<Status.Code> RANGE = Set.of(Status.Code.OUT_OF_RANGE, Status.Code.FAILED_PRECONDITION);

    /** A fresh diverged cluster for one test (see {@link AgentFixture}); the suite closes it. */
    protected abstract AgentFixture newDivergedCluster() throws Exception;

    private AgentFixture cluster;
    private final Map<String, ManagedChannel> channels = new HashMap<>();

    @BeforeEach
    final void buildDivergedCluster() throws Exception {
        cluster = newDivergedCluster();
        assertNotNull(cluster, "newDivergedCluster() returned null");
    }

    @AfterEach
    final void closeDivergedCluster() throws Exception {
        for (ManagedChannel c : channels.values()) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels.values()) {
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        channels.clear();
        if (cluster != null) {
            cluster.close();
            cluster = null;
        }
    }

    // ------------------------------------------------------------------------------------------
    // GetTimeline
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("GetTimeline: protocol v1, a term-ordered history from LSN 1, sane LSNs, a fork the fixture's writes explain")
    void timelinesAreWellFormed() throws Exception {
        Plan p = plan();
        // plan() checked the shape of both timelines and the fork; what follows is the rest of the picture.
        assertFalse(p.former.getFenced(), "the former primary is not fenced before the suite fences it");
        assertEquals(Role.ROLE_PRIMARY, p.leader.getRole(), "the new primary reports ROLE_PRIMARY");
        assertFalse(p.leader.getFenced(), "the new primary is not fenced");
        assertTrue(p.term > p.former.getCurrentTerm(), "the new primary's term " + p.term
                + " is above the former primary's current term " + p.former.getCurrentTerm());
        assertTrue(p.leader.getLastLsn() >= p.fork, "the new primary's log reaches the fork");
        for (long lsn = p.fork + 1; lsn <= p.former.getLastLsn(); lsn++) {
            assertTrue(history(p.former).termAt(Lsn.of(lsn)).isPresent(), "the history covers LSN " + lsn);
        }
        // read-only and stable: asking again changes nothing
        assertEquals(p.former, timeline(Node.FORMER_PRIMARY), "GetTimeline is read-only: a second call answers the same");

        // the fixture's promises, so that a failure below points at the agent and not at the fixture
        Set<Operation> kinds = new java.util.HashSet<>();
        p.expected.forEach(e -> kinds.add(e.operation));
        assertEquals(Set.of(Operation.INSERT, Operation.UPDATE, Operation.DELETE), kinds,
                "fixture: the divergent writes include an insert, an update and a delete");
        assertEquals(show(apply(cluster.dataAtFork(), cluster.divergentWrites())), show(cluster.readData(Node.FORMER_PRIMARY)),
                "fixture: the former primary holds the data at the fork with the divergent writes applied");
    }

    // ------------------------------------------------------------------------------------------
    // Fence
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("Fence adopts a higher term, detaches the node, changes nothing else, and is idempotent")
    void fenceAdoptsTheTermAndIsIdempotent() throws Exception {
        Plan p = plan();
        String incident = incident();
        Timeline fenced = agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident)).getTimeline();
        assertTrue(fenced.getFenced(), "fenced after Fence");
        assertEquals(p.term, fenced.getCurrentTerm(), "Fence adopts the higher term");
        assertEquals(Role.ROLE_DETACHED, fenced.getRole(), "a fenced node is detached (it accepts no client writes)");
        assertEquals(p.former.getLastLsn(), fenced.getLastLsn(), "Fence removes nothing");
        assertEquals(p.former.getCommitLsn(), fenced.getCommitLsn(), "Fence leaves the commit LSN");
        assertEquals(p.former.getHistoryList(), fenced.getHistoryList(), "Fence leaves the term history");
        assertEquals(p.former.getRollbackId(), fenced.getRollbackId(), "Fence does not bump the rollback id");
        assertEquals(p.former.getLastRecoveryIncident(), fenced.getLastRecoveryIncident(), "Fence records no recovery");
        assertEquals(fenced, timeline(Node.FORMER_PRIMARY), "the Fence response carries the timeline GetTimeline reports");

        assertEquals(fenced, agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident)).getTimeline(),
                "repeating Fence answers the same timeline");
        assertEquals(fenced, agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident())).getTimeline(),
                "Fence under the same term for another incident answers the same timeline");

        Timeline higher = agent(Node.FORMER_PRIMARY).fence(fence(p.term + 1, incident)).getTimeline();
        assertTrue(higher.getFenced(), "still fenced");
        assertEquals(p.term + 1, higher.getCurrentTerm(), "a later Fence adopts its higher term too");
        assertEquals(p.former.getLastLsn(), higher.getLastLsn(), "Fence removes nothing");
    }

    @Test
    @DisplayName("Fence under a stale term is FAILED_PRECONDITION/STALE_TERM and changes nothing, on the new primary and on a fenced node")
    void staleFenceIsRefused() throws Exception {
        Plan p = plan();
        // an operator that lags one term behind must not fence the real primary
        Timeline leaderBefore = timeline(Node.NEW_PRIMARY);
        assertRefused("Fence of the new primary under term " + (p.term - 1), PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.NEW_PRIMARY).fence(fence(p.term - 1, incident())));
        Timeline leaderAfter = timeline(Node.NEW_PRIMARY);
        assertEquals(Role.ROLE_PRIMARY, leaderAfter.getRole(), "the new primary is still primary");
        assertFalse(leaderAfter.getFenced(), "the new primary is not fenced");
        assertEquals(leaderBefore.getCurrentTerm(), leaderAfter.getCurrentTerm(), "its term is unchanged");
        assertEquals(leaderBefore.getRollbackId(), leaderAfter.getRollbackId(), "its rollback id is unchanged");
        assertEquals(leaderBefore.getLastLsn(), leaderAfter.getLastLsn(), "its log is unchanged");

        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Timeline before = timeline(Node.FORMER_PRIMARY);
        assertRefused("Fence under term " + (p.term - 1) + " after term " + p.term, PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(p.term - 1, incident())));
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "a stale Fence changes nothing");
    }

    @Test
    @DisplayName("a fenced node refuses client writes (needs AgentFixture.tryClientWriteOnFormerPrimary)")
    void fencedNodeRefusesClientWrites() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Map<ByteString, ByteString> data = cluster.readData(Node.FORMER_PRIMARY);
        boolean accepted;
        try {
            accepted = cluster.tryClientWriteOnFormerPrimary(Write.put("conformance-after-fence", "x"));
        } catch (UnsupportedOperationException e) {
            Assumptions.abort(e.getMessage());
            return;
        }
        assertFalse(accepted, "a fenced node accepted a client write");
        assertEquals(p.former.getLastLsn(), timeline(Node.FORMER_PRIMARY).getLastLsn(), "the log did not grow");
        assertEquals(show(data), show(cluster.readData(Node.FORMER_PRIMARY)), "the data did not change");
    }

    @Test
    @DisplayName("the fence and the adopted term survive a restart (needs AgentFixture.restartFormerPrimary)")
    void fenceSurvivesRestart() throws Exception {
        Plan p = plan();
        Timeline fenced = agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident())).getTimeline();
        restartFormerPrimary();
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertTrue(after.getFenced(), "still fenced after a restart");
        assertEquals(p.term, after.getCurrentTerm(), "the adopted term survives a restart");
        assertEquals(fenced.getLastLsn(), after.getLastLsn(), "the log survives a restart");
        assertEquals(fenced.getHistoryList(), after.getHistoryList(), "the history survives a restart");
        assertEquals(fenced.getRollbackId(), after.getRollbackId(), "the rollback id survives a restart");
        assertRefused("Fence under a stale term after a restart", PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(p.term - 1, incident())));
    }

    // ------------------------------------------------------------------------------------------
    // ReadDivergentTail
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("ReadDivergentTail over (fork, last]: dense records in LSN order, chunk CRC32Cs, one trailer whose digest we recompute, pre-images, the fixture's writes")
    void divergentTailIsCompleteAndVerifiable() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long last = p.former.getLastLsn();

        Tail small = checkedTail(p.fork, last, 0, 2);
        Tail whole = checkedTail(p.fork, last, 0, 0);
        Tail single = checkedTail(p.fork, last, 0, 1);
        assertEquals(whole.records, small.records, "the records do not depend on the chunk size");
        assertEquals(whole.records, single.records, "the records do not depend on the chunk size");
        assertEquals(whole.trailer, small.trailer, "the trailer does not depend on the chunk size");
        assertEquals(whole.trailer, single.trailer, "the trailer does not depend on the chunk size");
        assertTrue(small.chunkCount >= (whole.records.size() + 1) / 2, "max_records_per_chunk 2 was honoured");

        // the records are the fixture's divergent writes with their pre-images
        assertEquals(p.expected.size(), whole.records.size(), "one record per divergent write");
        TermHistory history = history(p.former);
        for (int i = 0; i < p.expected.size(); i++) {
            io.dbrollback.agent.v1.TailRecord r = whole.records.get(i);
            Expected e = p.expected.get(i);
            String at = "record at LSN " + r.getLsn() + " (divergent write #" + (i + 1) + ": " + e.write + ")";
            assertEquals(history.termAt(Lsn.of(r.getLsn())).orElseThrow().value(), r.getTerm(),
                    at + ": its term is the history's term at its LSN");
            assertEquals(e.operation, operation(r.getOperation()), at + ": operation");
            assertEquals(show(e.write.key()), show(r.getKey()), at + ": key");
            assertEquals(e.before == null, !r.hasBefore(), at + ": " + (e.before == null
                    ? "an insert has no before-image" : "an update or delete has a before-image"));
            if (e.before != null) {
                assertEquals(show(e.before), show(r.getBefore()), at + ": the before-image is the key's value before this write");
            }
            assertEquals(e.write.isDelete(), !r.hasAfter(), at + ": a delete, and only a delete, has no after-image");
            if (!e.write.isDelete()) {
                assertEquals(show(e.write.value()), show(r.getAfter()), at + ": the after-image is the value written");
            }
        }
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "ReadDivergentTail is read-only");
    }

    @Test
    @DisplayName("ReadDivergentTail resumes after any LSN of the range with the remaining records and the same trailer")
    void divergentTailResumes() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        long last = p.former.getLastLsn();
        Tail whole = checkedTail(p.fork, last, 0, 0);
        assertEquals(whole.records, checkedTail(p.fork, last, p.fork, 0).records,
                "resume_after = from_exclusive streams the whole range");
        for (long after = p.fork + 1; after <= last; after++) {
            Tail rest = checkedTail(p.fork, last, after, 2);
            int skipped = (int) (after - p.fork);
            assertEquals(whole.records.subList(skipped, whole.records.size()), rest.records,
                    "resume_after " + after + " streams the records after it");
            assertEquals(whole.trailer, rest.trailer, "resume_after " + after + ": the trailer still describes the whole range");
        }
    }

    @Test
    @DisplayName("ReadDivergentTail of an empty range is one trailer of zero records and the empty SHA-256")
    void emptyRangeIsJustATrailer() throws Exception {
        Plan p = plan();
        long last = p.former.getLastLsn();
        Tail empty = checkedTail(last, last, 0, 0);
        assertTrue(empty.records.isEmpty(), "no records in (" + last + ", " + last + "]");
        assertEquals(TailTrailer.newBuilder().setRecordCount(0).setBytes(0).setSha256(TailDigest.emptySha256()).build(),
                empty.trailer, "the trailer of an empty range");
    }

    @Test
    @DisplayName("ReadDivergentTail beyond the last LSN is OUT_OF_RANGE or FAILED_PRECONDITION, RANGE_NOT_IN_LOG, before any message")
    void rangeBeyondTheLogIsRefused() throws Exception {
        Plan p = plan();
        long last = p.former.getLastLsn();
        for (long[] range : new long[][] {{p.fork, last + 1}, {last + 1, last + 3}}) {
            TailStream s = readTail(range[0], range[1], 0, 0);
            String what = "ReadDivergentTail(" + range[0] + ", " + range[1] + "] on a log ending at " + last;
            assertNotNull(s.error, what + " streamed " + s.messages.size() + " messages and no error");
            assertTrue(s.messages.isEmpty(), what + ": the error comes before any record (" + s.messages.size() + " messages first)");
            assertError(what, RANGE, ErrorReason.RANGE_NOT_IN_LOG, s.error);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Malformed requests
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("malformed requests (zero term, empty incident, empty address, reversed range) are INVALID_ARGUMENT/INVALID_REQUEST and change nothing")
    void malformedRequestsAreRefused() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long last = before.getLastLsn();
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        assertRefused("Fence with term 0", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(0, incident())));
        assertRefused("Fence with an empty incident id", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(p.term, "")));
        assertRefused("RecoverToLsn with an empty incident id", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, "", last)));
        assertRefused("RecoverToLsn with term 0", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, 0, incident(), last)));
        assertRefused("RejoinAsReplica with an empty primary address", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin("", p.term, incident())));
        assertRefused("RejoinAsReplica with an empty incident id", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, "")));
        TailStream reversed = readTail(last, p.fork, 0, 0);
        assertNotNull(reversed.error, "ReadDivergentTail(" + last + ", " + p.fork + "] (reversed) was not refused");
        assertError("ReadDivergentTail over a reversed range", INVALID, ErrorReason.INVALID_REQUEST, reversed.error);
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "malformed requests change nothing");
    }

    @Test
    @DisplayName("RecoverToLsn over a reversed range (target_lsn above expected_last_lsn) is INVALID_ARGUMENT/INVALID_REQUEST and changes nothing")
    void reversedRecoverRangeIsInvalid() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Snapshot before = snapshot();
        long last = p.former.getLastLsn();
        assertRefused("RecoverToLsn to " + (last + 1) + " expecting last LSN " + last, INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(last + 1, p.term, incident(), last)));
        Snapshot after = snapshot();
        assertEquals(before.timeline, after.timeline, "a refused recover changes nothing");
        assertNoRecoverSideEffect(before, after);
    }

    // ------------------------------------------------------------------------------------------
    // RecoverToLsn refusals
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("RecoverToLsn on an unfenced node is FAILED_PRECONDITION/NOT_FENCED with no side effect")
    void recoverRefusedWhenNotFenced() throws Exception {
        Plan p = plan();
        Snapshot before = snapshot();
        assertRefused("RecoverToLsn on an unfenced node", PRECONDITION, ErrorReason.NOT_FENCED,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, incident(), p.former.getLastLsn())));
        Snapshot after = snapshot();
        assertFalse(after.timeline.getFenced(), "a refused recover does not fence");
        assertNoRecoverSideEffect(before, after);
    }

    @Test
    @DisplayName("RecoverToLsn whose expected_last_lsn is not the node's last LSN is FAILED_PRECONDITION/LOG_CHANGED with no side effect")
    void recoverRefusedWhenTheLogChanged() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Snapshot before = snapshot();
        long last = p.former.getLastLsn();
        for (long expected : new long[] {last - 1, last + 1}) {
            assertRefused("RecoverToLsn expecting last LSN " + expected + " on a log ending at " + last, PRECONDITION,
                    ErrorReason.LOG_CHANGED,
                    () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, incident(), expected)));
        }
        Snapshot after = snapshot();
        assertEquals(before.timeline, after.timeline, "a refused recover changes nothing");
        assertNoRecoverSideEffect(before, after);
    }

    @Test
    @DisplayName("RecoverToLsn below the commit LSN is FAILED_PRECONDITION/BELOW_COMMIT with no side effect")
    void recoverRefusedBelowCommit() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Snapshot before = snapshot();
        long target = p.former.getCommitLsn() - 1;
        assertRefused("RecoverToLsn to " + target + " below commit LSN " + p.former.getCommitLsn(), PRECONDITION,
                ErrorReason.BELOW_COMMIT,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(target, p.term, incident(), p.former.getLastLsn())));
        Snapshot after = snapshot();
        assertEquals(before.timeline, after.timeline, "a refused recover changes nothing");
        assertNoRecoverSideEffect(before, after);
    }

    @Test
    @DisplayName("RecoverToLsn under a stale term (the node was fenced again under a newer one) is FAILED_PRECONDITION/STALE_TERM with no side effect")
    void recoverRefusedWithAStaleTerm() throws Exception {
        Plan p = plan();
        // the coordinator re-fences under the new term so that a recover of the old plan still on its way is refused
        agent(Node.FORMER_PRIMARY).fence(fence(p.term + 1, incident()));
        Snapshot before = snapshot();
        assertRefused("RecoverToLsn under term " + p.term + " after term " + (p.term + 1), PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, incident(), p.former.getLastLsn())));
        Snapshot after = snapshot();
        assertEquals(before.timeline, after.timeline, "a refused recover changes nothing");
        assertNoRecoverSideEffect(before, after);
    }

    // ------------------------------------------------------------------------------------------
    // RecoverToLsn
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("RecoverToLsn: rollback id + 1, last LSN = fork, data as at the fork, incident recorded; a retry is already_done with no second bump")
    void recoverRollsBackToTheForkOnce() throws Exception {
        Plan p = plan();
        String incident = incident();
        Recovered r = fenceReadAndRecover(p, incident);

        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(p.fork, after.getLastLsn(), "the last LSN is the fork");
        assertEquals(p.former.getRollbackId() + 1, after.getRollbackId(), "the rollback id rose by one");
        assertEquals(incident, after.getLastRecoveryIncident(), "the incident is recorded");
        assertEquals(p.fork, after.getLastRecoveryTargetLsn(), "the target is recorded");
        assertTrue(after.getFenced(), "still fenced after the recover (until RejoinAsReplica)");
        assertEquals(Role.ROLE_DETACHED, after.getRole(), "detached after the recover (until RejoinAsReplica)");
        assertEquals(p.term, after.getCurrentTerm(), "the term is unchanged");
        assertEquals(p.former.getCommitLsn(), after.getCommitLsn(), "the commit LSN is never rolled back");
        assertTimelineShape("former primary after the recover", after);
        ForkPoint.Result again = ForkPoint.compute(history(after), Lsn.of(after.getLastLsn()),
                history(p.leader), Lsn.of(p.leader.getLastLsn()));
        assertEquals(new ForkPoint.Found(Lsn.of(p.fork), ((ForkPoint.Found) p.forkResult).commonTerm()), again,
                "after the recover the former primary's log is a prefix of the new primary's");
        assertEquals(show(cluster.dataAtFork()), show(cluster.readData(Node.FORMER_PRIMARY)),
                "the data is the data at the fork: every divergent write undone");

        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request);
        assertTrue(retry.getAlreadyDone(), "a retry of the same incident answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(), "a retry answers the same rollback id");
        assertEquals(p.fork, retry.getLastLsn(), "a retry answers the same last LSN");
        assertEquals(after, timeline(Node.FORMER_PRIMARY), "a retry changes nothing (no second bump)");
        assertEquals(show(cluster.dataAtFork()), show(cluster.readData(Node.FORMER_PRIMARY)), "a retry changes no data");

        TailStream gone = readTail(p.fork, p.former.getLastLsn(), 0, 0);
        assertNotNull(gone.error, "the removed range is no longer in the log");
        assertError("ReadDivergentTail of the removed range", RANGE, ErrorReason.RANGE_NOT_IN_LOG, gone.error);
        assertEquals(0, checkedTail(p.fork, p.fork, 0, 0).trailer.getRecordCount(), "nothing above the fork");
    }

    @Test
    @DisplayName("a recover survives a restart: rollback id, last LSN, incident, fence and data; a retry is still already_done (needs restartFormerPrimary)")
    void recoverSurvivesRestart() throws Exception {
        Plan p = plan();
        Recovered r = fenceReadAndRecover(p, incident());
        Timeline recovered = timeline(Node.FORMER_PRIMARY);
        restartFormerPrimary();
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(recovered.getLastLsn(), after.getLastLsn(), "last LSN after a restart");
        assertEquals(recovered.getRollbackId(), after.getRollbackId(), "rollback id after a restart");
        assertEquals(recovered.getLastRecoveryIncident(), after.getLastRecoveryIncident(), "incident after a restart");
        assertEquals(recovered.getLastRecoveryTargetLsn(), after.getLastRecoveryTargetLsn(), "target after a restart");
        assertEquals(recovered.getCurrentTerm(), after.getCurrentTerm(), "term after a restart");
        assertEquals(recovered.getHistoryList(), after.getHistoryList(), "history after a restart");
        assertTrue(after.getFenced(), "still fenced after a restart");
        assertEquals(show(cluster.dataAtFork()), show(cluster.readData(Node.FORMER_PRIMARY)), "data after a restart");
        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request);
        assertTrue(retry.getAlreadyDone(), "a retry after a restart answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(), "a retry after a restart answers the same rollback id");
    }

    // ------------------------------------------------------------------------------------------
    // RejoinAsReplica
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("RejoinAsReplica: a replica following the given address, unfenced, idempotent; after catch-up its data is the new primary's")
    void rejoinFollowsTheNewPrimary() throws Exception {
        Plan p = plan();
        String incident = incident();
        fenceReadAndRecover(p, incident);
        long rollbackId = timeline(Node.FORMER_PRIMARY).getRollbackId();
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);

        Timeline joined = agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, incident)).getTimeline();
        assertEquals(Role.ROLE_REPLICA, joined.getRole(), "a replica after RejoinAsReplica");
        assertEquals(address, joined.getFollowing(), "following the given address");
        assertFalse(joined.getFenced(), "RejoinAsReplica lifts the fence");
        assertEquals(p.term, joined.getCurrentTerm(), "under the rejoin's term");
        assertEquals(rollbackId, joined.getRollbackId(), "RejoinAsReplica does not bump the rollback id");

        Timeline again = agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, incident)).getTimeline();
        assertEquals(Role.ROLE_REPLICA, again.getRole(), "a repeated RejoinAsReplica: still a replica");
        assertEquals(address, again.getFollowing(), "a repeated RejoinAsReplica: same address");
        assertFalse(again.getFenced(), "a repeated RejoinAsReplica: not fenced");
        assertEquals(rollbackId, again.getRollbackId(), "a repeated RejoinAsReplica: same rollback id");

        cluster.awaitFormerPrimaryCaughtUp(CATCH_UP_TIMEOUT);
        Timeline follower = timeline(Node.FORMER_PRIMARY);
        Timeline leader = timeline(Node.NEW_PRIMARY);
        assertEquals(Role.ROLE_REPLICA, follower.getRole(), "still a replica after catch-up");
        assertEquals(address, follower.getFollowing(), "still following " + address);
        assertEquals(leader.getLastLsn(), follower.getLastLsn(), "caught up: same last LSN as the new primary");
        assertTimelineShape("former primary after catch-up", follower);
        ForkPoint.Result shared = ForkPoint.compute(history(follower), Lsn.of(follower.getLastLsn()),
                history(leader), Lsn.of(leader.getLastLsn()));
        assertTrue(shared instanceof ForkPoint.Found f && f.lsn().value() == leader.getLastLsn(),
                "caught up: the two histories agree to the end; the fork point is " + shared + "\nformer primary: "
                        + follower + "\nnew primary: " + leader);
        assertEquals(show(cluster.readData(Node.NEW_PRIMARY)), show(cluster.readData(Node.FORMER_PRIMARY)),
                "caught up: the former primary's data is the new primary's");
    }

    @Test
    @DisplayName("a late retry of the recover after the rejoin answers the recorded outcome (already_done, same rollback id, last LSN = target) and removes nothing")
    void lateRecoverRetryAfterRejoinRemovesNothing() throws Exception {
        Plan p = plan();
        String incident = incident();
        Recovered r = fenceReadAndRecover(p, incident);
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, incident));
        cluster.awaitFormerPrimaryCaughtUp(CATCH_UP_TIMEOUT);
        Timeline caughtUp = timeline(Node.FORMER_PRIMARY);
        Map<ByteString, ByteString> data = cluster.readData(Node.FORMER_PRIMARY);

        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request);
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(caughtUp.getLastLsn(), after.getLastLsn(), "a late retry removes nothing");
        assertEquals(caughtUp.getRollbackId(), after.getRollbackId(), "a late retry does not bump the rollback id");
        assertEquals(Role.ROLE_REPLICA, after.getRole(), "a late retry leaves the node a replica");
        assertFalse(after.getFenced(), "a late retry does not fence");
        assertEquals(show(data), show(cluster.readData(Node.FORMER_PRIMARY)), "a late retry changes no data");
        assertTrue(retry.getAlreadyDone(), "a late retry answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(), "a late retry answers the recorded rollback id");
        assertEquals(p.fork, retry.getLastLsn(), "a late retry answers the recorded outcome: last_lsn = target_lsn "
                + p.fork + " (the log has since grown to " + after.getLastLsn() + ")");
    }

    @Test
    @DisplayName("RejoinAsReplica under a stale term is FAILED_PRECONDITION/STALE_TERM: a fenced node stays fenced, a replica keeps its primary")
    void staleRejoinIsRefused() throws Exception {
        Plan p = plan();
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Timeline fenced = timeline(Node.FORMER_PRIMARY);
        assertRefused("RejoinAsReplica under term " + (p.term - 1) + " on a node fenced under " + p.term, PRECONDITION,
                ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term - 1, incident())));
        assertEquals(fenced, timeline(Node.FORMER_PRIMARY), "a stale rejoin changes nothing: the node stays fenced");

        String incident = incident();
        fenceReadAndRecover(p, incident);
        agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, incident));
        assertRefused("RejoinAsReplica under term " + (p.term - 1) + " on a replica of term " + p.term, PRECONDITION,
                ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin("stale-primary.invalid:7000", p.term - 1, incident())));
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(Role.ROLE_REPLICA, after.getRole(), "still a replica");
        assertEquals(address, after.getFollowing(), "still following " + address);
        assertEquals(p.term, after.getCurrentTerm(), "term unchanged");
        assertFalse(after.getFenced(), "not fenced");
    }

    // ------------------------------------------------------------------------------------------
    // Rollback files: WriteRollbackFile, ReadRollbackFile, QuarantineRollbackFile
    // ------------------------------------------------------------------------------------------

    @Test
    @DisplayName("WriteRollbackFile makes the bytes durable under <incident>-plan<N>.rollback.jsonl, answers their size and SHA-256; ReadRollbackFile streams them back; a retry finds the file")
    void rollbackFileIsWrittenAndReadBack() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        Timeline before = timeline(Node.FORMER_PRIMARY);
        String incident = incident();
        byte[] bytes = fileBytes(300_000, 1);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, bytes, 64 * 1024), true);
        assertNull(w.error, "WriteRollbackFile failed: " + (w.error == null ? "" : describe(w.error)));
        assertEquals(bytes.length, w.response.getSize(), "the size the agent wrote");
        assertEquals(sha256(bytes), w.response.getSha256(), "the SHA-256 the agent computed");
        assertFalse(w.response.getAlreadyExisted(), "a new file");
        assertTrue(w.response.getPath().startsWith("/"), "an absolute path: " + w.response.getPath());
        assertTrue(w.response.getPath().endsWith("/" + incident + "-plan1.rollback.jsonl"),
                "named <incident>-plan<N>.rollback.jsonl: " + w.response.getPath());

        ReadBack r = readFile(Node.FORMER_PRIMARY, incident, 1);
        assertNull(r.error, "ReadRollbackFile failed: " + (r.error == null ? "" : describe(r.error)));
        assertArrayEquals(bytes, r.bytes, "ReadRollbackFile streams the bytes written");
        assertEquals(RollbackFileEnd.newBuilder().setSize(bytes.length).setSha256(sha256(bytes)).build(), r.end,
                "the end message: size and SHA-256 of what was read");

        Written again = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, bytes, 100_000), true);
        assertNull(again.error, "writing the same bytes again failed: " + (again.error == null ? "" : describe(again.error)));
        assertTrue(again.response.getAlreadyExisted(), "writing the same bytes again finds the file (already_existed)");
        assertEquals(w.response.getPath(), again.response.getPath(), "the same path");
        assertEquals(w.response.getSha256(), again.response.getSha256(), "the same SHA-256");

        Written plan2 = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 2, new byte[0], 1), true);
        assertNull(plan2.error, "an empty file for plan 2 failed: " + (plan2.error == null ? "" : describe(plan2.error)));
        assertTrue(plan2.response.getPath().endsWith("/" + incident + "-plan2.rollback.jsonl"), plan2.response.getPath());
        assertEquals(sha256(new byte[0]), plan2.response.getSha256(), "the SHA-256 of an empty file");
        assertArrayEquals(bytes, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "plan 1's file is untouched");
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "the file RPCs never touch the log or the fence");
    }

    @Test
    @DisplayName("a rollback file is never replaced: other bytes under the same name are ALREADY_EXISTS/FILE_EXISTS and the file keeps its bytes")
    void rollbackFileIsNeverReplaced() throws Exception {
        Plan p = plan();
        String incident = incident();
        byte[] first = fileBytes(5_000, 2);
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, first, 1024), true).error);
        byte[] other = fileBytes(5_000, 3);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, other, 1024), true);
        assertNotNull(w.error, "other bytes under an existing name were accepted: " + w.response);
        assertError("WriteRollbackFile of other bytes under an existing name", Set.of(Status.Code.ALREADY_EXISTS),
                ErrorReason.FILE_EXISTS, w.error);
        assertArrayEquals(first, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "the file keeps its bytes");
    }

    @Test
    @DisplayName("WriteRollbackFile and QuarantineRollbackFile under a stale term are FAILED_PRECONDITION/STALE_TERM and change nothing; a higher term is adopted")
    void staleRollbackFileCallsAreRefused() throws Exception {
        Plan p = plan();
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident()));
        String incident = incident();
        byte[] bytes = fileBytes(2_000, 4);
        Written stale = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term - 1, 1, bytes, 512), true);
        assertNotNull(stale.error, "a write under term " + (p.term - 1) + " after term " + p.term + " was accepted");
        assertError("WriteRollbackFile under a stale term", PRECONDITION, ErrorReason.STALE_TERM, stale.error);
        assertError("ReadRollbackFile after a refused write", Set.of(Status.Code.NOT_FOUND), ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);

        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, bytes, 512), true).error);
        assertRefused("QuarantineRollbackFile under a stale term", PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, p.term - 1, 1, 1000)));
        assertArrayEquals(bytes, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "a stale quarantine renames nothing");

        Timeline before = timeline(Node.FORMER_PRIMARY);
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term + 1, 2, bytes, 512), true).error,
                "a write under a higher term is accepted");
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(p.term + 1, after.getCurrentTerm(), "WriteRollbackFile adopts a higher term");
        assertEquals(before.getLastLsn(), after.getLastLsn(), "and removes nothing");
        assertTrue(after.getFenced(), "and keeps the fence");
    }

    @Test
    @DisplayName("malformed WriteRollbackFile calls are INVALID_ARGUMENT/INVALID_REQUEST (a wrong end message ABORTED/TRANSFER_MISMATCH) and publish nothing")
    void malformedRollbackFileCallsPublishNothing() throws Exception {
        Plan p = plan();
        String incident = incident();
        byte[] bytes = fileBytes(3_000, 5);
        WriteRollbackFileRequest data = WriteRollbackFileRequest.newBuilder().setData(ByteString.copyFrom(bytes)).build();
        WriteRollbackFileRequest end = WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                .setSize(bytes.length).setSha256(sha256(bytes))).build();
        Map<String, List<WriteRollbackFileRequest>> invalid = new java.util.LinkedHashMap<>();
        invalid.put("term 0", List.of(begin(incident, 0, 1), data, end));
        invalid.put("an empty incident id", List.of(begin("", p.term, 1), data, end));
        invalid.put("plan 0", List.of(begin(incident, p.term, 0), data, end));
        invalid.put("data before begin", List.of(data, begin(incident, p.term, 1), end));
        invalid.put("two begin messages", List.of(begin(incident, p.term, 1), begin(incident, p.term, 1), data, end));
        invalid.put("no end message", List.of(begin(incident, p.term, 1), data));
        invalid.put("data after the end message", List.of(begin(incident, p.term, 1),
                WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(0)
                        .setSha256(sha256(new byte[0]))).build(), data));
        for (String escape : List.of("../escape", "a/b", "..", ".", "/etc/passwd", "x\u0000y", "UPPER/../x")) {
            invalid.put("incident id " + escape, List.of(begin(escape, p.term, 1), data, end));
        }
        for (Map.Entry<String, List<WriteRollbackFileRequest>> c : invalid.entrySet()) {
            Written w = writeFile(Node.FORMER_PRIMARY, c.getValue(), true);
            assertNotNull(w.error, "WriteRollbackFile with " + c.getKey() + " was accepted: " + w.response);
            assertError("WriteRollbackFile with " + c.getKey(), INVALID, ErrorReason.INVALID_REQUEST, w.error);
        }
        Map<String, RollbackFileEnd> wrongEnd = Map.of(
                "a size one short", RollbackFileEnd.newBuilder().setSize(bytes.length - 1).setSha256(sha256(bytes)).build(),
                "another SHA-256", RollbackFileEnd.newBuilder().setSize(bytes.length).setSha256(sha256(new byte[1])).build());
        for (Map.Entry<String, RollbackFileEnd> c : wrongEnd.entrySet()) {
            Written w = writeFile(Node.FORMER_PRIMARY, List.of(begin(incident, p.term, 1), data,
                    WriteRollbackFileRequest.newBuilder().setEnd(c.getValue()).build()), true);
            assertNotNull(w.error, "WriteRollbackFile whose end message announces " + c.getKey() + " was accepted");
            assertError("WriteRollbackFile whose end message announces " + c.getKey(), Set.of(Status.Code.ABORTED),
                    ErrorReason.TRANSFER_MISMATCH, w.error);
        }
        assertError("ReadRollbackFile after refused writes", Set.of(Status.Code.NOT_FOUND), ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        assertError("ReadRollbackFile with incident id ../escape", INVALID, ErrorReason.INVALID_REQUEST,
                readFile(Node.FORMER_PRIMARY, "../escape", 1).error);
        assertRefused("QuarantineRollbackFile with incident id ../escape", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine("../escape", p.term, 1, 1)));
    }

    @Test
    @DisplayName("a WriteRollbackFile call cancelled in the middle publishes nothing; a complete write afterwards succeeds")
    void abandonedWritePublishesNothing() throws Exception {
        Plan p = plan();
        String incident = incident();
        byte[] bytes = fileBytes(200_000, 6);
        List<WriteRollbackFileRequest> all = fileMessages(incident, p.term, 1, bytes, 16 * 1024);
        Written cut = writeFile(Node.FORMER_PRIMARY, all.subList(0, all.size() / 2), false);
        assertNull(cut.response, "a cancelled write has no answer");
        assertError("ReadRollbackFile after a cancelled write", Set.of(Status.Code.NOT_FOUND), ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        Written w = writeFile(Node.FORMER_PRIMARY, all, true);
        assertNull(w.error, "a complete write after a cancelled one failed: " + (w.error == null ? "" : describe(w.error)));
        assertFalse(w.response.getAlreadyExisted(), "nothing of the cancelled write was published");
        assertArrayEquals(bytes, readFile(Node.FORMER_PRIMARY, incident, 1).bytes);
    }

    @Test
    @DisplayName("QuarantineRollbackFile renames to <name>.quarantined-<stamp>, idempotently, never replaces; FILE_NOT_FOUND for no file")
    void quarantineRenamesAndNeverReplaces() throws Exception {
        Plan p = plan();
        String incident = incident();
        byte[] bytes = fileBytes(4_000, 7);
        String path = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, bytes, 1024), true).response.getPath();
        String quarantined = agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, p.term, 1, 1000))
                .getQuarantinedPath();
        assertEquals(path + ".quarantined-1000", quarantined, "renamed to <name>.quarantined-<stamp>");
        assertError("ReadRollbackFile after the quarantine", Set.of(Status.Code.NOT_FOUND), ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        assertEquals(quarantined, agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, p.term, 1, 1000))
                .getQuarantinedPath(), "a repeated quarantine answers the same name");

        byte[] next = fileBytes(4_000, 8);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, next, 1024), true);
        assertNull(w.error);
        assertFalse(w.response.getAlreadyExisted(), "after the quarantine the name is free");
        assertRefused("QuarantineRollbackFile onto an existing quarantined name", Set.of(Status.Code.ALREADY_EXISTS),
                ErrorReason.FILE_EXISTS,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, p.term, 1, 1000)));
        assertArrayEquals(next, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "nothing was renamed");
        assertRefused("QuarantineRollbackFile of a file never written", Set.of(Status.Code.NOT_FOUND),
                ErrorReason.FILE_NOT_FOUND,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, p.term, 7, 1000)));
        try {
            assertArrayEquals(bytes, Files.readAllBytes(cluster.localFile(Node.FORMER_PRIMARY, quarantined)),
                    "the quarantined file keeps its bytes (needs AgentFixture.localFile)");
        } catch (UnsupportedOperationException e) {
            // without local access the bytes of a quarantined file cannot be seen over the protocol
        }
    }

    @Test
    @DisplayName("a rollback file is mode 0600 in a 0700 directory, and no temporary file is left (needs AgentFixture.localFile)")
    void rollbackFileIsPrivate() throws Exception {
        Plan p = plan();
        String incident = incident();
        byte[] bytes = fileBytes(10_000, 9);
        List<WriteRollbackFileRequest> all = fileMessages(incident, p.term, 1, bytes, 1024);
        writeFile(Node.FORMER_PRIMARY, all.subList(0, 3), false);
        String path = writeFile(Node.FORMER_PRIMARY, all, true).response.getPath();
        java.nio.file.Path local;
        try {
            local = cluster.localFile(Node.FORMER_PRIMARY, path);
        } catch (UnsupportedOperationException e) {
            Assumptions.abort(e.getMessage());
            return;
        }
        assertArrayEquals(bytes, Files.readAllBytes(local), "the bytes on disk");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local)), "file mode 0600");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local.getParent())),
                "directory mode 0700");
        java.nio.file.Path dir = local.getParent();
        java.util.concurrent.Callable<List<String>> leftovers = () -> {
            try (java.util.stream.Stream<java.nio.file.Path> s = Files.list(dir)) {
                return s.map(f -> f.getFileName().toString()).filter(n -> n.contains(incident) && !n.equals(
                        local.getFileName().toString())).toList();
            }
        };
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!leftovers.call().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(List.of(), leftovers.call(), "no temporary file of this incident is left, not even of the cancelled call");
    }

    // ------------------------------------------------------------------------------------------
    // The plan: both timelines, the fork, the expected tail
    // ------------------------------------------------------------------------------------------

    /** What the operator knows before acting, and what the fixture says the tail must be. */
    private record Plan(Timeline former, Timeline leader, ForkPoint.Result forkResult, long fork, long term,
            List<Expected> expected) {
    }

    /** One expected record: the fixture's write with the operation and pre-image it implies. */
    private record Expected(Write write, Operation operation, ByteString before) {
    }

    private Plan plan() throws Exception {
        Timeline former = timeline(Node.FORMER_PRIMARY);
        Timeline leader = timeline(Node.NEW_PRIMARY);
        assertTimelineShape("former primary", former);
        assertTimelineShape("new primary", leader);
        ForkPoint.Result result = ForkPoint.compute(history(former), Lsn.of(former.getLastLsn()),
                history(leader), Lsn.of(leader.getLastLsn()));
        if (!(result instanceof ForkPoint.Found found)) {
            fail("the two histories are inconsistent: " + result + "\nformer primary: " + former + "\nnew primary: " + leader);
            return null;
        }
        long fork = found.lsn().value();
        List<Expected> expected = expectedTail(cluster.dataAtFork(), cluster.divergentWrites());
        assertTrue(fork < former.getLastLsn(), "fixture: the former primary holds records after the fork " + fork
                + " (its last LSN is " + former.getLastLsn() + ")");
        assertEquals(expected.size(), former.getLastLsn() - fork, "fixture: the former primary's last LSN "
                + former.getLastLsn() + " minus the fork " + fork + " is the number of divergent writes");
        assertTrue(former.getCommitLsn() >= 1, "fixture: the former primary knows at least one committed record");
        assertTrue(former.getCommitLsn() <= fork, "the former primary's commit LSN " + former.getCommitLsn()
                + " is not above the fork " + fork + " (the divergent writes were never committed)");
        return new Plan(former, leader, result, fork, leader.getCurrentTerm(), expected);
    }

    private static List<Expected> expectedTail(Map<ByteString, ByteString> atFork, List<Write> writes) {
        assertFalse(writes.isEmpty(), "fixture: there are divergent writes");
        Map<ByteString, ByteString> state = new HashMap<>(atFork);
        List<Expected> out = new ArrayList<>();
        for (Write w : writes) {
            ByteString prev = state.get(w.key());
            if (w.isDelete()) {
                assertNotNull(prev, "fixture: divergent write '" + w + "' deletes a key that holds no value");
                out.add(new Expected(w, Operation.DELETE, prev));
                state.remove(w.key());
            } else {
                out.add(new Expected(w, prev == null ? Operation.INSERT : Operation.UPDATE, prev));
                state.put(w.key(), w.value());
            }
        }
        return out;
    }

    private static Map<ByteString, ByteString> apply(Map<ByteString, ByteString> data, List<Write> writes) {
        Map<ByteString, ByteString> state = new HashMap<>(data);
        for (Write w : writes) {
            if (w.isDelete()) {
                state.remove(w.key());
            } else {
                state.put(w.key(), w.value());
            }
        }
        return state;
    }

    private static void assertTimelineShape(String who, Timeline t) {
        assertEquals("v1", t.getProtocolVersion(), who + ": protocol_version");
        assertFalse(t.getNode().isEmpty(), who + ": node name");
        assertTrue(t.getRole() == Role.ROLE_PRIMARY || t.getRole() == Role.ROLE_REPLICA || t.getRole() == Role.ROLE_DETACHED,
                who + ": role is PRIMARY, REPLICA or DETACHED, got " + t.getRole());
        assertTrue(t.getCurrentTerm() >= 1, who + ": current_term is at least 1");
        assertTrue(t.getCommitLsn() <= t.getLastLsn(), who + ": commit_lsn " + t.getCommitLsn()
                + " is not above last_lsn " + t.getLastLsn());
        List<TermHistoryEntry> h = t.getHistoryList();
        if (t.getLastLsn() > 0) {
            assertFalse(h.isEmpty(), who + ": a non-empty log has a term history");
        }
        if (!h.isEmpty()) {
            assertEquals(1, h.get(0).getFirstLsn(), who + ": the history starts at LSN 1: " + h);
        }
        for (int i = 1; i < h.size(); i++) {
            assertTrue(h.get(i).getTerm() > h.get(i - 1).getTerm(), who + ": terms strictly increase: " + h);
            assertTrue(h.get(i).getFirstLsn() >= h.get(i - 1).getFirstLsn(), who + ": first LSNs never decrease: " + h);
        }
        if (!h.isEmpty()) {
            assertTrue(h.get(h.size() - 1).getTerm() <= t.getCurrentTerm(), who + ": no history term above current_term "
                    + t.getCurrentTerm() + ": " + h);
        }
        if (t.getRole() == Role.ROLE_REPLICA) {
            assertFalse(t.getFollowing().isEmpty(), who + ": a replica names the primary it follows");
        }
        if (t.getFenced()) {
            assertEquals(Role.ROLE_DETACHED, t.getRole(), who + ": a fenced node is detached");
        }
        history(t); // converts: the model's own checks agree
    }

    private static TermHistory history(Timeline t) {
        List<TermHistory.Entry> entries = new ArrayList<>();
        for (TermHistoryEntry e : t.getHistoryList()) {
            entries.add(new TermHistory.Entry(Term.of(e.getTerm()), Lsn.of(e.getFirstLsn())));
        }
        return new TermHistory(entries);
    }

    // ------------------------------------------------------------------------------------------
    // The tail stream
    // ------------------------------------------------------------------------------------------

    /** What a tail stream delivered: its messages, then the error that ended it, if any. */
    private record TailStream(List<TailMessage> messages, StatusRuntimeException error) {
    }

    /** A checked tail: its records in order, its trailer, and how many chunks carried them. */
    private record Tail(List<io.dbrollback.agent.v1.TailRecord> records, TailTrailer trailer, int chunkCount) {
    }

    private TailStream readTail(long from, long to, long resumeAfter, int maxPerChunk) {
        List<TailMessage> messages = new ArrayList<>();
        try {
            Iterator<TailMessage> it = agent(Node.FORMER_PRIMARY).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                    .setFromExclusive(from).setToInclusive(to).setResumeAfter(resumeAfter)
                    .setMaxRecordsPerChunk(maxPerChunk).build());
            while (it.hasNext()) {
                messages.add(it.next());
            }
            return new TailStream(messages, null);
        } catch (StatusRuntimeException e) {
            return new TailStream(messages, e);
        }
    }

    /**
     * Reads (from, to] after resumeAfter and checks the stream's form: chunks of consecutive records
     * from the first LSN after max(from, resumeAfter) to {@code to}, each within the chunk bound and
     * with the CRC32C of its records' canonical encodings; exactly one trailer, last. When the stream
     * is the whole range, the trailer must equal what the records recompute to.
     */
    private Tail checkedTail(long from, long to, long resumeAfter, int maxPerChunk) {
        String what = "ReadDivergentTail(" + from + ", " + to + "] resume_after " + resumeAfter
                + " max_records_per_chunk " + maxPerChunk;
        TailStream s = readTail(from, to, resumeAfter, maxPerChunk);
        if (s.error != null) {
            fail(what + " failed after " + s.messages.size() + " messages: " + describe(s.error), s.error);
        }
        List<io.dbrollback.agent.v1.TailRecord> records = new ArrayList<>();
        TailTrailer trailer = null;
        int chunks = 0;
        long next = Math.max(from, resumeAfter) + 1;
        int bound = maxPerChunk == 0 ? NODE_MAX_RECORDS_PER_CHUNK : maxPerChunk;
        for (int i = 0; i < s.messages.size(); i++) {
            TailMessage m = s.messages.get(i);
            switch (m.getBodyCase()) {
                case CHUNK -> {
                    assertTrue(trailer == null, what + ": a chunk after the trailer (message " + i + ")");
                    TailChunk c = m.getChunk();
                    chunks++;
                    assertTrue(c.getRecordsCount() <= bound, what + ": a chunk of " + c.getRecordsCount()
                            + " records exceeds " + bound);
                    CRC32C crc = new CRC32C();
                    for (io.dbrollback.agent.v1.TailRecord r : c.getRecordsList()) {
                        assertEquals(next, r.getLsn(), what + ": records are dense and in LSN order");
                        next++;
                        CanonicalEncoding.encode(toModel(r), crc::update);
                        records.add(r);
                    }
                    assertEquals(crc.getValue(), Integer.toUnsignedLong(c.getCrc32C()),
                            what + ": chunk " + chunks + " (LSN " + (next - c.getRecordsCount()) + " to " + (next - 1)
                                    + "): crc32c is the CRC32C of its records' canonical encodings");
                }
                case TRAILER -> {
                    assertTrue(trailer == null, what + ": a second trailer (message " + i + ")");
                    trailer = m.getTrailer();
                }
                default -> fail(what + ": message " + i + " is neither a chunk nor a trailer");
            }
        }
        assertNotNull(trailer, what + ": the stream ended without a trailer");
        assertTrue(next <= to + 1, what + ": no record above to_inclusive " + to + " (the last was " + (next - 1) + ")");
        assertEquals(to + 1, next, what + ": the records reach to_inclusive " + to);
        if (resumeAfter <= from) {
            TailDigest d = new TailDigest();
            records.forEach(r -> d.add(toModel(r)));
            assertEquals(d.records(), trailer.getRecordCount(), what + ": trailer record_count");
            assertEquals(d.bytes(), trailer.getBytes(), what + ": trailer bytes (sum of canonical encoding lengths)");
            assertEquals(d.finish(), trailer.getSha256(), what + ": trailer sha256 (SHA-256 of the canonical encodings)");
        }
        return new Tail(records, trailer, chunks);
    }

    /** The model record a wire record stands for; asserts the wire record is well formed first. */
    private static TailRecord toModel(io.dbrollback.agent.v1.TailRecord r) {
        String at = "record at LSN " + r.getLsn();
        Operation op = operation(r.getOperation());
        assertEquals(op != Operation.INSERT, r.hasBefore(), at + ": a before-image exactly for updates and deletes");
        assertEquals(op != Operation.DELETE, r.hasAfter(), at + ": an after-image exactly for inserts and updates");
        int nanos = r.getCommitTimeNanos();
        assertTrue(nanos >= 0 && nanos < 1_000_000_000, at + ": commit_time_nanos " + Integer.toUnsignedString(nanos)
                + " is below 10^9");
        return new TailRecord(Lsn.of(r.getLsn()), Term.of(r.getTerm()), r.getTransactionId(),
                Instant.ofEpochSecond(r.getCommitTimeSeconds(), nanos), op, Bytes.of(r.getKey().toByteArray()),
                r.hasBefore() ? Bytes.of(r.getBefore().toByteArray()) : null,
                r.hasAfter() ? Bytes.of(r.getAfter().toByteArray()) : null);
    }

    private static Operation operation(io.dbrollback.agent.v1.Operation op) {
        return switch (op) {
            case OPERATION_INSERT -> Operation.INSERT;
            case OPERATION_UPDATE -> Operation.UPDATE;
            case OPERATION_DELETE -> Operation.DELETE;
            default -> fail("operation " + op + " is not insert, update or delete");
        };
    }

    // ------------------------------------------------------------------------------------------
    // Steps the operator takes
    // ------------------------------------------------------------------------------------------

    private record Recovered(RecoverToLsnRequest request, RecoverToLsnResponse response) {
    }

    /** Fence under the plan's term, read and check the whole tail, recover to the fork. */
    private Recovered fenceReadAndRecover(Plan p, String incident) throws Exception {
        agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident));
        Tail tail = checkedTail(p.fork, p.former.getLastLsn(), 0, 0);
        RecoverToLsnRequest request = recover(p.fork, p.term, incident, p.former.getLastLsn()).toBuilder()
                .setExpectedRollbackFileSha256(tail.trailer.getSha256()).build();
        RecoverToLsnResponse response = agent(Node.FORMER_PRIMARY).recoverToLsn(request);
        assertFalse(response.getAlreadyDone(), "the first recover of an incident is not already_done");
        assertEquals(p.former.getRollbackId() + 1, response.getRollbackId(), "the recover answers the rollback id plus one");
        assertEquals(p.fork, response.getLastLsn(), "the recover answers last LSN = target");
        return new Recovered(request, response);
    }

    private void restartFormerPrimary() throws Exception {
        try {
            cluster.restartFormerPrimary();
        } catch (UnsupportedOperationException e) {
            Assumptions.abort(e.getMessage());
        }
    }

    private static FenceRequest fence(long term, String incident) {
        return FenceRequest.newBuilder().setTerm(term).setIncidentId(incident).build();
    }

    private static RecoverToLsnRequest recover(long target, long term, String incident, long expectedLast) {
        return RecoverToLsnRequest.newBuilder().setTargetLsn(target).setTerm(term).setIncidentId(incident)
                .setExpectedLastLsn(expectedLast).setExpectedRollbackFileSha256(TailDigest.emptySha256()).build();
    }

    private static RejoinAsReplicaRequest rejoin(String address, long term, String incident) {
        return RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(address).setTerm(term).setIncidentId(incident).build();
    }

    private static String incident() {
        return "conformance-" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ------------------------------------------------------------------------------------------
    // Side effects
    // ------------------------------------------------------------------------------------------

    private record Snapshot(Timeline timeline, Map<ByteString, ByteString> data) {
    }

    private Snapshot snapshot() throws Exception {
        return new Snapshot(timeline(Node.FORMER_PRIMARY), cluster.readData(Node.FORMER_PRIMARY));
    }

    private static void assertNoRecoverSideEffect(Snapshot before, Snapshot after) {
        assertEquals(before.timeline.getRollbackId(), after.timeline.getRollbackId(), "a refused recover does not bump the rollback id");
        assertEquals(before.timeline.getLastLsn(), after.timeline.getLastLsn(), "a refused recover removes nothing");
        assertEquals(before.timeline.getLastRecoveryIncident(), after.timeline.getLastRecoveryIncident(),
                "a refused recover records no incident");
        assertEquals(before.timeline.getFenced(), after.timeline.getFenced(), "a refused recover leaves the fence as it was");
        assertEquals(show(before.data), show(after.data), "a refused recover changes no data");
    }

    // ------------------------------------------------------------------------------------------
    // Rollback file calls
    // ------------------------------------------------------------------------------------------

    /** What a WriteRollbackFile call ended with: the answer or the error (null when cancelled). */
    private record Written(WriteRollbackFileResponse response, StatusRuntimeException error) {
    }

    /** What a ReadRollbackFile call streamed: the bytes, the end message, or the error. */
    private record ReadBack(byte[] bytes, RollbackFileEnd end, StatusRuntimeException error) {
    }

    /** Deterministic bytes of a test file, with a line structure like a rollback file's. */
    private static byte[] fileBytes(int size, long seed) {
        byte[] b = new byte[size];
        new java.util.Random(seed).nextBytes(b);
        for (int i = 99; i < size; i += 100) {
            b[i] = '\n';
        }
        return b;
    }

    private static String sha256(byte[] b) {
        MessageDigest d = TailDigest.newSha256();
        return java.util.HexFormat.of().formatHex(d.digest(b));
    }

    private static WriteRollbackFileRequest begin(String incident, long term, int plan) {
        return WriteRollbackFileRequest.newBuilder().setBegin(RollbackFileBegin.newBuilder().setIncidentId(incident)
                .setTerm(term).setPlanNumber(plan)).build();
    }

    /** begin, the bytes in data messages of {@code chunk} bytes (and one empty one), end. */
    private static List<WriteRollbackFileRequest> fileMessages(String incident, long term, int plan, byte[] bytes,
            int chunk) {
        List<WriteRollbackFileRequest> m = new ArrayList<>();
        m.add(begin(incident, term, plan));
        m.add(WriteRollbackFileRequest.newBuilder().setData(ByteString.EMPTY).build());
        for (int off = 0; off < bytes.length; off += chunk) {
            m.add(WriteRollbackFileRequest.newBuilder().setData(ByteString.copyFrom(bytes, off,
                    Math.min(chunk, bytes.length - off))).build());
        }
        m.add(WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(bytes.length)
                .setSha256(sha256(bytes))).build());
        return m;
    }

    private static QuarantineRollbackFileRequest quarantine(String incident, long term, int plan, long stamp) {
        return QuarantineRollbackFileRequest.newBuilder().setIncidentId(incident).setTerm(term).setPlanNumber(plan)
                .setStamp(stamp).build();
    }

    /**
     * Sends {@code messages} on one WriteRollbackFile call, then half-closes it ({@code complete}) or
     * cancels it, and waits for how it ended.
     */
    private Written writeFile(Node node, List<WriteRollbackFileRequest> messages, boolean complete) throws Exception {
        java.util.concurrent.CompletableFuture<Written> ended = new java.util.concurrent.CompletableFuture<>();
        java.util.concurrent.atomic.AtomicReference<WriteRollbackFileResponse> answer =
                new java.util.concurrent.atomic.AtomicReference<>();
        io.grpc.stub.StreamObserver<WriteRollbackFileRequest> call = agentAsync(node).writeRollbackFile(
                new io.grpc.stub.StreamObserver<>() {
                    @Override
                    public void onNext(WriteRollbackFileResponse value) {
                        answer.set(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        ended.complete(new Written(null, t instanceof StatusRuntimeException e ? e
                                : Status.fromThrowable(t).asRuntimeException()));
                    }

                    @Override
                    public void onCompleted() {
                        ended.complete(new Written(answer.get(), null));
                    }
                });
        for (WriteRollbackFileRequest m : messages) {
            if (ended.isDone()) {
                break; // the agent refused the call already
            }
            call.onNext(m);
        }
        if (!complete) {
            call.onError(Status.CANCELLED.withDescription("the conformance suite abandons this write").asRuntimeException());
            try {
                ended.get(RPC_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                // a cancelled call may end without telling us more
            }
            return new Written(null, null);
        }
        call.onCompleted();
        return ended.get(RPC_DEADLINE.toMillis() * 3, TimeUnit.MILLISECONDS);
    }

    private ReadBack readFile(Node node, String incident, int plan) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        RollbackFileEnd end = null;
        try {
            Iterator<ReadRollbackFileResponse> it = agent(node).withDeadlineAfter(RPC_DEADLINE.toMillis() * 3,
                    TimeUnit.MILLISECONDS).readRollbackFile(ReadRollbackFileRequest.newBuilder()
                            .setIncidentId(incident).setPlanNumber(plan).build());
            while (it.hasNext()) {
                ReadRollbackFileResponse m = it.next();
                assertTrue(end == null, "ReadRollbackFile: nothing follows the end message");
                if (m.hasEnd()) {
                    end = m.getEnd();
                } else {
                    assertTrue(m.getData().size() <= (1 << 20), "ReadRollbackFile: data messages of at most 1 MiB");
                    m.getData().writeTo(out);
                }
            }
        } catch (StatusRuntimeException e) {
            return new ReadBack(null, null, e);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertNotNull(end, "ReadRollbackFile ended without its end message");
        return new ReadBack(out.toByteArray(), end, null);
    }

    // ------------------------------------------------------------------------------------------
    // gRPC
    // ------------------------------------------------------------------------------------------

    private Timeline timeline(Node node) {
        return agent(node).getTimeline(GetTimelineRequest.getDefaultInstance());
    }

    private RollbackAgentGrpc.RollbackAgentStub agentAsync(Node node) {
        agent(node); // opens the channel
        return RollbackAgentGrpc.newStub(channels.get(cluster.agentAddress(node)))
                .withDeadlineAfter(RPC_DEADLINE.toMillis() * 3, TimeUnit.MILLISECONDS);
    }

    private RollbackAgentGrpc.RollbackAgentBlockingStub agent(Node node) {
        String address = cluster.agentAddress(node);
        ManagedChannel channel = channels.computeIfAbsent(address,
                a -> ManagedChannelBuilder.forTarget(a).usePlaintext().build());
        return RollbackAgentGrpc.newBlockingStub(channel).withDeadlineAfter(RPC_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    }

    @FunctionalInterface
    private interface Call {
        void run();
    }

    private static void assertRefused(String what, Set<Status.Code> codes, ErrorReason reason, Call call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            assertError(what, codes, reason, e);
            return;
        }
        fail(what + " succeeded; expected " + codes + " with reason " + reason);
    }

    private static void assertError(String what, Set<Status.Code> codes, ErrorReason reason, StatusRuntimeException e) {
        assertTrue(codes.contains(e.getStatus().getCode()), what + ": expected " + codes + " with reason " + reason
                + ", got " + describe(e));
        ErrorInfo info = errorInfo(e);
        assertNotNull(info, what + ": the error carries no google.rpc.ErrorInfo detail: " + describe(e));
        assertEquals(ERROR_DOMAIN, info.getDomain(), what + ": ErrorInfo domain");
        assertEquals(reason.name(), info.getReason(), what + ": ErrorInfo reason (" + describe(e) + ")");
    }

    private static ErrorInfo errorInfo(Throwable e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status == null) {
            return null;
        }
        for (Any detail : status.getDetailsList()) {
            if (detail.is(ErrorInfo.class)) {
                try {
                    return detail.unpack(ErrorInfo.class);
                } catch (InvalidProtocolBufferException bad) {
                    fail("an unreadable ErrorInfo detail", bad);
                }
            }
        }
        return null;
    }

    private static String describe(StatusRuntimeException e) {
        ErrorInfo info = errorInfo(e);
        return e.getStatus().getCode() + " " + e.getStatus().getDescription()
                + (info == null ? " (no ErrorInfo)" : " (" + info.getDomain() + "/" + info.getReason() + ")");
    }

    // ------------------------------------------------------------------------------------------
    // Readable comparisons
    // ------------------------------------------------------------------------------------------

    /** A sorted, readable rendering of key/value data, so that a failed comparison shows the difference. */
    private static String show(Map<ByteString, ByteString> data) {
        Map<String, String> sorted = new TreeMap<>();
        data.forEach((k, v) -> sorted.put(show(k), show(v)));
        return sorted.toString();
    }

    private static String show(ByteString b) {
        if (b == null) {
            return "<absent>";
        }
        String text = b.toString(StandardCharsets.UTF_8);
        boolean printable = b.isValidUtf8() && text.codePoints().allMatch(c -> c >= 0x20 && c != 0x7f);
        return printable ? text : "0x" + java.util.HexFormat.of().formatHex(b.toByteArray());
    }
}
