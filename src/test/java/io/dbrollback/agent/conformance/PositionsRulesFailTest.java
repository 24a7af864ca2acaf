package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.conformance.AgentChecks.Plan;
import io.dbrollback.agent.conformance.AgentChecks.Recovered;
import io.dbrollback.agent.conformance.PositionsAgentConformanceTest.PositionsCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.PositionsAgent.Flaw;
import io.dbrollback.testing.PositionsAgent.Shape;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conformance checks of LSNs that are positions can fail: agents of positions that break one rule
 * each ({@link Flaw}), and a pair of agents that count LSNs differently, fail the check that names the
 * rule, with the rule in its message. The cluster is {@link PositionsAgentConformanceTest}'s: the fork
 * at 48, the divergent transactions at 64, 80, 96 and 112, two records each but the last.
 */
@IntegrationTest
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
    void aHistoryEntryAtTheSwitchpointFailsThePlanAlsoWhenTheNewPrimaryHoldsNoTail() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.HISTORY_AT_SWITCHPOINT, Flaw.HISTORY_AT_SWITCHPOINT,
                Shape.PAIRS); AgentChecks checks = new AgentChecks(c)) {
            c.newPrimaryHoldsNoTail();
            // without the new primary's records, the former primary's commit LSN 48 lies above the fork 47
            AssertionError e = assertThrows(AssertionError.class, checks::plan);
            assertTrue(e.getMessage().startsWith("the former primary's commit LSN 48 is not above the fork 47")
                    && e.getMessage().contains("with positions, a term's history entry at its switchpoint rather than"
                            + " switchpoint + 1 puts the fork one below the switchpoint"), e.getMessage());
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
                    && e.getMessage().contains("follows one at position 80: positions never go back, the "
                            + "records come in commit order"), e.getMessage());
        }
    }

    @Test
    void recordsAtTheirChangesPositionsFailTheTailForm() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.CHANGE_POSITIONS, Flaw.NONE, Shape.PAIRS);
                AgentChecks checks = new AgentChecks(c)) {
            Plan p = checks.plan();
            checks.checkFence(p);
            // the first transaction's first record at 56 (its change), its second at 64 (the commit)
            AssertionError e = assertThrows(AssertionError.class, () -> checks.checkTailForm(p));
            assertTrue(e.getMessage().contains("the record at position 64")
                    && e.getMessage().contains("the records of one transaction share its commit position and follow"
                            + " each other (it came at position 56 before)"), e.getMessage());
        }
    }

    @Test
    void resumingAtThePositionRatherThanAfterItFailsTheResumption() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.RESUME_AT_THE_POSITION, Flaw.NONE, Shape.PAIRS);
                AgentChecks checks = new AgentChecks(c)) {
            Plan p = checks.plan();
            checks.checkFence(p);
            checks.checkTailForm(p); // a whole range is right: the flaw is only in resuming
            AssertionError e = assertThrows(AssertionError.class, () -> checks.checkTailResumes(p));
            assertTrue(e.getMessage().contains("resume_after 64")
                    && e.getMessage().contains("the record at position 64")
                    && e.getMessage().contains("is not above resume_after 64 (resuming skips whole transactions: every"
                            + " record at or below it)"), e.getMessage());
        }
    }

    @Test
    void aRecoverRetryComparedInRecordsFailsTheConflictCheck() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.RECOVER_IN_RECORDS, Flaw.NONE, Shape.PAIRS);
                AgentChecks checks = new AgentChecks(c)) {
            Plan p = checks.plan();
            Recovered r = checks.fenceAndRecover(p, AgentChecks.incident());
            checks.checkRecovered(p, r);
            checks.checkRecoverRetry(p, r); // the very same retry is recognised
            // target 49 holds the same record as 48 (none lies in between), but it is another position
            AssertionError e = assertThrows(AssertionError.class, () -> checks.checkRecoverConflicts(p, r));
            assertTrue(e.getMessage().startsWith("a retry of the recovered incident with another target_lsn succeeded;"
                    + " expected [FAILED_PRECONDITION] with reason RECOVER_CONFLICT"), e.getMessage());
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
