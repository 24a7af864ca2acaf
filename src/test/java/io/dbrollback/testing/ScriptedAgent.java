package io.dbrollback.testing;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileResponse;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * A rollback agent that misbehaves on purpose, for the tests of the operator's distrust of agents.
 * It is not the reference node: it serves the agent protocol on a loopback port of its own and
 * forwards every call to a real node's agent (so the node's log, fence and rollback id are real and
 * can be checked afterwards), unless a script for that RPC says otherwise. A script may rewrite the
 * real answer, answer without asking the node (a lie), refuse, or hold a stream open without sending.
 * Every call is counted per RPC, so a test can assert that the operator's retries stayed bounded.
 */
public final class ScriptedAgent implements AutoCloseable {

    /** What a tail script makes of the real stream: the messages to send, then complete or stall. */
    public record TailReply(List<TailMessage> messages, boolean stall) {
        public static TailReply of(List<TailMessage> messages) {
            return new TailReply(messages, false);
        }
    }

    private final ManagedChannel channel;
    private final RollbackAgentGrpc.RollbackAgentBlockingStub real;
    private final RollbackAgentGrpc.RollbackAgentStub realAsync;
    private final Server server;
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    private volatile UnaryOperator<Timeline> timeline = UnaryOperator.identity();
    private volatile Function<FenceRequest, FenceResponse> fence;
    private volatile Function<List<TailMessage>, TailReply> tail;
    private volatile Function<RecoverToLsnRequest, RecoverToLsnResponse> recover;
    private volatile Function<RejoinAsReplicaRequest, RejoinAsReplicaResponse> rejoin;
    private volatile Function<List<ReadRollbackFileResponse>, List<ReadRollbackFileResponse>> readFile;
    private volatile UnaryOperator<WriteRollbackFileResponse> writeFile = UnaryOperator.identity();
    private volatile UnaryOperator<FenceResponse> fenceAnswer = UnaryOperator.identity();
    private volatile UnaryOperator<RecoverToLsnResponse> recoverAnswer = UnaryOperator.identity();
    private volatile boolean predatesDigestOnly;

