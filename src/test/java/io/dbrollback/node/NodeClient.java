package io.dbrollback.node;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.node.v1.DumpRequest;
import io.dbrollback.node.v1.IsolateRequest;
import io.dbrollback.node.v1.KeyValue;
import io.dbrollback.node.v1.PromoteRequest;
import io.dbrollback.node.v1.ReplicaNodeGrpc;
import io.dbrollback.node.v1.WriteRequest;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A test's handle on one node through its two gRPC services. */
public final class NodeClient implements AutoCloseable {

    public final String address;
    public final ManagedChannel channel;
    public final RollbackAgentGrpc.RollbackAgentBlockingStub agent;
    public final ReplicaNodeGrpc.ReplicaNodeBlockingStub db;

    public NodeClient(String address) {
        this(address, null);
    }

    /** @param credentials TLS to reach a node that serves it; null for plaintext */
    public NodeClient(String address, ChannelCredentials credentials) {
        this.address = address;
        this.channel = credentials == null ? NettyChannelBuilder.forTarget(address).usePlaintext().build()
                : NettyChannelBuilder.forTarget(address, credentials).build();
        this.agent = RollbackAgentGrpc.newBlockingStub(channel);
        this.db = ReplicaNodeGrpc.newBlockingStub(channel);
    }

    public Timeline timeline() {
        return agent.withDeadlineAfter(5, TimeUnit.SECONDS).getTimeline(GetTimelineRequest.getDefaultInstance());
    }

    public NodeTimeline nodeTimeline() {
        return AgentProtos.fromProto(timeline());
    }

    public long put(String key, String value) {
        return db.write(WriteRequest.newBuilder().setKey(utf8(key)).setValue(utf8(value)).build()).getLsn();
    }

    public long delete(String key) {
        return db.write(WriteRequest.newBuilder().setKey(utf8(key)).setDelete(true).build()).getLsn();
    }

    public void promote(long term) {
        db.promote(PromoteRequest.newBuilder().setTerm(term).build());
    }

    public void isolate(boolean isolated) {
        db.isolate(IsolateRequest.newBuilder().setIsolated(isolated).build());
    }

    public void follow(NodeClient primary, long term, String incident) {
        agent.rejoinAsReplica(RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(primary.address).setTerm(term)
                .setIncidentId(incident).build());
    }

    public Timeline fence(long term, String incident) {
        return agent.fence(FenceRequest.newBuilder().setTerm(term).setIncidentId(incident).build()).getTimeline();
    }

    /** The node's key-value state as text. */
    public Map<String, String> data() {
        Map<String, String> out = new LinkedHashMap<>();
        for (KeyValue kv : db.dump(DumpRequest.getDefaultInstance()).getEntriesList()) {
            out.put(kv.getKey().toStringUtf8(), kv.getValue().toStringUtf8());
        }
        return out;
    }

    /** Polls the timeline until {@code condition} holds (10 s at most). */
    public Timeline await(String what, Predicate<Timeline> condition) throws InterruptedException {
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Timeline t = timeline();
        while (!condition.test(t)) {
            if (System.nanoTime() > until) {
                throw new AssertionError("timed out waiting until " + what + "; last timeline:\n" + t);
            }
            Thread.sleep(20);
            t = timeline();
        }
        return t;
    }

    public static ByteString utf8(String s) {
        return ByteString.copyFrom(s, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
