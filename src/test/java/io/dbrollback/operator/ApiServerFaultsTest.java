package io.dbrollback.operator;

import static io.dbrollback.operator.InProcessOperator.SERVER_ERRORS_SEEN_ONCE;
import static io.dbrollback.testing.RollbackChecks.ALL_PHASES;
import static io.dbrollback.testing.RollbackChecks.assertCompletedOnce;
import static io.dbrollback.testing.RollbackChecks.awaitPhase;
import static io.dbrollback.testing.RollbackChecks.events;
import static io.dbrollback.testing.RollbackChecks.get;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.FaultDispatcher;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.javaoperatorsdk.operator.api.config.BaseConfigurationService;
import io.javaoperatorsdk.operator.processing.retry.GenericRetry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * API server faults (F9) under a real rollback: the operator in-process (JOSDK) against the mock API
 * server, three reference nodes and a real failover. Status writes refused (409, 500) or applied but
 * answered 500 at every step, including the write that records the destructive step; the loud Event
 * refused; watches ended with 410 Gone while an approval was in flight; a stale informer cache before
 * and after the recover. Each time: the rollback completes once (one rollback-id bump, one file with
 * the recorded digest, a complete status record), and the fault was actually served.
 */
@IntegrationTest
class ApiServerFaultsTest {

    private static final String GROUP_PATH = "/apis/" + ReplicaSetRollback.GROUP + "/" + ReplicaSetRollback.VERSION;
    /** The operator watches rollbacks and Leases in every namespace. */
    private static final String ROLLBACK_WATCH = GROUP_PATH + "/replicasetrollbacks";
    private static final String LEASE_WATCH = "/apis/coordination.k8s.io/v1/leases";
    private static final AtomicInteger NAMESPACES = new AtomicInteger();

    private static MockApiServer api;
    private static FaultDispatcher faults;
    private static KubernetesClient client;
    private static InProcessOperator operator;

    @BeforeAll
    static void start() {
        api = MockApiServer.start();
        faults = api.faults();
        client = api.client();
        operator = new InProcessOperator(api);
    }

    @AfterAll
    static void stop() {
        try {
            operator.close();
        } finally {
            api.close();
        }
    }

    @AfterEach
    void clearFaults() {
        faults.clear();
    }

    private static DbCluster cluster() throws Exception {
        DbCluster db = new DbCluster(api, client, "apifaults-" + NAMESPACES.incrementAndGet());
        db.failover();
        return db;
    }

    private static void create(ReplicaSetRollback r) {
        client.resources(ReplicaSetRollback.class).inNamespace(r.getMetadata().getNamespace()).resource(r).create();
    }

    private static String statusPath(DbCluster db, String name) {
        return GROUP_PATH + "/namespaces/" + db.namespace + "/replicasetrollbacks/" + name + "/status";
    }

    private static JsonNode json(String text) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A status write (the whole resource) recording {@code phase}. */
    private static Predicate<String> writes(String phase) {
        return body -> phase.equals(json(body).path("status").path("phase").asText());
    }

    /** A watch event carrying a rollback in {@code phase}. */
    private static Predicate<String> watched(String phase) {
        return event -> phase.equals(json(event).path("object").path("status").path("phase").asText());
    }

    static Stream<Arguments> statusWriteFaults() {
        List<Arguments> cells = new ArrayList<>();
        for (String phase : ALL_PHASES) {
            cells.add(Arguments.of(phase, 409, FaultDispatcher.Mode.REFUSE));
            cells.add(Arguments.of(phase, 500, FaultDispatcher.Mode.REFUSE));
        }
        // Applied, but the answer is lost: the client's retry of the same write then gets 409.
        for (String phase : List.of("Recovering", "Recovered", "Completed")) {
            cells.add(Arguments.of(phase, 500, FaultDispatcher.Mode.APPLY_THEN_FAIL));
        }
        return cells.stream();
    }

    @ParameterizedTest(name = "the status write recording {0} answered {1} ({2})")
    @MethodSource("statusWriteFaults")
    void aFailedStatusWriteIsRedoneFromTheRecordAndTheRollbackCompletesOnce(String phase, int code,
            FaultDispatcher.Mode mode) throws Exception {
        try (DbCluster db = cluster()) {
            // A 500 is retried by the client itself; enough of them in a row reach the reconciler once.
            int times = mode == FaultDispatcher.Mode.REFUSE && code >= 500 ? SERVER_ERRORS_SEEN_ONCE : 1;
            FaultDispatcher.Rule rule = mode == FaultDispatcher.Mode.REFUSE
                    ? faults.refuseNext(times, HttpMethod.PUT, statusPath(db, "rb"), writes(phase), code)
                    : faults.applyThenFailNext(times, HttpMethod.PUT, statusPath(db, "rb"), writes(phase), code);
            create(db.rollback("rb"));
            ReplicaSetRollbackStatus s = assertCompletedOnce(client, db, "rb");
            assertEquals(times, rule.served(), "the fault was served");
            for (String body : rule.bodies()) {
                JsonNode file = json(body).path("status").path("rollbackFile");
                if (!file.isMissingNode()) {
                    assertEquals(s.getRollbackFile().getSha256(), file.path("sha256").asText(),
                            "the file in the lost write is the file on record");
                }
            }
            if (mode == FaultDispatcher.Mode.APPLY_THEN_FAIL) {
                assertTrue(faults.count(HttpMethod.PUT, statusPath(db, "rb"), false, 409) >= 1,
                        "the client's retry of a write that was applied meets the new resource version");
            }
        }
    }

