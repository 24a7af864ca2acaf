package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.dbrollback.node.SteppingClock;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * LSNs that are positions (a WAL LSN): the records of one transaction share their commit's position,
 * positions leave gaps, and the number of records of a range is known only from the records.
 */
class PositionLsnsTest {

    private static final Instant AT = Instant.parse("2026-01-02T03:04:05Z");
    /** Terms 1 from position 1 and 2 from position 1001 (the switchpoint is 1000). */
    private static final TermHistory HISTORY =
            TermHistory.of(TermHistory.Entry.of(1, 1), TermHistory.Entry.of(2, 1001));

    private static TailRecord at(long position, long term, String key) {
        return TailRecord.insert(position, term, "tx-" + position, AT, Bytes.utf8(key), Bytes.utf8("v"));
    }

    private static DivergentTail read(List<TailRecord> records, long from, long to) {
        try (TailValidator v = new TailValidator(TestStreams.of(records), "pg-0", Lsn.of(from), Lsn.of(to), Term.of(2),
                HISTORY, true)) {
            while (v.hasNext()) {
                v.next();
            }
            return v.summary();
        }
    }

    @Test
    void recordsMaySharePositionsAndLeaveGaps() {
        DivergentTail t = read(List.of(at(1200, 2, "a"), at(1200, 2, "b"), at(1480, 2, "c"), at(2000, 2, "d")), 1000,
                2048);
        assertEquals(4, t.recordCount());
    }

    @Test
    void aRangeMayHoldNoRecordAtAll() {
        assertEquals(0, read(List.of(), 1000, 2048).recordCount(), "the log went on without a committed change");
    }

    @Test
    void positionsNeverGoBackAndStayInTheRangeWithTheHistorysTerm() {
        assertEquals(TailIntegrityException.Kind.DUPLICATE_OR_REORDERED, assertThrows(TailIntegrityException.class,
                () -> read(List.of(at(1480, 2, "a"), at(1200, 2, "b")), 1000, 2048)).kind());
        assertEquals(TailIntegrityException.Kind.OUT_OF_RANGE, assertThrows(TailIntegrityException.class,
                () -> read(List.of(at(1000, 2, "a")), 1000, 2048)).kind());
        assertEquals(TailIntegrityException.Kind.OUT_OF_RANGE, assertThrows(TailIntegrityException.class,
                () -> read(List.of(at(2049, 2, "a")), 1000, 2048)).kind());
        assertEquals(TailIntegrityException.Kind.WRONG_TERM, assertThrows(TailIntegrityException.class,
                () -> read(List.of(at(1200, 1, "a")), 1000, 2048)).kind());
    }

    @Test
    void denseRecordNumbersStillRefuseAGapOrAShare() {
        assertThrows(TailIntegrityException.class, () -> {
            try (TailValidator v = new TailValidator(TestStreams.of(List.of(at(11, 1, "a"), at(11, 1, "b"))), "n0",
                    Lsn.of(10), Lsn.of(12), Term.of(1), TermHistory.of(TermHistory.Entry.of(1, 1)), false)) {
                while (v.hasNext()) {
                    v.next();
                }
            }
        });
    }

    private static NodeTimeline timeline(String node, NodeRole role, long term, long last, long commit,
            TermHistory history, boolean positions) {
        return new NodeTimeline(node, role, Term.of(term), Lsn.of(last), Lsn.of(commit), history, 0, false, "",
                Lsn.ZERO, "", positions);
    }

    @Test
    void thePlanOfPositionsKnowsTheForkButNotTheCount() {
        NodeTimeline former = timeline("pg-0", NodeRole.PRIMARY, 1, 2048, 900,
                TermHistory.of(TermHistory.Entry.of(1, 1)),
                true);
        NodeTimeline leader = timeline("pg-1", NodeRole.PRIMARY, 2, 1500, 1400, HISTORY, true);
        Decision d = new Coordinator(new SteppingClock(AT.plusSeconds(1))).decide(
                IncidentSpec.automatic("inc", "pg", "pg-0"), Checkpoint.start("inc", AT),
                new Observation("pg-1", Term.of(2), former, leader, "pg-1:5432"));
        Plan p = ((Decision.Transition) d).next().plan();
        assertEquals(1000, p.forkLsn().value(), "the switchpoint");
        assertEquals(2048, p.targetLastLsn().value());
        assertTrue(p.positions());
        assertTrue(p.diverged());
        assertEquals(Plan.UNKNOWN, p.expectedRecords());
        assertEquals("the records", Coordinator.records(p));
    }

    @Test
    void nodesThatCountLsnsDifferentlyAreNeverCompared() {
        NodeTimeline former = timeline("pg-0", NodeRole.PRIMARY, 1, 2048, 900,
                TermHistory.of(TermHistory.Entry.of(1, 1)),
                true);
        NodeTimeline leader = timeline("pg-1", NodeRole.PRIMARY, 2, 1500, 1400, HISTORY, false);
        Decision d = new Coordinator(new SteppingClock(AT.plusSeconds(1))).decide(
                IncidentSpec.automatic("inc", "pg", "pg-0"), Checkpoint.start("inc", AT),
                new Observation("pg-1", Term.of(2), former, leader, "pg-1:5432"));
        Checkpoint end = ((Decision.Transition) d).next();
        assertEquals(Phase.ABORTED, end.phase());
        assertEquals(Reason.HistoryInconsistent, end.reason());
        assertTrue(end.message().contains("count LSNs differently"), end.message());
        assertFalse(end.message().contains("removed "), end.message());
    }
}
