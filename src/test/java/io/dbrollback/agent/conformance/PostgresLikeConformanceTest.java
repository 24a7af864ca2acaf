package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.conformance.PositionsAgentConformanceTest.PositionsCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.PositionsAgent;
import io.dbrollback.testing.PositionsAgent.Flaw;
import io.dbrollback.testing.PositionsAgent.Shape;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conformance checks against agents shaped as a PostgreSQL agent's answers will be
 * ({@link Shape#POSTGRES_LIKE}): every divergent write a transaction of its own (an autocommit write),
 * at positions of a WAL LSN's magnitude with uneven gaps between them, its key JSON naming schema,
 * table and primary key, its images JSON rows with their columns' types. The fixture says what the
 * records must carry through {@link AgentFixture#recordKey} and {@link AgentFixture#recordImage}. The
 * new primary, a promoted standby, holds no tail to read ({@link PositionsAgent#holdNoTail}), so the
 * switchpoint cannot be checked against its records: the plan goes on without, and that check is
 * skipped with the reason.
 *
 * <p>The checks run as {@link ConformanceMain} runs them, in their safe order on one cluster, but with
 * the fixture's knowledge, so that the checks of the writes, the data and the restarts run as well: on
 * one cluster in a few seconds, where {@link PositionsAgentConformanceTest} builds one per test. A
 * correct agent fails nothing, and only what needs a second cluster is skipped. A fixture that leaves
 * out the two methods fails exactly the check that compares the records with the writes.
 */
@IntegrationTest
class PostgresLikeConformanceTest {

    private static final String WRITES =
            "ReadDivergentTail: the records are the divergent writes with their pre-images";

    @TempDir
    Path dir;

    /** What a run printed, and its exit code. */
    private record Output(int exit, List<String> lines) {
        String text() {
            return String.join("\n", lines);
        }

        List<String> starting(String prefix) {
            return lines.stream().filter(l -> l.startsWith(prefix)).toList();
        }
    }

    private static Output run(AgentFixture fixture) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int exit;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            exit = ConformanceMain.run(fixture, out);
        }
        return new Output(exit, List.of(bytes.toString(StandardCharsets.UTF_8).split("\\R")));
    }

    @Test
    void anAgentOfAutocommitTransactionsAndJsonRecordsPassesEveryCheck() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.NONE, Flaw.NONE, Shape.POSTGRES_LIKE)) {
            c.newPrimaryHoldsNoTail();
            Output r = run(c);
            assertEquals(0, r.exit, r.text());
            assertEquals(List.of(), r.starting("FAIL"), r.text());
            String switchpoint = "SKIPPED GetTimeline: the fork is the switchpoint (positions: the new "
                    + "primary's records above it are of its history's terms): the new primary no longer holds (";
            // the test agent lacks the optional SummarizeTail: skipped, and said so, never passed in silence
            List<String> summary = List.of(
                    "SKIPPED SummarizeTail (optional): what ReadDivergentTail streams for the same range: "
                            + AgentChecks.SUMMARY_NOT_IMPLEMENTED,
                    "SKIPPED SummarizeTail (optional): range errors as ReadDivergentTail's: "
                            + AgentChecks.SUMMARY_NOT_IMPLEMENTED);
            // and the optional off-node copy RPCs: every copy check skipped with that reason
            String copies = "SKIPPED StoreRollbackCopy (optional): ";
            for (String skipped : r.starting("SKIPPED")) {
                boolean copySkipped = skipped.startsWith(copies)
                        && skipped.endsWith(AgentChecks.COPIES_NOT_IMPLEMENTED);
                assertTrue(skipped.contains(": on the only cluster it would ") || skipped.startsWith(switchpoint)
                        && skipped.endsWith("(agent.dbrollback.io/RANGE_NOT_IN_LOG)") || summary.contains(skipped)
                        || copySkipped,
                        "only what needs a second cluster, records the new primary does not hold, or the optional"
                                + " RPC the agent lacks, is skipped: " + skipped + "\n" + r.text());
            }
            assertEquals(1, r.starting(switchpoint).size(), r.text());
            assertTrue(r.lines.containsAll(summary), r.text());
            assertEquals(4, r.starting(copies).size(), "each copy check said it was skipped: " + r.text());
            for (String check : List.of(
                    "PASS ReadDivergentTail: positions in the range, in commit order, transactions whole, bounded"
                            + " non-empty chunks, CRC32C, the trailer recomputed",
                    "PASS " + WRITES,
                    "PASS ReadDivergentTail: resumes after each transaction's position, and between them, with the same"
                            + " trailer",
                    "PASS ReadDivergentTail: an empty range, and a range between the records' positions, "
                            + "is one trailer",
                    "PASS RecoverToLsn: the data is the data at the fork",
                    "PASS RecoverToLsn: a retry with other parameters is RECOVER_CONFLICT",
                    "PASS RecoverToLsn: survives a restart",
                    "PASS RejoinAsReplica: the data is the new primary's")) {
                assertTrue(r.lines.contains(check), "missing '" + check + "' in:\n" + r.text());
            }
        }
    }

    @Test
    void withoutTheRecordHooksTheJsonRecordsAreNotTheWrites() throws Exception {
        try (PositionsCluster c = PositionsCluster.start(dir, Flaw.NONE, Flaw.NONE, Shape.POSTGRES_LIKE)) {
            c.newPrimaryHoldsNoTail();
            c.expectRecordsAsWritten();
            Output r = run(c);
            assertEquals(1, r.exit, r.text());
            List<String> failed = r.starting("FAIL");
            assertEquals(1, failed.size(), r.text());
            // the first divergent write, record 7, is the insert of k5 at its position
            assertTrue(failed.get(0).startsWith("FAIL " + WRITES + ": record at LSN "
                    + PositionsAgent.position(Shape.POSTGRES_LIKE, 7) + " (divergent write #1: put k5=d5): key"
                    + " (AgentFixture.recordKey of the key written) ==> expected: <k5> but was: <"
                    + PositionsAgent.jsonKey(ByteString.copyFromUtf8("k5")).toStringUtf8() + ">"),
                    r.text());
        }
    }
}
