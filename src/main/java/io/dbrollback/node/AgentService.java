package io.dbrollback.node;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.AgentServiceBase;
import io.dbrollback.agent.TailRange;
import io.dbrollback.agent.TailTally;
import io.dbrollback.agent.UnaryCall;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The rollback agent protocol, served by the reference node. */
final class AgentService extends AgentServiceBase {

    private final ReplicaNode node;

    AgentService(ReplicaNode node) {
        super(node.rollbackFiles, UnaryCall.PROPAGATE);
        this.node = node;
    }

    @Override
    public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
        out.onNext(node.timeline());
        out.onCompleted();
    }

    @Override
    public void fence(FenceRequest request, StreamObserver<FenceResponse> out) {
        unary(out, () -> FenceResponse.newBuilder()
                .setTimeline(node.fence(request.getTerm(), request.getIncidentId())).build());
    }

    @Override
    public void recoverToLsn(RecoverToLsnRequest request, StreamObserver<RecoverToLsnResponse> out) {
        unary(out, () -> {
            ReplicaNode.Recovered r = node.recover(request.getTargetLsn(), request.getExpectedLastLsn(),
                    request.getTerm(), request.getIncidentId(), request.getExpectedRollbackFileSha256());
            return RecoverToLsnResponse.newBuilder().setRollbackId(r.rollbackId()).setLastLsn(r.lastLsn())
                    .setAlreadyDone(r.alreadyDone()).build();
        });
    }

    @Override
    public void rejoinAsReplica(RejoinAsReplicaRequest request, StreamObserver<RejoinAsReplicaResponse> out) {
        unary(out, () -> RejoinAsReplicaResponse.newBuilder()
                .setTimeline(node.rejoin(request.getPrimaryAddress(), request.getTerm(), request.getIncidentId()))
                .build());
    }

    @Override
    protected void streamTail(TailRange range, ServerCallStreamObserver<TailMessage> call) {
        try {
            requireInLog(range);
        } catch (StatusRuntimeException e) {
            call.onError(e);
            return;
        }
        new TailPump(call, range).start();
    }

    /** OUT_OF_RANGE, RANGE_NOT_IN_LOG when the range ends above the node's last LSN. */
    private void requireInLog(TailRange range) {
        synchronized (node.lock) {
            if (range.to() > node.log.lastLsn()) {
                throw AgentErrors.error(Status.Code.OUT_OF_RANGE, ErrorReason.RANGE_NOT_IN_LOG,
                        "LSN " + range.to() + " is above " + node.name() + "'s last LSN " + node.log.lastLsn());
            }
        }
    }

    /**
     * The record at {@code lsn} of {@code range}, read as the tail stream reads it: ABORTED,
     * RANGE_NOT_IN_LOG when the log was cut below the range's end meanwhile.
     */
    private TailRecord readChecked(TailRange range, long lsn) throws IOException {
        synchronized (node.lock) {
            if (node.log.lastLsn() < range.to()) {
                throw AgentErrors.error(Status.Code.ABORTED, ErrorReason.RANGE_NOT_IN_LOG,
                        node.name() + "'s log was cut below LSN " + range.to() + " while the tail was read");
            }
            return node.log.read(lsn);
        }
    }

    /**
     * The summary, read record by record from the log as the tail stream reads it (one record in memory
     * at a time). A record touches its key's range ({@link #touch}).
     */
    @Override
    protected void summarizeTail(TailRange range, ServerCallStreamObserver<SummarizeTailResponse> call) {
        unary(call, () -> {
            requireInLog(range);
            TailTally tally = new TailTally();
            for (long lsn = range.from() + 1; lsn <= range.to(); lsn++) {
                if (call.isCancelled()) {
                    throw Status.CANCELLED.withDescription("the caller cancelled the summary").asRuntimeException();
                }
                TailRecord r = readChecked(range, lsn);
                tally.add(r, touch(r.key()));
            }
            return tally.response();
        });
    }

    /**
     * What a record of {@code key} touches, as SummarizeTail names it: the key as UTF-8 text; a key with
     * a '/', ':' or '.' is in the range of every key that shares its part up to the first of them,
     * {@code keys users/*} for {@code users/42}; any other key is itself, {@code key d1}.
     */
    static String touch(Bytes key) {
        String text = new String(key.toByteArray(), StandardCharsets.UTF_8);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '/' || c == ':' || c == '.') {
                return "keys " + text.substring(0, i + 1) + "*";
            }
        }
        return "key " + text;
    }

    /**
     * Sends a tail only while the transport is ready for more (gRPC flow control), reading the log
     * chunk by chunk: a slow reader holds back the reading, never the node's memory.
     */
    private final class TailPump {
        private final ServerCallStreamObserver<TailMessage> call;
        private final TailRange range;
        private final TailDigest digest = new TailDigest();
        private long next;
        private boolean done;

        TailPump(ServerCallStreamObserver<TailMessage> call, TailRange range) {
            this.call = call;
            this.range = range;
        }

        void start() {
            call.setOnCancelHandler(() -> {
                synchronized (this) {
                    done = true;
                }
            });
            try {
                // The trailer describes the whole range: digest the part a resumed stream skips.
                for (long lsn = range.from() + 1; lsn <= range.resume(); lsn++) {
                    digest.add(readChecked(lsn));
                }
            } catch (StatusRuntimeException | IOException e) {
                fail(e);
                return;
            }
            next = range.resume() + 1;
            call.setOnReadyHandler(this::pump);
            pump();
        }

        synchronized void pump() {
            try {
                while (!done && call.isReady()) {
                    if (next > range.to()) {
                        call.onNext(AgentProtos.trailer(digest));
                        call.onCompleted();
                        done = true;
                        return;
                    }
                    long last = Math.min(range.to(), next + range.perChunk() - 1);
                    List<TailRecord> records = new ArrayList<>((int) (last - next + 1));
                    long chunkBytes = 0;
                    for (long lsn = next; lsn <= last && chunkBytes < AgentProtos.CHUNK_BYTES; lsn++) {
                        TailRecord r = readChecked(lsn);
                        records.add(r);
                        chunkBytes += AgentProtos.chunkBytes(r);
                    }
                    last = next + records.size() - 1;
                    for (TailRecord r : records) {
                        digest.add(r);
                    }
                    call.onNext(AgentProtos.chunk(records));
                    node.tailRecordsSent.addAndGet(records.size());
                    next = last + 1;
                    pauseOnce();
                }
            } catch (StatusRuntimeException | IOException e) {
                fail(e);
            }
        }

        private boolean paused;

        /** The test hook of {@link ReplicaNode.Config#tailPauseMillis}: a window in the middle of a stream. */
        private void pauseOnce() {
            long millis = node.config().tailPauseMillis();
            if (millis <= 0 || paused) {
                return;
            }
            paused = true;
            System.out.println("TAIL_PAUSED " + range.from() + " " + range.to());
            System.out.flush();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private TailRecord readChecked(long lsn) throws IOException {
            return AgentService.this.readChecked(range, lsn);
        }

        private void fail(Exception e) {
            done = true;
            call.onError(e instanceof StatusRuntimeException sre ? sre
                    : Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
    }
}
