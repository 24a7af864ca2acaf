package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.api.Condition;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.TestPki;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.javaoperatorsdk.operator.Operator;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator (JOSDK in-process, mock API server) against reference nodes that serve mutual TLS
 * and replicate over it, the resource naming the TLS Secret: with the right material the rollback
 * completes; with a client certificate of another CA it is held with reason AgentUnauthenticated and
 * a Warning event, keeps retrying, and the node is not touched; once the Secret is fixed, the same
 * operator (new channels, no restart) completes it.
 */
@IntegrationTest
class MutualTlsOperatorTest {

    private static TestPki.Ca ca;
    private static TestPki.Ca otherCa;

    private MockApiServer api;
    private KubernetesClient client;
    private AgentClients agents;
    private SimpleMeterRegistry registry;
    private Operator operator;

    @BeforeAll
    static void pki() {
        ca = TestPki.ca("orders-ca");
        otherCa = TestPki.ca("someone-elses-ca");
    }

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
        agents = new AgentClients();
        registry = new SimpleMeterRegistry();
        operator = operator(null, agents);
    }

    /**
     * @param budget when not null, the coordinator steps this operator may take in all
     * @param agents its gRPC channels
     */
    private Operator operator(Semaphore budget, AgentClients agents) {
        return TestOperator.against(client).agents(agents).instance("mtls-test").registry(registry).stepBudget(budget)
                .backoff(ReconcileSettings.DEFAULTS.initialBackoff(), ReconcileSettings.DEFAULTS.maxBackoff())
                .deployedRetry().start();
    }

    @AfterEach
    void stop() {
        operator.stop();
        agents.close();
        api.close();
    }

    private ReplicaSetRollback get(String ns, String name) {
        return RollbackChecks.get(client, ns, name);
    }

    private ReplicaSetRollbackStatus awaitStatus(String ns, String name, String what,
            Predicate<ReplicaSetRollbackStatus> p) {
        await().alias(what).atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            ReplicaSetRollback r = get(ns, name);
            return r != null && r.getStatus() != null && p.test(r.getStatus());
        });
        return get(ns, name).getStatus();
    }

    private List<Event> events(String ns, String name) {
        return RollbackChecks.events(client, ns, name);
    }

    /** The Warning event follows the status write that records the block. */
    private void awaitWarning(String ns, String name, String prefix) {
        await().alias("Warning event " + prefix).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> events(ns, name).stream().anyMatch(e -> e.getType().equals("Warning")
                        && e.getReason().equals("RollbackBlocked") && e.getMessage().startsWith(prefix)));
    }

    private ReplicaSetRollback rollbackWithSecret(DbCluster db, String name, String secret) {
        ReplicaSetRollback r = db.rollback(name);
        r.getSpec().setAgentTlsSecret(secret);
        return client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(r).create();
    }

    private static void assertCompletedWithOneRecover(DbCluster db, ReplicaSetRollbackStatus s) throws Exception {
        assertEquals("Completed", s.getReason());
        assertEquals(5L, s.getTail().getRecords());
        assertEquals(0L, s.getRollbackIdBefore());
        assertEquals(1L, s.getRollbackIdAfter());
        Path file = db.volume(0).resolve(s.getRollbackFile().getPath().substring(DbCluster.VOLUME.length() + 1));
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))),
                s.getRollbackFile().getSha256());
        assertEquals(1, db.node(0).timeline().getRollbackId(), "one recover");
        db.node(0).await("caught up over TLS", t -> t.getLastLsn() == 13);
        assertEquals(db.node(1).data(), db.node(0).data());
    }

    @Test
    void aRollbackOverMutualTlsCompletes() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "mtls", ca)) {
            db.failover();
            client.secrets().inNamespace("mtls").resource(TestPki.secret("mtls", "agent-tls", ca,
                    ca.operator())).create();
            rollbackWithSecret(db, "rb", "agent-tls");
            ReplicaSetRollbackStatus s = awaitStatus("mtls", "rb", "Completed", x -> "Completed".equals(x.getPhase()));
            assertCompletedWithOneRecover(db, s);
            assertEquals(3, agents.openChannels(), "one channel to the target, one to the Lease holder, one to the"
                    + " pod that holds the off-node copy");
        }
    }

    @Test
    void aClientCertificateOfAnotherCaHoldsTheRollbackWithoutTouchingTheNodeUntilTheSecretIsFixed() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "wrongca", ca)) {
            db.failover();
            Timeline before = db.node(0).timeline();
            assertEquals(Role.ROLE_PRIMARY, before.getRole(), "the former primary does not know it was replaced");
            Secret wrong = client.secrets().inNamespace("wrongca").resource(TestPki.secret("wrongca", "agent-tls", ca,
                    otherCa.operator())).create();
            rollbackWithSecret(db, "rb", "agent-tls");

            // Held with a reason of its own, and retried (the attempts rise) with backoff.
            ReplicaSetRollbackStatus s = awaitStatus("wrongca", "rb", "blocked and retried",
                    x -> "AgentUnauthenticated".equals(x.getWaiting()) && x.getAttempts() != null
                            && x.getAttempts() >= 2);
            assertEquals("Pending", s.getPhase());
            assertTrue(s.getWaitMessage().contains("UNAUTHENTICATED")
                    && s.getWaitMessage().contains("client certificate")
                    && s.getWaitMessage().contains("the call reached nothing on the node"), s.getWaitMessage());
            Condition blocked = s.getConditions().stream().filter(c -> c.getType().equals("Blocked")).findFirst()
                    .orElseThrow();
            assertEquals("True", blocked.getStatus());
            assertEquals("AgentUnauthenticated", blocked.getReason());
            Condition progressing = s.getConditions().stream().filter(c -> c.getType().equals("Progressing"))
                    .findFirst().orElseThrow();
            assertEquals("False", progressing.getStatus());
            List<Event> warnings = events("wrongca", "rb").stream().filter(e -> e.getType().equals("Warning")
                    && e.getReason().equals("RollbackBlocked")
                    && e.getMessage().startsWith("AgentUnauthenticated: ")).toList();
            assertEquals(1, warnings.size(), "one Warning event for the episode, not one per retry");
            Counter refused = registry.find("dbrollback_agent_call_errors_total").tag("call", "GetTimeline")
                    .tag("code", "UNAUTHENTICATED").counter();
            assertNotNull(refused);
            assertTrue(refused.count() >= 2, "every attempt counted");

            // The node was not touched: no fence, no term, no rollback id, no file, no exec.
            Timeline after = db.node(0).timeline();
            assertEquals(before, after, "the former primary is exactly as it was");
            assertFalse(after.getFenced());
            assertEquals(1, after.getCurrentTerm());
            assertEquals(0, after.getRollbackId());
            assertEquals(15, after.getLastLsn());
            assertEquals("", after.getLastRecoveryIncident());
            assertTrue(api.exec().execLog("wrongca", "orders-0").isEmpty(), "no exec into the pod");
            assertFalse(Files.exists(db.volume(0).resolve("rollback")), "no rollback directory, no file");
            assertTrue(s.getPlan() == null && s.getRollbackFile() == null, "nothing planned or written");

            // The Secret is fixed (rotated to a certificate of the right CA): the same operator completes.
            wrong.getData().putAll(TestPki.secret("wrongca", "agent-tls", ca, ca.operator()).getData());
            client.secrets().inNamespace("wrongca").resource(wrong).update();
            ReplicaSetRollbackStatus done = awaitStatus("wrongca", "rb", "Completed",
                    x -> "Completed".equals(x.getPhase()));
            assertCompletedWithOneRecover(db, done);
            assertFalse(done.getConditions().stream().anyMatch(c -> c.getType().equals("Blocked")
                    && c.getStatus().equals("True")), "no longer blocked");
            assertEquals(3, agents.openChannels(), "the channels of the old material were replaced, not kept (target,"
                    + " Lease holder, the off-node copy's pod)");
        }
    }

    @Test
    void aLeaderWhoseCertificateNamesAnotherHostHoldsPlanningUntilItsCertificateIsRotated() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "leadername", ca)) {
            db.failover();
            TestPki.Leaf operatorCert = ca.operator();
            client.secrets().inNamespace("leadername").resource(TestPki.secret("leadername", "agent-tls", ca,
                    operatorCert)).create();
            AgentClients.Tls material = TestPki.material(ca, operatorCert);
            // The new primary's certificate is renewed wrongly: it names another host.
            db.serveCertificate(1, ca.issue("orders-1", "10.9.9.9", "orders-9.example"));
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> probe(db.address(1), material) == Status.Code.UNAUTHENTICATED);
            Timeline before = db.node(0).timeline();
            rollbackWithSecret(db, "rb", "agent-tls");

            ReplicaSetRollbackStatus s = awaitStatus("leadername", "rb", "blocked on the Lease holder",
                    x -> "AgentUnauthenticated".equals(x.getWaiting()));
            assertTrue(s.getWaitMessage().startsWith("GetTimeline on orders-1: UNAUTHENTICATED")
                    && s.getWaitMessage().contains("does not name the address dialed"), s.getWaitMessage());
            assertEquals("Pending", s.getPhase());
            assertEquals(before, db.node(0).timeline(), "the target was read, never changed");
            awaitWarning("leadername", "rb", "AgentUnauthenticated: GetTimeline on orders-1");

            // The certificate is renewed again, correctly, on disk: no restart of the node or the operator.
            db.serveCertificate(1, ca.issue("orders-1", "127.0.0.1"));
            assertCompletedWithOneRecover(db, awaitStatus("leadername", "rb", "Completed",
                    x -> "Completed".equals(x.getPhase())));
        }
    }

    @Test
    void aTargetCertificateGoneWrongAfterTheFenceHoldsTheRollbackWithNothingMoreDone() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "midflight", ca)) {
            db.failover();
            TestPki.Leaf operatorCert = ca.operator();
            client.secrets().inNamespace("midflight").resource(TestPki.secret("midflight", "agent-tls", ca,
                    operatorCert)).create();
            // An operator allowed two steps: plan, fence.
            operator.stop();
            operator = operator(new Semaphore(2), agents);
            rollbackWithSecret(db, "rb", "agent-tls");
            awaitStatus("midflight", "rb", "Fenced", x -> "Fenced".equals(x.getPhase()));
            operator.stop();
            Timeline fenced = db.node(0).timeline();
            assertTrue(fenced.getFenced());

            // The target's certificate is renewed with a wrong name; a new operator (new connections:
            // one made before the renewal would go on with the certificate it checked) takes over.
            db.serveCertificate(0, ca.issue("orders-0", "10.9.9.9"));
            AgentClients.Tls material = TestPki.material(ca, operatorCert);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> probe(db.address(0), material) == Status.Code.UNAUTHENTICATED);
            agents.close();
            agents = new AgentClients();
            operator = operator(null, agents);
            ReplicaSetRollbackStatus s = awaitStatus("midflight", "rb", "blocked and retried",
                    x -> "AgentUnauthenticated".equals(x.getWaiting()) && x.getAttempts() != null
                            && x.getAttempts() >= 2);
            assertEquals("Fenced", s.getPhase(), "the checkpoint stays where it was");
            assertTrue(s.getWaitMessage().startsWith("GetTimeline on orders-0: UNAUTHENTICATED: TLS handshake refused:"
                    + " the agent's certificate does not name the address dialed"), s.getWaitMessage());
            assertEquals(fenced, db.node(0).timeline(), "nothing more was done: no read, no recover");
            assertTrue(s.getRollbackFile() == null && !Files.exists(db.volume(0).resolve("rollback")), "no file");

            db.serveCertificate(0, ca.issue("orders-0", "127.0.0.1"));
            assertCompletedWithOneRecover(db, awaitStatus("midflight", "rb", "Completed",
                    x -> "Completed".equals(x.getPhase())));
        }
    }

    private static Status.Code probe(String address, AgentClients.Tls tls) {
        try (AgentClients c = new AgentClients()) {
            c.stub(address, tls).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .getTimeline(GetTimelineRequest.getDefaultInstance());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return TlsRefusals.status(e).getCode();
        }
    }

    @Test
    void aSecretWhoseKeyDoesNotParseIsReportedBeforeAnyCall() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "badkey", ca)) {
            db.failover();
            Secret secret = TestPki.secret("badkey", "agent-tls", ca, ca.operator());
            secret.getData().put("tls.key", Base64.getEncoder().encodeToString(
                    "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".getBytes()));
            client.secrets().inNamespace("badkey").resource(secret).create();
            rollbackWithSecret(db, "rb", "agent-tls");
            ReplicaSetRollbackStatus s = awaitStatus("badkey", "rb", "TlsSecretInvalid",
                    x -> "TlsSecretInvalid".equals(x.getWaiting()));
            assertTrue(s.getWaitMessage().startsWith("the agent TLS Secret badkey/agent-tls cannot be used"),
                    s.getWaitMessage());
            assertFalse(s.getWaitMessage().contains("bm90IGEga2V5"), "no Secret contents in the status");
            awaitWarning("badkey", "rb", "TlsSecretInvalid: ");
            assertFalse(db.node(0).timeline().getFenced());
            assertEquals(0, agents.openChannels(), "nothing was dialed");
        }
    }
}
