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
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The operator with a Patroni cluster's leader (cluster.leader.patroni) instead of a Lease, against
 * the mock API server and three reference nodes: the leader is read from Patroni's objects as Patroni
 * writes them ({@link DbCluster#setPatroniLeader}), in both DCS forms; a rollback completes end to end,
 * and a change of Patroni's leader wakes a waiting rollback at once (its rechecks are ten minutes away).
 */
@IntegrationTest
class PatroniOperatorTest {

    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stop() {
        if (operator != null) {
            operator.stop();
        }
        api.close();
    }

    private ReplicaSetRollbackStatus awaitPhase(String ns, String name, String phase) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            ReplicaSetRollback r = client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get();
            String now = r.getStatus() == null ? null : r.getStatus().getPhase();
            if (!phase.equals(now) && Set.of("Failed", "Aborted", "Completed").contains(String.valueOf(now))) {
                throw new AssertionError("ended " + now + ": " + r.getStatus().getMessage());
            }
            return phase.equals(now);
        });
        return status(ns, name);
    }

    private ReplicaSetRollbackStatus status(String ns, String name) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get().getStatus();
    }

    @ParameterizedTest(name = "use_endpoints {0}")
    @ValueSource(booleans = {false, true})
    void aRollbackWithPatronisLeaderCompletes(boolean endpoints) throws Exception {
        String ns = endpoints ? "patroni-ep" : "patroni-cm";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            db.failover((holder, term) -> db.setPatroniLeader("orders", endpoints, holder, term));
            operator = TestOperator.against(client).start();
            client.resources(ReplicaSetRollback.class).inNamespace(ns)
                    .resource(db.rollback("rb", "orders", endpoints)).create();
            ReplicaSetRollbackStatus s = awaitPhase(ns, "rb", "Completed");
            assertEquals("orders-1", s.getPlan().getNewPrimary());
            assertEquals(2L, s.getPlan().getNewTerm(), "the leader's timeline, from its pod's status");
            assertEquals(10L, s.getPlan().getForkLsn());
            assertEquals(5L, s.getTail().getRecords());
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data());
            assertEquals(1, db.node(0).timeline().getRollbackId(), "exactly one bump");
            assertTrue(client.leases().inNamespace(ns).list().getItems().isEmpty(), "no Lease involved");
        }
    }

    @ParameterizedTest(name = "use_endpoints {0}")
    @ValueSource(booleans = {false, true})
    void aPatroniLeaderChangeWakesAWaitingRollback(boolean endpoints) throws Exception {
        String ns = endpoints ? "wake-ep" : "wake-cm";
        try (DbCluster db = new DbCluster(api, client, ns)) {
            // orders-1 is promoted, but Patroni's leader key is released: nobody leads yet.
            db.failover((holder, term) -> db.setPatroniLeader("orders", endpoints, term == 1 ? holder : null, term));
            operator = TestOperator.against(client).rechecks(Duration.ofMinutes(10), Duration.ofMinutes(10)).start();
            client.resources(ReplicaSetRollback.class).inNamespace(ns)
                    .resource(db.rollback("rb", "orders", endpoints)).create();
            await().atMost(Duration.ofSeconds(30)).until(() -> status(ns, "rb") != null
                    && "NoLeaseHolder".equals(status(ns, "rb").getWaiting()));
            // Patroni renewing its objects (renewTime) changes nothing that matters: still waiting.
            db.setPatroniLeader("orders", endpoints, null, 2);
            Thread.sleep(500);
            assertEquals("NoLeaseHolder", status(ns, "rb").getWaiting());

            db.setPatroniLeader("orders", endpoints, "orders-1", 2);
            ReplicaSetRollbackStatus s = awaitPhase(ns, "rb", "Completed");
            assertEquals("orders-1", s.getPlan().getNewPrimary());
            assertEquals(2L, s.getPlan().getNewTerm());
        }
    }
}
