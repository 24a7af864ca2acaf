package io.dbrollback.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.testing.IntegrationTest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reference node in its own process is killed with SIGKILL in the middle of RecoverToLsn (after
 * the durable rollback-id bump, before the log is cut), restarted on the same data, and the retry
 * completes with one bump and the data of the fork point.
 */
@IntegrationTest
class RecoverCrashTest {

    @TempDir
    Path dir;

    @Test
    void sigkillInTheMiddleOfRecoverThenRestartAndRetryEndsInTheSameState() throws Exception {
        Path data = dir.resolve("n0");
        Map<String, String> expectedAtFork;
        NodeProcess first = NodeProcess.start("n0", data, Map.of("DBROLLBACK_NODE_RECOVER_PAUSE_MS", "120000"));
        try (NodeClient c = new NodeClient(first.address)) {
            c.promote(1);
            Map<String, String> model = new TreeMap<>();
            expectedAtFork = null;
            for (int i = 1; i <= 20; i++) {
                String key = "k" + (i % 7);
                if (i % 5 == 0 && model.containsKey(key)) {
                    c.delete(key);
                    model.remove(key);
                } else {
                    c.put(key, "v" + i);
                    model.put(key, "v" + i);
                }
                if (i == 12) {
                    expectedAtFork = new LinkedHashMap<>(model);
                }
            }
            assertEquals(20, c.timeline().getLastLsn());
            c.fence(2, "inc-crash");
            RecoverToLsnRequest recover = RecoverToLsnRequest.newBuilder().setTargetLsn(12).setExpectedLastLsn(20)
                    .setTerm(2).setIncidentId("inc-crash").setExpectedRollbackFileSha256("a".repeat(64)).build();
            CompletableFuture<RecoverToLsnResponse> call = CompletableFuture.supplyAsync(
                    () -> c.agent.withDeadlineAfter(60, TimeUnit.SECONDS).recoverToLsn(recover));
            first.awaitLine("RECOVER_PAUSED inc-crash");
            first.kill();
            ExecutionException lost = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
            assertEquals(Status.Code.UNAVAILABLE, ((StatusRuntimeException) lost.getCause()).getStatus().getCode(),
                    "the caller cannot tell whether the recover happened");
        } finally {
            first.close();
        }

        try (NodeProcess second = NodeProcess.start("n0", data, Map.of());
                NodeClient c = new NodeClient(second.address)) {
            Timeline t = c.timeline();
            assertEquals(1, t.getRollbackId(), "the bump survived the kill, once");
            assertEquals("inc-crash", t.getLastRecoveryIncident(), "the node tells which incident it recovered for");
            assertEquals(12, t.getLastLsn(), "the restart finished the recover before serving");
            assertTrue(t.getFenced(), "still fenced");
            RecoverToLsnResponse retry = c.agent.recoverToLsn(RecoverToLsnRequest.newBuilder().setTargetLsn(12)
                    .setExpectedLastLsn(20).setTerm(2).setIncidentId("inc-crash")
                    .setExpectedRollbackFileSha256("a".repeat(64)).build());
            assertTrue(retry.getAlreadyDone(), "the retry is recognised");
            assertEquals(1, retry.getRollbackId(), "no second bump");
            assertEquals(12, retry.getLastLsn());
            assertEquals(expectedAtFork, c.data(), "the data is the data at the fork LSN");
        }
    }
}
