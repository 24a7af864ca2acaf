package io.dbrollback.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.LsnKind;
import io.dbrollback.agent.v1.Operation;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailRecord;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every rule an agent's answer is held to, broken one at a time; a broken answer is never used. */
class AgentAnswersTest {

    /** A well-formed timeline of orders-0: 15 records, term 1 from LSN 1, term 2 from LSN 11. */
    private static Timeline.Builder good() {
        return Timeline.newBuilder().setNode("orders-0").setRole(Role.ROLE_DETACHED).setCurrentTerm(3).setLastLsn(15)
                .setCommitLsn(10).setRollbackId(1).setFenced(true).setProtocolVersion("v1")
                .addHistory(TermHistoryEntry.newBuilder().setTerm(1).setFirstLsn(1))
                .addHistory(TermHistoryEntry.newBuilder().setTerm(2).setFirstLsn(11))
                .setLastRecoveryIncident("inc-1").setLastRecoveryTargetLsn(10)
                .setLastRecoveryFileSha256("a".repeat(64));
    }

    @Test
    void aGoodTimelineIsReadWhole() {
        NodeTimeline t = AgentAnswers.timeline(good().build(), "orders-0");
        assertEquals(NodeRole.DETACHED, t.role());
        assertEquals(15, t.lastLsn().value());
        assertEquals(2, t.history().entries().size());
        assertEquals(10, t.lastRecoveryTargetLsn().value());
        assertEquals("a".repeat(64), t.lastRecoveryFileSha256());
    }

    static Stream<Arguments> brokenTimelines() {
        return Stream.of(
                broken("NodeNamed", b -> b.setNode("orders-1")),
                broken("NodeNamed", b -> b.setNode("")),
                broken("TextLength", b -> b.setNode("x".repeat(300))),
                broken("ProtocolVersion", b -> b.setProtocolVersion("")),
                broken("ProtocolVersion", b -> b.setProtocolVersion("v2")),
                broken("RoleKnown", b -> b.setRole(Role.ROLE_UNSPECIFIED)),
                broken("RoleKnown", b -> b.setRoleValue(42)),
                broken("NumberRange", b -> b.setCurrentTerm(-1)),
                broken("NumberRange", b -> b.setLastLsn(Long.MIN_VALUE)),
                broken("NumberRange", b -> b.setCommitLsn(-5)),
                broken("NumberRange", b -> b.setRollbackId(-1)),
                broken("NumberRange", b -> b.setLastRecoveryTargetLsn(-1)),
                broken("NumberRange", b -> b.setHistory(1, TermHistoryEntry.newBuilder().setTerm(-2).setFirstLsn(11))),
                broken("CommitWithinLog", b -> b.setCommitLsn(16)),
                broken("LsnKindKnown", b -> b.setLsnKindValue(5)),
                broken("FencedIsDetached", b -> b.setRole(Role.ROLE_PRIMARY)),
                broken("FileDigestForm", b -> b.setLastRecoveryFileSha256("A".repeat(64))),
                broken("FileDigestForm", b -> b.setLastRecoveryFileSha256("abc")),
                broken("HistoryCoversLog", b -> b.clearHistory()),
                broken("HistoryFromLsn1", b -> b.setHistory(0,
                        TermHistoryEntry.newBuilder().setTerm(1).setFirstLsn(2))),
                broken("HistoryTermsIncrease", b -> b.setHistory(1, TermHistoryEntry.newBuilder().setTerm(1)
                        .setFirstLsn(11))),
                broken("HistoryTermsIncrease", b -> b.setHistory(0, TermHistoryEntry.newBuilder().setTerm(0)
                        .setFirstLsn(1))),
                broken("HistoryLsnsNondecreasing", b -> b.addHistory(TermHistoryEntry.newBuilder().setTerm(3)
                        .setFirstLsn(5))),
                broken("HistoryWithinLog", b -> b.addHistory(TermHistoryEntry.newBuilder().setTerm(3).setFirstLsn(17))),
                broken("HistoryTermsSeen", b -> b.addHistory(
                        TermHistoryEntry.newBuilder().setTerm(4).setFirstLsn(16))));
    }

