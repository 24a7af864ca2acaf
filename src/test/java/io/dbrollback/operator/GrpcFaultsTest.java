package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.GrpcFaults;
import io.dbrollback.testing.GrpcFaults.Kind;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.Operator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * F4 and F5 on the real wire: the operator's gRPC channels to real reference nodes lose a call
 * before it is sent, lose the answer of a call the node carried out (UNAVAILABLE or
 * DEADLINE_EXCEEDED), or receive a tail with a flipped bit, without its trailer, or cut after its
 * first chunk. Every run ends Completed with the tail's digest as the node serves it, one rollback
 * file holding it, exactly one rollback-id bump, and the former primary equal to the new primary; the
 * failed step is told by one StepFailed Warning, and no tail value appears in a log line, an event or
 * the status, on the error paths too.
 */
@IntegrationTest
class GrpcFaultsTest {

    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;
    private final GrpcFaults faults = new GrpcFaults();

    /** Everything the operator logs while the tests run, formatted as a log line would be. */
    @RegisterExtension
    static final CapturedLogs LOGGED = new CapturedLogs();

    /** The divergent writes' values (DbCluster.failover): they must reach the rollback file and nothing else. */
    private static final List<String> TAIL_VALUES = Stream.of("divergent-insert", "divergent-update-2")
            .flatMap(v -> Stream.of(v, Base64.getEncoder().withoutPadding().encodeToString(
                    v.getBytes(StandardCharsets.UTF_8))))
            .toList();

    @BeforeEach
    void start() {
        LOGGED.clear();
        api = MockApiServer.start();
        client = api.client();
        operator = TestOperator.against(client).agents(new AgentClients(List.of(faults))).instance("grpc-faults")
                .maxSteps(1).deployedRetry().start();
    }

    @AfterEach
    void stop() {
        operator.stop();
        api.close();
    }

    /** The tail's SHA-256 as orders-0 serves it, read directly, before anything happens. */
    private static String tailDigest(DbCluster db) {
        Iterator<TailMessage> it = db.node(0).agent.readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(10).setToInclusive(15).build());
        String sha = null;
        while (it.hasNext()) {
            TailMessage m = it.next();
            if (m.hasTrailer()) {
                sha = m.getTrailer().getSha256();
            }
        }
        return sha;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "Fence, LOST_BEFORE, FENCE failed: UNAVAILABLE (outcome unknown)",
        "Fence, UNAVAILABLE_AFTER, FENCE failed: UNAVAILABLE (outcome unknown)",
        "GetTimeline, DEADLINE_AFTER, observe failed: DEADLINE_EXCEEDED",
        "ReadDivergentTail, FLIP_BIT, PERSIST_TAIL failed: TailChecksumMismatch",
        "ReadDivergentTail, DROP_TRAILER, PERSIST_TAIL failed: TailTruncated",
        "ReadDivergentTail, CUT_AFTER_FIRST_CHUNK, PERSIST_TAIL failed: TailCut",
        "RecoverToLsn, LOST_BEFORE, RECOVER failed: UNAVAILABLE (outcome unknown)",
        "RecoverToLsn, UNAVAILABLE_AFTER, RECOVER failed: UNAVAILABLE (outcome unknown)",
        "RecoverToLsn, DEADLINE_AFTER, RECOVER failed: DEADLINE_EXCEEDED (outcome unknown)",
        "RejoinAsReplica, UNAVAILABLE_AFTER, REJOIN failed: UNAVAILABLE (outcome unknown)",
        "RejoinAsReplica, DEADLINE_AFTER, REJOIN failed: DEADLINE_EXCEEDED (outcome unknown)",
    })
    void aLostCallOrABrokenTailEndsCompletedWithOneRecoverAndTheSameDigest(String method, Kind kind, String told)
            throws Exception {
        String ns = "faults-" + method.toLowerCase() + "-" + kind.name().toLowerCase().replace('_', '-');
        try (DbCluster db = new DbCluster(api, client, ns)) {
            db.failover();
            String expectedTail = tailDigest(db);
            faults.arm(method, kind);
            client.resources(ReplicaSetRollback.class).inNamespace(ns).resource(db.rollback("rb")).create();
            ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, ns, "rb", "Completed");
            assertEquals(1, faults.fired(), "the fault was injected");

            // The record is the tail as the node holds it, whatever arrived broken on the way.
            assertEquals(expectedTail, s.getTail().getSha256());
            assertEquals(expectedTail, s.getRollbackFile().getTailSha256());
            assertEquals(5L, s.getTail().getRecords());
            Path dir = db.volume(0).resolve("rollback");
            List<Path> files;
            try (Stream<Path> l = Files.list(dir)) {
                files = l.filter(p -> !p.getFileName().toString().startsWith(".")).toList();
            }
            assertEquals(1, files.size(), "one rollback file, nothing quarantined or duplicated: " + files);
            assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(Files.readAllBytes(files.get(0)))), s.getRollbackFile().getSha256());

            // One recover, and the former primary converges to the new one.
            assertEquals(1L, s.getRollbackIdAfter());
            assertEquals(1, db.node(0).timeline().getRollbackId(), "exactly one bump");
            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data());

            // A broken step is told, not hidden: one StepFailed Warning names it.
            List<Event> failed = client.v1().events().inNamespace(ns).list().getItems().stream()
                    .filter(e -> "StepFailed".equals(e.getReason())).toList();
            assertEquals(1, failed.size(), failed.toString());
            assertEquals("Warning", failed.get(0).getType());
            assertTrue(failed.get(0).getMessage().startsWith(told), failed.get(0).getMessage());

            // No tail bytes outside the file: not in the logs, the events or the status, even on the error paths.
            assertTrue(LOGGED.stream().anyMatch(l -> l.contains("Rolled back node orders-0")),
                    "the logs were captured");
            String status = Serialization.asJson(client.resources(ReplicaSetRollback.class).inNamespace(ns)
                    .withName("rb")
                    .get());
            String events = Serialization.asJson(client.v1().events().inNamespace(ns).list());
            for (String v : TAIL_VALUES) {
                assertTrue(LOGGED.stream().noneMatch(l -> l.contains(v)), "a log line holds tail bytes: " + v);
                assertTrue(!status.contains(v) && !events.contains(v), "the status or an event holds tail bytes: " + v);
            }
            String file = Files.readString(files.get(0));
            assertTrue(TAIL_VALUES.stream().filter(v -> !v.startsWith("divergent")).allMatch(file::contains),
                    "the file holds them (base64)");
        }
    }
}
