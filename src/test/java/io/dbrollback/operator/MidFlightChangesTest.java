package io.dbrollback.operator;

import static io.dbrollback.operator.InProcessOperator.SERVER_ERRORS_SEEN_ONCE;
import static io.dbrollback.testing.RollbackChecks.assertCompletedOnce;
import static io.dbrollback.testing.RollbackChecks.events;
import static io.dbrollback.testing.RollbackChecks.get;
import static io.dbrollback.testing.RollbackChecks.rollbackDirectory;
import static io.dbrollback.testing.RollbackChecks.sha256;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.FaultDispatcher;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rollback deleted or edited while its node is in the middle of RecoverToLsn (F10): the recover is
 * held inside the reference node, right after its durable intent and rollback-id bump, while the test
 * deletes or edits the resource; then it is let go. The destructive step, once begun, is finished and
 * recorded: a deletion waits for the end (the finalizer), edits that only matter before the recover
 * change nothing, and a changed target holds the rollback until it is restored.
 */
@IntegrationTest
class MidFlightChangesTest {

    private static final AtomicInteger NAMESPACES = new AtomicInteger();

    private static MockApiServer api;
    private static KubernetesClient client;
    private static InProcessOperator operator;

    private final CountDownLatch recovering = new CountDownLatch(1);
    private final CountDownLatch letGo = new CountDownLatch(1);

