package io.dbrollback.cli;

import com.google.protobuf.ByteString;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailRecord;
import io.dbrollback.node.v1.ReadRequest;
import io.dbrollback.node.v1.ReadResponse;
import io.dbrollback.node.v1.ReplicaNodeGrpc;
import io.dbrollback.node.v1.WriteRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The reference node's client API (node.proto: Read, Write) as a replay target, one record per group.
 *
 * <p>The node has no compare-and-set: a write cannot be made conditional on the value it replaces. Replay
 * narrows the window instead: it reads the key again just before each write and writes only when the key
 * still holds the record's pre-image. A client that writes the key between that read and the write is
 * overwritten; run replay while nothing else writes the keys of the file (or accept that race), and
 * read the report's conflicts, which are always exact.
 */
public final class NodeTarget implements ReplayTarget {

    private final ManagedChannel channel;
    private final ReplicaNodeGrpc.ReplicaNodeBlockingStub node;

    public NodeTarget(String hostPort) {
        this.channel = NettyChannelBuilder.forTarget(hostPort).usePlaintext().build();
        this.node = ReplicaNodeGrpc.newBlockingStub(channel);
    }

    private Bytes read(Bytes key) throws IOException {
        try {
            ReadResponse r = node.withDeadlineAfter(10, TimeUnit.SECONDS)
                    .read(ReadRequest.newBuilder().setKey(ByteString.copyFrom(key.toByteArray())).build());
            return r.getFound() ? Bytes.of(r.getValue().toByteArray()) : null;
        } catch (StatusRuntimeException e) {
            throw new IOException("reading a key from the primary failed: " + e.getStatus(), e);
        }
    }

    @Override
    public int holds(Bytes key, TailRecord sample, List<Bytes> states) throws IOException {
        Bytes now = read(key);
        for (int i = states.size() - 1; i >= 0; i--) {
            if (Objects.equals(states.get(i), now)) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public String current(Bytes key, TailRecord sample) throws IOException {
        return Display.image(read(key));
    }

    @Override
    public String apply(List<TailRecord> group) throws IOException {
        for (TailRecord r : group) {
            // Re-read just before the write: the node has no compare-and-set (see the class comment).
            Bytes now = read(r.key());
            if (!Objects.equals(now, r.before())) {
                return "the key changed on the primary just before the write";
            }
            WriteRequest.Builder w = WriteRequest.newBuilder().setKey(ByteString.copyFrom(r.key().toByteArray()));
            if (r.after() == null) {
                w.setDelete(true);
            } else {
                w.setValue(ByteString.copyFrom(r.after().toByteArray()));
            }
            try {
                node.withDeadlineAfter(30, TimeUnit.SECONDS).write(w.build());
            } catch (StatusRuntimeException e) {
                throw new IOException("writing LSN " + r.lsn() + " to the primary failed: " + e.getStatus(), e);
            }
        }
        return null;
    }

    @Override
    public boolean transactional() {
        return false;
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
