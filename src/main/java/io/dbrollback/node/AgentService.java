package io.dbrollback.node;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.AgentRequests;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileResponse;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The rollback agent protocol, served by the reference node. */
final class AgentService extends RollbackAgentGrpc.RollbackAgentImplBase {

    /** Most records in one chunk. */
    static final int MAX_CHUNK = AgentRequests.MAX_CHUNK;
    /** A chunk closes once its records' canonical bytes reach this, whatever their count. */
    static final int CHUNK_BYTES = 1 << 20;

    private final ReplicaNode node;

    AgentService(ReplicaNode node) {
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
    public StreamObserver<WriteRollbackFileRequest> writeRollbackFile(StreamObserver<WriteRollbackFileResponse> out) {
        return node.rollbackFiles.write(out);
    }

    @Override
    public void readRollbackFile(ReadRollbackFileRequest request, StreamObserver<ReadRollbackFileResponse> out) {
        node.rollbackFiles.read(request, (ServerCallStreamObserver<ReadRollbackFileResponse>) out);
    }

    @Override
    public void quarantineRollbackFile(QuarantineRollbackFileRequest request,
            StreamObserver<QuarantineRollbackFileResponse> out) {
        unary(out, () -> node.rollbackFiles.quarantine(request));
    }

    @Override
    public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
        long from = request.getFromExclusive();
        long to = request.getToInclusive();
        long resumeAfter = request.getResumeAfter();
        try {
            AgentRequests.requireTailRange(from, to, resumeAfter);
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        }
        long resume = Math.max(resumeAfter, from);
        synchronized (node.lock) {
            if (to > node.log.lastLsn()) {
                out.onError(AgentErrors.error(Status.Code.OUT_OF_RANGE, ErrorReason.RANGE_NOT_IN_LOG,
                        "LSN " + to + " is above " + node.name() + "'s last LSN " + node.log.lastLsn()));
                return;
            }
        }
        int perChunk = AgentRequests.chunkSize(request.getMaxRecordsPerChunk());
        new TailPump((ServerCallStreamObserver<TailMessage>) out, from, to, resume, perChunk).start();
    }

    /**
     * Sends a tail only while the transport is ready for more (gRPC flow control), reading the log
     * chunk by chunk: a slow reader holds back the reading, never the node's memory.
     */
    private final class TailPump {
        private final ServerCallStreamObserver<TailMessage> call;
        private final long from;
        private final long to;
        private final long resume;
        private final int perChunk;
        private final TailDigest digest = new TailDigest();
        private long next;
        private boolean done;

        TailPump(ServerCallStreamObserver<TailMessage> call, long from, long to, long resume, int perChunk) {
            this.call = call;
            this.from = from;
            this.to = to;
            this.resume = resume;
            this.perChunk = perChunk;
        }

        void start() {
            call.setOnCancelHandler(() -> {
                synchronized (this) {
                    done = true;
                }
            });
            try {
                // The trailer describes the whole range: digest the part a resumed stream skips.
                for (long lsn = from + 1; lsn <= resume; lsn++) {
                    digest.add(readChecked(lsn));
                }
            } catch (StatusRuntimeException | IOException e) {
                fail(e);
                return;
            }
            next = resume + 1;
            call.setOnReadyHandler(this::pump);
            pump();
        }

        synchronized void pump() {
            try {
                while (!done && call.isReady()) {
                    if (next > to) {
                        call.onNext(TailMessage.newBuilder().setTrailer(TailTrailer.newBuilder()
                                .setRecordCount(digest.records()).setBytes(digest.bytes()).setSha256(digest.finish()))
                                .build());
                        call.onCompleted();
                        done = true;
                        return;
                    }
                    long last = Math.min(to, next + perChunk - 1);
                    List<TailRecord> records = new ArrayList<>((int) (last - next + 1));
                    long chunkBytes = 0;
                    for (long lsn = next; lsn <= last && chunkBytes < CHUNK_BYTES; lsn++) {
                        TailRecord r = readChecked(lsn);
                        records.add(r);
                        chunkBytes += r.key().length() + (r.before() == null ? 0 : r.before().length())
                                + (r.after() == null ? 0 : r.after().length()) + 64;
                    }
                    last = next + records.size() - 1;
                    TailChunk.Builder chunk = TailChunk.newBuilder().setCrc32C(AgentProtos.crc32c(records));
                    for (TailRecord r : records) {
                        digest.add(r);
                        chunk.addRecords(AgentProtos.toProto(r));
                    }
                    call.onNext(TailMessage.newBuilder().setChunk(chunk).build());
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
            System.out.println("TAIL_PAUSED " + from + " " + to);
            System.out.flush();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private TailRecord readChecked(long lsn) throws IOException {
            synchronized (node.lock) {
                if (node.log.lastLsn() < to) {
                    throw AgentErrors.error(Status.Code.ABORTED, ErrorReason.RANGE_NOT_IN_LOG,
                            node.name() + "'s log was cut below LSN " + to + " while the tail was read");
                }
                return node.log.read(lsn);
            }
        }

        private void fail(Exception e) {
            done = true;
            call.onError(e instanceof StatusRuntimeException sre ? sre
                    : Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    /** A unary call whose body may throw a status or an I/O error. */
    interface Body<T> {
        T run() throws IOException, InterruptedException;
    }

    static <T> void unary(StreamObserver<T> out, Body<T> body) {
        T result;
        try {
            result = body.run();
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (IOException e) {
            out.onError(Status.INTERNAL.withDescription("I/O error: " + e.getMessage()).asRuntimeException());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.onError(Status.UNAVAILABLE.withDescription("interrupted").asRuntimeException());
            return;
        }
        out.onNext(result);
        out.onCompleted();
    }
}
