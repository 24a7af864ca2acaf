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
 * give new channels without a restart; plaintext when no material is given.
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

    ManagedChannel channel(String address, Tls tls) {
        return channels.computeIfAbsent(new Key(address, tls), k -> {
            NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(16 << 20);
            if (tls == null) {
                b.usePlaintext();
            } else {
                b.sslContext(sslContext(tls));
            }
            b.intercept(interceptors);
            return b.build();
        });
    }

    private static SslContext sslContext(Tls tls) {
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
