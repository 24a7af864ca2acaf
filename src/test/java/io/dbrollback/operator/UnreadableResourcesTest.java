package io.dbrollback.operator;

import static io.dbrollback.operator.InProcessOperator.SERVER_ERRORS_SEEN_ONCE;
import static io.dbrollback.operator.RawObjects.LEASES;
import static io.dbrollback.operator.RawObjects.PODS;
import static io.dbrollback.operator.RawObjects.ROLLBACKS;
import static io.dbrollback.operator.RawObjects.set;
import static io.dbrollback.testing.RollbackChecks.assertCompletedOnce;
import static io.dbrollback.testing.RollbackChecks.awaitEvent;
import static io.dbrollback.testing.RollbackChecks.awaitWaiting;
import static io.dbrollback.testing.RollbackChecks.events;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Rule 7 of issue 11: one unreadable resource never stops the operator. Objects a real API server
 * would refuse at admission (but a CRD change, a restored backup or a server that does not validate
 * can store) are put straight into the mock API server, past the client's classes: rollbacks with a
 * value outside an enum, a type mismatch in the spec or the status, a status phase this operator does
 * not know; a Lease, a Pod and a Secret that do not fit fabric8's classes. Each time a rollback of
 * another cluster completes, the bad object is reported (Warning Event, log line, metric) or blocked,
 * nothing is called on its cluster's nodes, a restarted operator starts with it present, and deleting
 * it works. The operator's agent calls are logged by address, so "no node was called" can fail.
 */
@IntegrationTest
class UnreadableResourcesTest {

    private static final AtomicInteger NAMESPACES = new AtomicInteger();

    /** A server of its own per test: the unreadable objects of one test must not count in another. */
    private MockApiServer api;
    private KubernetesClient client;
    private InProcessOperator operator;
    private RawObjects objects;

    /** Every agent call the operator makes: "host:port Method". */
    private static final Queue<String> CALLS = new ConcurrentLinkedQueue<>();

