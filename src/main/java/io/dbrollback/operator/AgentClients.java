package io.dbrollback.operator;

import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.AbstractStub;
import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.time.Duration;
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

    /**
     * How long the operator waits for the agents: a deadline per unary call (a call that has not
     * answered by then fails with DEADLINE_EXCEEDED), and for the streams (ReadDivergentTail,
     * ReadRollbackFile, WriteRollbackFile) a progress timeout (a stream that moves no message for that
     * long is cancelled and reported as {@code AgentStalled}) under an overall deadline. Each is a
     * configuration property (see {@link #PROPERTIES}); none may be zero or negative.
     *
     * @param getTimeline GetTimeline ({@code dbrollback.agent.deadline.get-timeline}, 10 s)
     * @param fence Fence ({@code dbrollback.agent.deadline.fence}, 30 s)
     * @param recoverToLsn RecoverToLsn, which rewrites the node's state
     *     ({@code dbrollback.agent.deadline.recover-to-lsn}, 10 min)
     * @param rejoinAsReplica RejoinAsReplica ({@code dbrollback.agent.deadline.rejoin-as-replica}, 30 s)
     * @param quarantineRollbackFile QuarantineRollbackFile
     *     ({@code dbrollback.agent.deadline.quarantine-rollback-file}, 30 s)
     * @param summarizeTail SummarizeTail, which reads the whole tail on the node
     *     ({@code dbrollback.agent.deadline.summarize-tail}, 60 s)
     * @param progressTimeout the longest a stream may go without a message, or a write without the
     *     agent taking one or answering ({@code dbrollback.agent.progress-timeout}, 60 s)
     * @param streamDeadline the whole of one stream, a second guard ({@code dbrollback.agent.stream-deadline},
     *     30 min)
     */
    public record Deadlines(Duration getTimeline, Duration fence, Duration recoverToLsn, Duration rejoinAsReplica,
            Duration quarantineRollbackFile, Duration summarizeTail, Duration progressTimeout,
            Duration streamDeadline) {

        /** The configuration property of each component, in the order of the components. */
        public static final List<String> PROPERTIES = List.of("dbrollback.agent.deadline.get-timeline",
                "dbrollback.agent.deadline.fence", "dbrollback.agent.deadline.recover-to-lsn",
                "dbrollback.agent.deadline.rejoin-as-replica", "dbrollback.agent.deadline.quarantine-rollback-file",
                "dbrollback.agent.deadline.summarize-tail", "dbrollback.agent.progress-timeout",
                "dbrollback.agent.stream-deadline");

        /** The defaults, the values of application.properties. */
        public static final Deadlines DEFAULT = new Deadlines(Duration.ofSeconds(10), Duration.ofSeconds(30),
                Duration.ofMinutes(10), Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(60),
                Duration.ofSeconds(60), Duration.ofMinutes(30));

        /** @throws IllegalArgumentException naming the property of a missing, zero or negative value */
        public Deadlines {
            List<Duration> all = Arrays.asList(getTimeline, fence, recoverToLsn, rejoinAsReplica,
                    quarantineRollbackFile, summarizeTail, progressTimeout, streamDeadline);
            for (int i = 0; i < all.size(); i++) {
                Duration d = all.get(i);
                if (d == null || d.isZero() || d.isNegative()) {
                    throw new IllegalArgumentException(PROPERTIES.get(i) + " must be a positive duration (such as"
                            + " 30s or 10m), not " + (d == null ? "empty" : d));
                }
            }
        }

        /** {@code stub} with {@code deadline} from now. */
        static <S extends AbstractStub<S>> S within(S stub, Duration deadline) {
            return stub.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
        }

        /** A duration as a message says it: "60 s", "1.5 s", "250 ms". */
        static String words(Duration d) {
            long ms = d.toMillis();
            if (ms < 1000) {
                return ms + " ms";
            }
            return (ms % 1000 == 0 ? Long.toString(ms / 1000) : BigDecimal.valueOf(ms, 3)
                    .stripTrailingZeros().toPlainString()) + " s";
        }
    }

    /** The one channel to an address, and the TLS material it was made with. */
    private record Held(Tls tls, ManagedChannel channel) {
    }

    /** By address: a lookup and a replacement touch only their address, whatever the number of agents. */
    private final Map<String, Held> channels = new ConcurrentHashMap<>();
    private final List<ClientInterceptor> interceptors;
    private final Deadlines deadlines;

    /** Plain channels with the default deadlines. */
    public AgentClients() {
        this(List.of());
    }

    /** @param interceptors applied to every channel (the fault-injection tests use this) */
    public AgentClients(List<ClientInterceptor> interceptors) {
        this(interceptors, Deadlines.DEFAULT);
    }

    /**
     * @param interceptors applied to every channel
     * @param deadlines how long every call to an agent may take
     */
    public AgentClients(List<ClientInterceptor> interceptors, Deadlines deadlines) {
        this.interceptors = List.copyOf(interceptors);
        this.deadlines = Objects.requireNonNull(deadlines, "deadlines");
    }

    /** How long calls to the agents may take. */
    public Deadlines deadlines() {
        return deadlines;
    }

    /** A blocking stub for unary calls; the caller sets the call's deadline from {@link #deadlines()}. */
    public RollbackAgentGrpc.RollbackAgentBlockingStub stub(String address, Tls tls) {
        return RollbackAgentGrpc.newBlockingStub(channel(address, tls));
    }

    /** An asynchronous stub, for the streams (manual flow control, progress timeout). */
    RollbackAgentGrpc.RollbackAgentStub asyncStub(String address, Tls tls) {
        return RollbackAgentGrpc.newStub(channel(address, tls));
    }

    /**
     * The channel to {@code address} with {@code tls}, made on first use.
     *
     * @throws IllegalArgumentException when the material is unusable (not PEM, a key that does not
     *     parse, a certificate without its key)
     */
    ManagedChannel channel(String address, Tls tls) {
        Held held = channels.get(address);
        if (held != null && Objects.equals(held.tls(), tls)) {
            return held.channel();
        }
        Held[] replaced = new Held[1];
        Held now = channels.compute(address, (a, h) -> {
            if (h != null && Objects.equals(h.tls(), tls)) {
                return h;
            }
            replaced[0] = h;
            NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(16 << 20);
            if (tls == null) {
                b.usePlaintext();
            } else {
                b.sslContext(sslContext(tls));
            }
            b.intercept(interceptors);
            return new Held(tls, b.build());
        });
        if (replaced[0] != null) {
            // The material changed (a rotated Secret): the old channel finishes its calls and closes.
            // Two rollbacks reaching one agent with different Secrets would take turns; they never should.
            replaced[0].channel().shutdown();
        }
        return now.channel();
    }

    /** How many channels are open (a rotation replaces one, it does not add one). */
    public int openChannels() {
        return channels.size();
    }

    /**
     * The client TLS context of {@code tls}: the CA the agents' certificates must chain to, and the client
     * certificate when there is one. Also used by the kubectl plugin.
     *
     * @throws IllegalArgumentException when the material is unusable
     */
    public static SslContext sslContext(Tls tls) {
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
        channels.values().forEach(h -> h.channel().shutdownNow());
        for (Held h : channels.values()) {
            try {
                h.channel().awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        channels.clear();
    }
}
