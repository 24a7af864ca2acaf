package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.InjectMockApiServer;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.WithMockApiServer;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The real operator against the mock API server, with three reference nodes behind Pod objects, a
 * leader Lease and a real failover: applying a ReplicaSetRollback rolls the former primary back.
 */
@QuarkusTest
@WithMockApiServer
class RollbackOperatorTest {

    @Inject
    KubernetesClient client;

    @InjectMockApiServer
    MockApiServer api;

    private ReplicaSetRollback get(String ns, String name) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get();
    }

    private ReplicaSetRollbackStatus awaitPhase(String ns, String name, String phase) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            ReplicaSetRollback r = get(ns, name);
            return r != null && r.getStatus() != null && phase.equals(r.getStatus().getPhase());
        });
        return get(ns, name).getStatus();
    }

    private List<Event> events(String ns, String name) {
        return client.v1().events().inNamespace(ns).list().getItems().stream()
                .filter(e -> name.equals(e.getInvolvedObject().getName())).toList();
    }

    @Test
    void applyingARollbackSavesTheTailRecoversTheFormerPrimaryAndRejoinsIt() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "happy")) {
            db.failover();
            client.resources(ReplicaSetRollback.class).inNamespace("happy").resource(db.rollback("orders-0-rb"))
                    .create();
            ReplicaSetRollbackStatus s = awaitPhase("happy", "orders-0-rb", "Completed");

            assertEquals(10L, s.getPlan().getForkLsn());
            assertEquals(15L, s.getPlan().getLastLsn());
            assertEquals(5L, s.getTail().getRecords());
            assertEquals("orders-1", s.getPlan().getNewPrimary());
            assertEquals(2L, s.getPlan().getNewTerm());
            assertEquals(0L, s.getRollbackIdBefore());
            assertEquals(1L, s.getRollbackIdAfter());
            assertEquals("Completed", s.getReason());

            // The file in orders-0's volume holds exactly the divergent records, with the recorded digest.
            Path file = db.volume(0).resolve(s.getRollbackFile().getPath().substring(DbCluster.VOLUME.length() + 1));
            byte[] bytes = Files.readAllBytes(file);
            assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)),
                    s.getRollbackFile().getSha256());
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            assertEquals(7, lines.size());
            List<String> ops = lines.subList(1, 6).stream().map(l -> {
                try {
                    JsonNode n = Json.MAPPER.readTree(l);
                    return n.get("lsn").asLong() + ":" + n.get("op").asText();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).toList();
            assertEquals(List.of("11:INSERT", "12:UPDATE", "13:DELETE", "14:UPDATE", "15:INSERT"), ops);
            assertEquals(s.getTail().getSha256(), Json.MAPPER.readTree(lines.get(6)).get("tailSha256").asText());

            // orders-0 converges to orders-1 after rejoining it.
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data());
            assertEquals(1, db.node(0).timeline().getRollbackId(), "exactly one bump");

            // The Events tell the story, loudly.
            Set<String> reasons = events("happy", "orders-0-rb").stream().map(Event::getReason)
                    .collect(Collectors.toSet());
            assertTrue(reasons.containsAll(Set.of("RollbackPlanned", "NodeFenced", "TailPersisted",
                    "RollbackFileVerified", "NodeRecovered", "NodeRolledBack", "RejoinedAsReplica",
                    "RollbackCompleted")), reasons.toString());
            Event loud = events("happy", "orders-0-rb").stream().filter(e -> e.getReason().equals("NodeRolledBack"))
                    .findFirst().orElseThrow();
            assertEquals("Warning", loud.getType());
            assertTrue(loud.getMessage().contains(s.getRollbackFile().getSha256()), loud.getMessage());
            assertNotNull(s.getConditions());
            assertEquals("True", s.getConditions().stream().filter(c -> c.getType().equals("Ready")).findFirst()
                    .orElseThrow().getStatus());
        }
    }
}
