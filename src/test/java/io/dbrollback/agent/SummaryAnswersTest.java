package io.dbrollback.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.CommitTime;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.Touch;
import io.dbrollback.model.TailSummary;
import java.time.Instant;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The rules of a SummarizeTail answer ({@link AgentAnswers#summary}), broken one at a time, in the
 * manner of {@link AgentAnswersTest}: a broken answer is refused with the rule and never used.
 */
class SummaryAnswersTest {

    private static final long FROM = 10;
    private static final long TO = 15;

    private static CommitTime at(long seconds, int nanos) {
        return CommitTime.newBuilder().setSeconds(seconds).setNanos(nanos).build();
    }

    private static Touch touch(String name, long records) {
        return Touch.newBuilder().setName(name).setRecords(records).build();
    }

    /** Five records over (10, 15]: three of keys d*, two of orders. */
    private static SummarizeTailResponse.Builder good() {
        return SummarizeTailResponse.newBuilder().setRecordCount(5).setBytes(400)
                .setFirstCommit(at(1_767_323_045, 5)).setLastCommit(at(1_767_323_046, 0))
                .addTouches(touch("keys d*", 3)).addTouches(touch("orders", 2));
    }

    /** Exactly 20 touches of one record each, a, b, ... in name order, of 25 records: truncated. */
    private static SummarizeTailResponse.Builder full() {
        SummarizeTailResponse.Builder b = good().setRecordCount(25).setBytes(2500).clearTouches()
                .setTouchesTruncated(true);
        for (int i = 0; i < TailSummary.MAX_TOUCHES; i++) {
            b.addTouches(touch("t" + (char) ('a' + i), 1));
        }
        return b;
    }

    @Test
    void aGoodSummaryIsReadWhole() {
        TailSummary s = AgentAnswers.summary(good().build(), "orders-0", FROM, TO);
        assertEquals(5, s.records());
        assertEquals(400, s.bytes());
        assertEquals(Instant.ofEpochSecond(1_767_323_045, 5), s.firstCommit());
        assertEquals(Instant.ofEpochSecond(1_767_323_046), s.lastCommit());
        assertEquals(List.of(new TailSummary.Touch("keys d*", 3), new TailSummary.Touch("orders", 2)), s.touches());
        assertFalse(s.touchesTruncated());
    }

    @Test
    void anEmptyTailHasNoCommitTimesAndNoTouches() {
        TailSummary s = AgentAnswers.summary(SummarizeTailResponse.getDefaultInstance(), "orders-0", TO, TO);
        assertEquals(0, s.records());
        assertEquals(0, s.bytes());
        assertNull(s.firstCommit());
        assertNull(s.lastCommit());
        assertEquals(List.of(), s.touches());
        // positions: a non-empty range may hold no record
        assertEquals(0, AgentAnswers.summary(SummarizeTailResponse.getDefaultInstance(), "orders-0", FROM, TO)
                .records());
    }

    @Test
    void aFullTruncatedListAndEqualCountsInNameOrderAreAccepted() {
        TailSummary s = AgentAnswers.summary(full().build(), "orders-0", FROM, TO);
        assertTrue(s.touchesTruncated());
        assertEquals(TailSummary.MAX_TOUCHES, s.touches().size());
        // a commit at the epoch is a commit time like any other; one record: first = last
        AgentAnswers.summary(good().setRecordCount(1).setBytes(AgentAnswers.MIN_RECORD_BYTES).setFirstCommit(at(0, 0))
                .setLastCommit(at(0, 0)).clearTouches().addTouches(touch("ü/日本 é", 1)).build(), "orders-0", FROM, TO);
    }

    static Stream<Arguments> brokenSummaries() {
        return Stream.of(
                broken("NumberRange", b -> b.setRecordCount(-1)),
                broken("NumberRange", b -> b.setBytes(Long.MIN_VALUE)),
                broken("NumberRange", b -> b.setTouches(0, touch("keys d*", -3))),
                brokenFor("SummaryEmptyRange", TO, good()),
                broken("SummaryBytes", b -> b.setBytes(0)),
                broken("SummaryBytes", b -> b.setBytes(5 * AgentAnswers.MIN_RECORD_BYTES - 1)),
                broken("SummaryBytes", b -> b.setRecordCount(0).setBytes(7).clearFirstCommit().clearLastCommit()
                        .clearTouches()),
                broken("SummaryCommitTimes", b -> b.setRecordCount(0).setBytes(0).clearTouches()),
                broken("SummaryCommitTimes", b -> b.setRecordCount(0).setBytes(0).clearTouches().clearFirstCommit()),
                broken("SummaryCommitTimes", b -> b.clearFirstCommit()),
                broken("SummaryCommitTimes", b -> b.clearLastCommit()),
                broken("SummaryCommitTimes", b -> b.setFirstCommit(at(1_767_323_046, 1))),
                broken("CommitTimeValid", b -> b.setFirstCommit(at(1_767_323_045, 1_000_000_000))),
                broken("CommitTimeValid", b -> b.setLastCommit(at(1_767_323_046, -1))),
                broken("CommitTimeValid", b -> b.setLastCommit(at(Long.MAX_VALUE, 0))),
                broken("TouchCount", b -> {
                    SummarizeTailResponse.Builder f = full();
                    return f.addTouches(touch("zz", 1)).setRecordCount(26).setBytes(2600);
                }),
                broken("TouchCount", b -> b.setTouchesTruncated(true)),
                broken("TouchName", b -> b.setTouches(1, touch("", 2))),
                broken("TouchName", b -> b.setTouches(1, touch("x".repeat(257), 2))),
                broken("TouchName", b -> b.setTouches(1, touch("ord\ners", 2))),
                broken("TouchName", b -> b.setTouches(1, touch("ord\u0000ers", 2))),
                broken("TouchName", b -> b.setTouches(1, touch("\u202eorders", 2))),
                broken("TouchName", b -> b.setTouches(1, touch("ord\u2028ers", 2))),
                broken("TouchName", b -> b.setTouches(1, touch("keys d*", 2))),
                broken("TouchRecords", b -> b.setTouches(1, touch("orders", 0))),
                broken("TouchRecords", b -> b.setTouches(0, touch("keys d*", 6)).setTouches(1, touch("orders", 6))),
                broken("TouchRecords", b -> b.setTouches(1, touch("orders", 1))),
                broken("TouchRecords", b -> b.clearTouches()),
                broken("TouchRecords", b -> full().setRecordCount(19).setBytes(1900)),
                broken("TouchOrder", b -> b.setTouches(0, touch("keys d*", 2)).setTouches(1, touch("orders", 3))),
                broken("TouchOrder", b -> b.setTouches(0, touch("orders", 2)).setTouches(1, touch("keys d*", 3))
                        .setTouches(0, touch("zebra", 2)).setTouches(1, touch("apple", 3)).setRecordCount(5)),
                broken("TouchOrder", b -> b.setTouches(0, touch("orders", 2)).setTouches(1, touch("keys d*", 2))
                        .addTouches(touch("z", 1))));
    }

    private static Arguments broken(String rule, UnaryOperator<SummarizeTailResponse.Builder> change) {
        return Arguments.of(rule, FROM, change.apply(good()).build());
    }

    private static Arguments brokenFor(String rule, long from, SummarizeTailResponse.Builder answer) {
        return Arguments.of(rule, from, answer.build());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenSummaries")
    void aSummaryBreakingARuleIsRefusedWithThatRuleAndWithoutItsValue(String rule, long from,
            SummarizeTailResponse answer) {
        AgentAnswers.InvalidAnswer e = assertThrows(AgentAnswers.InvalidAnswer.class,
                () -> AgentAnswers.summary(answer, "orders-0", from, TO));
        assertEquals(rule, e.rule(), e.explanation());
        assertFalse(e.explanation().contains("xxxxxxxx") || e.explanation().contains("orders")
                || e.explanation().contains("keys d"), e.explanation());
    }
}