    @Test
    void moreFailedStatusWritesInARowThanJosdksDefaultRetryBudgetStillEndInCompletion() throws Exception {
        try (DbCluster db = cluster()) {
            // JOSDK's default gives up after 5 attempts; the operator's retry has no limit.
            FaultDispatcher.Rule rule = faults.refuseNext(8, HttpMethod.PUT, statusPath(db, "rb"), writes("Recovered"),
                    409);
            create(db.rollback("rb"));
            assertCompletedOnce(client, db, "rb");
            assertEquals(8, rule.served());
        }
    }

    @Test
    void theOperatorRetriesAFailedReconcileWithoutLimitBackingOffToAMinute() {
        RollbackReconciler reconciler = TestOperator.against(client).instance("config-check").metrics(operator.metrics)
                .reconciler();
        GenericRetry retry = (GenericRetry) new BaseConfigurationService().getConfigurationFor(reconciler).getRetry();
        assertEquals(-1, retry.getMaxAttempts(), "no limit");
        assertEquals(2_000, retry.getInitialInterval());
        assertEquals(60_000, retry.getMaxInterval());
    }

    @Test
    void theLoudEventIsRetriedUntilWrittenWhenTheApiServerRefusesIt() throws Exception {
        try (DbCluster db = cluster()) {
            // Refused long enough for the operator to see two failures: the step is retried, not skipped.
            FaultDispatcher.Rule rule = faults.refuseNext(2 * SERVER_ERRORS_SEEN_ONCE, HttpMethod.POST,
                    "/api/v1/namespaces/" + db.namespace + "/events", body -> body.contains("\"NodeRolledBack\""), 500);
            create(db.rollback("rb"));
            ReplicaSetRollbackStatus s = assertCompletedOnce(client, db, "rb");
            assertEquals(2 * SERVER_ERRORS_SEEN_ONCE, rule.served(), "the fault was served");
            assertTrue(events(client, db.namespace, "rb", "StepFailed").stream()
                    .anyMatch(e -> e.getMessage().contains("EventNotWritten")), "the failed announcement is visible");
            List<String> order = s.getSteps().stream().map(StepTime::getPhase).toList();
            assertTrue(order.indexOf("EventEmitted") > order.indexOf("Recovered"), order.toString());
        }
    }

    @Test
    void theEndEventRefusedByTheApiServerIsWrittenLater() throws Exception {
        try (DbCluster db = cluster()) {
            // Refused at the step that ends the rollback and again at the reconcile its own status write
            // brings: an ended rollback is not looked at again unless the operator asks for it.
            FaultDispatcher.Rule rule = faults.refuseNext(2 * SERVER_ERRORS_SEEN_ONCE, HttpMethod.POST,
                    "/api/v1/namespaces/" + db.namespace + "/events", body -> body.contains("\"RollbackCompleted\""),
                    500);
            create(db.rollback("rb"));
            awaitPhase(client, db.namespace, "rb", "Completed");
            await().atMost(Duration.ofSeconds(60)).until(() -> !events(client, db.namespace, "rb",
                    "RollbackCompleted").isEmpty());
            assertCompletedOnce(client, db, "rb");
            assertEquals(2 * SERVER_ERRORS_SEEN_ONCE, rule.served(), "the fault was served");
            assertEquals(1, events(client, db.namespace, "rb", "RollbackCompleted").size());
        }
    }

    @Test
    void anApprovalMissedWhileTheWatchWasGoneIsFoundByTheRelist() throws Exception {
        try (DbCluster db = cluster()) {
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            // The watch delivers every change up to the approval (so the operator's copy is the version
            // it last wrote, and it has no reason to read the resource), and not the approval.
            faults.holdWatchEventsFrom(ROLLBACK_WATCH, event -> json(event).path("object").path("metadata")
                    .path("annotations").has(ReplicaSetRollback.APPROVE_ANNOTATION));
            create(r);
            ReplicaSetRollbackStatus parked = awaitPhase(client, db.namespace, "rb", "AwaitingApproval");
            // A quiet second: the operator has stopped writing and its copy caught up with its last write
            // (were it behind, the operator would read the resource itself and find the approval without
            // any relist).
            AtomicReference<String> version = new AtomicReference<>();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                String now = get(client, db.namespace, "rb").getMetadata().getResourceVersion();
                return now.equals(version.getAndSet(now));
            });
            long rollbackLists = faults.count(HttpMethod.GET, ROLLBACK_WATCH, false, 200);
            long leaseLists = faults.count(HttpMethod.GET, LEASE_WATCH, false, 200);

