package io.dbrollback.node;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.TailRecord;
import io.dbrollback.node.v1.AckLogRequest;
import io.dbrollback.node.v1.LogBatch;
import io.dbrollback.node.v1.ReplicaNodeGrpc;
import io.dbrollback.node.v1.StreamLogRequest;
import io.dbrollback.node.v1.TermAtRequest;
import io.dbrollback.node.v1.TermAtResponse;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A replica's log puller: while the node follows a primary (unfenced, connected), it asks the
 * primary for the records after its last one, appends them durably and acknowledges its position.
 * A primary that answers DIVERGED (its log no longer holds this node's last record) makes the node
 * stop following and fence itself: records are never overwritten.
 */
final class Replicator implements Runnable {

    private final ReplicaNode node;
    private final NodeTls tls;
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    /** @param tls the node's TLS, used to dial the primary; null dials in plaintext */
    Replicator(ReplicaNode node, NodeTls tls) {
        this.node = node;
        this.tls = tls;
        this.thread = new Thread(this, "replicator-" + node.name());
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    void stop() {
        running = false;
        thread.interrupt();
        channels.values().forEach(ManagedChannel::shutdownNow);
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void run() {
        while (running) {
            String primary;
            StreamLogRequest request;
            synchronized (node.lock) {
                NodeState s = node.state;
                if (node.isolated || s.role != NodeRole.REPLICA || s.fenced || s.following.isEmpty()) {
                    try {
                        node.lock.wait(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                    continue;
                }
                primary = s.following;
                long after = node.log.lastLsn();
                request = StreamLogRequest.newBuilder().setReplica(node.name()).setAfterLsn(after)
                        .setAfterTerm(node.log.termAt(after)).setReplicaTerm(s.currentTerm).build();
            }
            Context.CancellableContext ctx = Context.current().withCancellation();
            try {
                ctx.run(() -> pull(primary, request));
            } catch (StatusRuntimeException e) {
                if (AgentErrors.reason(e).filter("DIVERGED"::equals).isPresent()) {
                    try {
                        node.divergedFrom(primary, e.getStatus().getDescription());
                    } catch (IOException io) {
                        // the state could not be saved: the next pull meets DIVERGED again and tries again
                    }
                }
                pause(100);
            } catch (RuntimeException e) {
                if (!running) {
                    return;
                }
                pause(100);
            } finally {
                ctx.cancel(null);
            }
        }
    }

    private void pull(String primary, StreamLogRequest request) {
        ReplicaNodeGrpc.ReplicaNodeBlockingStub stub = ReplicaNodeGrpc.newBlockingStub(channel(primary));
        Iterator<LogBatch> batches = stub.withDeadlineAfter(NodeService.STREAM_WINDOW_MILLIS + 2_000,
                TimeUnit.MILLISECONDS).streamLog(request);
        while (running && batches.hasNext()) {
            LogBatch batch = batches.next();
            List<TailRecord> records = new ArrayList<>(batch.getRecordsCount());
            for (io.dbrollback.agent.v1.TailRecord r : batch.getRecordsList()) {
                records.add(AgentProtos.fromProto(r));
            }
            try {
                if (!node.appendReplicated(primary, records, batch.getPrimaryTerm(), batch.getCommitLsn())) {
                    return;
                }
                if (!records.isEmpty()) {
                    long last = records.get(records.size() - 1).lsn().value();
                    long commit = stub.withDeadlineAfter(2, TimeUnit.SECONDS).ackLog(AckLogRequest.newBuilder()
                            .setReplica(node.name()).setLsn(last).setTerm(batch.getPrimaryTerm()).build())
                            .getCommitLsn();
                    node.learnCommit(commit);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The last LSN of the node at {@code address} and the term of its record at {@code lsn} (0 when it has none). */
    record Position(long lastLsn, long term) {
    }

    /** Asks {@code address} over the replication protocol for its {@link Position} at {@code lsn}. */
    Position termAt(String address, long lsn) {
        TermAtResponse r = ReplicaNodeGrpc.newBlockingStub(channel(address)).withDeadlineAfter(5, TimeUnit.SECONDS)
                .termAt(TermAtRequest.newBuilder().setLsn(lsn).build());
        return new Position(r.getLastLsn(), r.getTerm());
    }

    private ManagedChannel channel(String address) {
        return channels.computeIfAbsent(address,
                a -> tls == null ? NettyChannelBuilder.forTarget(a).usePlaintext().build()
                : NettyChannelBuilder.forTarget(a, tls.peerCredentials()).build());
    }

    private void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }
}
