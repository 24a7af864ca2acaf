package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.testing.FaultDispatcher;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exec writer's transport against the mock API server: stdin whole, the exit status, failures never success. */
@IntegrationTest
class Fabric8PodExecTest {

    private static final String NS = "db";

    @TempDir
    Path root;

    private MockApiServer api;
    private Fabric8PodExec exec;

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        api.createExecPod(NS, "orders-0", "database", root, "/var/lib/db");
        exec = new Fabric8PodExec(api.client(), NS);
        api.faults().clearLog();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private List<FaultDispatcher.Exchange> requests() {
        return api.faults().log().stream().filter(e -> e.path().startsWith("/api/v1/namespaces/" + NS + "/pods"))
                .toList();
    }

    @Test
    void anExecSendsItsStdinWholeAndAnswersTheExitStatus() {
        // the exec protocol cannot close stdin: the command reads exactly what is sent
        byte[] in = "x".repeat(200_000).getBytes(StandardCharsets.US_ASCII);
        PodExec.Result r = exec.exec("orders-0", "database", List.of("sh", "-c", "head -c 200000 | wc -c; exit 3"),
                in, Duration.ofSeconds(30));
        assertEquals(3, r.exitCode(), r.stderr());
        assertEquals("200000", r.stdout().trim());
        List<FaultDispatcher.Exchange> execs = requests().stream().filter(e -> e.path().endsWith("/exec")).toList();
        assertEquals(1, execs.size(), requests().toString());
        assertEquals(1, api.exec().execLog(NS, "orders-0").size());
    }

    @Test
    void aMissingPodOrContainerIsAFailedExecNeverSuccess() {
        PodExec.Result gone = exec.exec("orders-9", "database", List.of("true"), null, Duration.ofSeconds(30));
        assertNull(gone.exitCode(), "no exit status: " + gone);
        assertTrue(gone.stderr().startsWith("exec failed: "), gone.stderr());
        PodExec.Result wrong = exec.exec("orders-0", "sidecar", List.of("true"), null, Duration.ofSeconds(30));
        assertNull(wrong.exitCode(), "no exit status: " + wrong);
        assertTrue(wrong.stderr().startsWith("exec failed: "), wrong.stderr());
        assertEquals(0, api.exec().execLog(NS, "orders-0").size(), "nothing ran");
    }
}
