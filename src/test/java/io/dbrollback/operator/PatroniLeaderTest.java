package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.model.Term;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Patroni's leader read from the annotations as Patroni 4.1.4 writes them: the holder from the leader
 * object, the term from the leader pod's status (when primary) or from the history (when it records the
 * holder's promotion), and every malformed or hostile value refused or ignored, never guessed.
 */
class PatroniLeaderTest {

    /** The status annotation as Patroni's touch_member writes it for a running primary. */
    static final String PRIMARY_TL2 = "{\"conn_url\":\"postgres://10.0.0.2:5432/postgres\",\"api_url\":"
            + "\"http://10.0.0.2:8008/patroni\",\"state\":\"running\",\"role\":\"primary\",\"version\":\"4.1.4\","
            + "\"xlog_location\":50331968,\"timeline\":2}";
    static final String HISTORY_TO_ORDERS_1 = "[[1,25165984,\"no recovery target specified\","
            + "\"2026-07-24T10:00:00.000000+00:00\",\"orders-1\"]]";

    private static PatroniLeader.Parsed term(String holder, String status, String history) throws Exception {
        return PatroniLeader.term(holder, status, history, "orders-config");
    }

    @Test
    void theHolderIsTheLeaderAnnotationAndNobodyWithoutIt() throws Exception {
        assertEquals("orders-1", PatroniLeader.holder(Map.of("leader", "orders-1", "ttl", "30",
                "renewTime", "2026-07-24T10:00:00.000000+00:00", "transitions", "1"), "cm"));
        assertNull(PatroniLeader.holder(Map.of("ttl", "30", "optime", "50331968"), "cm"), "released key");
        assertNull(PatroniLeader.holder(Map.of("leader", ""), "cm"));
        assertNull(PatroniLeader.holder(null, "cm"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Orders-1", "orders_1", "orders-1\n", " orders-1", "../etc", "a b", "-orders", " "})
    void aLeaderThatCannotBeAPodNameIsRefused(String hostile) {
        PatroniLeader.Unusable e = assertThrows(PatroniLeader.Unusable.class,
                () -> PatroniLeader.holder(Map.of("leader", hostile), "cm"));
        assertEquals(BlockReason.PatroniLeaderInvalid, e.reason());
        assertTrue(!e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void aVeryLongLeaderIsRefusedAndNotEchoedWhole() {
        PatroniLeader.Unusable e = assertThrows(PatroniLeader.Unusable.class,
                () -> PatroniLeader.holder(Map.of("leader", "a".repeat(300)), "cm"));
        assertEquals(BlockReason.PatroniLeaderInvalid, e.reason());
        assertTrue(e.getMessage().length() < 200, e.getMessage());
    }

    @Test
    void aPrimaryStatusGivesTheTerm() throws Exception {
        PatroniLeader.Parsed p = term("orders-1", PRIMARY_TL2, null);
        assertEquals(Term.of(2), p.term());
        assertEquals("orders-1", p.holder());
        assertEquals("the status of pod orders-1", p.termFrom());
        // Patroni before 4.0 wrote role master
        assertEquals(Term.of(7), term("orders-1", "{\"role\":\"master\",\"state\":\"running\",\"timeline\":7}",
                "[]").term());
        // the status wins over a history that lags behind
        assertEquals(Term.of(3), term("orders-1", "{\"role\":\"primary\",\"timeline\":3}", HISTORY_TO_ORDERS_1)
                .term());
    }

    @Test
    void withoutAPrimaryStatusTheHistoryGivesTheTermOnlyWhenItRecordsTheHoldersPromotion() throws Exception {
        PatroniLeader.Parsed p = term("orders-1", null, HISTORY_TO_ORDERS_1);
        assertEquals(Term.of(2), p.term());
        assertEquals("the history of orders-config", p.termFrom());
        assertEquals(Term.of(2), term("orders-1", "{\"role\":\"replica\",\"state\":\"running\",\"timeline\":1}",
                HISTORY_TO_ORDERS_1).term());
        // timelines as strings are read as Patroni reads them
        assertEquals(Term.of(5), term("orders-1", "not json", "[[\"4\",\"1\",\"r\",\"t\",\"orders-1\"]]").term());
    }

    @Test
    void aLeaderStillPromotingHasNoTermYet() {
        // orders-2 holds the key, is not primary yet, and the history names the previous promotion.
        PatroniLeader.Unusable e = assertThrows(PatroniLeader.Unusable.class, () -> term("orders-2",
                "{\"role\":\"replica\",\"state\":\"running\",\"timeline\":2}", HISTORY_TO_ORDERS_1));
        assertEquals(BlockReason.PatroniTermUnknown, e.reason());
        assertTrue(e.getMessage().contains("has role 'replica', not primary"), e.getMessage());
        assertTrue(e.getMessage().contains("names 'orders-1'"), e.getMessage());
        // an empty history (timeline 1) names nobody: a holder without a primary status has no term
        assertEquals(BlockReason.PatroniTermUnknown, assertThrows(PatroniLeader.Unusable.class,
                () -> term("orders-0", "{\"role\":\"promoted\"}", "[]")).reason());
        // old three-element lines name nobody either
        assertEquals(BlockReason.PatroniTermUnknown, assertThrows(PatroniLeader.Unusable.class,
                () -> term("orders-1", null, "[[1,25165984,\"no recovery target specified\"]]")).reason());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "[]", "null", "{\"role\":\"primary\"}", "{\"role\":\"primary\",\"timeline\":0}",
        "{\"role\":\"primary\",\"timeline\":-3}", "{\"role\":\"primary\",\"timeline\":2.5}",
        "{\"role\":\"primary\",\"timeline\":\"2\"}", "{\"role\":\"primary\",\"timeline\":4294967296}",
        "{\"role\":\"primary\",\"timeline\":1e3}", "{\"role\":\"primary\",\"timeline\":99999999999999999999999}",
        "{\"role\":[\"primary\"],\"timeline\":2}", "{\"role\":\"Primary\",\"timeline\":2}"})
    void aMalformedStatusGivesNoTerm(String status) {
        assertNull(PatroniLeader.statusTimeline(status).timeline(), status);
        assertEquals(BlockReason.PatroniTermUnknown, assertThrows(PatroniLeader.Unusable.class,
                () -> term("orders-1", status, null)).reason());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{}", "[", "[1]", "[[]]", "[[\"x\"]]", "[[0,1,\"r\",\"t\",\"orders-1\"]]",
        "[[-1,1,\"r\",\"t\",\"orders-1\"]]", "[[4294967295,1,\"r\",\"t\",\"orders-1\"]]",
        "[[1.5,1,\"r\",\"t\",\"orders-1\"]]", "[[\"12345678901\",1,\"r\",\"t\",\"orders-1\"]]"})
    void aMalformedHistoryGivesNoTerm(String history) {
        assertNull(PatroniLeader.lastTimeline(history).timeline(), history);
        assertEquals(BlockReason.PatroniTermUnknown, assertThrows(PatroniLeader.Unusable.class,
                () -> term("orders-1", null, history)).reason());
    }

    @Test
    void hugeOrDeeplyNestedJsonIsRefusedWithoutParsingItAll() {
        String deep = "[".repeat(5000) + "]".repeat(5000);
        assertNull(PatroniLeader.lastTimeline(deep).timeline());
        assertNull(PatroniLeader.statusTimeline("{\"a\":" + deep + "}").timeline());
        String huge = "[[1,2,\"" + "x".repeat(PatroniLeader.MAX_JSON) + "\",\"t\",\"orders-1\"]]";
        assertNull(PatroniLeader.lastTimeline(huge).timeline());
    }

    @Test
    void nobodyLeadingStillShowsTheHistorysTimeline() throws Exception {
        PatroniLeader.Parsed p = term(null, null, HISTORY_TO_ORDERS_1);
        assertNull(p.holder());
        assertEquals(Term.of(2), p.term());
        assertEquals(Term.of(1), term(null, null, "[]").term());
        assertEquals(Term.of(0), term(null, null, "garbage").term());
        assertEquals(Term.of(0), term(null, null, null).term());
    }
}
