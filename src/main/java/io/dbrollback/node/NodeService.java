package io.dbrollback.node;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.UnaryCall;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.TailRecord;
import io.dbrollback.node.v1.AckLogRequest;
import io.dbrollback.node.v1.AckLogResponse;
import io.dbrollback.node.v1.DumpRequest;
import io.dbrollback.node.v1.DumpResponse;
import io.dbrollback.node.v1.IsolateRequest;
import io.dbrollback.node.v1.IsolateResponse;
import io.dbrollback.node.v1.KeyValue;
import io.dbrollback.node.v1.LogBatch;
import io.dbrollback.node.v1.PromoteRequest;
import io.dbrollback.node.v1.ReadRequest;
import io.dbrollback.node.v1.ReadResponse;
import io.dbrollback.node.v1.ReplicaNodeGrpc;
import io.dbrollback.node.v1.StreamLogRequest;
import io.dbrollback.node.v1.TermAtRequest;
import io.dbrollback.node.v1.TermAtResponse;
import io.dbrollback.node.v1.WriteBatchRequest;
import io.dbrollback.node.v1.WriteRequest;
import io.dbrollback.node.v1.WriteResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** The reference node's own API: client reads and writes, promotion, isolation and log shipping. */
final class NodeService extends ReplicaNodeGrpc.ReplicaNodeImplBase {

    /** How long one log-shipping call stays open waiting for new records before it completes. */
    static final long STREAM_WINDOW_MILLIS = 1_000;
    private static final int BATCH = 256;

    private final ReplicaNode node;

    NodeService(ReplicaNode node) {
        this.node = node;
    }

    @Override
    public void write(WriteRequest request, StreamObserver<WriteResponse> out) {
        writes(List.of(request), out);
    }

    @Override
    public void writeBatch(WriteBatchRequest request, StreamObserver<WriteResponse> out) {
        writes(request.getWritesList(), out);
    }

