package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Split brain: two operator instances (no leader election) reconcile the same rollback at once, one
 * step per reconcile so that they interleave. Status writes conflict (409) and steps repeat, but
 * nothing is applied twice: one rollback-id bump, one rollback file, the node converges. Each persist
 * attempt's begin removes the incident's other temporary files, so one instance may remove the file
 * the other is appending to: that append or commit then answers "temp file gone" (exit 13), a
 * retried attempt and never a disk failure, and the retry finds the name published with the same
 * bytes (the list of files below is also checked for leftovers).
 */
@IntegrationTest
class TwoOperatorsTest {

    private MockApiServer api;
    private KubernetesClient client;
    private final List<Operator> operators = new ArrayList<>();

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stop() {
        operators.forEach(Operator::stop);
        api.close();
    }

    private void operator(String name) {
        Operator op = TestOperator.against(client).instance(name).maxSteps(1)
                .backoff(ReconcileSettings.DEFAULTS.initialBackoff(), ReconcileSettings.DEFAULTS.maxBackoff())
                .deployedRetry().start();
        operators.add(op);
    }

    @Test
    void twoOperatorsOnOneRollbackApplyNothingTwice() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "split")) {
            db.failover();
            operator("operator-a");
            operator("operator-b");
            client.resources(ReplicaSetRollback.class).inNamespace("split").resource(db.rollback("rb")).create();
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100)).until(() -> {
                ReplicaSetRollback r = client.resources(ReplicaSetRollback.class).inNamespace("split").withName("rb")
                        .get();
                if (r.getStatus() != null && Set.of("Failed", "Aborted").contains(
                        String.valueOf(r.getStatus().getPhase()))) {
                    throw new AssertionError("ended " + r.getStatus().getPhase() + ": " + r.getStatus().getMessage());
                }
                return r.getStatus() != null && "Completed".equals(r.getStatus().getPhase());
            });
            ReplicaSetRollbackStatus s = client.resources(ReplicaSetRollback.class).inNamespace("split").withName("rb")
                    .get().getStatus();
            assertEquals(1L, s.getRollbackIdAfter());
            assertEquals(1, db.node(0).timeline().getRollbackId(), "one recover, whatever the race");
            Path dir = db.volume(0).resolve("rollback");
            try (Stream<Path> files = Files.list(dir)) {
                List<String> names = files.map(p -> p.getFileName().toString()).toList();
                assertEquals(List.of(s.getRollbackFile().getPath().substring(s.getRollbackFile().getPath()
                        .lastIndexOf('/') + 1)), names.stream().filter(n -> n.endsWith(".jsonl")).toList(),
                        "one rollback file: " + names);
            }
            // An attempt the other instance still had going when this one completed ends soon after.
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                try (Stream<Path> files = Files.list(dir)) {
                    List<String> names = files.map(p -> p.getFileName().toString()).toList();
                    assertEquals(List.of(), names.stream().filter(n -> n.endsWith(".tmp")).toList(),
                            "no temporary file left: " + names);
                }
            });
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data());
        }
    }
}
