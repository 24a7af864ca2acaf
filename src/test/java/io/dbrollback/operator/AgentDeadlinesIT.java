package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.OperatorProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged operator refuses to start with a deadline setting that is not positive, saying which:
 * a zero progress timeout would cancel every stream at once.
 */
class AgentDeadlinesIT {

    @TempDir
    Path work;

    @Test
    void aZeroProgressTimeoutStopsTheStartNamingTheProperty() throws Exception {
        try (MockApiServer api = MockApiServer.start();
                OperatorProcess operator = OperatorProcess.start(api, work.resolve("operator.log"),
                        Map.of("DBROLLBACK_AGENT_PROGRESS_TIMEOUT", "0s"), OperatorProcess.LEAN_JVM_FLAGS)) {
            Integer status = operator.awaitExit(Duration.ofSeconds(90));
            String log = Files.readString(operator.log());
            assertNotNull(status, "the operator did not stop:\n" + log);
            assertNotEquals(0, status, log);
            assertTrue(log.contains("dbrollback.agent.progress-timeout must be a positive duration (such "
                    + "as 30s or 10m), not PT0S"), log);
        }
    }
}