    /** Everything logged while the tests run. */
    @RegisterExtension
    static final CapturedLogs LOGGED = new CapturedLogs();
    private static final ClientInterceptor CALL_LOG = new ClientInterceptor() {
        @Override
        public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
            CALLS.add(next.authority() + " " + method.getBareMethodName());
            return next.newCall(method, options);
        }
    };

    @BeforeEach
    void start() {
        LOGGED.clear();
        CALLS.clear(); // a port of an earlier test's node may be used again
        api = MockApiServer.start();
        client = api.client();
        objects = new RawObjects(client);
        operator = new InProcessOperator(api, List.of(CALL_LOG));
    }

    @AfterEach
    void stop() {
        try (MockApiServer server = api; InProcessOperator last = operator) {
            // closed in reverse order: the operator, then the server
        }
    }

    private DbCluster cluster() throws Exception {
        DbCluster db = new DbCluster(api, client, "unreadable-" + NAMESPACES.incrementAndGet());
        db.failover();
        return db;
    }

    // ------------------------------------------------------------------ raw objects

    /** A status restored from a backup of another version: a phase this operator does not know. */
    private static Map<String, Object> restoredStatus() {
        Map<String, Object> status = new HashMap<>();
        status.put("incidentId", "uid-of-the-backed-up-object");
        status.put("phase", "Rewinding");
        status.put("steps", List.of(Map.of("phase", "Planned", "time", "2026-01-01T00:00:00Z"),
                Map.of("phase", "Rewinding", "time", "2026-01-01T00:01:00Z")));
        return status;
    }

    private GenericKubernetesResource storeRestoredRollback(DbCluster db, String name) {
        return objects.storeRollback(db, name, restoredStatus(), "status");
    }

    // ------------------------------------------------------------------ checks

    private static int port(String address) {
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    /** The agent calls the operator made to the nodes of {@code db}. */
    private static List<String> callsTo(DbCluster db) {
        List<Integer> ports = List.of(port(db.address(0)), port(db.address(1)), port(db.address(2)));
        return CALLS.stream().filter(c -> ports.contains(port(c.substring(0, c.indexOf(' '))))).toList();
    }

    /** Nothing reached the nodes of {@code db}: no call, no exec, no fence, nothing removed. */
    private void assertUntouched(DbCluster db) {
        assertEquals(List.of(), callsTo(db), "no call to any node of " + db.namespace);
        assertTrue(api.exec().execLog(db.namespace, "orders-0").isEmpty(), "no exec");
        var t = db.node(0).timeline();
        assertFalse(t.getFenced(), "not fenced");
        assertEquals(0, t.getRollbackId(), "no rollback-id bump");
        assertEquals(15, t.getLastLsn(), "nothing removed");
    }

    private double unreadableCount(InProcessOperator op, String kind) {
        var counter = op.registry.find("dbrollback_unreadable_resources_total").tag("kind", kind).counter();
        return counter == null ? 0 : counter.count();
    }

    private static void assertLogged(String... parts) {
        await().alias("a log line with " + List.of(parts)).atMost(Duration.ofSeconds(10)).until(() -> LOGGED.stream()
                .anyMatch(l -> List.of(parts).stream().allMatch(l::contains)));
    }

    private static void assertInformersRun(InProcessOperator op) {
        assertEquals(List.of(), op.stoppedInformers, "no informer stopped");
        assertEquals(List.of(), InformersLiveness.stopped(op.operator), "every informer runs");
    }

    /** The Warning Event on an unreadable rollback: names the field and the rule, never the value. */
    private void assertReported(DbCluster db, String name, String problem, String value) {
        List<Event> e = awaitEvent(client, db.namespace, name, EventReason.ResourceUnreadable.name());
        assertEquals(1, e.size());
        assertEquals("Warning", e.get(0).getType());
        assertTrue(e.get(0).getMessage().startsWith(problem + "; "), e.get(0).getMessage());
        assertFalse(e.get(0).getMessage().contains(value), "the stored value is not shown");
        assertLogged(db.namespace + "/" + name, problem);
        assertTrue(LOGGED.stream().noneMatch(l -> l.contains(value)), "the stored value is never logged");
    }

    /** Completed with one recover on orders-0, after having been blocked on the way. */
    private void assertCompletedAfterABlock(DbCluster db, String name) {
        ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, db.namespace, name, "Completed");
        assertEquals("Completed", s.getReason());
        assertEquals(5L, s.getTail().getRecords());
        assertNull(s.getWaiting());
        assertEquals(1, db.node(0).timeline().getRollbackId(), "one recover");
    }

    // ------------------------------------------------------------------ rollbacks

    /**
     * Unreadable rollbacks of one cluster (an approval outside its enum, a type mismatch in the spec
     * and in the status) and one whose status phase is unknown; then a valid rollback of another
     * cluster completes. The unreadable ones are never touched (their stored version does not change:
     * no finalizer, no status), the unknown phase is Blocked with its status kept, and all four are
     * deleted without a call to any node.
     */
    @Test
    void unreadableRollbacksAreSkippedAndReportedWhileARollbackOfAnotherClusterCompletes() throws Exception {
        try (DbCluster bad = cluster(); DbCluster good = cluster()) {
            String ns = bad.namespace;
            Map<String, String> versions = new HashMap<>();
            versions.put("approval", objects.storeRollback(bad, "approval", "Manul", "spec", "approval")
                    .getMetadata().getResourceVersion());
            versions.put("limits", objects.storeRollback(bad, "limits", "many-records", "spec", "limits",
                    "maxRecords").getMetadata().getResourceVersion());
            versions.put("attempts", objects.storeRollback(bad, "attempts", "twice-over", "status", "attempts")
                    .getMetadata().getResourceVersion());
            storeRestoredRollback(bad, "restored");

            client.resources(ReplicaSetRollback.class).inNamespace(good.namespace).resource(good.rollback("rb"))
                    .create();
            assertCompletedOnce(client, good, "rb");
            assertFalse(callsTo(good).isEmpty(), "the call log sees the calls of a rollback");

            assertReported(bad, "approval", "spec.approval: must be one of Automatic, Manual", "Manul");
            assertReported(bad, "limits", "spec.limits.maxRecords: must be a whole number (64-bit)",
                    "many-records");
            assertReported(bad, "attempts", "status.attempts: must be a whole number (32-bit)", "twice-over");
            for (Map.Entry<String, String> v : versions.entrySet()) {
                GenericKubernetesResource now = objects.stored(ROLLBACKS, ns, v.getKey());
                assertEquals(v.getValue(), now.getMetadata().getResourceVersion(), v.getKey() + " never written");
                assertTrue(now.getMetadata().getFinalizers() == null || now.getMetadata().getFinalizers().isEmpty(),
                        v.getKey() + " has no finalizer");
            }
            assertEquals("Manul", objects.stored(ROLLBACKS, ns, "approval").get("spec", "approval"), "kept as stored");

            ReplicaSetRollbackStatus restored = awaitWaiting(client, ns, "restored",
                    BlockReason.StatusUnreadable.name());
            assertTrue(restored.getWaitMessage().startsWith("status.phase: not a phase this operator knows; "),
                    restored.getWaitMessage());
            assertEquals("Rewinding", restored.getPhase(), "the status is kept as stored");
            assertEquals("uid-of-the-backed-up-object", restored.getIncidentId());
            assertEquals(2, restored.getSteps().size());
            assertEquals("True", restored.getConditions().stream().filter(c -> c.getType().equals("Blocked"))
                    .findFirst().orElseThrow().getStatus());
            List<Event> blocked = awaitEvent(client, ns, "restored", "RollbackBlocked");
            assertEquals("Warning", blocked.get(0).getType());
            assertTrue(blocked.get(0).getMessage().startsWith("StatusUnreadable: status.phase: "),
                    blocked.get(0).getMessage());

            await().atMost(Duration.ofSeconds(10)).until(() -> unreadableCount(operator, "ReplicaSetRollback") == 4);
            assertInformersRun(operator);
            assertUntouched(bad);

            for (String name : List.of("approval", "limits", "attempts", "restored")) {
                objects.delete(ROLLBACKS, ns, name);
            }
            assertTrue(events(client, ns, "restored").stream().anyMatch(e -> e.getReason().equals("RollbackDeleted")
                    && e.getMessage().startsWith("deleted while it cannot be read (status.phase: ")));
            assertUntouched(bad);
            assertInformersRun(operator);
        }
    }

    /**
     * A fresh operator on the same server (a restart, or the next replica) starts with unreadable
     * rollbacks present, reports them again (their Event is not repeated) and completes a rollback of
     * another cluster.
     */
    @Test
    void aRestartedOperatorStartsAndProceedsWithUnreadableRollbacksPresent() throws Exception {
        try (DbCluster bad = cluster(); DbCluster good = cluster()) {
            objects.storeRollback(bad, "approval", "Manul", "spec", "approval");
            objects.storeRollback(bad, "limits", "many-records", "spec", "limits", "maxRecords");
            storeRestoredRollback(bad, "restored");
            awaitEvent(client, bad.namespace, "approval", EventReason.ResourceUnreadable.name());
            awaitWaiting(client, bad.namespace, "restored", BlockReason.StatusUnreadable.name());
            operator.close();
            operator = null;

            operator = new InProcessOperator(api, List.of(CALL_LOG));
            client.resources(ReplicaSetRollback.class).inNamespace(good.namespace).resource(good.rollback("rb"))
                    .create();
            assertCompletedOnce(client, good, "rb");
            await().atMost(Duration.ofSeconds(10)).until(() -> unreadableCount(operator, "ReplicaSetRollback") == 3);
            assertEquals(1, events(client, bad.namespace, "approval", EventReason.ResourceUnreadable.name()).get(0)
                    .getCount(), "the same problem is one Event, not one per operator start");
            assertEquals(1, events(client, bad.namespace, "restored", "RollbackBlocked").size());
            assertInformersRun(operator);
            assertUntouched(bad);
        }
    }

    /**
     * A rollback that was readable, started, and then became unreadable (its spec edited past the
     * schema) stops there: nothing more is done, and deleting it releases the finalizer it has.
     */
    @Test
    void aRollbackThatBecomesUnreadableStopsAndCanStillBeDeleted() throws Exception {
        try (DbCluster db = cluster()) {
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(r).create();
            RollbackChecks.awaitPhase(client, db.namespace, "rb", "AwaitingApproval");
            assertFalse(objects.stored(ROLLBACKS, db.namespace, "rb").getMetadata().getFinalizers().isEmpty(),
                    "held by the operator's finalizer");
            // The operator may still write its last status right after the phase shows: edit the newest version.
            for (int attempt = 1; ; attempt++) {
                GenericKubernetesResource g = objects.stored(ROLLBACKS, db.namespace, "rb");
                set(g, "Manul", "spec", "approval");
                try {
                    client.genericKubernetesResources(ROLLBACKS).inNamespace(db.namespace).resource(g).update();
                    break;
                } catch (KubernetesClientException e) {
                    if (e.getCode() != 409 || attempt == 10) {
                        throw e;
                    }
                }
            }
            awaitEvent(client, db.namespace, "rb", EventReason.ResourceUnreadable.name());
            int calls = callsTo(db).size();
            String version = objects.stored(ROLLBACKS, db.namespace, "rb").getMetadata().getResourceVersion();
            Thread.sleep(1500); // a blocked rollback is looked at again every 10 s; a running one at once
            assertEquals(version, objects.stored(ROLLBACKS, db.namespace, "rb").getMetadata().getResourceVersion(),
                    "not written again");
            assertEquals(calls, callsTo(db).size(), "no call to a node since it became unreadable");

            objects.delete(ROLLBACKS, db.namespace, "rb");
            assertTrue(events(client, db.namespace, "rb").stream().anyMatch(e -> e.getReason().equals(
                    "RollbackDeleted") && e.getMessage().contains("spec.approval: must be one of Automatic, Manual")));
            assertEquals(0, db.node(0).timeline().getRollbackId(), "nothing removed");
            assertInformersRun(operator);
        }
    }

    // ------------------------------------------------------------------ Leases, Pods, Secrets

    /**
     * An unreadable Lease beside a cluster's own: the Lease informer (which lists and watches every
     * Lease) keeps running, the cluster's rollback completes, and a fresh operator starts with it
     * present (a typed Lease informer would fail its first list, and the operator its start).
     */
    @Test
    void anUnreadableLeaseInTheNamespaceStopsNeitherTheLeaseInformerNorARollback() throws Exception {
        try (DbCluster db = cluster()) {
            GenericKubernetesResource other = objects.raw(client.leases().inNamespace(db.namespace).withName(db.lease)
                    .get());
            other.setMetadata(new ObjectMetaBuilder().withName("payments-leader")
                    .withNamespace(db.namespace).build());
            set(other, "many-transitions", "spec", "leaseTransitions");
            client.genericKubernetesResources(LEASES).inNamespace(db.namespace).resource(other).create();

            client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb")).create();
            assertCompletedOnce(client, db, "rb");
            assertInformersRun(operator);

            operator.close();
            operator = null;
            operator = new InProcessOperator(api, List.of(CALL_LOG));
            assertInformersRun(operator);
            ReplicaSetRollback second = db.rollback("second");
            client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(second).create();
            assertEquals("NoDivergence", RollbackChecks.awaitPhase(client, db.namespace, "second", "Completed")
                    .getReason());
            objects.delete(LEASES, db.namespace, "payments-leader");
        }
    }

    /**
     * A rollback whose own Lease, Pods or TLS Secret cannot be read is Blocked with the field and the
     * rule (never the value), a Warning Event, a log line and the metric of that kind; nothing is
     * called on a node. Once the object is fixed, the rollback completes.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"Lease", "Pod", "Secret"})
    void aRollbackWhoseLeasePodsOrSecretCannotBeReadIsBlockedUntilFixed(String kind) throws Exception {
        String badValue = "unreadable-value";
        try (DbCluster db = cluster()) {
            String ns = db.namespace;
            ReplicaSetRollback r = db.rollback("rb");
            String reason;
            String problem; // a pattern
            Runnable fix;
            switch (kind) {
                case "Lease" -> {
                    GenericKubernetesResource lease = objects.stored(LEASES, ns, db.lease);
                    Object transitions = lease.get("spec", "leaseTransitions");
                    client.genericKubernetesResources(LEASES).inNamespace(ns).resource(set(lease, badValue, "spec",
                            "leaseTransitions")).update();
                    reason = "LeaseUnreadable";
                    problem = Pattern.quote("the leader Lease " + ns + "/" + db.lease + " cannot be read: "
                            + "spec.leaseTransitions: must be a whole number (32-bit)");
                    fix = () -> client.genericKubernetesResources(LEASES).inNamespace(ns).resource(set(
                            objects.stored(LEASES, ns, db.lease), transitions, "spec", "leaseTransitions")).update();
                }
                case "Pod" -> {
                    Pod junk = MockApiServer.runningPod(ns, "orders-junk", DbCluster.CONTAINER);
                    junk.getMetadata().setLabels(Map.of("app", "orders"));
                    client.genericKubernetesResources(PODS).inNamespace(ns).resource(set(objects.raw(junk), badValue,
                            "spec", "containers")).create();
                    reason = "PodsUnreadable";
                    problem = Pattern.quote("the pods of " + ns + " with labels {app=orders} cannot be read: items[")
                            + "\\d" + Pattern.quote("].spec.containers: must be a list");
                    fix = () -> { // pods are not watched: a change of the rollback brings it back before 20 s
                        objects.delete(PODS, ns, "orders-junk");
                        RollbackChecks.edit(client, ns, "rb", x -> {
                            x.getMetadata().getAnnotations().put("nudged", "true");
                            return x;
                        });
                    };
                }
                default -> {
                    Secret secret = new SecretBuilder().withNewMetadata().withName("agent-tls").withNamespace(ns)
                            .endMetadata().build();
                    client.genericKubernetesResources("v1", "Secret").inNamespace(ns).resource(set(objects.raw(secret),
                            Map.of("wrapped", badValue), "data", "ca.crt")).create();
                    r.getSpec().setAgentTlsSecret("agent-tls");
                    reason = "TlsSecretUnreadable";
                    problem = Pattern.quote("the agent TLS Secret " + ns + "/agent-tls cannot be read: data[ca.crt]: "
                            + "must be a string");
                    // the rollback goes on in plaintext, as the cluster serves it, once it names no Secret
                    fix = () -> RollbackChecks.edit(client, ns, "rb", x -> {
                        x.getSpec().setAgentTlsSecret(null);
                        return x;
                    });
                }
            }
            client.resources(ReplicaSetRollback.class).inNamespace(ns).resource(r).create();
            ReplicaSetRollbackStatus s = awaitWaiting(client, ns, "rb", reason);
            assertTrue(s.getWaitMessage().matches(problem + "; nothing was done"), s.getWaitMessage());
            assertEquals("Pending", s.getPhase());
            Event e = awaitEvent(client, ns, "rb", "RollbackBlocked").get(0);
            assertEquals("Warning", e.getType());
            assertTrue(e.getMessage().matches(reason + ": " + problem + "; nothing was done"), e.getMessage());
            assertTrue(unreadableCount(operator, kind) >= 1, kind + " counted");
            await().atMost(Duration.ofSeconds(10)).until(() -> LOGGED.stream().anyMatch(l -> l.matches(problem)));
            assertTrue(LOGGED.stream().noneMatch(l -> l.contains(badValue)), "the stored value is never logged");
            assertTrue(s.getWaitMessage().indexOf(badValue) < 0 && e.getMessage().indexOf(badValue) < 0, "nor shown");
            assertUntouched(db);

            fix.run();
            assertCompletedAfterABlock(db, "rb");
            assertInformersRun(operator);
        }
    }

    /**
     * A read the API server fails (500, past the client's own retries) is a visible problem too, not an
     * exception out of the reconcile: Blocked with the API server's answer, then, once the server
     * answers again, the rollback completes.
     */
    @Test
    void aLeaseReadTheApiServerFailsIsBlockedThenTheRollbackCompletes() throws Exception {
        try (DbCluster db = cluster()) {
            // refused until the test lifts it (the client retries 10 times before the operator sees it)
            var rule = api.faults().refuseNext(100_000, HttpMethod.GET,
                    "/apis/coordination.k8s.io/v1/namespaces/" + db.namespace + "/leases/" + db.lease, 500);
            client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb")).create();
            ReplicaSetRollbackStatus s = awaitWaiting(client, db.namespace, "rb", "LeaseUnreadable");
            assertTrue(s.getWaitMessage().startsWith("reading the leader Lease " + db.namespace + "/" + db.lease
                    + " failed: the API server answered 500 InternalError: injected fault"), s.getWaitMessage());
            assertTrue(rule.served() >= SERVER_ERRORS_SEEN_ONCE, "the fault was served");
            assertEquals(0.0, unreadableCount(operator, "Lease"), "an API server error is not an unreadable object");
            assertUntouched(db);
            api.faults().clear(); // the API server answers again
            // a change of the Lease brings the rollback back at once (else it is looked at again in 20 s)
            GenericKubernetesResource lease = objects.stored(LEASES, db.namespace, db.lease);
            lease.getMetadata().getAnnotations().put("touched", "yes");
            client.genericKubernetesResources(LEASES).inNamespace(db.namespace).resource(lease).update();
            assertCompletedAfterABlock(db, "rb");
        }
    }
}
