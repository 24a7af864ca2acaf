package io.dbrollback.operator;

import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.ByteArrayInputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * gRPC channels to the agents, one per (address, TLS material): new certificates (a rotated Secret)
 * give new channels without a restart, and the channel an agent was reached with before is closed
 * once its calls end; plaintext when no material is given. The agent's certificate must chain to
 * {@code ca.crt} and name the address dialed (the pod IP), as HTTPS host name checks do.
 */
public final class AgentClients implements AutoCloseable {

    /**
     * TLS material from a Secret: {@code ca.crt} to trust the agents, and for mutual TLS the
     * operator's {@code tls.crt} and {@code tls.key}.
     */
    public record Tls(byte[] caCert, byte[] clientCert, byte[] clientKey) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Tls t && Arrays.equals(caCert, t.caCert) && Arrays.equals(clientCert, t.clientCert)
                    && Arrays.equals(clientKey, t.clientKey);
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(caCert), Arrays.hashCode(clientCert), Arrays.hashCode(clientKey));
        }

        @Override
        public String toString() {
            return "Tls[ca=" + (caCert != null) + ", client=" + (clientCert != null) + "]";
        }
    }

    private record Key(String address, Tls tls) {
    }

    private final Map<Key, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final List<ClientInterceptor> interceptors;

    public AgentClients() {
        this(List.of());
    }

    /** @param interceptors applied to every channel (the fault-injection tests use this) */
    public AgentClients(List<ClientInterceptor> interceptors) {
        this.interceptors = List.copyOf(interceptors);
    }

    public RollbackAgentGrpc.RollbackAgentBlockingStub stub(String address, Tls tls) {
        return RollbackAgentGrpc.newBlockingStub(channel(address, tls));
    }

    /**
     * The channel to {@code address} with {@code tls}, made on first use.
     *
     * @throws IllegalArgumentException when the material is unusable (not PEM, a key that does not
     *     parse, a certificate without its key)
     */
    ManagedChannel channel(String address, Tls tls) {
        Key key = new Key(address, tls);
        ManagedChannel c = channels.get(key);
        if (c != null) {
            return c;
        }
        synchronized (channels) {
            c = channels.get(key);
            if (c != null) {
                return c;
            }
            NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(16 << 20);
            if (tls == null) {
                b.usePlaintext();
            } else {
                b.sslContext(sslContext(tls));
            }
            b.intercept(interceptors);
            ManagedChannel made = b.build();
            // The material changed (a rotated Secret): the old channel finishes its calls and closes.
            // Two rollbacks reaching one agent with different Secrets would take turns; they never should.
            channels.entrySet().removeIf(e -> {
                if (e.getKey().address().equals(address)) {
                    e.getValue().shutdown();
                    return true;
                }
                return false;
            });
            channels.put(key, made);
            return made;
        }
    }

    /** How many channels are open (a rotation replaces one, it does not add one). */
    public int openChannels() {
        return channels.size();
    }

    private static SslContext sslContext(Tls tls) {
        if ((tls.clientCert() == null) != (tls.clientKey() == null)) {
            throw new IllegalArgumentException(tls.clientCert() == null ? "tls.key without tls.crt"
                    : "tls.crt without tls.key");
        }
        try {
            SslContextBuilder b = GrpcSslContexts.forClient();
            if (tls.caCert() != null) {
                b.trustManager(new ByteArrayInputStream(tls.caCert()));
            }
            if (tls.clientCert() != null && tls.clientKey() != null) {
                b.keyManager(new ByteArrayInputStream(tls.clientCert()), new ByteArrayInputStream(tls.clientKey()));
            }
            return b.build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("unusable agent TLS material: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        for (ManagedChannel c : channels.values()) {
            try {
                c.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        channels.clear();
    }
}
