package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.InjectMockApiServer;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.WithMockApiServer;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.processing.retry.GenericRetry;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The real operator against the mock API server, with three reference nodes behind Pod objects, a
 * leader Lease and a real failover: applying a ReplicaSetRollback rolls the former primary back.
 */
@QuarkusTest
@WithMockApiServer
@IntegrationTest
class RollbackOperatorTest {

    @Inject
    KubernetesClient client;

    @InjectMockApiServer
    MockApiServer api;

    @Inject
    Operator operator;

    @TestHTTPResource("/q/metrics")
    URL metrics;

    @TestHTTPResource("/q/health/ready")
    URL ready;

    private static String fetch(URL url) throws Exception {
        var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(url.toURI())
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), url + ": " + response.body());
        return response.body();
    }

    private ReplicaSetRollback get(String ns, String name) {
        return RollbackChecks.get(client, ns, name);
    }

    private ReplicaSetRollbackStatus awaitPhase(String ns, String name, String phase) {
        return RollbackChecks.awaitPhase(client, ns, name, phase);
    }

    private List<Event> events(String ns, String name) {
        return RollbackChecks.events(client, ns, name);
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
            RollbackChecks.awaitEvent(client, "happy", "orders-0-rb", "RollbackCompleted");
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

            // What a dashboard sees.
            String scrape = fetch(metrics);
            assertTrue(scrape.contains("dbrollback_rollbacks_total{outcome=\"Completed/Completed\"}"), scrape);
            assertTrue(scrape.contains("dbrollback_records_rolled_back_total"), "records rolled back");
            assertTrue(scrape.contains("dbrollback_phase_duration_seconds_count{phase=\"Verified\"}"), "phases");
            assertTrue(scrape.contains("dbrollback_tail_stream_bytes_total"), "tail throughput");
            assertTrue(scrape.contains("dbrollback_blocked_rollbacks"), "blocked gauge");
            assertTrue(fetch(ready).contains("\"UP\""), "ready");
        }
    }

    @Test
    void aFailedReconcileIsRetriedWithoutLimitBackingOffToAMinute() {
        // The annotation on the reconciler, as the Quarkus extension reads it (JOSDK's default stops after 5).
        var retry = (GenericRetry) operator
                .getRegisteredController(RollbackReconciler.NAME).orElseThrow().getConfiguration().getRetry();
        assertEquals(-1, retry.getMaxAttempts(), "no limit");
        assertEquals(2_000, retry.getInitialInterval());
        assertEquals(60_000, retry.getMaxInterval());
    }

    private ReplicaSetRollback create(DbCluster db, ReplicaSetRollback r) {
        return client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(r).create();
    }

    private ReplicaSetRollbackStatus awaitWaiting(String ns, String name, String waiting) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            ReplicaSetRollback r = get(ns, name);
            return r != null && r.getStatus() != null && waiting.equals(r.getStatus().getWaiting());
        });
        return get(ns, name).getStatus();
    }

    /** As kubectl annotate does: retried when the operator wrote the resource in between (409). */
    private void annotate(String ns, String name, String key, String value) {
        RollbackChecks.edit(client, ns, name, r -> {
            r.getMetadata().getAnnotations().put(key, value);
            return r;
        });
    }

    private static void assertNothingRemoved(DbCluster db) {
        var t = db.node(0).timeline();
        assertEquals(0, t.getRollbackId(), "no rollback-id bump");
        assertEquals(15, t.getLastLsn(), "nothing removed from orders-0");
    }

    @Test
    void theLeaseHolderIsNeverRolledBack() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "holder")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("wrong-target");
            r.getSpec().setTargetPod("orders-1");
            create(db, r);
            ReplicaSetRollbackStatus s = awaitPhase("holder", "wrong-target", "Aborted");
            assertEquals("TargetHoldsLease", s.getReason());
            assertTrue(s.getMessage().contains("never rolled back"), s.getMessage());
            assertEquals(0, db.node(1).timeline().getRollbackId());
            assertTrue(!db.node(1).timeline().getFenced(), "the live primary was not touched");
            assertTrue(api.exec().execLog("holder", "orders-1").isEmpty(), "no exec into the primary");
            assertTrue(RollbackChecks.awaitEvent(client, "holder", "wrong-target", "RollbackAborted").stream()
                    .allMatch(e -> e.getType().equals("Warning")));
        }
    }

    @Test
    void aDiskErrorWhilePersistingFailsClosedWithNothingRemoved() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "nospace")) {
            db.failover();
            api.exec().failNext("nospace", "orders-0", 10, "mkdir: cannot create directory: No space left on device\n");
            create(db, db.rollback("rb"));
            ReplicaSetRollbackStatus s = awaitPhase("nospace", "rb", "Failed");
            assertEquals("PersistFailed", s.getReason());
            assertTrue(s.getMessage().contains("NO_SPACE"), s.getMessage());
            assertNothingRemoved(db);
            assertTrue(RollbackChecks.awaitEvent(client, "nospace", "rb", "RollbackFailed").stream()
                    .allMatch(e -> e.getType().equals("Warning")));
        }
    }

    @Test
    void aTailOverItsLimitWaitsForTheApproveAnnotationNamingTheFile() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "limits")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().getLimits().setMaxRecords(2);
            create(db, r);
            ReplicaSetRollbackStatus parked = awaitPhase("limits", "rb", "AwaitingApproval");
            assertEquals(List.of("RecordLimitExceeded"), parked.getGates());
            assertNothingRemoved(db);
            assertTrue(Files.exists(db.volume(0).resolve(parked.getRollbackFile().getPath()
                    .substring(DbCluster.VOLUME.length() + 1))), "the verified file is there to inspect");
            annotate("limits", "rb", ReplicaSetRollback.APPROVE_ANNOTATION, "00000000000000000000");
            Thread.sleep(500);
            assertEquals("AwaitingApproval", get("limits", "rb").getStatus().getPhase(),
                    "a wrong digest approves nothing");
            annotate("limits", "rb", ReplicaSetRollback.APPROVE_ANNOTATION, parked.getRollbackFile().getSha256());
            ReplicaSetRollbackStatus done = awaitPhase("limits", "rb", "Completed");
            assertEquals(parked.getRollbackFile().getSha256(), done.getApprovedFor());
            assertEquals(1, db.node(0).timeline().getRollbackId());
        }
    }

    @Test
    void aDryRunRecordsThePlanAndChangesNothing() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "dry")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().setDryRun(true);
            create(db, r);
            ReplicaSetRollbackStatus s = awaitPhase("dry", "rb", "DryRunCompleted");
            assertEquals(10L, s.getPlan().getForkLsn());
            assertEquals(5L, s.getPlan().getExpectedRecords());
            assertNothingRemoved(db);
            assertTrue(!db.node(0).timeline().getFenced(), "not even fenced");
            assertTrue(api.exec().execLog("dry", "orders-0").isEmpty(), "no exec");
        }
    }

    @Test
    void theLeaseMovingBeforeTheRecoverReplansAndKeepsTheFirstFile() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "moves")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            create(db, r);
            ReplicaSetRollbackStatus first = awaitPhase("moves", "rb", "AwaitingApproval");
            assertEquals(1, first.getPlan().getNumber());
            // orders-2 (which has all of orders-1's log) is elected in term 3.
            db.node(2).promote(3);
            db.setLease("orders-2", 3);
            db.node(1).follow(db.node(2), 3, "failover-2");
            db.node(2).put("k4", "term-3");
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                ReplicaSetRollbackStatus s = get("moves", "rb").getStatus();
                return s.getPlan().getNumber() == 2 && "AwaitingApproval".equals(s.getPhase());
            });
            ReplicaSetRollbackStatus second = get("moves", "rb").getStatus();
            assertEquals("orders-2", second.getPlan().getNewPrimary());
            assertEquals(3L, second.getPlan().getNewTerm());
            assertEquals(first.getRollbackFile().getSha256(),
                    second.getSupersededPlans().get(0).getRollbackFile().getSha256(), "plan 1's file stays on record");
            assertNothingRemoved(db);
            annotate("moves", "rb", ReplicaSetRollback.APPROVE_ANNOTATION, second.getRollbackFile().getSha256());
            awaitPhase("moves", "rb", "Completed");
            db.node(0).await("follows orders-2", t -> t.getFollowing().equals(db.node(2).address)
                    && t.getLastLsn() == 14);
            assertEquals(db.node(2).data(), db.node(0).data());
            assertEquals(1, db.node(0).timeline().getRollbackId());
        }
    }

    @Test
    void deletingARollbackBeforeTheRecoverLetsItGoWithNothingRemoved() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "deleted")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            create(db, r);
            awaitPhase("deleted", "rb", "AwaitingApproval");
            client.resources(ReplicaSetRollback.class).inNamespace("deleted").withName("rb").delete();
            await().atMost(Duration.ofSeconds(30)).until(() -> get("deleted", "rb") == null);
            assertNothingRemoved(db);
            assertTrue(db.node(0).timeline().getFenced(), "the former primary stays fenced");
            assertTrue(events("deleted", "rb").stream().anyMatch(e -> e.getReason().equals("RollbackDeleted")));
        }
    }

    @Test
    void invalidOrHostileValuesAreReportedWithNoSideEffect() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "invalid")) {
            db.failover();
            ReplicaSetRollback hostile = db.rollback("hostile");
            hostile.getSpec().setTargetPod("orders-0; rm -rf /");
            hostile.getSpec().setRollbackDirectory("/var/lib/dbrollback/../../etc");
            create(db, hostile);
            ReplicaSetRollbackStatus s = awaitWaiting("invalid", "hostile", "InvalidSpec");
            assertTrue(s.getWaitMessage().contains("targetPod"), s.getWaitMessage());
            assertTrue(s.getWaitMessage().contains("rollbackDirectory"), s.getWaitMessage());
            assertTrue(!s.getWaitMessage().contains("rm -rf"), "hostile values are not echoed");
            assertEquals("Pending", s.getPhase());

            ReplicaSetRollback missing = db.rollback("missing");
            missing.getSpec().setTargetPod("orders-9");
            create(db, missing);
            assertEquals("the target pod invalid/orders-9 does not exist",
                    awaitWaiting("invalid", "missing", "TargetPodNotFound").getWaitMessage());

            ReplicaSetRollback outside = db.rollback("outside");
            outside.getSpec().getCluster().setPodSelector(Map.of("app", "payments"));
            create(db, outside);
            awaitWaiting("invalid", "outside", "TargetNotInCluster");

            assertNothingRemoved(db);
            assertTrue(!db.node(0).timeline().getFenced(), "no call reached the node");
            assertTrue(api.exec().execLog("invalid", "orders-0").isEmpty(), "no exec");
            assertTrue(events("invalid", "hostile").stream().anyMatch(e -> e.getType().equals("Warning")
                    && e.getMessage().startsWith("InvalidSpec")));
        }
    }

    @Test
    void aLostExitStatusOrACutExecStreamIsRetriedNeverTrusted() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "flaky")) {
            db.failover();
            api.exec().closeNextWithoutExitStatus("flaky", "orders-0");
            api.exec().cutNextStdoutAfter("flaky", "orders-0", 0);
            create(db, db.rollback("rb"));
            ReplicaSetRollbackStatus s = awaitPhase("flaky", "rb", "Completed");
            assertEquals(5L, s.getRollbackFile().getRecords());
            assertEquals(1, db.node(0).timeline().getRollbackId());
            Set<String> errors = events("flaky", "rb").stream().filter(e -> e.getReason().equals("StepFailed"))
                    .map(Event::getMessage).collect(Collectors.toSet());
            assertTrue(errors.stream().anyMatch(m -> m.contains("ExecNoExitStatus") || m.contains("ExecTruncated")),
                    errors.toString());
        }
    }

    @Test
    void thePauseAnnotationStopsTheRollbackWithAConditionUntilItIsRemoved() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "paused")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getMetadata().setAnnotations(new HashMap<>(Map.of(
                    ReplicaSetRollback.PAUSE_ANNOTATION, "true")));
            create(db, r);
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                ReplicaSetRollbackStatus s = get("paused", "rb").getStatus();
                return s != null && s.getConditions() != null && s.getConditions().stream()
                        .anyMatch(c -> c.getType().equals("Paused") && c.getStatus().equals("True"));
            });
            Thread.sleep(500);
            assertEquals("Pending", get("paused", "rb").getStatus().getPhase());
            assertTrue(!db.node(0).timeline().getFenced(), "nothing was done while paused");
            annotate("paused", "rb", ReplicaSetRollback.PAUSE_ANNOTATION, "false");
            awaitPhase("paused", "rb", "Completed");
        }
    }

    @Test
    void aSecondRollbackOfTheSameClusterQueuesVisiblyUntilTheFirstEnds() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "queue")) {
            db.failover();
            ReplicaSetRollback first = db.rollback("first");
            first.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            create(db, first);
            ReplicaSetRollbackStatus parked = awaitPhase("queue", "first", "AwaitingApproval");
            create(db, db.rollback("second"));
            ReplicaSetRollbackStatus queued = awaitWaiting("queue", "second", "Queued");
            assertTrue(queued.getWaitMessage().contains("first"), queued.getWaitMessage());
            assertEquals("Pending", queued.getPhase());
            annotate("queue", "first", ReplicaSetRollback.APPROVE_ANNOTATION, parked.getRollbackFile().getSha256());
            awaitPhase("queue", "first", "Completed");
            ReplicaSetRollbackStatus second = awaitPhase("queue", "second", "Completed");
            assertEquals("NoDivergence", second.getReason(), "the second finds nothing left to roll back");
            assertEquals(1, db.node(0).timeline().getRollbackId());
        }
    }

    @Test
    void anOlderRollbackWhoseOwnProblemClearsWaitsForTheNewerOneInProgress() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "queue2")) {
            db.failover();
            ReplicaSetRollback older = db.rollback("older");
            older.getSpec().setAgentTlsSecret("not-yet-created");
            create(db, older);
            awaitWaiting("queue2", "older", "TlsSecretNotFound");
            Thread.sleep(1100); // a later creation timestamp
            ReplicaSetRollback newer = db.rollback("newer");
            newer.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            create(db, newer);
            ReplicaSetRollbackStatus parked = awaitPhase("queue2", "newer", "AwaitingApproval");
            for (int attempt = 1; ; attempt++) { // the older one's own problem clears
                try {
                    client.resources(ReplicaSetRollback.class).inNamespace("queue2").withName("older").edit(r -> {
                        r.getSpec().setAgentTlsSecret(null);
                        return r;
                    });
                    break;
                } catch (KubernetesClientException e) {
                    if (e.getCode() != 409 || attempt == 10) {
                        throw e;
                    }
                }
            }
            ReplicaSetRollbackStatus queued = awaitWaiting("queue2", "older", "Queued");
            assertEquals("Pending", queued.getPhase(), "never beside a rollback in progress");
            assertTrue(queued.getWaitMessage().contains("newer"), queued.getWaitMessage());
            annotate("queue2", "newer", ReplicaSetRollback.APPROVE_ANNOTATION, parked.getRollbackFile().getSha256());
            awaitPhase("queue2", "newer", "Completed");
            assertEquals("NoDivergence", awaitPhase("queue2", "older", "Completed").getReason());
            assertEquals(1, db.node(0).timeline().getRollbackId());
        }
    }
}