    private ScriptedAgent(String delegate) throws IOException {
        this.channel = NettyChannelBuilder.forTarget(delegate).usePlaintext().build();
        this.real = RollbackAgentGrpc.newBlockingStub(channel);
        this.realAsync = RollbackAgentGrpc.newStub(channel);
        this.server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Service())
                .build().start();
    }

    /** An agent on a port of its own that forwards to the agent at {@code delegateAddress}. */
    public static ScriptedAgent fronting(String delegateAddress) throws IOException {
        return new ScriptedAgent(delegateAddress);
    }

    public int port() {
        return server.getPort();
    }

    /** The real node's agent, for scripts that call it and then change its answer. */
    public RollbackAgentGrpc.RollbackAgentBlockingStub real() {
        return real.withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    /** How many calls of {@code rpc} (e.g. "Fence") arrived. */
    public int calls(String rpc) {
        AtomicInteger n = calls.get(rpc);
        return n == null ? 0 : n.get();
    }

    private void count(String rpc) {
        calls.computeIfAbsent(rpc, k -> new AtomicInteger()).incrementAndGet();
    }

    /** Rewrites every GetTimeline answer (the real one goes in). */
    public ScriptedAgent onTimeline(UnaryOperator<Timeline> script) {
        this.timeline = script;
        return this;
    }

    /** Answers Fence with {@code script} instead of forwarding it (it may call {@link #real()}). */
    public ScriptedAgent onFence(Function<FenceRequest, FenceResponse> script) {
        this.fence = script;
        return this;
    }

    /** Sends what {@code script} makes of the real tail stream instead of the stream itself. */
    public ScriptedAgent onTail(Function<List<TailMessage>, TailReply> script) {
        this.tail = script;
        return this;
    }

    /** Answers RecoverToLsn with {@code script} instead of forwarding it (it may call {@link #real()}). */
    public ScriptedAgent onRecover(Function<RecoverToLsnRequest, RecoverToLsnResponse> script) {
        this.recover = script;
        return this;
    }

    /** Answers RejoinAsReplica with {@code script} instead of forwarding it. */
    public ScriptedAgent onRejoin(Function<RejoinAsReplicaRequest, RejoinAsReplicaResponse> script) {
        this.rejoin = script;
        return this;
    }

    /** Sends what {@code script} makes of the real ReadRollbackFile stream. */
    public ScriptedAgent onReadFile(Function<List<ReadRollbackFileResponse>, List<ReadRollbackFileResponse>> script) {
        this.readFile = script;
        return this;
    }

    /**
     * Behaves as an agent built before ReadRollbackFile's {@code digest_only} (and so before WriteRollbackFile's
     * {@code read_back}): the field is dropped, so the node streams the file back whatever the operator asked,
     * and a write's answer does not say that the node read the file back.
     */
    public ScriptedAgent predatingDigestOnly() {
        this.predatesDigestOnly = true;
        return this;
    }

    /** Rewrites the real answer to every WriteRollbackFile (the node did write the file). */
    public ScriptedAgent onWriteFileAnswer(UnaryOperator<WriteRollbackFileResponse> script) {
        this.writeFile = script;
        return this;
    }

    /** Rewrites the real answer to every Fence (the node did fence). */
    public ScriptedAgent onFenceAnswer(UnaryOperator<FenceResponse> script) {
        this.fenceAnswer = script;
        return this;
    }

    /** Rewrites the real answer to every RecoverToLsn (the node did recover). */
    public ScriptedAgent onRecoverAnswer(UnaryOperator<RecoverToLsnResponse> script) {
        this.recoverAnswer = script;
        return this;
    }

    /** Forwards everything again, from the next call on. */
    public ScriptedAgent honest() {
        timeline = UnaryOperator.identity();
        fence = null;
        tail = null;
        recover = null;
        rejoin = null;
        readFile = null;
        writeFile = UnaryOperator.identity();
        fenceAnswer = UnaryOperator.identity();
        recoverAnswer = UnaryOperator.identity();
        return this;
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        channel.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }

    /** A status error to throw from a script: an agent's refusal with an ErrorInfo reason. */
    public static StatusRuntimeException refusal(Status.Code code, ErrorReason reason,
            String message) {
        return AgentErrors.error(code, reason, message);
    }

    private final class Service extends RollbackAgentGrpc.RollbackAgentImplBase {

        private <T> void unary(StreamObserver<T> out, Supplier<T> body) {
            try {
                T answer = body.get();
                out.onNext(answer);
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                out.onError(e);
            } catch (RuntimeException e) {
                out.onError(Status.INTERNAL.withDescription("scripted agent: " + e).asRuntimeException());
            }
        }

        @Override
        public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
            count("GetTimeline");
            unary(out, () -> timeline.apply(real().getTimeline(request)));
        }

        @Override
        public void fence(FenceRequest request, StreamObserver<FenceResponse> out) {
            count("Fence");
            Function<FenceRequest, FenceResponse> s = fence;
            unary(out, () -> s == null ? fenceAnswer.apply(real().fence(request)) : s.apply(request));
        }

        @Override
        public void recoverToLsn(RecoverToLsnRequest request, StreamObserver<RecoverToLsnResponse> out) {
            count("RecoverToLsn");
            Function<RecoverToLsnRequest, RecoverToLsnResponse> s = recover;
            unary(out, () -> s == null ? recoverAnswer.apply(real().recoverToLsn(request)) : s.apply(request));
        }

        @Override
        public void rejoinAsReplica(RejoinAsReplicaRequest request, StreamObserver<RejoinAsReplicaResponse> out) {
            count("RejoinAsReplica");
            Function<RejoinAsReplicaRequest, RejoinAsReplicaResponse> s = rejoin;
            unary(out, () -> s == null ? real().rejoinAsReplica(request) : s.apply(request));
        }

        @Override
        public void quarantineRollbackFile(QuarantineRollbackFileRequest request,
                StreamObserver<QuarantineRollbackFileResponse> out) {
            count("QuarantineRollbackFile");
            unary(out, () -> real().quarantineRollbackFile(request));
        }

        @Override
        public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
            count("ReadDivergentTail");
            Function<List<TailMessage>, TailReply> s = tail;
            List<TailMessage> messages = new ArrayList<>();
            try {
                Iterator<TailMessage> it = real().readDivergentTail(request);
                it.forEachRemaining(messages::add);
            } catch (StatusRuntimeException e) {
                out.onError(e);
                return;
            }
            TailReply reply = s == null ? TailReply.of(messages) : s.apply(messages);
            reply.messages().forEach(out::onNext);
            if (!reply.stall()) {
                out.onCompleted();
            }
            // A stalled stream stays open, sending nothing, until the client cancels it.
        }

        @Override
        public void readRollbackFile(ReadRollbackFileRequest request, StreamObserver<ReadRollbackFileResponse> out) {
            count("ReadRollbackFile");
            Function<List<ReadRollbackFileResponse>, List<ReadRollbackFileResponse>> s = readFile;
            List<ReadRollbackFileResponse> messages = new ArrayList<>();
            try {
                real().readRollbackFile(predatesDigestOnly ? request.toBuilder().clearDigestOnly().build() : request)
                        .forEachRemaining(messages::add);
            } catch (StatusRuntimeException e) {
                out.onError(e);
                return;
            }
            (s == null ? messages : s.apply(messages)).forEach(out::onNext);
            out.onCompleted();
        }

        @Override
        public StreamObserver<WriteRollbackFileRequest> writeRollbackFile(
                StreamObserver<WriteRollbackFileResponse> out) {
            count("WriteRollbackFile");
            // Forwarded message by message; a cancelled call is cancelled at the node too.
            StreamObserver<WriteRollbackFileRequest> toNode = realAsync.writeRollbackFile(
                    new StreamObserver<WriteRollbackFileResponse>() {
                        @Override
                        public void onNext(WriteRollbackFileResponse value) {
                            out.onNext(writeFile.apply(predatesDigestOnly
                                    ? value.toBuilder().clearReadBack().build() : value));
                        }

                        @Override
                        public void onError(Throwable t) {
                            out.onError(t);
                        }

                        @Override
                        public void onCompleted() {
                            out.onCompleted();
                        }
                    });
            ((ServerCallStreamObserver<WriteRollbackFileResponse>) out).setOnCancelHandler(
                    () -> toNode.onError(Status.CANCELLED.withDescription("the client cancelled")
                            .asRuntimeException()));
            return new StreamObserver<>() {
                @Override
                public void onNext(WriteRollbackFileRequest value) {
                    toNode.onNext(value);
                }

                @Override
                public void onError(Throwable t) {
                    toNode.onError(t);
                }

                @Override
                public void onCompleted() {
                    toNode.onCompleted();
                }
            };
        }
    }
}
