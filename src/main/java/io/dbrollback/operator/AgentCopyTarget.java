package io.dbrollback.operator;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.RollbackCopyBegin;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.TailDigest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Another pod of the cluster as the place of the off-node copy: its agent stores the copy
 * (StoreRollbackCopy, in its copies directory) and streams it back (ReadRollbackCopy), and the
 * operator hashes what came back itself. Client-side flow control on the way there ({@link Upload}),
 * one message at a time on the way back ({@link ServerStreamReader}).
 */
final class AgentCopyTarget implements CopyTarget {

    private final AgentClients clients;
    private final AgentClients.Tls tls;
    private final String pod;
    private final String address;
    private final String source;
    private final String incident;
    private final int plan;

    /**
     * @param pod the pod that holds the copy, {@code address} its agent
     * @param source the pod whose rollback file this is (names the copy, with incident and plan)
     */
    AgentCopyTarget(AgentClients clients, AgentClients.Tls tls, String pod, String address, String source,
            String incident, int plan) {
        this.clients = clients;
        this.tls = tls;
        this.pod = pod;
        this.address = address;
        this.source = source;
        this.incident = incident;
        this.plan = plan;
    }

    @Override
    public String kind() {
        return FileCopy.AGENT;
    }

    @Override
    public String where() {
        return pod;
    }

    @Override
    public String store(Source bytes, long size, String sha256) {
        AgentClients.Deadlines d = clients.deadlines();
        Upload<StoreRollbackCopyRequest, StoreRollbackCopyResponse> up = new Upload<>("StoreRollbackCopy", pod,
                d.progressTimeout());
        boolean finished = false;
        try {
            AgentClients.Deadlines.within(clients.asyncStub(address, tls), d.streamDeadline()).storeRollbackCopy(up);
            up.send(StoreRollbackCopyRequest.newBuilder().setBegin(RollbackCopyBegin.newBuilder()
                    .setSourceNode(source).setIncidentId(incident).setPlanNumber(plan).setSize(size)
                    .setSha256(sha256)).build());
            ByteString chunk;
            while (!up.closed() && (chunk = bytes.next()) != null) {
                up.send(StoreRollbackCopyRequest.newBuilder().setData(chunk).build());
            }
            if (!up.closed()) {
                up.send(StoreRollbackCopyRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(size)
                        .setSha256(sha256)).build());
                up.halfClose();
                finished = true;
            }
        } catch (TransportException e) {
            throw new Failure("Unreachable", false, e.getMessage());
        } finally {
            if (!finished) {
                up.cancel(); // the agent publishes nothing and removes its temporary file
            }
        }
        Throwable error;
        try {
            error = up.awaitClose();
        } catch (TransportException e) {
            throw new Failure("Unreachable", false, e.getMessage());
        }
        if (error != null) {
            throw failure("StoreRollbackCopy", error);
        }
        StoreRollbackCopyResponse r = up.response();
        if (r == null || r.getSize() != size || !r.getSha256().equals(sha256) || !r.getPath().startsWith("/")) {
            throw new Failure("DigestMismatch", false, "the agent of " + pod + " answered StoreRollbackCopy with "
                    + (r == null ? "nothing" : r.getSize() + " bytes, SHA-256 "
                            + (AgentAnswers.isSha256(r.getSha256()) ? r.getSha256() : "(not a SHA-256)"))
                    + " for a copy of " + size + " bytes with " + sha256);
        }
        return GrpcRollbackTransport.agentText(r.getPath());
    }

    @Override
    public Content readBack() {
        AgentClients.Deadlines d = clients.deadlines();
        ReadRollbackCopyRequest request = ReadRollbackCopyRequest.newBuilder().setSourceNode(source)
                .setIncidentId(incident).setPlanNumber(plan).build();
        MessageDigest sha = TailDigest.newSha256();
        long size = 0;
        RollbackFileEnd end = null;
        try (ServerStreamReader<ReadRollbackCopyRequest, ReadRollbackCopyResponse> it = new ServerStreamReader<>(
                "ReadRollbackCopy", pod, d.progressTimeout(), o -> AgentClients.Deadlines.within(
                        clients.asyncStub(address, tls), d.streamDeadline()).readRollbackCopy(request, o))) {
            ReadRollbackCopyResponse m;
            while (end == null && (m = it.next()) != null) {
                if (m.hasEnd()) {
                    end = m.getEnd();
                } else {
                    m.getData().asReadOnlyByteBufferList().forEach(sha::update);
                    size += m.getData().size();
                }
            }
        } catch (StatusRuntimeException e) {
            throw failure("ReadRollbackCopy", e);
        } catch (TransportException e) {
            throw new Failure("Unreachable", false, e.getMessage());
        }
        String got = HexFormat.of().formatHex(sha.digest());
        if (end == null) {
            throw new Failure("TransferBroken", false, "the read-back of the copy from " + pod
                    + " ended without its end message after " + size + " bytes");
        }
        return new Content(size, got);
    }

    /** An agent's refusal as a copy failure. */
    private Failure failure(String rpc, Throwable t) {
        Status s = Status.fromThrowable(t);
        String reason = t instanceof StatusRuntimeException e ? AgentErrors.reason(e).orElse("") : "";
        String text = rpc + " on " + pod + ": " + s.getCode() + (reason.isEmpty() ? "" : " " + reason)
                + (s.getDescription() == null ? "" : ": " + GrpcRollbackTransport.agentText(s.getDescription()));
        if (s.getCode() == Status.Code.UNIMPLEMENTED) {
            return new Failure("Unsupported", true, text + " (the agent offers no copies)");
        }
        if (reason.equals(ErrorReason.NO_SPACE.name())) {
            return new Failure("NoSpace", true, text);
        }
        if (reason.equals(ErrorReason.FILE_EXISTS.name())) {
            return new Failure("Refused", true, text);
        }
        if (reason.equals(ErrorReason.FILE_NOT_FOUND.name())) {
            return new Failure("DigestMismatch", false, text + " (the copy it stored is gone)");
        }
        if (reason.equals(ErrorReason.TRANSFER_MISMATCH.name())) {
            return new Failure("TransferBroken", false, text);
        }
        if (s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED
                || s.getCode() == Status.Code.CANCELLED) {
            return new Failure("Unreachable", false, text);
        }
        return new Failure("Refused", false, text);
    }
}