    private void writes(List<WriteRequest> requests, StreamObserver<WriteResponse> out) {
        UnaryCall.run(out, () -> {
            List<Map.Entry<Bytes, Bytes>> writes = new ArrayList<>(requests.size());
            for (WriteRequest w : requests) {
                if (w.getKey().isEmpty()) {
                    throw AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST, "empty key");
                }
                writes.add(new AbstractMap.SimpleEntry<>(Bytes.of(w.getKey().toByteArray()),
                        w.getDelete() ? null : Bytes.of(w.getValue().toByteArray())));
            }
            long[] r = node.write(writes);
            return WriteResponse.newBuilder().setLsn(r[0]).setTerm(r[1]).build();
        });
    }

    @Override
    public void read(ReadRequest request, StreamObserver<ReadResponse> out) {
        Bytes v = node.read(Bytes.of(request.getKey().toByteArray()));
        out.onNext(v == null ? ReadResponse.newBuilder().setFound(false).build()
                : ReadResponse.newBuilder().setFound(true).setValue(ByteString.copyFrom(v.toByteArray())).build());
        out.onCompleted();
    }

    @Override
    public void dump(DumpRequest request, StreamObserver<DumpResponse> out) {
        Map.Entry<TreeMap<Bytes, Bytes>, Long> d = node.dump();
        DumpResponse.Builder b = DumpResponse.newBuilder().setLastLsn(d.getValue());
        d.getKey().forEach((k, v) -> b.addEntries(KeyValue.newBuilder().setKey(AgentProtos.bytes(k))
                .setValue(AgentProtos.bytes(v))));
        out.onNext(b.build());
        out.onCompleted();
    }

    @Override
    public void promote(PromoteRequest request, StreamObserver<Timeline> out) {
        UnaryCall.run(out, () -> node.promote(request.getTerm()));
    }

    @Override
    public void isolate(IsolateRequest request, StreamObserver<IsolateResponse> out) {
        node.isolated = request.getIsolated();
        synchronized (node.lock) {
            node.lock.notifyAll();
        }
        out.onNext(IsolateResponse.getDefaultInstance());
        out.onCompleted();
    }

    @Override
    public void termAt(TermAtRequest request, StreamObserver<TermAtResponse> out) {
        StatusRuntimeException cut = node.unavailableIfIsolated();
        if (cut != null) {
            out.onError(cut);
            return;
        }
        TermAtResponse r;
        synchronized (node.lock) {
            long last = node.log.lastLsn();
            r = TermAtResponse.newBuilder().setLastLsn(last)
                    .setTerm(request.getLsn() <= last ? node.log.termAt(request.getLsn()) : 0).build();
        }
        out.onNext(r);
        out.onCompleted();
    }

    @Override
    public void ackLog(AckLogRequest request, StreamObserver<AckLogResponse> out) {
        StatusRuntimeException cut = node.unavailableIfIsolated();
        if (cut != null) {
            out.onError(cut);
            return;
        }
        UnaryCall.run(out, () -> AckLogResponse.newBuilder()
                .setCommitLsn(node.ack(request.getReplica(), request.getLsn(), request.getTerm())).build());
    }

    /**
     * Streams the log after the replica's position for up to {@link #STREAM_WINDOW_MILLIS}, waiting
     * for new writes, then completes; the replica calls again. Refuses a replica whose last record
     * does not match this log (DIVERGED): a divergent tail is never overwritten by log shipping, it is
     * the rollback operator's to save first.
     */
    @Override
    public void streamLog(StreamLogRequest request, StreamObserver<LogBatch> out) {
        ServerCallStreamObserver<LogBatch> call = (ServerCallStreamObserver<LogBatch>) out;
        long sent;
        try {
            synchronized (node.lock) {
                StatusRuntimeException cut = node.unavailableIfIsolated();
                if (cut != null) {
                    throw cut;
                }
                if (request.getReplicaTerm() > node.state.currentTerm) {
                    node.state.currentTerm = request.getReplicaTerm();
                    if (node.state.role == NodeRole.PRIMARY) {
                        node.state.role = NodeRole.DETACHED;
                    }
                    node.state.save();
                }
                if (node.state.role != NodeRole.PRIMARY) {
                    throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, "NOT_PRIMARY",
                            node.name() + " is not primary");
                }
                long after = request.getAfterLsn();
                if (after > node.log.lastLsn() || node.log.termAt(after) != request.getAfterTerm()) {
                    throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, "DIVERGED", request.getReplica()
                            + "'s record at LSN " + after + " (term " + request.getAfterTerm() + ") is not in "
                            + node.name() + "'s log");
                }
                sent = after;
            }
            // A duration: measured on the monotonic clock, so that a wall-clock jump cannot stretch or cut it.
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STREAM_WINDOW_MILLIS);
            while (!call.isCancelled() && System.nanoTime() - until < 0) {
                LogBatch.Builder batch = LogBatch.newBuilder();
                synchronized (node.lock) {
                    if (node.isolated || node.state.role != NodeRole.PRIMARY) {
                        break;
                    }
                    long last = node.log.lastLsn();
                    if (last <= sent) {
                        node.lock.wait(50);
                        continue;
                    }
                    long upTo = Math.min(last, sent + BATCH);
                    for (long lsn = sent + 1; lsn <= upTo; lsn++) {
                        TailRecord r = node.log.read(lsn);
                        batch.addRecords(AgentProtos.toProto(r));
                    }
                    batch.setPrimaryTerm(node.state.primaryTerm)
                            .setCommitLsn(Math.min(node.state.commitLsn, node.log.lastLsn()));
                    sent = upTo;
                }
                call.onNext(batch.build());
            }
            call.onCompleted();
        } catch (StatusRuntimeException e) {
            call.onError(e);
        } catch (IOException e) {
            call.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            call.onError(Status.UNAVAILABLE.withDescription("interrupted").asRuntimeException());
        }
    }
}