    @BeforeAll
    static void start() {
        api = MockApiServer.start();
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
    void clear() {
        letGo.countDown();
        api.faults().clear();
    }

    /** A failed-over cluster whose orders-0 holds every recover until {@link #letGo}. */
    private DbCluster cluster() throws Exception {
        DbCluster db = new DbCluster(api, client, "midflight-" + NAMESPACES.incrementAndGet());
        db.failover();
        db.replicaNode(0).onRecoverBegun(() -> {
            recovering.countDown();
            try {
                letGo.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        return db;
    }

    private static void create(ReplicaSetRollback r) {
        client.resources(ReplicaSetRollback.class).inNamespace(r.getMetadata().getNamespace()).resource(r).create();
    }

    /** Starts the rollback and returns once orders-0 is inside the recover (its rollback id already bumped). */
    private void startAndHoldInRecover(DbCluster db) throws InterruptedException {
        create(db.rollback("rb"));
        assertTrue(recovering.await(60, TimeUnit.SECONDS), "the recover began");
        assertEquals("Recovering", get(client, db.namespace, "rb").getStatus().getPhase());
    }

    /** Every version of the rollback the API server sent, until it was deleted. */
    private static final class History implements Watcher<ReplicaSetRollback>, AutoCloseable {
        final List<ReplicaSetRollback> versions = new CopyOnWriteArrayList<>();
        final AtomicBoolean deleted = new AtomicBoolean();
        final Watch watch;

        History(DbCluster db) {
            watch = client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).withName("rb").watch(this);
        }

        @Override
        public void eventReceived(Action action, ReplicaSetRollback r) {
            versions.add(r);
            if (action == Action.DELETED) {
                deleted.set(true);
            }
        }

        @Override
        public void onClose(WatcherException cause) {
        }

        ReplicaSetRollbackStatus last() {
            return versions.get(versions.size() - 1).getStatus();
        }

        @Override
        public void close() {
            watch.close();
        }
    }

    private static void assertFileOnDisk(DbCluster db, ReplicaSetRollbackStatus s) throws Exception {
        String name = s.getRollbackFile().getPath().substring(s.getRollbackFile().getPath().lastIndexOf('/') + 1);
        assertEquals(List.of(name), rollbackDirectory(db).stream().filter(n -> n.endsWith(".jsonl")).toList());
        assertEquals(s.getRollbackFile().getSha256(), sha256(RollbackChecks.fileOf(db, s)), "the file stays, intact");
    }

    private static void assertNodeRolledBackOnceAndRejoined(DbCluster db) throws Exception {
        assertEquals(1, db.node(0).timeline().getRollbackId(), "one recover");
        db.node(0).await("caught up", t -> t.getLastLsn() == 13);
        assertEquals(db.node(1).data(), db.node(0).data(), "orders-0 converged on orders-1");
    }

    @Test
    void aDeletionDuringTheRecoverWaitsUntilTheRollbackHasEnded() throws Exception {
        try (DbCluster db = cluster(); History history = new History(db)) {
            startAndHoldInRecover(db);
            client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).withName("rb").delete();
            ReplicaSetRollback held = get(client, db.namespace, "rb");
            assertNotNull(held.getMetadata().getDeletionTimestamp(), "marked for deletion");
            assertFalse(held.getMetadata().getFinalizers().isEmpty(), "the finalizer holds it");
            letGo.countDown();

            await().atMost(Duration.ofSeconds(60)).until(() -> history.deleted.get());
            ReplicaSetRollbackStatus last = history.last();
            assertEquals("Completed", last.getPhase(), "it went only once the rollback had ended");
            assertEquals(1L, last.getRollbackIdAfter());
            List<String> phases = last.getSteps().stream().map(StepTime::getPhase).toList();
            assertTrue(phases.containsAll(RollbackChecks.ALL_PHASES), phases.toString());
            assertFileOnDisk(db, last);
            assertNodeRolledBackOnceAndRejoined(db);
            List<Event> loud = events(client, db.namespace, "rb", "NodeRolledBack");
            assertEquals(1, loud.size());
            assertTrue(loud.get(0).getMessage().contains(last.getRollbackFile().getSha256()));
            assertEquals(1, RollbackChecks.awaitEvent(client, db.namespace, "rb", "RollbackCompleted").size());
            assertTrue(events(client, db.namespace, "rb", "RollbackDeleted").isEmpty(),
                    "not reported as deleted before the recover");
        }
    }

    @Test
    void aDeletionDuringTheRecoverIsDeferredVisiblyWhileTheRollbackCannotEndYet() throws Exception {
        try (DbCluster db = cluster(); History history = new History(db)) {
            // The loud announcement fails twice as seen by the operator: the rollback cannot end at once.
            FaultDispatcher.Rule refused = api.faults().refuseNext(2 * SERVER_ERRORS_SEEN_ONCE, HttpMethod.POST,
                    "/api/v1/namespaces/" + db.namespace + "/events", body -> body.contains("\"NodeRolledBack\""), 500);
            startAndHoldInRecover(db);
            client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).withName("rb").delete();
            letGo.countDown();

            await().atMost(Duration.ofSeconds(60)).until(() -> history.deleted.get());
            List<Event> deferred = events(client, db.namespace, "rb", "DeletionDeferred");
            assertEquals(1, deferred.size(), "the deferral was announced");
            assertEquals("Normal", deferred.get(0).getType());
            assertTrue(deferred.get(0).getMessage().contains("kept until the rollback ends"),
                    deferred.get(0).getMessage());
            assertEquals(2 * SERVER_ERRORS_SEEN_ONCE, refused.served());
            ReplicaSetRollbackStatus last = history.last();
            assertEquals("Completed", last.getPhase());
            assertFileOnDisk(db, last);
            assertNodeRolledBackOnceAndRejoined(db);
            assertEquals(1, events(client, db.namespace, "rb", "NodeRolledBack").size(), "written in the end");
        }
    }

    @Test
    void editsThatMatterOnlyBeforeTheRecoverChangeNothingOnceItHasBegun() throws Exception {
        try (DbCluster db = cluster()) {
            startAndHoldInRecover(db);
            // Each of these would have stopped or parked the rollback before the recover.
            RollbackChecks.edit(client, db.namespace, "rb", r -> {
                r.getSpec().setDryRun(true);
                r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
                r.getSpec().getLimits().setMaxRecords(1L);
                return r;
            });
            long generation = get(client, db.namespace, "rb").getMetadata().getGeneration();
            letGo.countDown();

            ReplicaSetRollbackStatus s = assertCompletedOnce(client, db, "rb");
            assertEquals(generation, s.getObservedGeneration(), "the edit was seen");
            assertNull(s.getApprovedFor());
            assertTrue(s.getGates() == null || s.getGates().isEmpty(), "no gate after the recover: " + s.getGates());
            assertTrue(s.getSteps().stream().noneMatch(t -> t.getPhase().equals("AwaitingApproval")
                    || t.getPhase().equals("DryRunCompleted")));
        }
    }

    @Test
    void aTargetChangedDuringTheRecoverHoldsTheRollbackUntilItIsRestored() throws Exception {
        try (DbCluster db = cluster()) {
            startAndHoldInRecover(db);
            // A real API server refuses this edit (a CEL rule on the CRD); the mock does not.
            RollbackChecks.edit(client, db.namespace, "rb", r -> {
                r.getSpec().setTargetPod("orders-2");
                return r;
            });
            letGo.countDown();

            await().atMost(Duration.ofSeconds(60)).until(() -> "SpecChanged".equals(
                    get(client, db.namespace, "rb").getStatus().getWaiting()));
            ReplicaSetRollbackStatus held = get(client, db.namespace, "rb").getStatus();
            assertEquals("Recovering", held.getPhase(), "the recover's result waits to be read back from orders-0");
            assertTrue(held.getWaitMessage().contains("orders-2") && held.getWaitMessage().contains("orders-0"),
                    held.getWaitMessage());
            assertTrue(events(client, db.namespace, "rb", "RollbackWaiting").stream()
                    .anyMatch(e -> e.getMessage().startsWith("SpecChanged")));
            var other = db.node(2).timeline();
            assertEquals(0, other.getRollbackId(), "orders-2 untouched");
            assertFalse(other.getFenced(), "orders-2 not fenced");
            assertEquals(10, db.node(0).timeline().getLastLsn(), "orders-0 stays at the fork, fenced");

            RollbackChecks.edit(client, db.namespace, "rb", r -> {
                r.getSpec().setTargetPod("orders-0");
                return r;
            });
            assertCompletedOnce(client, db, "rb");
        }
    }
}
