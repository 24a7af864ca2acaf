package io.dbrollback.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Term;
import io.dbrollback.operator.AgentClients;
import io.dbrollback.operator.GrpcRollbackTransport;
import io.dbrollback.operator.TlsRefusals;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.TestPki;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference node serving mutual TLS, reached through the operator's own transport
 * ({@link AgentClients}, {@link GrpcRollbackTransport}): a client without a certificate, with one
 * from another CA or expired, and a node whose certificate names another host, has expired or comes
 * from a CA the operator does not trust, are all refused during the handshake and reported as
 * {@code UNAUTHENTICATED} (a refusal, not an unknown outcome), and the node is left exactly as it
 * was. The node's certificate and client CA rotate on disk without a restart.
 */
@IntegrationTest
class NodeTlsTest {

    private static TestPki.Ca ca;
    private static TestPki.Ca otherCa;
    private static TestPki.Leaf operator;
    private static TestPki.Leaf admin;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void pki() {
        ca = TestPki.ca("cluster-ca");
        otherCa = TestPki.ca("other-ca");
        operator = ca.operator();
        // the test's own client acts as the operator would (it reads timelines and fences)
        admin = ca.issue("test-admin", TestPki.OPERATOR_IDENTITY);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    /**
     * A node serving {@code cert}, requiring client certificates of the cluster CA; primary in term 1 with one write.
     */
    private ReplicaNode node(String name, TestPki.Leaf cert) throws Exception {
        TestPki.PemFiles files = cert.write(dir, name);
        Path caFile = dir.resolve(name + "-client-ca.crt");
        TestPki.writeAtomically(caFile, ca.pem());
        ReplicaNode n = ReplicaNode.start(ReplicaNode.Config.of(name, dir.resolve(name), 1)
                .withTls(NodeTls.Config.mutual(files.cert(), files.key(), caFile)));
        open.add(n);
        return n;
    }

    /** The test's own client of the node, whatever is wrong with the node's certificate. */
    private NodeClient admin(ReplicaNode n) {
        NodeClient c = new NodeClient(n.address(), TestPki.credentialsTrustingAnyServer(admin));
        open.add(c);
        return c;
    }

    private static Timeline timeline(String address, AgentClients.Tls tls) {
        try (AgentClients clients = new AgentClients()) {
            return clients.stub(address, tls).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .getTimeline(GetTimelineRequest.getDefaultInstance());
        }
    }

    /** The status the operator's transport sees for GetTimeline with {@code tls}. */
    private static Status getTimelineStatus(String address, AgentClients.Tls tls) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> timeline(address, tls));
        return TlsRefusals.status(e);
    }

    private static TransportException fence(String address, AgentClients.Tls tls) {
        try (AgentClients clients = new AgentClients()) {
            GrpcRollbackTransport t = new GrpcRollbackTransport("n", clients, tls, Map.of("n", address), null,
                    e -> { }, Clock.systemUTC());
            return assertThrows(TransportException.class, () -> t.fence("n", "tls-incident", Term.of(5)));
        }
    }

    private static TransportException recover(String address, AgentClients.Tls tls) {
        try (AgentClients clients = new AgentClients()) {
            GrpcRollbackTransport t = new GrpcRollbackTransport("n", clients, tls, Map.of("n", address), null,
                    e -> { }, Clock.systemUTC());
            return assertThrows(TransportException.class, () -> t.recoverToLsn("n", Lsn.of(0), Lsn.of(1),
                    "tls-incident", Term.of(5), "a".repeat(64)));
        }
    }

    /** Refused as UNAUTHENTICATED on a read and on two mutating calls, in words; the node untouched. */
    private void assertRefused(ReplicaNode n, AgentClients.Tls tls, String words) throws Exception {
        NodeClient a = admin(n);
        a.promote(1);
        a.put("k", "v");
        Timeline before = a.timeline();

        Status read = getTimelineStatus(n.address(), tls);
        assertEquals(Status.Code.UNAUTHENTICATED, read.getCode(), String.valueOf(read));
        assertTrue(read.getDescription().contains(words), read.getDescription());
        for (TransportException e : List.of(fence(n.address(), tls), recover(n.address(), tls))) {
            assertEquals("UNAUTHENTICATED", e.code(), e.getMessage());
            assertFalse(e.outcomeUnknown(), "a refused handshake is a refusal: nothing reached the node");
            assertTrue(e.getMessage().contains(words), e.getMessage());
        }

        Timeline after = a.timeline();
        assertEquals(before, after, "the node is exactly as it was");
        assertFalse(after.getFenced());
        assertEquals(1, after.getCurrentTerm());
        assertEquals(Role.ROLE_PRIMARY, after.getRole());
        assertEquals(0, after.getRollbackId());
        assertEquals(Map.of("k", "v"), a.data());
    }

    @Test
    void aClientWithTheRightCertificateIsServedAndItsMutatingCallsApply() throws Exception {
        ReplicaNode n = node("good", ca.issue("good", "127.0.0.1"));
        NodeClient a = admin(n);
        a.promote(1);
        AgentClients.Tls tls = TestPki.material(ca, operator);
        assertEquals("good", timeline(n.address(), tls).getNode());
        try (AgentClients clients = new AgentClients()) {
            new GrpcRollbackTransport("good", clients, tls, Map.of("good", n.address()), null, e -> { },
                    Clock.systemUTC()).fence("good", "tls-incident", Term.of(5));
        }
        Timeline t = a.timeline();
        assertTrue(t.getFenced(), "the fence went through");
        assertEquals(5, t.getCurrentTerm());
    }

    @Test
    void aClientWithoutACertificateIsRefused() throws Exception {
        assertRefused(node("nocert", ca.issue("nocert", "127.0.0.1")), TestPki.material(ca, null),
                "client certificate");
    }

    @Test
    void aClientCertificateFromAnotherCaIsRefused() throws Exception {
        // The node asks for certificates of its CA; a client holding only another CA's presents none.
        assertRefused(node("wrongca", ca.issue("wrongca", "127.0.0.1")),
                TestPki.material(ca, otherCa.operator()), "client certificate");
    }

    @Test
    void anExpiredClientCertificateIsRefused() throws Exception {
        TestPki.Leaf expired = ca.issue("rollback-operator", List.of(TestPki.OPERATOR_IDENTITY),
                Instant.now().minus(Duration.ofDays(3)),
                Instant.now().minus(Duration.ofDays(1)));
        assertRefused(node("expclient", ca.issue("expclient", "127.0.0.1")), TestPki.material(ca, expired),
                "refused the operator's client certificate");
    }

    @Test
    void aNodeCertificateNamingAnotherHostIsRefused() throws Exception {
        assertRefused(node("wrongname", ca.issue("wrongname", "10.9.9.9", "orders-9.example")),
                TestPki.material(ca, operator), "does not name the address dialed");
    }

    @Test
    void anExpiredNodeCertificateIsRefused() throws Exception {
        TestPki.Leaf expired = ca.issue("expserver", List.of("127.0.0.1"), Instant.now().minus(Duration.ofDays(3)),
                Instant.now().minus(Duration.ofDays(1)));
        assertRefused(node("expserver", expired), TestPki.material(ca, operator),
                "the agent's certificate has expired");
    }

    @Test
    void aNodeCertificateFromACaTheOperatorDoesNotTrustIsRefused() throws Exception {
        assertRefused(node("untrusted", otherCa.issue("untrusted", "127.0.0.1")), TestPki.material(ca, operator),
                "not signed by the CA in ca.crt");
    }

    /** The raw status of GetTimeline and Fence on {@code address} with {@code client}'s certificate. */
    private static List<StatusRuntimeException> agentCalls(String address, TestPki.Leaf client) {
        try (NodeClient c = new NodeClient(address, TestPki.credentials(ca, client))) {
            return List.of(
                    assertThrows(StatusRuntimeException.class, () -> c.timeline()),
                    assertThrows(StatusRuntimeException.class, () -> c.fence(7, "tls-incident")));
        }
    }

    private static void assertCallerNotAllowed(StatusRuntimeException e) {
        assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), String.valueOf(e.getStatus()));
        assertEquals(Optional.of("CALLER_NOT_ALLOWED"), AgentErrors.reason(e));
        assertTrue(e.getStatus().getDescription().contains(TestPki.OPERATOR_IDENTITY), e.getStatus().getDescription());
    }

    @Test
    void aDatabasePeersCertificateIsRefusedTheAgentWhileReplicationBetweenNodesWorks() throws Exception {
        ReplicaNode primary = node("peer-a", ca.issue("peer-a", "127.0.0.1"));
        ReplicaNode replica = ReplicaNode.start(ReplicaNode.Config.of("peer-b", dir.resolve("peer-b"), 2).withTls(
                NodeTls.Config.mutual(ca.issue("peer-b", "127.0.0.1").write(dir, "peer-b").cert(),
                        dir.resolve("peer-b.key"), dir.resolve("peer-a-client-ca.crt"))));
        open.add(replica);
        NodeClient a = admin(primary);
        a.promote(1);
        a.put("k", "v");
        admin(replica).follow(a, 1, "tls-incident");
        Timeline before = a.timeline();

        // A certificate of the same CA, as every database pod holds one: fine for replication, not for the agent.
        TestPki.Leaf peer = ca.issue("peer-c", "127.0.0.1");
        for (StatusRuntimeException e : agentCalls(primary.address(), peer)) {
            assertCallerNotAllowed(e);
        }
        // Through the operator's own transport it is held like a refused handshake: a refusal, no unknown outcome.
        TransportException t = fence(primary.address(), TestPki.material(ca, peer));
        assertEquals("UNAUTHENTICATED", t.code(), t.getMessage());
        assertFalse(t.outcomeUnknown());
        assertEquals(before, a.timeline(), "nothing changed on the node");
        assertEquals(Role.ROLE_PRIMARY, a.timeline().getRole());

        // The node's own client API and replication are not subject to the rule: the replica follows over mTLS.
        try (NodeClient asPeer = new NodeClient(primary.address(), TestPki.credentials(ca, peer))) {
            asPeer.put("k2", "v2");
        }
        admin(replica).await("the replica caught up over mutual TLS with its peer certificate",
                x -> x.getLastLsn() == 2);
        assertEquals(Map.of("k", "v", "k2", "v2"), admin(replica).data());
    }

    @Test
    void theOperatorIdentityIsADnsOrUriNameOrTheCommonNameAndCanBeConfigured() throws Exception {
        ReplicaNode byDefault = node("ident-a", ca.issue("ident-a", "127.0.0.1"));
        try (NodeClient c = new NodeClient(byDefault.address(), TestPki.credentials(ca,
                ca.issue(TestPki.OPERATOR_IDENTITY)))) {
            assertEquals("ident-a", c.timeline().getNode(), "a common name equal to the identity is accepted");
        }
        for (StatusRuntimeException e : agentCalls(byDefault.address(), ca.issue("someone",
                "spiffe://cluster.local/ns/db/sa/" + TestPki.OPERATOR_IDENTITY))) {
            assertCallerNotAllowed(e);
        }

        String spiffe = "spiffe://cluster.local/ns/ops/sa/rollback-operator";
        TestPki.PemFiles files = ca.issue("ident-b", "127.0.0.1").write(dir, "ident-b");
        ReplicaNode custom = ReplicaNode.start(ReplicaNode.Config.of("ident-b", dir.resolve("ident-b"), 1).withTls(
                NodeTls.Config.mutual(files.cert(), files.key(), dir.resolve("ident-a-client-ca.crt"))
                        .withOperatorIdentity(spiffe)));
        open.add(custom);
        try (NodeClient c = new NodeClient(custom.address(), TestPki.credentials(ca, ca.issue("op", spiffe)))) {
            assertEquals("ident-b", c.timeline().getNode(), "a URI subject alternative name equal to the identity");
        }
        for (StatusRuntimeException e : agentCalls(custom.address(), operator)) {
            assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(),
                    "the default identity is not the one set");
        }
    }

    @Test
    void theNodeProcessTakesTheOperatorIdentityFromItsFlagOverItsEnvironment() throws Exception {
        TestPki.PemFiles files = ca.issue("ident-p", "127.0.0.1").write(dir, "ident-p");
        Path clientCa = dir.resolve("ident-p-client-ca.crt");
        TestPki.writeAtomically(clientCa, ca.pem());
        try (NodeProcess p = NodeProcess.start("ident-p", dir.resolve("ident-p"),
                Map.of("DBROLLBACK_NODE_TLS_OPERATOR_IDENTITY", "ops-from-env"), List.of("--tls-cert",
                        files.cert().toString(), "--tls-key", files.key().toString(), "--tls-client-ca",
                        clientCa.toString(), "--tls-operator-identity", "ops-from-flag"))) {
            try (NodeClient c = new NodeClient(p.address, TestPki.credentials(ca, ca.issue("x", "ops-from-flag")))) {
                assertEquals("ident-p", c.timeline().getNode(), "the flag's identity is served");
            }
            for (TestPki.Leaf refused : List.of(ca.issue("y", "ops-from-env"), operator)) {
                for (StatusRuntimeException e : agentCalls(p.address, refused)) {
                    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), String.valueOf(e.getStatus()));
                }
            }
        }
    }

    @Test
    void aPlaintextClientIsRefusedAndChangesNothing() throws Exception {
        ReplicaNode n = node("plain", ca.issue("plain", "127.0.0.1"));
        NodeClient a = admin(n);
        a.promote(1);
        Timeline before = a.timeline();
        // No TLS at all: the node drops the connection; the operator cannot tell it from a network
        // failure, so this stays UNAVAILABLE (an unknown outcome that the next GetTimeline resolves).
        TransportException e = fence(n.address(), null);
        assertEquals("UNAVAILABLE", e.code(), e.getMessage());
        assertEquals(before, a.timeline(), "nothing changed");
    }

    @Test
    void rotatingTheCertificateAndClientCaOnDiskTakesEffectWithoutARestart() throws Exception {
        TestPki.Ca newCa = TestPki.ca("cluster-ca-2026");
        TestPki.PemFiles files = ca.issue("n0", "127.0.0.1").write(dir, "n0");
        Path clientCa = dir.resolve("client-ca.crt");
        TestPki.writeAtomically(clientCa, ca.pem());
        try (NodeProcess p = NodeProcess.start("n0", dir.resolve("n0"), Map.of(), List.of("--tls-cert",
                files.cert().toString(), "--tls-key", files.key().toString(), "--tls-client-ca", clientCa.toString(),
                "--tls-refresh", "200ms"))) {
            long pid = p.process.pid();
            AgentClients.Tls oldMaterial = TestPki.material(ca, operator);
            TestPki.Leaf newOperator = newCa.operator();
            AgentClients.Tls newMaterial = TestPki.material(newCa, newOperator);
            try (NodeClient a = new NodeClient(p.address, TestPki.credentials(ca, admin))) {
                a.promote(1);
                a.put("k", "v");
            }
            assertEquals("n0", timeline(p.address, oldMaterial).getNode());
            assertEquals(Status.Code.UNAUTHENTICATED, getTimelineStatus(p.address, newMaterial).getCode());

            // 0. A file that does not parse (a botched edit) leaves the material in use alone.
            TestPki.writeAtomically(clientCa, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
            assertTrue(p.awaitLine("WARNING: node n0: TLS files not reloaded").contains("previous material stays"));
            assertEquals("n0", timeline(p.address, oldMaterial).getNode(), "still served with the previous material");

            // 1. The client CA becomes a bundle of both CAs: operators holding either are let in.
            TestPki.writeAtomically(clientCa, ca.pem() + newCa.pem());
            AgentClients.Tls newClientOldTrust = TestPki.material(ca, newOperator);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                    .until(() -> timeline(p.address, newClientOldTrust).getNode().equals("n0"));
            assertEquals("n0", timeline(p.address, oldMaterial).getNode(), "the old CA is still accepted");

            // 2. The node's certificate is renewed by the new CA, and the old CA is dropped.
            newCa.issue("n0", "127.0.0.1").write(dir, "n0");
            TestPki.writeAtomically(clientCa, newCa.pem());
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                    .until(() -> timeline(p.address, newMaterial).getNode().equals("n0"));
            Status old = getTimelineStatus(p.address, oldMaterial);
            assertEquals(Status.Code.UNAUTHENTICATED, old.getCode(), String.valueOf(old));
            assertTrue(old.getDescription().contains("not signed by the CA in ca.crt"), old.getDescription());

            assertTrue(p.process.isAlive(), "the node was not restarted");
            assertEquals(pid, p.process.pid());
            try (NodeClient a = new NodeClient(p.address,
                    TestPki.credentials(newCa, newCa.issue("admin", TestPki.OPERATOR_IDENTITY)))) {
                assertEquals(Map.of("k", "v"), a.data(), "same node, same data");
                assertNotEquals(0, a.timeline().getCurrentTerm());
            }
        }
    }

    @Test
    void aConnectionKeptOpenIsRefusedAtItsNextCallOnceItsCaIsDropped() throws Exception {
        TestPki.PemFiles files = ca.issue("aged", "127.0.0.1").write(dir, "aged");
        Path clientCa = dir.resolve("aged-client-ca.crt");
        TestPki.writeAtomically(clientCa, ca.pem());
        ReplicaNode n = ReplicaNode.start(ReplicaNode.Config.of("aged", dir.resolve("aged"), 1).withTls(
                new NodeTls.Config(files.cert(), files.key(), clientCa, null, Duration.ofMillis(100))));
        open.add(n);
        AgentClients.Tls material = TestPki.material(ca, operator);
        try (AgentClients clients = new AgentClients()) {
            Supplier<Status> call = () -> {
                try {
                    clients.stub(n.address(), material).withDeadlineAfter(10, TimeUnit.SECONDS)
                            .getTimeline(GetTimelineRequest.getDefaultInstance());
                    return Status.OK;
                } catch (StatusRuntimeException e) {
                    return TlsRefusals.status(e);
                }
            };
            assertEquals(Status.Code.OK, call.get().getCode());
            // The operator's CA is dropped from the node's bundle; its connection stays open meanwhile.
            TestPki.writeAtomically(clientCa, otherCa.pem());
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> call.get().getCode() == Status.Code.UNAUTHENTICATED);
            Status refused = call.get();
            assertTrue(refused.getDescription().contains("aged refuses the call: the client certificate is not signed"),
                    String.valueOf(refused));
            assertEquals(1, clients.openChannels(), "the same channel");
            // A fence on that connection changes nothing either.
            TransportException fence = assertThrows(TransportException.class, () -> new GrpcRollbackTransport("n",
                    clients, material, Map.of("n", n.address()), null,
                    e -> { }, Clock.systemUTC()).fence("n", "tls-incident", Term.of(5)));
            assertEquals("UNAUTHENTICATED", fence.code());
            assertFalse(fence.outcomeUnknown());
        }
        try (NodeClient a = new NodeClient(n.address(),
                TestPki.credentialsTrustingAnyServer(otherCa.issue("admin", TestPki.OPERATOR_IDENTITY)))) {
            assertFalse(a.timeline().getFenced(), "the refused fence changed nothing");
        }
    }

    @Test
    void unusableTlsFilesStopTheNodeFromStarting() throws Exception {
        Path cert = dir.resolve("broken.crt");
        TestPki.writeAtomically(cert, "not a certificate\n");
        TestPki.PemFiles good = ca.issue("x", "127.0.0.1").write(dir, "good");
        IOException e = assertThrows(IOException.class, () -> ReplicaNode.start(ReplicaNode.Config
                .of("broken", dir.resolve("broken"), 1).withTls(NodeTls.Config.mutual(cert, good.key(), null))));
        assertTrue(e.getMessage().contains("unusable TLS material"), e.getMessage());
    }
}
