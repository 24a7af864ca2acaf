package io.dbrollback.agent;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.ErrorInfo;
import io.dbrollback.agent.v1.ErrorReason;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.Optional;

/** gRPC errors with a machine-readable reason, as the agent protocol prescribes. */
public final class AgentErrors {

    /** The ErrorInfo domain of agent errors. */
    public static final String DOMAIN = "agent.dbrollback.io";

    private AgentErrors() {
    }

    /** An error with {@code code} and an ErrorInfo whose reason is {@code reason}. */
    public static StatusRuntimeException error(Status.Code code, String reason, String message) {
        com.google.rpc.Status status = com.google.rpc.Status.newBuilder()
                .setCode(code.value())
                .setMessage(message)
                .addDetails(Any.pack(ErrorInfo.newBuilder().setDomain(DOMAIN).setReason(reason).build()))
                .build();
        return StatusProto.toStatusRuntimeException(status);
    }

    public static StatusRuntimeException error(Status.Code code, ErrorReason reason, String message) {
        return error(code, reason.name(), message);
    }

    /** The ErrorInfo reason of a gRPC error, if it carries one. */
    public static Optional<String> reason(Throwable t) {
        com.google.rpc.Status status = StatusProto.fromThrowable(t);
        if (status == null) {
            return Optional.empty();
        }
        for (Any detail : status.getDetailsList()) {
            if (detail.is(ErrorInfo.class)) {
                try {
                    return Optional.of(detail.unpack(ErrorInfo.class).getReason());
                } catch (InvalidProtocolBufferException e) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }
}
