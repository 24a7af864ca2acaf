package io.dbrollback.testing;

import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.LsnKind;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An agent whose LSNs are positions (as a PostgreSQL agent's WAL LSNs are), made from a reference
 * node whose LSNs are record numbers: it serves the agent protocol on a port of its own with
 * {@code lsn_kind = LSN_KIND_POSITIONS}, translating every LSN between the two, and lets the node's
 * other services (replication, the client API) through unchanged.
 *
 * <p>Record {@code n} sits at position {@code 16 * ceil(n / 2)}: records 2k-1 and 2k share a position,
 * as the changes of one transaction share their commit's position, and positions leave gaps. A term
 * that begins at record {@code f} begins at position {@code 16 * ceil((f - 1) / 2) + 1} (just above
 * the previous record), so the end of a term and the fork come out as the position of the last shared
 * record. The mapping needs every term of the node to begin at an odd record number (no two records of
 * different terms share a position), which {@link DbCluster#failover()} gives.
 */
public final class PositionsAgent implements AutoCloseable {

    private final ManagedChannel channel;
    private final RollbackAgentGrpc.RollbackAgentBlockingStub node;
    private final Server server;

    private PositionsAgent(String delegate) throws IOException {
        channel = NettyChannelBuilder.forTarget(delegate).usePlaintext().build();
        node = RollbackAgentGrpc.newBlockingStub(channel);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(new Service())
                .fallbackHandlerRegistry(new GrpcPassthrough(channel)).build().start();
    }

    /** A positions agent on a port of its own in front of the reference node's agent at {@code address}. */
    public static PositionsAgent fronting(String address) throws IOException {
        return new PositionsAgent(address);
    }

    public int port() {
        return server.getPort();
    }

    /** The position of record {@code n} (0 stays 0). */
    public static long position(long n) {
        return 16 * ((n + 1) / 2);
    }

    /** The first position of a term whose first record is {@code first}. */
    static long firstPosition(long first) {
        return first <= 1 ? 1 : position(first - 1) + 1;
    }

    /** The last record at or below position {@code p}, at most {@code last}. */
    static long record(long p, long last) {
        return Math.min(2 * (p / 16), last);
    }

    private RollbackAgentGrpc.RollbackAgentBlockingStub node() {
        return node.withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    /** The node's timeline in positions. */
    static Timeline positions(Timeline t) {
        Timeline.Builder b = t.toBuilder().setLsnKind(LsnKind.LSN_KIND_POSITIONS).setLastLsn(position(t.getLastLsn()))
                .setCommitLsn(position(t.getCommitLsn()))
                .setLastRecoveryTargetLsn(position(t.getLastRecoveryTargetLsn())).clearHistory();
        for (TermHistoryEntry e : t.getHistoryList()) {
            b.addHistory(e.toBuilder().setFirstLsn(firstPosition(e.getFirstLsn())));
        }
        return b.build();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        channel.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }

    private final class Service extends RollbackAgentGrpc.RollbackAgentImplBase {

        private <T> void unary(StreamObserver<T> out, java.util.function.Supplier<T> body) {
            try {
                out.onNext(body.get());
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                out.onError(e);
            }
        }

        private long last() {
            return node().getTimeline(GetTimelineRequest.getDefaultInstance()).getLastLsn();
        }

        @Override
        public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
            unary(out, () -> positions(node().getTimeline(request)));
        }

        @Override
        public void fence(FenceRequest request, StreamObserver<FenceResponse> out) {
            unary(out, () -> {
                FenceResponse r = node().fence(request);
                return r.toBuilder().setTimeline(positions(r.getTimeline())).build();
            });
        }

        @Override
        public void rejoinAsReplica(RejoinAsReplicaRequest request, StreamObserver<RejoinAsReplicaResponse> out) {
            unary(out, () -> {
                RejoinAsReplicaResponse r = node().rejoinAsReplica(request);
                return r.toBuilder().setTimeline(positions(r.getTimeline())).build();
            });
        }

        @Override
        public void recoverToLsn(RecoverToLsnRequest request, StreamObserver<RecoverToLsnResponse> out) {
            unary(out, () -> {
                long last = last();
                RecoverToLsnResponse r = node().recoverToLsn(request.toBuilder()
                        .setTargetLsn(record(request.getTargetLsn(), last))
                        .setExpectedLastLsn(record(request.getExpectedLastLsn(), last)).build());
                return r.toBuilder().setLastLsn(position(r.getLastLsn())).build();
            });
        }

        @Override
        public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
            if (request.getResumeAfter() > request.getFromExclusive()) {
                out.onError(Status.UNIMPLEMENTED.withDescription("the test's positions agent does not resume")
                        .asRuntimeException());
                return;
            }
            long last;
            List<TailRecord> records = new ArrayList<>();
            try {
                last = last();
                long from = record(request.getFromExclusive(), last);
                long to = record(request.getToInclusive(), last);
                Iterator<TailMessage> it = node().readDivergentTail(ReadDivergentTailRequest.newBuilder()
                        .setFromExclusive(from).setToInclusive(to).build());
                while (it.hasNext()) {
                    TailMessage m = it.next();
                    for (io.dbrollback.agent.v1.TailRecord r : m.getChunk().getRecordsList()) {
                        records.add(AgentProtos.fromProto(r.toBuilder().setLsn(position(r.getLsn())).build()));
                    }
                }
            } catch (StatusRuntimeException e) {
                out.onError(e);
                return;
            }
            // Chunks of at most three records, so that a transaction's records may span two chunks.
            TailDigest digest = new TailDigest();
            for (int i = 0; i < records.size(); i += 3) {
                List<TailRecord> chunk = records.subList(i, Math.min(records.size(), i + 3));
                TailChunk.Builder c = TailChunk.newBuilder().setCrc32C(AgentProtos.crc32c(chunk));
                chunk.forEach(r -> {
                    digest.add(r);
                    c.addRecords(AgentProtos.toProto(r));
                });
                out.onNext(TailMessage.newBuilder().setChunk(c).build());
            }
            out.onNext(TailMessage.newBuilder().setTrailer(TailTrailer.newBuilder().setRecordCount(digest.records())
                    .setBytes(digest.bytes()).setSha256(digest.finish())).build());
            out.onCompleted();
        }
    }
}
