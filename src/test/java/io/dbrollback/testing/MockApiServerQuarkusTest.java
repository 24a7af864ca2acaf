package io.dbrollback.testing;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** The wiring: the application's own KubernetesClient bean talks to the MockApiServer and its exec runs locally. */
@QuarkusTest
@WithMockApiServer
@IntegrationTest
class MockApiServerQuarkusTest {

    @Inject
    KubernetesClient appClient;

    @InjectMockApiServer
    MockApiServer server;

    @Test
    void applicationClientUsesTheMockAndExecRunsLocally() throws Exception {
        assertSame(server, MockApiServerResource.server(), "static access and injection see the same server");
        assertEquals(server.url(), appClient.getConfiguration().getMasterUrl());
        assertEquals(MockApiServer.DEFAULT_NAMESPACE, appClient.getNamespace());

        Path root = Files.createTempDirectory("mock-exec-");
        server.createExecPod("test", "db-0", "db", root, "/var/lib/db");
        byte[] payload = "abc".getBytes(StandardCharsets.UTF_8);
        try (ExecWatch w = appClient.pods().inNamespace("test").withName("db-0").inContainer("db")
                .redirectingInput().redirectingOutput().redirectingError()
                .exec("sh", "-c", "head -c \"$2\" > \"$1\"", "x", "/var/lib/db/blob", "3")) {
            w.getInput().write(payload);
            w.getInput().flush();
            assertEquals(0, w.exitCode().get(10, TimeUnit.SECONDS));
        }
        assertArrayEquals(payload, Files.readAllBytes(root.resolve("blob")));
        assertEquals(List.of("sh", "-c", "head -c \"$2\" > \"$1\"", "x", "/var/lib/db/blob", "3"),
                MockApiServerResource.exec().execLog("test", "db-0").get(0).argv());
    }
}
