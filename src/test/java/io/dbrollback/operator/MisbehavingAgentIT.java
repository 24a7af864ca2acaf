package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.api.Condition;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.ScriptedAgent;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Status;
import io.javaoperatorsdk.operator.Operator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Agents that misbehave, over real gRPC: a {@link ScriptedAgent} stands in front of the former
 * primary's real reference node and lies in one way per test, while the real operator (JOSDK on the
 * mock API server) rolls it back. Whatever the agent answers, the rollback ends with a named reason and
 * a Warning Event, the number of calls stays bounded (spec.maxRetries = {@value #MAX_RETRIES}), and the
 * node holds either everything it held (nothing removed) or exactly what the verified file does not.
 */
class MisbehavingAgentIT {

    static final int MAX_RETRIES = 3;

    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
        startOperator(RollbackFileStore.Writer.EXEC);
    }

    /** The operator's deadlines here: a progress timeout of 1 s, the rest as deployed. */
    static final AgentClients.Deadlines DEADLINES = new AgentClients.Deadlines(Duration.ofSeconds(10),
            Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ofSeconds(30), Duration.ofSeconds(30),
            Duration.ofSeconds(60), Duration.ofSeconds(1), Duration.ofMinutes(30));

    private void startOperator(RollbackFileStore.Writer writer) {
        startOperator(writer, Clock.systemUTC());
    }

    private void startOperator(RollbackFileStore.Writer writer, Clock clock) {
        operator = TestOperator.against(client).clock(clock).agents(new AgentClients(List.of(), DEADLINES))
                .instance("misbehaving").writer(writer).backoff(Duration.ofMillis(50), Duration.ofMillis(400))
                .deployedRetry().start();
    }

    @AfterEach
    void stop() throws Exception {
        operator.stop();
        for (AutoCloseable c : closing) {
            c.close();
        }
        api.close();
    }

    /** A diverged cluster whose orders-0 is reached through a scripted agent. */
    private Fixture diverged(String ns, Consumer<ScriptedAgent> script) throws Exception {
        DbCluster db = new DbCluster(api, client, ns);
        closing.add(db);
        db.failover();
        ScriptedAgent agent = ScriptedAgent.fronting(db.address(0));
        closing.add(0, agent);
        script.accept(agent);
        db.pointAgentAt(0, agent.port());
        return new Fixture(db, agent, db.node(0).data(), db.node(0).timeline());
    }

    private record Fixture(DbCluster db, ScriptedAgent agent, Map<String, String> dataBefore, Timeline before) {
    }

    private ReplicaSetRollbackStatus apply(Fixture f, String name) {
        ReplicaSetRollback r = f.db().rollback(name);
        r.getSpec().setMaxRetries(MAX_RETRIES);
        client.resources(ReplicaSetRollback.class).inNamespace(f.db().namespace).resource(r).create();
        return null;
    }

    private ReplicaSetRollbackStatus awaitEnd(Fixture f, String name) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
            ReplicaSetRollback r = RollbackChecks.get(client, f.db().namespace, name);
            return r != null && r.getStatus() != null && r.getStatus().getPhase() != null
                    && List.of("Failed", "Aborted", "Completed").contains(r.getStatus().getPhase());
        });
        ReplicaSetRollbackStatus s = RollbackChecks.get(client, f.db().namespace, name).getStatus();
        // The Events of the last step follow the status write that records it.
        RollbackChecks.awaitEvent(client, f.db().namespace, name, s.getPhase().equals("Completed")
                ? "RollbackCompleted" : "RollbackFailed");
        return s;
    }

    /** The rollback ended Failed with {@code reason}; its status. */
    private ReplicaSetRollbackStatus assertFailed(Fixture f, String reason) {
        ReplicaSetRollbackStatus s = awaitEnd(f, "rb");
        assertEquals("Failed", s.getPhase(), s.getMessage());
        assertEquals(reason, s.getReason(), s.getMessage());
        return s;
    }

    private static Condition condition(ReplicaSetRollbackStatus s, String type) {
        return s.getConditions().stream().filter(c -> c.getType().equals(type)).findFirst().orElseThrow();
    }

    /** orders-0 holds exactly what it held before: not fenced by a lie, not recovered, data whole. */
    private static void assertNothingRemoved(Fixture f) throws Exception {
        Timeline now = f.db().node(0).timeline();
        assertEquals(f.before().getLastLsn(), now.getLastLsn(), "no record removed");
        assertEquals(0, now.getRollbackId(), "no recover");
        assertEquals("", now.getLastRecoveryIncident());
        assertEquals(f.dataBefore(), f.db().node(0).data(), "the data are whole");
    }

    private List<Event> events(Fixture f, String name, String reason) {
        return RollbackChecks.events(client, f.db().namespace, name, reason);
    }

    // ---- rule 1: an answer that breaks the protocol ---------------------------------------------

    static Stream<Arguments> invalidTimelines() {
        return Stream.of(
                invalid("HistoryTermsIncrease", "the term history goes down", t -> t.toBuilder().setCurrentTerm(3)
                        .clearHistory().addHistory(TermHistoryEntry.newBuilder().setTerm(2).setFirstLsn(1))
                        .addHistory(TermHistoryEntry.newBuilder().setTerm(1).setFirstLsn(11)).build()),
                invalid("NumberRange", "a term at 2^63", t -> t.toBuilder().setCurrentTerm(Long.MIN_VALUE).build()),
                invalid("HistoryLsnsNondecreasing", "LSNs going backwards", t -> t.toBuilder().setCurrentTerm(3)
                        .clearHistory().addHistory(TermHistoryEntry.newBuilder().setTerm(1).setFirstLsn(1))
                        .addHistory(TermHistoryEntry.newBuilder().setTerm(2).setFirstLsn(8))
                        .addHistory(TermHistoryEntry.newBuilder().setTerm(3).setFirstLsn(4)).build()),
                invalid("RoleKnown", "an unknown role", t -> t.toBuilder().setRoleValue(7).build()),
                invalid("ProtocolVersion", "no protocol version", t -> t.toBuilder().clearProtocolVersion().build()),
                invalid("NodeNamed", "another node's timeline", t -> t.toBuilder().setNode("orders-2").build()),
                invalid("CommitWithinLog", "a commit LSN above the log", t -> t.toBuilder().setCommitLsn(99).build()));
    }

    private static Arguments invalid(String rule, String what, UnaryOperator<Timeline> lie) {
        return Arguments.of(rule, what, lie);
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("invalidTimelines")
    void aTimelineThatBreaksTheProtocolBlocksVisiblyThenFailsAndNothingIsCalled(String rule, String what,
            UnaryOperator<Timeline> lie) throws Exception {
        Fixture f = diverged("bad-timeline-" + rule.toLowerCase(), a -> a.onTimeline(lie));
        apply(f, "rb");
        // While it retries: Blocked, with the reason and a sentence naming the RPC and the rule.
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            ReplicaSetRollback r = RollbackChecks.get(client, f.db().namespace, "rb");
            return r != null && r.getStatus() != null && r.getStatus().getConditions() != null
                    && "True".equals(condition(r.getStatus(), "Blocked").getStatus())
                    && "AgentAnswerInvalid".equals(condition(r.getStatus(), "Blocked").getReason());
        });
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentAnswerInvalid");
        assertTrue(s.getMessage().contains("GetTimeline from orders-0 broke rule " + rule), s.getMessage());
        assertTrue(s.getMessage().endsWith("nothing was done") || s.getMessage().endsWith("nothing was removed"),
                s.getMessage());
        await().atMost(Duration.ofSeconds(10)).until(() -> events(f, "rb", "AgentAnswerInvalid").stream()
                .mapToInt(Event::getCount).sum() == MAX_RETRIES + 1);
        List<Event> invalid = events(f, "rb", "AgentAnswerInvalid");
        assertEquals(1, invalid.size(), "one Event whose count rises");
        assertEquals("Warning", invalid.get(0).getType());
        assertTrue(invalid.get(0).getMessage().contains("GetTimeline from orders-0 broke rule " + rule),
                invalid.get(0).getMessage());
        assertFalse(invalid.get(0).getMessage().contains("orders-2") || invalid.get(0).getMessage().contains("99"),
                "the Event never quotes the value: " + invalid.get(0).getMessage());
        assertEquals(MAX_RETRIES + 1, invalid.get(0).getCount(), "one per failed attempt");
        assertEquals(1, events(f, "rb", "RollbackFailed").size());
        // Nothing more was done to the node: it was only read, a bounded number of times.
        assertEquals(0, f.agent().calls("Fence"), "never fenced on the strength of a broken answer");
        assertEquals(MAX_RETRIES + 1, f.agent().calls("GetTimeline"), "read once per attempt, no more");
        assertNothingRemoved(f);
        assertFalse(f.db().node(0).timeline().getFenced());
    }

    @Test
    void anAgentFixedWhileBlockedLetsTheRollbackComplete() throws Exception {
        Fixture f = diverged("fixed-agent", a -> a.onTimeline(t -> t.toBuilder().setRoleValue(9).build()));
        ReplicaSetRollback r = f.db().rollback("rb");
        r.getSpec().setMaxRetries(50);
        client.resources(ReplicaSetRollback.class).inNamespace(f.db().namespace).resource(r).create();
        RollbackChecks.awaitEvent(client, f.db().namespace, "rb", "AgentAnswerInvalid");
        f.agent().honest();
        ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, f.db(), "rb");
        assertEquals("Completed", s.getPhase());
    }

    @Test
    void aTailRecordWithAnUnknownOperationIsNeverWrittenToAFile() throws Exception {
        Fixture f = diverged("bad-record", a -> a.onTail(messages -> ScriptedAgent.TailReply.of(messages.stream()
                .map(m -> !m.hasChunk() ? m : TailMessage.newBuilder().setChunk(m.getChunk().toBuilder()
                        .setRecords(0, m.getChunk().getRecords(0).toBuilder().setOperationValue(11))).build())
                .toList())));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentAnswerInvalid");
        assertTrue(s.getMessage().contains("ReadDivergentTail from orders-0 broke rule OperationKnown"),
                s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("ReadDivergentTail"));
        assertTrue(RollbackChecks.rollbackDirectory(f.db()).stream().noneMatch(n -> n.endsWith(".jsonl")),
                "no rollback file was published: " + RollbackChecks.rollbackDirectory(f.db()));
        assertNothingRemovedButFenced(f);
    }

    /** Fenced (the only change the operator made), nothing removed. */
    private static void assertNothingRemovedButFenced(Fixture f) throws Exception {
        assertNothingRemoved(f);
        assertTrue(f.db().node(0).timeline().getFenced(), "fenced, as the first step left it");
    }

    @Test
    void aFenceAnswerThatBreaksTheProtocolIsNotTakenAsAFence() throws Exception {
        // The node does fence; its answer carries a term at 2^63.
        Fixture f = diverged("bad-fence-answer", a -> a.onFenceAnswer(r -> r.toBuilder().setTimeline(
                r.getTimeline().toBuilder().setCurrentTerm(Long.MIN_VALUE)).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentAnswerInvalid");
        assertTrue(s.getMessage().contains("Fence from orders-0 broke rule NumberRange"), s.getMessage());
        assertEquals("Planned", s.getSteps().get(s.getSteps().size() - 2).getPhase(), "never recorded as fenced");
        assertEquals(MAX_RETRIES + 1, f.agent().calls("Fence"));
        assertEquals(0, f.agent().calls("ReadDivergentTail"));
        assertNothingRemoved(f);
    }

    @Test
    void aRecoverAnswerThatBreaksTheProtocolIsResolvedFromTheNodesOwnRecord() throws Exception {
        // The node recovers; its answer carries a rollback id at 2^63. The answer is not used: the next
        // reading of the node's timeline shows the recover, which is then confirmed from it.
        Fixture f = diverged("bad-recover-answer", a -> a.onRecoverAnswer(r -> r.toBuilder()
                .setRollbackId(Long.MIN_VALUE).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, f.db(), "rb");
        assertNull(s.getRecoverAnswer(), "the broken answer is not on record");
        List<Event> invalid = events(f, "rb", "AgentAnswerInvalid");
        assertEquals(1, invalid.size());
        assertTrue(invalid.get(0).getMessage().contains("RecoverToLsn from orders-0 broke rule NumberRange"),
                invalid.get(0).getMessage());
        assertEquals(1, f.agent().calls("RecoverToLsn"), "recovered once, never asked again");
    }

    static Stream<Arguments> brokenTails() {
        return Stream.of(
                Arguments.of("ChunkNotEmpty", "an empty chunk", (UnaryOperator<List<TailMessage>>) messages -> {
                    List<TailMessage> out = new ArrayList<>(messages);
                    out.add(0, TailMessage.newBuilder().setChunk(TailChunk.getDefaultInstance()).build());
                    return out;
                }),
                Arguments.of("ChunkSize", "a chunk of 257 records", (UnaryOperator<List<TailMessage>>) messages -> {
                    TailChunk.Builder big = TailChunk.newBuilder();
                    for (int i = 0; i < 257; i++) {
                        big.addRecords(messages.get(0).getChunk().getRecords(0));
                    }
                    return List.of(TailMessage.newBuilder().setChunk(big).build(), messages.get(messages.size() - 1));
                }),
                Arguments.of("MessageKnown", "a message that is neither chunk nor trailer",
                        (UnaryOperator<List<TailMessage>>) messages -> {
                            List<TailMessage> out = new ArrayList<>(messages);
                            out.add(0, TailMessage.getDefaultInstance());
                            return out;
                        }));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("brokenTails")
    void aTailThatBreaksTheStreamRulesIsNeverWritten(String rule, String what, UnaryOperator<List<TailMessage>> lie)
            throws Exception {
        Fixture f = diverged("bad-tail-" + rule.toLowerCase(), a -> a.onTail(m -> ScriptedAgent.TailReply.of(
                lie.apply(m))));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentAnswerInvalid");
        assertTrue(s.getMessage().contains("ReadDivergentTail from orders-0 broke rule " + rule), s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("ReadDivergentTail"));
        assertEquals(List.of(), RollbackChecks.rollbackDirectory(f.db()), "no file, no temporary file");
        assertNothingRemovedButFenced(f);
    }

    @Test
    void aWrittenFilesPathThatBreaksTheRulesNeverReachesTheStatus() throws Exception {
        operator.stop();
        startOperator(RollbackFileStore.Writer.AGENT);
        Fixture f = diverged("bad-file-path", a -> a.onWriteFileAnswer(r -> r.toBuilder().setPath(
                "/x/" + "\n".repeat(3) + "y".repeat(3000) + "/"
                        + r.getPath().substring(r.getPath().lastIndexOf('/') + 1))
                .build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentAnswerInvalid");
        assertTrue(s.getMessage().contains("WriteRollbackFile from orders-0 broke rule FilePath"), s.getMessage());
        assertFalse(s.getMessage().contains("yyyy"), "the path is never repeated");
        assertNull(s.getRollbackFile(), "no file on record from an answer that broke the rules");
        assertEquals(MAX_RETRIES + 1, f.agent().calls("WriteRollbackFile"));
        assertEquals(0, f.agent().calls("RecoverToLsn"));
        assertNothingRemovedButFenced(f);
    }

    // ---- rule 2: no hot loops, no unbounded retries -----------------------------------------------

    @Test
    void aFenceTheTimelineNeverShowsIsRepeatedABoundedNumberOfTimes() throws Exception {
        // Fence is carried out (and answered) by the node, but GetTimeline always says "not fenced".
        Fixture f = diverged("fence-never-shown", a -> a.onTimeline(t -> t.toBuilder().setFenced(false).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "FenceNotHeld");
        assertEquals(MAX_RETRIES + 1, f.agent().calls("Fence"), "the first fence and " + MAX_RETRIES + " repeats");
        assertEquals(0, f.agent().calls("ReadDivergentTail"), "nothing read from a node that does not stay fenced");
        assertNothingRemoved(f);
        assertEquals(1, events(f, "rb", "RollbackFailed").size());
    }

    @Test
    void anAgentThatDoesNotAnswerIsWaitedForAtABoundedRateThenTheRollbackCompletes() throws Exception {
        Fixture f = diverged("unreachable", a -> a.onFence(req -> {
            throw Status.UNAVAILABLE.withDescription("scripted: the agent is restarting").asRuntimeException();
        }));
        apply(f, "rb");
        await().atMost(Duration.ofSeconds(30)).until(() -> f.agent().calls("Fence") >= 3);
        int before = f.agent().calls("Fence");
        Thread.sleep(3_000);
        int during = f.agent().calls("Fence") - before;
        // With the backoff capped at 400 ms here (60 s by default), 3 s hold at most 8 attempts.
        assertTrue(during <= 8, during + " Fence calls in 3 s: no hot loop");
        ReplicaSetRollbackStatus s = RollbackChecks.get(client, f.db().namespace, "rb").getStatus();
        assertEquals("Planned", s.getPhase(), "not given up: waiting can help");
        assertEquals("AgentUnreachable", s.getWaiting());
        assertEquals("AgentUnreachable", condition(s, "Blocked").getReason());
        assertNull(s.getRetries(), "not counted against maxRetries");
        assertTrue(f.agent().calls("Fence") > MAX_RETRIES + 1, "retried past the bound of counted failures");
        f.agent().honest();
        RollbackChecks.assertCompletedOnce(client, f.db(), "rb");
    }

    @Test
    void aTrailerThatNeverMatchesEndsFailedAfterTheBoundWithNoLitter() throws Exception {
        Fixture f = diverged("trailer-never-matches", a -> a.onTail(messages -> ScriptedAgent.TailReply.of(
                messages.stream().map(m -> !m.hasTrailer() ? m : TailMessage.newBuilder().setTrailer(
                        TailTrailer.newBuilder(m.getTrailer()).setSha256("0".repeat(64))).build()).toList())));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "TransferBroken");
        assertTrue(s.getMessage().contains("TailDigestMismatch"), s.getMessage());
        assertTrue(s.getMessage().startsWith("gave up after " + (MAX_RETRIES + 1) + " failed attempts in plan 1"),
                s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("ReadDivergentTail"), "read at most maxRetries + 1 times");
        await().atMost(Duration.ofSeconds(10)).until(() -> events(f, "rb", "StepFailed").stream()
                .mapToInt(Event::getCount).sum() == MAX_RETRIES + 1);
        List<Event> failed = events(f, "rb", "StepFailed");
        assertEquals(1, failed.size());
        assertEquals(MAX_RETRIES + 1, failed.get(0).getCount());
        assertNothingRemovedButFenced(f);
        assertEquals(List.of(), RollbackChecks.rollbackDirectory(f.db()).stream()
                .filter(n -> n.endsWith(".jsonl") || n.endsWith(".tmp")).toList(), "no file, no temporary file");
    }

    @Test
    void aDigestTheAgentReportsThatDiffersFailsTheVerifyAndQuarantinesTheFile() throws Exception {
        operator.stop();
        startOperator(RollbackFileStore.Writer.AGENT);
        // The file is written and stored whole, but the agent's re-read (digest_only) reports another digest. Its
        // writes do not say that it read the file back, so the verify asks it to.
        Fixture f = diverged("digest-differs", a -> a.onWriteFileAnswer(r -> r.toBuilder().setReadBack(false)
                .build()).onReadFile(messages -> messages.stream()
                .map(m -> !m.hasEnd() ? m : ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd
                        .newBuilder(m.getEnd()).setSha256("f".repeat(64))).build()).toList()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "VerificationFailed");
        assertTrue(s.getMessage().contains("read back SHA-256 " + "f".repeat(64)), s.getMessage());
        assertEquals(1, f.agent().calls("ReadRollbackFile"), "a definite answer: read once");
        assertEquals(0, f.agent().calls("RecoverToLsn"));
        assertNothingRemovedButFenced(f);
        List<String> files = RollbackChecks.rollbackDirectory(f.db()).stream().filter(n -> n.contains(".jsonl"))
                .toList();
        assertEquals(1, files.size(), files.toString());
        assertTrue(files.get(0).contains(".rollback.jsonl.quarantined-"), "renamed, never deleted: " + files);
    }

    @Test
    void aWritesReadBackThatIsNotTheBytesSentIsNeverTakenForTheVerify() throws Exception {
        operator.stop();
        startOperator(RollbackFileStore.Writer.AGENT);
        // The node writes the file whole, but every write's answer says it read back another digest.
        Fixture f = diverged("write-readback-differs", a -> a.onWriteFileAnswer(r -> r.toBuilder()
                .setSha256("e".repeat(64)).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "TransferBroken");
        assertTrue(s.getMessage().contains("AgentAnswerMismatch") && s.getMessage().contains("e".repeat(64)),
                s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("WriteRollbackFile"), "retried, a bounded number of times");
        assertEquals(0, f.agent().calls("ReadRollbackFile"), "no verify of a file whose write did not match");
        assertNull(s.getRollbackFile(), "no file on record from a write whose read-back is not what was sent");
        assertEquals(0, f.agent().calls("RecoverToLsn"));
        assertNothingRemovedButFenced(f);
    }

    @Test
    void aWriteAnswerThatLiedOnceLeavesNothingForTheVerifyOfTheRetry() throws Exception {
        operator.stop();
        startOperator(RollbackFileStore.Writer.AGENT);
        // The first write's answer says it read back another digest; the retry's answer is true but without
        // read_back. The verify must ask the agent, never take the lie.
        AtomicInteger writes = new AtomicInteger();
        Fixture f = diverged("write-lies-once", a -> a.onWriteFileAnswer(r -> writes.incrementAndGet() == 1
                ? r.toBuilder().setSha256("e".repeat(64)).build() : r.toBuilder().setReadBack(false).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = awaitEnd(f, "rb");
        assertEquals("Completed", s.getPhase(), s.getMessage());
        assertEquals(2, f.agent().calls("WriteRollbackFile"));
        // The verify's re-read (digest_only) on the node, then the off-node copy's read of the file.
        assertEquals(2, f.agent().calls("ReadRollbackFile"), "the verify read the file on the node");
        assertEquals(1, f.agent().calls("RecoverToLsn"));
    }

    @Test
    void aReadBackThatNeverMatchesInTheAgentModeEndsFailed() throws Exception {
        operator.stop();
        startOperator(RollbackFileStore.Writer.AGENT);
        // An agent that streams the file back (it predates digest_only): the file is written and stored whole,
        // but every read-back announces another digest than the bytes it sends.
        Fixture f = diverged("readback-never-matches", a -> a.predatingDigestOnly().onReadFile(messages -> messages
                .stream()
                .map(m -> !m.hasEnd() ? m : ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd
                        .newBuilder(m.getEnd()).setSha256("f".repeat(64))).build()).toList()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "TransferBroken");
        assertTrue(s.getMessage().contains("FileReadMismatch"), s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("ReadRollbackFile"));
        assertEquals(1, f.agent().calls("WriteRollbackFile"), "written once");
        assertEquals(0, f.agent().calls("RecoverToLsn"));
        assertNothingRemovedButFenced(f);
    }

    // ---- rules 3 and 4: no litter, no stall without a reason -------------------------------------

    @Test
    void aTailThatStopsSendingIsCancelledVisiblyThenReadAgain() throws Exception {
        // The stream sends its first chunk and then nothing: cancelled after the progress timeout (1 s here).
        Fixture f = diverged("stalled-tail", a -> a.onTail(messages -> new ScriptedAgent.TailReply(
                messages.subList(0, 1), true)));
        apply(f, "rb");
        // A tail that fits one put exec (the default up to 4 MiB) writes nothing into the pod before it has been
        // read in full: while the stream stalls and after it is cancelled, no temporary file exists.
        List<String> seen = new CopyOnWriteArrayList<>();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
            RollbackChecks.rollbackDirectory(f.db()).stream().filter(n -> n.endsWith(".tmp")).forEach(seen::add);
            ReplicaSetRollback r = RollbackChecks.get(client, f.db().namespace, "rb");
            return r != null && r.getStatus() != null && "AgentStalled".equals(r.getStatus().getWaiting());
        });
        assertEquals(List.of(), seen, "a stalled tail left a temporary file in the pod");
        ReplicaSetRollbackStatus blocked = RollbackChecks.get(client, f.db().namespace, "rb").getStatus();
        assertEquals("AgentStalled", condition(blocked, "Blocked").getReason());
        assertTrue(blocked.getWaitMessage().contains("ReadDivergentTail from orders-0 sent nothing for 1 s"),
                blocked.getWaitMessage());
        f.agent().honest();
        ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, f.db(), "rb");
        assertNull(s.getWaiting());
    }

    @Test
    void aTailThatAlwaysStallsEndsFailedAfterTheBound() throws Exception {
        Fixture f = diverged("always-stalls", a -> a.onTail(messages -> new ScriptedAgent.TailReply(
                messages.subList(0, 1), true)));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentStalled");
        assertEquals(MAX_RETRIES + 1, f.agent().calls("ReadDivergentTail"));
        assertEquals(List.of(), RollbackChecks.rollbackDirectory(f.db()), "no file, no temporary file");
        assertNothingRemovedButFenced(f);
    }

    @Test
    void aTrailerThatNeverMatchesInTheAgentModeLeavesNoTemporaryFileOnTheNode() throws Exception {
        operator.stop();
        startOperator(RollbackFileStore.Writer.AGENT);
        Fixture f = diverged("agent-trailer-never-matches", a -> a.onTail(messages -> ScriptedAgent.TailReply.of(
                messages.stream().map(m -> !m.hasTrailer() ? m : TailMessage.newBuilder().setTrailer(
                        TailTrailer.newBuilder(m.getTrailer()).setSha256("0".repeat(64))).build()).toList())));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "TransferBroken");
        assertEquals(MAX_RETRIES + 1, f.agent().calls("WriteRollbackFile"), "one upload per attempt, each cancelled");
        await().atMost(Duration.ofSeconds(10)).until(() -> RollbackChecks.rollbackDirectory(f.db()).isEmpty());
        assertNothingRemovedButFenced(f);
    }

    // ---- rule 5: claims are cross-checked ---------------------------------------------------------

    @Test
    void aRecoverAnsweredButNotDoneEndsFailedAndNoEventClaimsIt() throws Exception {
        Fixture f = diverged("recover-lie", a -> a.onRecover(req -> RecoverToLsnResponse.newBuilder()
                .setRollbackId(1).setLastLsn(req.getTargetLsn()).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "RecoverNotConfirmed");
        assertTrue(s.getMessage().contains("records no recover of it"), s.getMessage());
        assertTrue(s.getMessage().contains(s.getRollbackFile().getPath()), "names the file: " + s.getMessage());
        assertFalse(s.getMessage().contains("nothing was removed"), s.getMessage());
        assertNotNull(s.getRecoverAnswer(), "the answer is on record");
        assertEquals(1L, s.getRecoverAnswer().getRollbackId());
        assertEquals(Boolean.TRUE, s.getRemovalUnknown());
        assertNull(s.getRemovedPlan(), "no removal is claimed");
        assertTrue(s.getSteps().stream().noneMatch(t -> t.getPhase().equals("Recovered")), "never Recovered");
        assertTrue(events(f, "rb", "NodeRecovered").isEmpty(), "no Event claims a recover the node does not show");
        assertEquals(1, f.agent().calls("RecoverToLsn"));
        assertEquals(0, f.agent().calls("RejoinAsReplica"));
        assertNothingRemovedButFenced(f);
        // Whether the node removed anything cannot be told: no Event claims it, one Warning names the file.
        assertTrue(events(f, "rb", "NodeRolledBack").isEmpty(), "no Event claims a recover");
        List<Event> unknown = events(f, "rb", "RollbackOutcomeUnknown");
        assertEquals(1, unknown.size());
        assertEquals("Warning", unknown.get(0).getType());
        assertTrue(unknown.get(0).getMessage().contains(s.getRollbackFile().getPath())
                && unknown.get(0).getMessage().contains(s.getRollbackFile().getSha256()), unknown.get(0).getMessage());
    }

    @Test
    void aRecoverWhoseAnswerClaimsAnotherRollbackIdEndsFailedNamingTheFileOfWhatWasRemoved() throws Exception {
        Fixture f = diverged("recover-id-lie", a -> a.onRecover(req -> {
            RecoverToLsnResponse real = a.real().recoverToLsn(req);
            return real.toBuilder().setRollbackId(real.getRollbackId() + 1).build();
        }));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "RollbackIdUnexpected");
        assertEquals(1, s.getRemovedPlan());
        String file = s.getRollbackFile().getPath();
        assertTrue(s.getMessage().contains("are saved in " + file + " (sha256 " + s.getRollbackFile().getSha256()),
                s.getMessage());
        // The node did recover: exactly what the verified file holds is gone.
        Timeline now = f.db().node(0).timeline();
        assertEquals(10, now.getLastLsn());
        assertEquals(1, now.getRollbackId());
        assertEquals(s.getRollbackFile().getSha256(), RollbackChecks.sha256(RollbackChecks.fileOf(f.db(), s)));
        List<Event> loud = events(f, "rb", "NodeRolledBack");
        assertEquals(1, loud.size(), "the loud Event, although the rollback failed");
        assertEquals("Warning", loud.get(0).getType());
        assertTrue(loud.get(0).getMessage().contains(file) && loud.get(0).getMessage().contains(
                s.getRollbackFile().getSha256()), loud.get(0).getMessage());
        assertTrue(now.getFenced(), "the node stays fenced");
    }

    @Test
    void aTimelineThatHidesTheRecoverAfterItHappenedNeverSaysNothingWasRemoved() throws Exception {
        // The node recovers for real, but its timeline then pretends no recover of this incident happened.
        Fixture f = diverged("recover-hidden", a -> a.onTimeline(t -> t.getRollbackId() == 0 ? t
                : t.toBuilder().setLastRecoveryIncident("").setLastRecoveryFileSha256("").setRollbackId(0).build()));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "RecoverNotConfirmed");
        assertFalse(s.getMessage().contains("nothing was removed"), s.getMessage());
        assertTrue(s.getMessage().contains(s.getRollbackFile().getPath()), s.getMessage());
        assertEquals(10, f.db().node(0).timeline().getLastLsn(), "it did recover");
        assertEquals(Boolean.TRUE, s.getRemovalUnknown());
        assertTrue(s.getMessage().contains("whether orders-0 removed (10, 15] is not known"), s.getMessage());
        // The node's record hides the recover: nothing claims it, nothing denies it, the file is named.
        List<Event> unknown = events(f, "rb", "RollbackOutcomeUnknown");
        assertEquals(1, unknown.size());
        assertTrue(unknown.get(0).getMessage().contains(s.getRollbackFile().getPath()), unknown.get(0).getMessage());
        assertTrue(events(f, "rb", "NodeRecovered").isEmpty());
        assertTrue(events(f, "rb", "NodeRolledBack").isEmpty());
    }

    // ---- rule 6: the end record is true after a recover -----------------------------------------

    @Test
    void aRejoinRefusedForeverAfterTheRecoverEndsFailedWithTheRecordOfWhatWasRemoved() throws Exception {
        Fixture f = diverged("rejoin-refused", a -> a.onRejoin(req -> {
            throw ScriptedAgent.refusal(Status.Code.FAILED_PRECONDITION, ErrorReason.LOG_DIVERGED,
                    "scripted refusal");
        }));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentRefused");
        assertTrue(s.getMessage().contains("LOG_DIVERGED"), s.getMessage());
        assertTrue(s.getMessage().contains("was rolled back to fork LSN 10") && s.getMessage().contains(
                s.getRollbackFile().getPath()), s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("RejoinAsReplica"));
        assertEquals(1, events(f, "rb", "NodeRolledBack").size(), "announced once, by the event step");
        assertEquals(1, f.db().node(0).timeline().getRollbackId());
    }

    @Test
    void aRejoinAnsweredButNotDoneNeverCompletesTheRollback() throws Exception {
        // The agent answers every rejoin OK with the node's timeline as it is: still fenced, following no one.
        AtomicReference<DbCluster> cluster = new AtomicReference<>();
        Fixture f = diverged("rejoin-not-done", a -> a.onRejoin(req -> RejoinAsReplicaResponse.newBuilder()
                .setTimeline(cluster.get().node(0).timeline()).build()));
        cluster.set(f.db());
        apply(f, "rb");
        ReplicaSetRollbackStatus s = assertFailed(f, "AgentAnswerInvalid");
        assertTrue(s.getMessage().contains("RejoinAsReplica from orders-0 broke rule RejoinShown"), s.getMessage());
        assertTrue(s.getMessage().contains("was rolled back to fork LSN 10"), s.getMessage());
        assertEquals(MAX_RETRIES + 1, f.agent().calls("RejoinAsReplica"));
        assertTrue(f.db().node(0).timeline().getFenced(), "the node is still fenced, and no status says otherwise");
        assertEquals(1, events(f, "rb", "NodeRolledBack").size(), "announced once, by the event step");
        assertTrue(events(f, "rb", "RejoinedAsReplica").isEmpty(), "no event claims the rejoin");
    }

    @Test
    void anUnknownErrorReasonIsNotRepeatedAsItIs() throws Exception {
        Fixture f = diverged("odd-reason", a -> a.onFence(req -> {
            throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, "X\nY-" + "z".repeat(500),
                    "line one\nline two " + "w".repeat(500));
        }));
        apply(f, "rb");
        ReplicaSetRollbackStatus s = awaitEnd(f, "rb");
        assertEquals("Failed", s.getPhase());
        assertEquals("AgentRefused", s.getReason(), s.getMessage());
        assertTrue(s.getMessage().contains("FENCE failed: FAILED_PRECONDITION"), s.getMessage());
        assertFalse(s.getMessage().contains("zzzz") || s.getMessage().contains("\n"), s.getMessage());
        assertTrue(s.getMessage().contains("line one?line two ww") && !s.getMessage().contains("w".repeat(201)),
                "the agent's text is cut to printable characters: " + s.getMessage());
        assertNotNull(s.getLastError());
    }

    // ---- the safety net: a failure no step foresaw -------------------------------------------------

    @Test
    void aReconcileThatFailsUnexpectedlyIsToldAndResumesSafely() throws Exception {
        operator.stop();
        // The operator's clock fails once, in the middle of the rollback (a defect no step foresaw).
        AtomicInteger reads = new AtomicInteger();
        Clock flaky = new Clock() {
            @Override
            public ZoneId getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                if (reads.incrementAndGet() == 12) {
                    throw new IllegalStateException("clock\nbroken " + "x".repeat(400));
                }
                return Instant.now();
            }
        };
        startOperator(RollbackFileStore.Writer.EXEC, flaky);
        Fixture f = diverged("unexpected", a -> { });
        apply(f, "rb");
        RollbackChecks.assertCompletedOnce(client, f.db(), "rb");
        List<Event> told = events(f, "rb", "ReconcileFailed");
        assertEquals(1, told.size());
        assertEquals("Warning", told.get(0).getType());
        assertTrue(told.get(0).getMessage().startsWith("the operator failed unexpectedly (IllegalStateException: "
                + "clock?broken"), told.get(0).getMessage());
        assertFalse(told.get(0).getMessage().contains("x".repeat(201)), told.get(0).getMessage());
    }
}