    private static Arguments broken(String rule, UnaryOperator<Timeline.Builder> change) {
        return Arguments.of(rule, change.apply(good()).build());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenTimelines")
    void aTimelineBreakingARuleIsRefusedWithThatRuleAndWithoutItsValue(String rule, Timeline t) {
        AgentAnswers.InvalidAnswer e = assertThrows(AgentAnswers.InvalidAnswer.class,
                () -> AgentAnswers.timeline(t, "orders-0"));
        assertEquals(rule, e.rule());
        assertFalse(e.explanation().contains("xxxxxxxx") || e.explanation().contains("-5")
                || e.explanation().contains("orders-1") || e.explanation().contains("v2"), e.explanation());
    }

    @Test
    void positionsAreReadAsSuch() {
        assertEquals(false, AgentAnswers.timeline(good().build(), "orders-0").positions());
        assertEquals(true, AgentAnswers.timeline(good().setLsnKind(LsnKind.LSN_KIND_POSITIONS)
                .build(), "orders-0").positions());
    }

    @Test
    void anEmptyLogNeedsNoHistoryAndATermWithoutRecordsMayEndTheHistory() {
        AgentAnswers.timeline(good().clearHistory().setLastLsn(0).setCommitLsn(0).build(), "orders-0");
        AgentAnswers.timeline(good().addHistory(TermHistoryEntry.newBuilder().setTerm(3).setFirstLsn(16)).build(),
                "orders-0");
    }

    @Test
    void aFenceAnswerMustShowTheFenceUnderTheCallsTerm() {
        assertEquals(3, AgentAnswers.fenced(FenceResponse.newBuilder().setTimeline(good()).build(), "orders-0", 3)
                .currentTerm().value());
        assertEquals("AnswerHasTimeline", assertThrows(AgentAnswers.InvalidAnswer.class,
                () -> AgentAnswers.fenced(FenceResponse.getDefaultInstance(), "orders-0", 3)).rule());
        assertEquals("FenceShown", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.fenced(
                FenceResponse.newBuilder().setTimeline(good().setFenced(false)).build(), "orders-0", 3)).rule());
        assertEquals("FenceShown", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.fenced(
                FenceResponse.newBuilder().setTimeline(good()).build(), "orders-0", 4)).rule());
        assertEquals("NodeNamed", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.fenced(
                FenceResponse.newBuilder().setTimeline(good()).build(), "orders-2", 3)).rule());
    }

    @Test
    void aRejoinAnswerMustShowTheRejoin() {
        Timeline.Builder replica = good().setFenced(false).setRole(Role.ROLE_REPLICA).setFollowing("orders-1:7000");
        assertEquals(NodeRole.REPLICA, AgentAnswers.rejoined(RejoinAsReplicaResponse.newBuilder().setTimeline(replica)
                .build(), "orders-0", 3, "orders-1:7000").role());
        assertEquals("AnswerHasTimeline", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.rejoined(
                RejoinAsReplicaResponse.getDefaultInstance(), "orders-0", 3, "orders-1:7000")).rule());
        for (Timeline.Builder wrong : List.of(good(), replica.clone().setRole(Role.ROLE_DETACHED),
                replica.clone().setFollowing("orders-2:7000"), replica.clone().setFollowing(""))) {
            assertEquals("RejoinShown", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.rejoined(
                    RejoinAsReplicaResponse.newBuilder().setTimeline(wrong).build(), "orders-0", 3, "orders-1:7000"))
                    .rule(), wrong.toString());
        }
        assertEquals("RejoinShown", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.rejoined(
                RejoinAsReplicaResponse.newBuilder().setTimeline(replica).build(), "orders-0", 4, "orders-1:7000"))
                .rule(), "below the call's term");
        assertEquals("NodeNamed", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.rejoined(
                RejoinAsReplicaResponse.newBuilder().setTimeline(replica).build(), "orders-2", 3, "orders-1:7000"))
                .rule());
    }

    @Test
    void aRecoverAnswerMustFitTheModel() {
        assertEquals(10, AgentAnswers.recovered(RecoverToLsnResponse.newBuilder().setRollbackId(2).setLastLsn(10)
                .build()).lastLsn().value());
        assertEquals("NumberRange", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.recovered(
                RecoverToLsnResponse.newBuilder().setRollbackId(-1).setLastLsn(10).build())).rule());
        assertEquals("NumberRange", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.recovered(
                RecoverToLsnResponse.newBuilder().setRollbackId(2).setLastLsn(1L << 63).build())).rule());
    }

    private static TailRecord.Builder insert(long lsn) {
        return TailRecord.newBuilder().setLsn(lsn).setTerm(1).setTransactionId("tx").setCommitTimeSeconds(1_767_323_045)
                .setOperation(Operation.OPERATION_INSERT).setKey(ByteString.copyFromUtf8("k"))
                .setAfter(ByteString.copyFromUtf8("v"));
    }

    static Stream<Arguments> brokenChunks() {
        return Stream.of(
                Arguments.of("ChunkNotEmpty", TailChunk.newBuilder().build()),
                Arguments.of("ChunkSize", Stream.iterate(1L, l -> l + 1).limit(257).map(l -> insert(l).build())
                        .collect(TailChunk::newBuilder, TailChunk.Builder::addRecords, (a, b) -> { }).build()),
                chunk("OperationKnown", insert(1).setOperation(Operation.OPERATION_UNSPECIFIED)),
                chunk("OperationKnown", insert(1).setOperationValue(9)),
                chunk("ImagesMatchOperation", insert(1).setBefore(ByteString.copyFromUtf8("old"))),
                chunk("ImagesMatchOperation", insert(1).clearAfter()),
                chunk("ImagesMatchOperation", insert(1).setOperation(Operation.OPERATION_DELETE)),
                chunk("ImagesMatchOperation", insert(1).setOperation(Operation.OPERATION_UPDATE)),
                chunk("NumberRange", insert(-1)),
                chunk("NumberRange", insert(1).setTerm(-1)),
                chunk("LsnPositive", insert(0)),
                chunk("CommitTimeValid", insert(1).setCommitTimeNanos(1_000_000_000)),
                chunk("CommitTimeValid", insert(1).setCommitTimeSeconds(Long.MAX_VALUE)),
                chunk("TextLength", insert(1).setTransactionId("t".repeat(2000))));
    }

    private static Arguments chunk(String rule, TailRecord.Builder r) {
        return Arguments.of(rule, TailChunk.newBuilder().addRecords(r).build());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenChunks")
    void aChunkBreakingARuleIsRefusedWithThatRule(String rule, TailChunk chunk) {
        assertEquals(rule, assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.chunk(chunk)).rule());
    }

    @Test
    void anUncapturedChangeCarriesWhateverImagesTheNodeKnows() {
        for (boolean before : new boolean[] {false, true}) {
            for (boolean after : new boolean[] {false, true}) {
                TailRecord.Builder r = insert(1).setOperation(Operation.OPERATION_UNCAPTURED).clearAfter();
                if (before) {
                    r.setBefore(ByteString.copyFromUtf8("part of the old row"));
                }
                if (after) {
                    r.setAfter(ByteString.copyFromUtf8("new row"));
                }
                io.dbrollback.model.TailRecord m = AgentAnswers.chunk(TailChunk.newBuilder().addRecords(r).build())
                        .get(0);
                assertEquals(io.dbrollback.model.Operation.UNCAPTURED, m.operation());
                assertEquals(before, m.before() != null);
                assertEquals(after, m.after() != null);
            }
        }
    }

    @Test
    void aTrailerNeedsNumbersAndADigestThatFit() {
        AgentAnswers.trailer(TailTrailer.newBuilder().setRecordCount(3).setBytes(10).setSha256("0".repeat(64)).build());
        assertEquals("DigestForm", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.trailer(
                TailTrailer.newBuilder().setSha256("zz").build())).rule());
        assertEquals("NumberRange", assertThrows(AgentAnswers.InvalidAnswer.class, () -> AgentAnswers.trailer(
                TailTrailer.newBuilder().setRecordCount(-3).setSha256("0".repeat(64)).build())).rule());
    }
}
