package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.conformance.AgentChecks.Plan;
import io.dbrollback.agent.conformance.PositionsAgentConformanceTest.PositionsCluster;
import io.dbrollback.testing.PositionsAgent.Flaw;
import io.dbrollback.testing.PositionsAgent.Shape;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conformance checks of LSNs that are positions can fail: agents of positions that break one rule
 * each ({@link Flaw}), and a pair of agents that count LSNs differently, fail the check that names the
 * rule, with the rule in its message.
 */
class PositionsRulesFailTest {

    @TempDir
    Path dir;

    @Test
    void aHistoryEntryAtTheSwitchpointFailsThePlan() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.HISTORY_AT_SWITCHPOINT, Flaw.HISTORY_AT_SWITCHPOINT,
                Shape.PAIRS);
                AgentChecks checks = new AgentChecks(c)) {
            // term 2's entry at 48 instead of 49 makes the fork 47: the records at 48 (committed, shared) above it
            AssertionError e = assertThrows(AssertionError.class, checks::plan);
            assertTrue(e.getMessage().contains("the new primary's record at position 48")
                    && e.getMessage().contains("is of term 1 but its history gives term 2 there")
                    && e.getMessage().contains("a term's history entry begins at its switchpoint + 1"), e.getMessage());
        }
    }

    @Test
    void transactionsOutOfCommitOrderFailTheTailForm() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.TRANSACTIONS_OUT_OF_ORDER, Flaw.NONE, Shape.PAIRS);
                AgentChecks checks = new AgentChecks(c)) {
            Plan p = checks.plan(); // the new primary's agent is a correct one
            checks.checkTimelines(p);
            checks.checkFence(p);
            AssertionError e = assertThrows(AssertionError.class, () -> checks.checkTailForm(p));
            assertTrue(e.getMessage().contains("the record at position 64")
                    && e.getMessage().contains("follows one at position 80: positions never go back, the records come in"
                            + " commit order"), e.getMessage());
        }
    }

    @Test
    void nodesThatCountLsnsDifferentlyFailThePlan() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.NONE, Flaw.NONE, Shape.PAIRS);
                AgentChecks checks = new AgentChecks(c)) {
            c.bypass(AgentFixture.Node.NEW_PRIMARY); // the new primary's own agent: record numbers
            AssertionError e = assertThrows(AssertionError.class, checks::plan);
            assertTrue(e.getMessage().startsWith("both nodes count LSNs the same way (lsn_kind)"), e.getMessage());
        }
    }
}
