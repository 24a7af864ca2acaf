package io.dbrollback.agent;

import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileResponse;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;

/** The rollback-file calls of the agent protocol, as an agent's rollback directory serves them. */
public interface RollbackFileRpcs {

    StreamObserver<WriteRollbackFileRequest> write(StreamObserver<WriteRollbackFileResponse> out);

    void read(ReadRollbackFileRequest request, ServerCallStreamObserver<ReadRollbackFileResponse> out);

    QuarantineRollbackFileResponse quarantine(QuarantineRollbackFileRequest request) throws IOException;

    /** StoreRollbackCopy: keeps another pod's rollback file in the agent's copies directory. */
    StreamObserver<StoreRollbackCopyRequest> storeCopy(StreamObserver<StoreRollbackCopyResponse> out);

    /** ReadRollbackCopy: streams a stored copy back. */
    void readCopy(ReadRollbackCopyRequest request, ServerCallStreamObserver<ReadRollbackCopyResponse> out);
}
