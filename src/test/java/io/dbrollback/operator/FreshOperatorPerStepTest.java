package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.util.concurrent.Semaphore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator is stopped after every single step and a fresh operator instance (new informers, new
 * gRPC channels, nothing in memory) takes the next one: the rollback completes from its status
 * alone, with one recover.
 */
@IntegrationTest
class FreshOperatorPerStepTest {

    private MockApiServer api;
    private KubernetesClient client;

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private Operator freshOperator() {
        return TestOperator.against(client).instance("operator-" + System.nanoTime()).maxSteps(1)
                .stepBudget(new Semaphore(1))
                .backoff(ReconcileSettings.DEFAULTS.initialBackoff(), ReconcileSettings.DEFAULTS.maxBackoff())
                .deployedRetry().start();
    }

    private ReplicaSetRollbackStatus status() {
        ReplicaSetRollback r = client.resources(ReplicaSetRollback.class).inNamespace("fresh").withName("rb").get();
        return r == null ? null : r.getStatus();
    }

    private static String checkpointOf(ReplicaSetRollbackStatus s) {
        return s == null || s.getPhase() == null ? "none"
                : s.getPhase() + "/" + s.getSteps().size() + "/" + s.getAttempts() + "/"
                + (s.getRecoverAnswer() != null) + "/" + (s.getCopies() == null ? 0 : s.getCopies().size());
    }

    @Test
    void aNewOperatorInstanceForEveryStepCompletesWithOneRecover() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "fresh")) {
            db.failover();
            client.resources(ReplicaSetRollback.class).inNamespace("fresh").resource(db.rollback("rb")).create();
            List<String> phases = new ArrayList<>();
            int instances = 0;
            while (status() == null || !"Completed".equals(status().getPhase())) {
                assertTrue(status() == null || !"Failed".equals(status().getPhase()), String.valueOf(phases));
                String before = checkpointOf(status());
                Operator op = freshOperator();
                instances++;
                try {
                    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                            .until(() -> !checkpointOf(status()).equals(before));
                } finally {
                    op.stop();
                }
                phases.add(status().getPhase() + (status().getRecoverAnswer() == null ? "" : " (answered)"));
                assertTrue(instances < 40, "too many instances: " + phases);
            }
            // Each instance has a budget of exactly one coordinator step.
            // The off-node copy is a step of its own in Verified. The recover's answer is one step, the node's
            // timeline confirming it the next.
            assertEquals(List.of("Planned", "Fenced", "TailPersisted", "Verified", "Verified", "Recovering",
                    "Recovering (answered)", "Recovered (answered)", "EventEmitted (answered)", "Rejoined (answered)",
                    "Completed (answered)"), phases, "one fresh instance per step");
            ReplicaSetRollbackStatus s = status();
            assertEquals(1L, s.getRollbackIdAfter());
            assertEquals(1, db.node(0).timeline().getRollbackId(), "one recover, whatever the restarts");
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data());
        }
    }
}
