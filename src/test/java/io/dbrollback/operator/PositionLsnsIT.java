package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.PositionsAgent;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A rollback of a cluster whose agents count LSNs as positions (as a PostgreSQL agent's WAL LSNs):
 * the reference nodes behind {@link PositionsAgent}s, where two records share each position and
 * positions leave gaps. The real operator plans the fork as a position, reads a tail whose count it
 * learns only from the records, saves them, recovers the node to the fork position, and rejoins it
 * (its replication passes through the agent to the new primary).
 */
class PositionLsnsIT {

    @Test
    void aClusterWhoseLsnsArePositionsIsRolledBackSafely() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = TestOperator.against(client).instance("positions").deployedRetry().start();
            try (DbCluster db = new DbCluster(api, client, "positions");
                    PositionsAgent former = PositionsAgent.fronting(db.address(0));
                    PositionsAgent leader = PositionsAgent.fronting(db.address(1))) {
                db.failover();
                db.pointAgentAt(0, former.port());
                db.pointAgentAt(1, leader.port());
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb"))
                        .create();
                ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, db.namespace, "rb", "Completed");

                // The plan in positions: records 1..10 are shared (position 80), 11..15 are not (96 to 128).
                assertEquals("Completed", s.getReason());
                assertEquals("Positions", s.getPlan().getLsnKind());
                assertEquals(PositionsAgent.position(10), s.getPlan().getForkLsn());
                assertEquals(PositionsAgent.position(15), s.getPlan().getLastLsn());
                assertNull(s.getPlan().getExpectedRecords(), "the count is known only from the records");
                assertEquals(5L, s.getTail().getRecords());
                assertEquals(5L, s.getRollbackFile().getRecords());

                // The file: a header saying so, then the records at their positions, in order.
                List<String> lines = Files.readAllLines(RollbackChecks.fileOf(db, s));
                JsonNode header = Json.MAPPER.readTree(lines.get(0));
                assertEquals("positions", header.get("lsnKind").asText());
                assertTrue(header.get("expectedRecords").isNull());
                List<Long> lsns = new ArrayList<>();
                for (String line : lines.subList(1, lines.size() - 1)) {
                    lsns.add(Json.MAPPER.readTree(line).get("lsn").asLong());
                }
                assertEquals(List.of(96L, 96L, 112L, 112L, 128L), lsns);
                assertEquals(s.getRollbackFile().getSha256(), RollbackChecks.sha256(RollbackChecks.fileOf(db, s)));

                // One recover, to the fork; the former primary follows the new one again.
                assertEquals(1, db.node(0).timeline().getRollbackId());
                db.node(0).await("caught up", t -> t.getLastLsn() == 13);
                assertEquals(db.node(1).data(), db.node(0).data());
                List<Event> loud = RollbackChecks.events(client, db.namespace, "rb", "NodeRolledBack");
                assertEquals(1, loud.size());
                assertTrue(loud.get(0).getMessage().contains("from LSN 128 to fork LSN 80"), loud.get(0).getMessage());
            } finally {
                operator.stop();
            }
        }
    }
}
