package io.dbrollback.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.TailSummary;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The agents' summary counter: what it answers is what a tail's trailer says, and an answer the operator takes. */
class TailTallyTest {

    private static TailRecord insert(long lsn, long second, String key) {
        return TailRecord.insert(lsn, 2, "tx-" + lsn, Instant.ofEpochSecond(second, 7), Bytes.utf8(key),
                Bytes.utf8("value of " + key));
    }

    @Test
    void countsBytesAndCommitTimesAreThoseOfTheTrailer() {
        TailTally tally = new TailTally();
        TailDigest digest = new TailDigest();
        long[] seconds = {100, 90, 120, 110};
        String[] names = {"b", "a", "b", "c"};
        for (int i = 0; i < seconds.length; i++) {
            TailRecord r = insert(i + 1, seconds[i], "k" + i);
            tally.add(r, names[i]);
            digest.add(r);
        }
        SummarizeTailResponse s = tally.response();
        assertEquals(digest.records(), s.getRecordCount());
        assertEquals(digest.bytes(), s.getBytes());
        assertEquals(90, s.getFirstCommit().getSeconds());
        assertEquals(120, s.getLastCommit().getSeconds());
        assertEquals(7, s.getLastCommit().getNanos());
        TailSummary summary = AgentAnswers.summary(s, "orders-0", 0, 4);
        assertEquals(List.of(new TailSummary.Touch("b", 2), new TailSummary.Touch("a", 1),
                new TailSummary.Touch("c", 1)), summary.touches());
        assertFalse(summary.touchesTruncated());
    }

    @Test
    void anEmptyTallyIsTheEmptyAnswer() {
        assertEquals(SummarizeTailResponse.getDefaultInstance(), new TailTally().response());
    }

    @Test
    void moreThanTwentyNamesAreTruncatedAndTheNamesCountedAreBounded() {
        TailTally tally = new TailTally();
        long lsn = 0;
        for (int i = 0; i < TailTally.MAX_NAMES + 100; i++) {
            tally.add(insert(++lsn, 1, "x"), "name-" + i);
        }
        for (int i = 0; i < 3; i++) {
            tally.add(insert(++lsn, 1, "x"), "name-7");
            tally.add(insert(++lsn, 1, "x"), "late"); // met after MAX_NAMES: not counted
        }
        TailSummary s = AgentAnswers.summary(tally.response(), "orders-0", 0, lsn);
        assertTrue(s.touchesTruncated());
        assertEquals(TailSummary.MAX_TOUCHES, s.touches().size());
        assertEquals(new TailSummary.Touch("name-7", 4), s.touches().get(0));
        assertEquals(new TailSummary.Touch("name-0", 1), s.touches().get(1));
        assertEquals(new TailSummary.Touch("name-1", 1), s.touches().get(2));
        assertEquals(new TailSummary.Touch("name-10", 1), s.touches().get(3), "then by name");
        assertEquals(lsn, s.records());
    }

    @Test
    void namesAreMadePrintableAndShort() {
        assertEquals("\"\"", TailTally.printable(""));
        assertEquals("public.orders", TailTally.printable("public.orders"));
        assertEquals("a<U+000A>b<U+202E>c", TailTally.printable("a\nb\u202ec"));
        assertEquals("a<U+D800>", TailTally.printable("a\ud800"));
        String longName = TailTally.printable("x".repeat(1000));
        assertEquals(AgentAnswers.MAX_TOUCH_NAME, longName.codePointCount(0, longName.length()));
        assertTrue(longName.endsWith("x…"));
        assertEquals("x".repeat(AgentAnswers.MAX_TOUCH_NAME), TailTally.printable("x".repeat(256)));
        String escapes = TailTally.printable("\n".repeat(100));
        assertTrue(AgentAnswers.touchName(escapes), escapes);
        for (String raw : List.of("", "\u0000", "日本\u2028語", "😀".repeat(300), "a\ud800b", "x".repeat(257))) {
            assertTrue(AgentAnswers.touchName(TailTally.printable(raw)), raw);
        }
    }
}
