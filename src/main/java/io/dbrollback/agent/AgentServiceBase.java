package io.dbrollback.agent;

import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileResponse;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.agent.v1.SummarizeTailRequest;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/**
 * What every agent's service of the agent protocol does alike: the rollback-file calls (and the
 * off-node copies it keeps of other pods' files) served by its rollback directory, the check of a
 * ReadDivergentTail or SummarizeTail request before the agent reads the tail, and its unary calls'
 * answers ({@link UnaryCall}).
 */
public abstract class AgentServiceBase extends RollbackAgentGrpc.RollbackAgentImplBase {

    private final RollbackFileRpcs files;
    private final UnaryCall.Failures failures;

    /**
     * @param files the agent's rollback directory
     * @param failures how a unary call answers a failure that is no status, I/O error or interruption
     */
    protected AgentServiceBase(RollbackFileRpcs files, UnaryCall.Failures failures) {
        this.files = files;
        this.failures = failures;
    }

    /** Runs a unary call: see {@link UnaryCall#run(StreamObserver, UnaryCall.Body, UnaryCall.Failures)}. */
    protected final <T> void unary(StreamObserver<T> out, UnaryCall.Body<T> body) {
        UnaryCall.run(out, body, failures);
    }

    @Override
    public final StreamObserver<WriteRollbackFileRequest> writeRollbackFile(
            StreamObserver<WriteRollbackFileResponse> out) {
        return files.write(out);
    }

    @Override
    public final void readRollbackFile(ReadRollbackFileRequest request, StreamObserver<ReadRollbackFileResponse> out) {
        files.read(request, (ServerCallStreamObserver<ReadRollbackFileResponse>) out);
    }

    @Override
    public final void quarantineRollbackFile(QuarantineRollbackFileRequest request,
            StreamObserver<QuarantineRollbackFileResponse> out) {
        unary(out, () -> files.quarantine(request));
    }

    @Override
    public final StreamObserver<StoreRollbackCopyRequest> storeRollbackCopy(
            StreamObserver<StoreRollbackCopyResponse> out) {
        return files.storeCopy(out);
    }

    @Override
    public final void readRollbackCopy(ReadRollbackCopyRequest request, StreamObserver<ReadRollbackCopyResponse> out) {
        files.readCopy(request, (ServerCallStreamObserver<ReadRollbackCopyResponse>) out);
    }

    @Override
    public final void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
        TailRange range;
        try {
            range = TailRange.of(request);
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        }
        streamTail(range, (ServerCallStreamObserver<TailMessage>) out);
    }

    /** Streams the tail of a well-formed range: chunks while the transport is ready, then the trailer. */
    protected abstract void streamTail(TailRange range, ServerCallStreamObserver<TailMessage> call);

    @Override
    public final void summarizeTail(SummarizeTailRequest request, StreamObserver<SummarizeTailResponse> out) {
        TailRange range;
        try {
            range = TailRange.of(request);
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        }
        summarizeTail(range, (ServerCallStreamObserver<SummarizeTailResponse>) out);
    }

    /**
     * Answers the summary of a well-formed range: reads it from the same source as {@link #streamTail}
     * (with the same errors: RANGE_NOT_IN_LOG above the last LSN), counts every record into a
     * {@link TailTally} and answers {@link TailTally#response()}, or stops when the call is cancelled.
     */
    protected abstract void summarizeTail(TailRange range, ServerCallStreamObserver<SummarizeTailResponse> call);
}