            // The approval is made while the watch delivers nothing, then the watch expires (410).
            RollbackChecks.edit(client, db.namespace, "rb", x -> {
                x.getMetadata().getAnnotations().put(ReplicaSetRollback.APPROVE_ANNOTATION,
                        parked.getRollbackFile().getSha256());
                return x;
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> faults.heldEvents(ROLLBACK_WATCH) >= 1);
            assertEquals("AwaitingApproval", get(client, db.namespace, "rb").getStatus().getPhase(),
                    "the operator has not seen the approval");
            FaultDispatcher.Rule gone = faults.goneOnNextWatch(2, ROLLBACK_WATCH);
            assertEquals(1, faults.expireWatches(ROLLBACK_WATCH), "the rollback watch ends with 410 Gone");
            assertEquals(1, faults.expireWatches(LEASE_WATCH), "the Lease watch ends with 410 Gone");
            assertEquals(0, faults.releaseWatchEvents(ROLLBACK_WATCH), "the held events were lost with the watch");

            ReplicaSetRollbackStatus s = assertCompletedOnce(client, db, "rb");
            assertEquals(parked.getRollbackFile().getSha256(), s.getApprovedFor());
            // The relist may find the approval (and the rollback end) before the informer's second watch
            // request, which comes after a backoff: wait for it rather than count it too early.
            await().atMost(Duration.ofSeconds(30)).until(() -> gone.served() >= 2);
            assertEquals(2, gone.served(), "the new watch request was refused twice, then accepted");
            assertTrue(faults.count(HttpMethod.GET, ROLLBACK_WATCH, false, 200) > rollbackLists,
                    "rollbacks listed again");
            assertTrue(faults.count(HttpMethod.GET, LEASE_WATCH, false, 200) > leaseLists, "Leases listed again");
        }
    }

    /**
     * The informer's copy held at Fenced, the status write of {@code failedWrite} refused: the rollback
     * completes while the copy is still stale, once, and no status write is made from the stale view.
     */
    private ReplicaSetRollbackStatus completesWhileTheCacheIsHeldAtFenced(DbCluster db, String failedWrite)
            throws Exception {
        faults.holdWatchEventsAfter(ROLLBACK_WATCH, watched("Fenced"));
        FaultDispatcher.Rule rule = faults.refuseNext(SERVER_ERRORS_SEEN_ONCE, HttpMethod.PUT, statusPath(db, "rb"),
                writes(failedWrite), 500);
        create(db.rollback("rb"));
        awaitPhase(client, db.namespace, "rb", "Completed");
        assertTrue(faults.heldEvents(ROLLBACK_WATCH) > 0, "the cache was still stale at the end");
        faults.releaseWatchEvents(ROLLBACK_WATCH);
        ReplicaSetRollbackStatus s = assertCompletedOnce(client, db, "rb");
        assertEquals(SERVER_ERRORS_SEEN_ONCE, rule.served());
        assertEquals(0, faults.count(HttpMethod.PUT, statusPath(db, "rb"), false, 409),
                "no status write from a stale view");
        return s;
    }

    /**
     * The informer's copy of the rollback stays at Fenced while the server moves on, and the write of
     * Recovering (before anything is removed) fails: the reconciles that follow do not act on the stale
     * copy (it is not the version this operator last wrote, so they read the resource), so the file step
     * is not redone, nothing is refused for a stale version, and the rollback completes while the
     * cache is still stale.
     */
    @Test
    void aStaleCacheBeforeTheRecoverIsReadPastAndNoStepIsRedone() throws Exception {
        try (DbCluster db = cluster()) {
            completesWhileTheCacheIsHeldAtFenced(db, "Recovering");
            long persists = api.exec().execLog(db.namespace, "orders-0").stream()
                    .filter(e -> e.argv().contains("put") || e.argv().contains("begin")).count();
            assertEquals(1, persists, "the file step was done once");
        }
    }

    /**
     * The informer's copy stays at Fenced while the recover happens and the write recording it fails:
     * the reconciles that follow read past the stale copy, see this incident's recover on the node, and
     * record it; nothing is decided on the stale view, so the rollback never fails.
     */
    @Test
    void aStaleCacheAfterTheRecoverIsReadPastAndTheRecoverIsRecorded() throws Exception {
        try (DbCluster db = cluster()) {
            ReplicaSetRollbackStatus s = completesWhileTheCacheIsHeldAtFenced(db, "Recovered");
            assertTrue(s.getSteps().stream().noneMatch(t -> t.getPhase().equals("Failed")), "never recorded as failed");
        }
    }
}
