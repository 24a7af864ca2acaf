package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.testing.TestPki;
import io.grpc.ManagedChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Channels are keyed by (address, material): the same Secret reuses its channel, a rotated Secret
 * gets a new one and the old one is closed; material that cannot be used is refused in words.
 */
class AgentClientsTest {

    private static final TestPki.Ca CA = TestPki.ca("clients-test-ca");

    @Test
    void aRotatedSecretGetsANewChannelAndTheOldOneIsClosed() {
        AgentClients.Tls first = TestPki.material(CA, CA.issue("operator-1"));
        try (AgentClients clients = new AgentClients()) {
            ManagedChannel a = clients.channel("127.0.0.1:7000", first);
            assertSame(a, clients.channel("127.0.0.1:7000", new AgentClients.Tls(first.caCert().clone(),
                    first.clientCert().clone(), first.clientKey().clone())), "equal bytes, same channel");
            ManagedChannel other = clients.channel("127.0.0.2:7000", first);
            assertEquals(2, clients.openChannels());

            AgentClients.Tls rotated = TestPki.material(CA, CA.issue("operator-2"));
            ManagedChannel b = clients.channel("127.0.0.1:7000", rotated);
            assertNotSame(a, b);
            assertTrue(a.isShutdown(), "the channel of the old material is closed");
            assertFalse(b.isShutdown());
            assertFalse(other.isShutdown(), "another agent's channel is kept");
            assertEquals(2, clients.openChannels(), "replaced, not added");
            assertSame(b, clients.channel("127.0.0.1:7000", rotated));
        }
    }

    @Test
    void unusableMaterialIsRefusedInWords() {
        TestPki.Leaf leaf = CA.issue("operator");
        byte[] ca = CA.pem().getBytes(StandardCharsets.US_ASCII);
        byte[] cert = leaf.pem().getBytes(StandardCharsets.US_ASCII);
        try (AgentClients clients = new AgentClients()) {
            IllegalArgumentException noKey = assertThrows(IllegalArgumentException.class,
                    () -> clients.channel("127.0.0.1:7000", new AgentClients.Tls(ca, cert, null)));
            assertTrue(noKey.getMessage().contains("tls.crt without tls.key"), noKey.getMessage());
            IllegalArgumentException garbage = assertThrows(IllegalArgumentException.class,
                    () -> clients.channel("127.0.0.1:7000", new AgentClients.Tls("not a CA".getBytes(
                            StandardCharsets.US_ASCII), null, null)));
            assertTrue(garbage.getMessage().startsWith("unusable agent TLS material"), garbage.getMessage());
            assertEquals(0, clients.openChannels());
        }
    }
}
