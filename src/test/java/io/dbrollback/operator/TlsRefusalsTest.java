package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.testing.TestPki;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.ConnectException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/**
 * Only a handshake refused over a certificate becomes UNAUTHENTICATED (a refusal: nothing reached the
 * node); a network failure, even one during a handshake, stays UNAVAILABLE, an unknown outcome for a
 * mutating call that the coordinator resolves by reading the node. (The real handshakes are in
 * NodeTlsTest.)
 */
class TlsRefusalsTest {

    private static StatusRuntimeException unavailable(Throwable cause) {
        return Status.UNAVAILABLE.withDescription("io exception").withCause(cause).asRuntimeException();
    }

    @Test
    void networkFailuresStayUnavailableAndUnknown() {
        for (StatusRuntimeException e : List.of(
                unavailable(new ConnectException("Connection refused")),
                unavailable(new SSLHandshakeException("Connection closed while SSL/TLS handshake was in progress")),
                Status.UNAVAILABLE.withDescription("Network closed for unknown reason").asRuntimeException())) {
            assertEquals(Status.Code.UNAVAILABLE, TlsRefusals.status(e).getCode(), String.valueOf(e.getCause()));
            TransportException t = GrpcRollbackTransport.translate("Fence", "orders-0", e, true);
            assertEquals("UNAVAILABLE", t.code());
            assertTrue(t.outcomeUnknown(), "a mutating call cut by the network may have happened");
        }
        StatusRuntimeException deadline = Status.DEADLINE_EXCEEDED.asRuntimeException();
        assertEquals(Status.Code.DEADLINE_EXCEEDED, TlsRefusals.status(deadline).getCode());
    }

    @Test
    void certificateAlertsInTheJdkSpellingAreRefusals() {
        StatusRuntimeException e = unavailable(new SSLException("Received fatal alert: certificate_required"));
        Status s = TlsRefusals.status(e);
        assertEquals(Status.Code.UNAUTHENTICATED, s.getCode());
        assertTrue(s.getDescription().contains("requires a client certificate"), s.getDescription());
        TransportException t = GrpcRollbackTransport.translate("RecoverToLsn", "orders-0", e, true);
        assertEquals("UNAUTHENTICATED", t.code());
        assertFalse(t.outcomeUnknown());
    }

    @Test
    void anAgentAnsweringUnauthenticatedIsKeptAsIs() {
        StatusRuntimeException e = Status.UNAUTHENTICATED.withDescription("client orders-admin may not fence")
                .asRuntimeException();
        assertEquals("client orders-admin may not fence", TlsRefusals.status(e).getDescription());
        TransportException t = GrpcRollbackTransport.translate("Fence", "orders-0", e, true);
        assertEquals("UNAUTHENTICATED", t.code());
        assertFalse(t.outcomeUnknown(), "an answer is a refusal");
    }

    @Test
    void anAgentRefusingTheOperatorsIdentityIsARefusalLikeUnauthenticated() {
        StatusRuntimeException e = AgentErrors.error(Status.Code.PERMISSION_DENIED,
                ErrorReason.CALLER_NOT_ALLOWED, "orders-0 serves the rollback agent only to"
                        + " dbrollback-operator");
        Status s = TlsRefusals.status(e);
        assertEquals(Status.Code.UNAUTHENTICATED, s.getCode());
        assertTrue(s.getDescription().contains("refused the operator's identity"), s.getDescription());
        for (boolean mutating : new boolean[] {true, false}) {
            TransportException t = GrpcRollbackTransport.translate("Fence", "orders-0", e, mutating);
            assertEquals("UNAUTHENTICATED", t.code(), "held as AgentUnauthenticated, not as the agent's reason");
            assertFalse(t.outcomeUnknown(), "refused before the request was looked at: nothing happened");
            assertTrue(t.getMessage().contains("dbrollback-operator"), t.getMessage());
        }
    }

    @Test
    void theOperatorsOwnClientCertificateIsDescribed() {
        TestPki.Ca ca = TestPki.ca("hint-ca");
        Instant now = Instant.now();
        assertNull(TlsRefusals.clientCertificateProblem(null, now), "plaintext: nothing to say");
        assertTrue(TlsRefusals.clientCertificateProblem(TestPki.material(ca, null), now).contains("no tls.crt"));
        assertNull(TlsRefusals.clientCertificateProblem(TestPki.material(ca, ca.issue("ok")), now));
        TestPki.Leaf expired = ca.issue("old", List.of(), now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1)));
        assertTrue(TlsRefusals.clientCertificateProblem(TestPki.material(ca, expired), now)
                .contains("tls.crt expired at"));
    }
}
