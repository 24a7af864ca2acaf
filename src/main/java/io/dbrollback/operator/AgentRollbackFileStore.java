package io.dbrollback.operator;

import com.google.protobuf.UnsafeByteOperations;
import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.RollbackFileBegin;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.Term;
import io.grpc.StatusRuntimeException;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * The agent-writes-the-file mode: the operator formats the rollback file exactly as in the exec mode
 * ({@link RollbackFileFormat}) and streams its bytes to the target's agent (WriteRollbackFile), which
 * makes them durable in its own rollback directory; verification has the agent re-read the file from its
 * disk and hash it, and the operator compares that size and SHA-256 with what it wrote (invariant I1): the
 * write's own answer when the agent says it read the file back after its fsync ({@code read_back}, taken once
 * by the verify step of this process, as the exec writer's commit is), else ReadRollbackFile with
 * {@code digest_only}, as the pod's shell re-reads a file written through exec. An agent that predates
 * {@code digest_only} streams the file back instead, and the operator hashes it here.
 * A file that differs is quarantined (QuarantineRollbackFile, a rename). The operator needs no pods/exec
 * permission in this mode.
 *
 * <p>Memory does not grow with the tail: bytes go out in chunks of {@link #CHUNK} bytes, each sent
 * only when the gRPC transport is ready for it (client-side flow control), and the agent takes the
 * next message only after it wrote the previous one. Every write carries the incident id and the
 * plan's term; the agent refuses a stale term.
 */
public final class AgentRollbackFileStore implements RollbackFileStore {

    /** Bytes per data message (the protocol allows up to 1 MiB). */
    static final int CHUNK = 1024 * 1024;

    private final AgentClients clients;
    private final AgentClients.Tls tls;
    private final Map<String, String> agentAddresses;
    private final Term planTerm;
    private final int chunkBytes;
    private final ReadBacks.Scope readBacks;

    /**
     * @param agentAddresses host:port of the agent of each pod
     * @param planTerm the term of the rollback's current plan: the fencing token of a quarantine
     *     (null before there is a plan; no file exists then)
     */
    public AgentRollbackFileStore(AgentClients clients, AgentClients.Tls tls, Map<String, String> agentAddresses,
            Term planTerm) {
        this(clients, tls, agentAddresses, planTerm, CHUNK, null);
    }

    /**
     * @param readBacks where a write that the agent read back leaves that answer for the verify step of this
     *     process (null: every verify asks the agent)
     */
    public AgentRollbackFileStore(AgentClients clients, AgentClients.Tls tls, Map<String, String> agentAddresses,
            Term planTerm, ReadBacks.Scope readBacks) {
        this(clients, tls, agentAddresses, planTerm, CHUNK, readBacks);
    }

    AgentRollbackFileStore(AgentClients clients, AgentClients.Tls tls, Map<String, String> agentAddresses,
            Term planTerm, int chunkBytes, ReadBacks.Scope readBacks) {
        this.readBacks = readBacks;
        this.clients = clients;
        this.tls = tls;
        this.agentAddresses = Map.copyOf(agentAddresses);
        this.planTerm = planTerm;
        this.chunkBytes = Math.max(1, Math.min(chunkBytes, 1 << 20));
    }

    private String address(String pod) {
        String a = agentAddresses.get(pod);
        if (a == null) {
            throw new TransportException("NoAgentAddress", false, "no agent address for pod " + pod);
        }
        return a;
    }

    /**
     * Streams the file of {@code header} to {@code pod}'s agent. A definite disk failure is a typed
     * {@link PersistResult.Failed} (the rest of the tail is not read then); a broken stream or a stale
     * term is a {@link TransportException} and the write is retried, with a new temporary file on the
     * agent, never trusting a partial one. If iterating {@code tail} throws, the call is cancelled (the
     * agent publishes nothing) and the exception propagates unchanged.
     */
    @Override
    public PersistResult persist(String pod, RollbackFileHeader header, TailStream tail) {
        String name = RollbackFileName.of(header.incidentId(), header.planNumber());
        AgentClients.Deadlines deadlines = clients.deadlines();
        RollbackAgentGrpc.RollbackAgentStub stub = AgentClients.Deadlines.within(clients.asyncStub(address(pod), tls),
                deadlines.streamDeadline());
        Upload<WriteRollbackFileRequest, WriteRollbackFileResponse> upload = new Upload<>("WriteRollbackFile", pod,
                deadlines.progressTimeout());
        stub.writeRollbackFile(upload);
        RollbackFileFormat.Summary summary;
        boolean finished = false;
        try {
            upload.send(WriteRollbackFileRequest.newBuilder().setBegin(RollbackFileBegin.newBuilder()
                    .setIncidentId(header.incidentId()).setTerm(header.newTerm().value())
                    .setPlanNumber(header.planNumber())).build());
            Chunks chunks = new Chunks(upload);
            RollbackFileFormat f = new RollbackFileFormat(chunks, tail.digest());
            f.header(header);
            while (!upload.closed() && tail.hasNext()) {
                f.record(tail.next());
            }
            if (upload.closed()) {
                return failure(pod, upload.awaitClose());
            }
            summary = f.trailer();
            chunks.flush();
            upload.send(WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                    .setSize(summary.bytes()).setSha256(summary.sha256())).build());
            upload.halfClose();
            finished = true;
        } finally {
            // Every way out before the half-close (the tail breaking or stalling, the agent taking
            // nothing, an interrupt) cancels the call: the agent discards its temporary file.
            if (!finished) {
                upload.cancel();
            }
        }
        Throwable error = upload.awaitClose();
        if (error != null) {
            return failure(pod, error);
        }
        WriteRollbackFileResponse r = upload.response();
        String path;
        try {
            path = r == null ? null : AgentAnswers.filePath(r.getPath(), name);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("WriteRollbackFile", pod, e);
        }
        if (r == null || r.getSize() != summary.bytes() || !r.getSha256().equals(summary.sha256())) {
            // Never happens with a conforming agent; the file is not trusted, and a retry meets the
            // existing name: the same bytes are accepted, others are a conflict.
            throw new TransportException("AgentAnswerMismatch", false, "the agent of " + pod + " answered "
                    + (r == null ? "nothing" : r.getSize() + " bytes, SHA-256 " + digestText(r.getSha256()))
                    + " for " + name + " of " + summary.bytes() + " bytes, SHA-256 " + summary.sha256());
        }
        if (readBacks != null) {
            // Kept only once the answer is checked above; an answer without a read-back also drops what an earlier
            // write of the same file left, so that the verify step asks the agent.
            readBacks.replace(pod, ReadBacks.AGENT, path,
                    r.getReadBack() ? new ReadBacks.ReadBack(r.getSha256(), r.getSize()) : null);
        }
        return new PersistResult.Persisted(new RollbackFile(path, summary.sha256(), summary.tailSha256(),
                summary.bytes(), summary.records()));
    }

    /** A failed write: disk-level failures end the incident closed, anything else is retried. */
    private static PersistResult failure(String pod, Throwable error) {
        if (error == null) {
            throw new TransportException("AgentAnswerMismatch", false, "the agent of " + pod
                    + " ended WriteRollbackFile before the file was sent; nothing is trusted");
        }
        if (!(error instanceof StatusRuntimeException e)) {
            throw new TransportException("WriteRollbackFileFailed", true, "WriteRollbackFile on " + pod + ": " + error);
        }
        String reason = AgentErrors.reason(e).orElse("");
        PersistResult.Kind kind = kind(reason);
        if (kind == null) {
            throw GrpcRollbackTransport.translate("WriteRollbackFile", pod, e, true);
        }
        String description = e.getStatus().getDescription();
        return new PersistResult.Failed(kind, reason + " from the agent of " + pod
                + (description == null ? "" : ": " + GrpcRollbackTransport.agentText(description)));
    }

    /** The agent's reasons that mean the file cannot be made durable: fail closed, never retry. */
    static PersistResult.Kind kind(String reason) {
        if (reason.equals(ErrorReason.NO_SPACE.name())) {
            return PersistResult.Kind.NO_SPACE;
        }
        if (reason.equals(ErrorReason.IO_ERROR.name())) {
            return PersistResult.Kind.IO_ERROR;
        }
        if (reason.equals(ErrorReason.FSYNC_FAILED.name())) {
            return PersistResult.Kind.FSYNC_FAILED;
        }
        if (reason.equals(ErrorReason.NOT_WRITABLE.name())) {
            return PersistResult.Kind.PERMISSION_DENIED;
        }
        if (reason.equals(ErrorReason.FILE_EXISTS.name())) {
            return PersistResult.Kind.CONFLICT;
        }
        return null;
    }

    /**
     * Takes the read-back the agent answered to this process's write of the file, once; else has the agent
     * re-read and hash the file ({@code digest_only}), or hashes it here when the agent streams it back (an
     * agent that predates the field). Equal SHA-256 and size: the file holds exactly the bytes written,
     * hence the streamed tail. Missing: a mismatch. Different: quarantined
     * (renamed by the agent) and a mismatch. A stream cut before its end message is a retried
     * {@link TransportException}, never a mismatch.
     */
    @Override
    public VerifyResult verify(String pod, RollbackFile expected, Instant now) {
        Optional<RollbackFileName.Parsed> parsed = RollbackFileName.parse(RollbackFileName.lastSegment(
                expected.location()));
        if (parsed.isEmpty()) {
            throw new TransportException("NotAnAgentFile", false, expected.location()
                    + " is not a rollback file name the agent writes");
        }
        RollbackFileName.Parsed id = parsed.get();
        String address = address(pod);
        ReadBacks.ReadBack readBack = readBacks == null ? null
                : readBacks.take(pod, ReadBacks.AGENT, expected.location());
        if (readBack == null) {
            readBack = readFromAgent(pod, address, id, expected);
            if (readBack == null) {
                return new VerifyResult.Mismatch(expected.location() + " is missing in pod " + pod, null);
            }
        }
        String got = readBack.sha256();
        long size = readBack.bytes();
        if (got.equals(expected.sha256()) && size == expected.bytes()) {
            return new VerifyResult.Read(got, expected.tailSha256(), expected.recordCount(), size);
        }
        String where = null;
        if (planTerm != null) {
            try {
                where = AgentClients.Deadlines.within(clients.stub(address, tls),
                        clients.deadlines().quarantineRollbackFile())
                        .quarantineRollbackFile(QuarantineRollbackFileRequest.newBuilder()
                                .setIncidentId(id.incidentId()).setPlanNumber(id.planNumber())
                                .setTerm(planTerm.value()).setStamp(now.getEpochSecond()).build())
                        .getQuarantinedPath();
                where = AgentAnswers.quarantinedPath(where, RollbackFileName.lastSegment(expected.location()),
                        now.getEpochSecond());
            } catch (StatusRuntimeException | AgentAnswers.InvalidAnswer e) {
                where = null; // the mismatch stands; the file keeps its name (or an unknown one) and is never trusted
            }
        }
        return new VerifyResult.Mismatch("read back SHA-256 " + got + " and " + size + " bytes, wrote "
                + expected.sha256() + " and " + expected.bytes(), where);
    }

    /**
     * The size and SHA-256 of the file as the agent reads it now (ReadRollbackFile with {@code digest_only}, or
     * the bytes hashed here from an agent that predates it); null when the file does not exist.
     */
    private ReadBacks.ReadBack readFromAgent(String pod, String address, RollbackFileName.Parsed id,
            RollbackFile expected) {
        AgentClients.Deadlines deadlines = clients.deadlines();
        ReadRollbackFileRequest request = ReadRollbackFileRequest.newBuilder().setIncidentId(id.incidentId())
                .setPlanNumber(id.planNumber()).setDigestOnly(true).build();
        MessageDigest sha = TailDigest.newSha256();
        long size = 0;
        boolean data = false;
        RollbackFileEnd end = null;
        try (ServerStreamReader<ReadRollbackFileRequest, ReadRollbackFileResponse> it = new ServerStreamReader<>(
                "ReadRollbackFile", pod, deadlines.progressTimeout(), observer -> AgentClients.Deadlines.within(
                        clients.asyncStub(address, tls), deadlines.streamDeadline())
                                .readRollbackFile(request, observer))) {
            ReadRollbackFileResponse m;
            while (end == null && (m = it.next()) != null) {
                if (m.hasEnd()) {
                    end = m.getEnd();
                } else {
                    data = true;
                    m.getData().asReadOnlyByteBufferList().forEach(sha::update);
                    size += m.getData().size();
                }
            }
        } catch (StatusRuntimeException e) {
            if (AgentErrors.reason(e).filter(ErrorReason.FILE_NOT_FOUND.name()::equals).isPresent()) {
                return null;
            }
            throw GrpcRollbackTransport.translate("ReadRollbackFile", pod, e, false);
        }
        if (end == null) {
            throw new TransportException("FileReadTruncated", false, "the read-back of " + expected.location()
                    + " from " + pod + " ended without its end message after " + size + " bytes");
        }
        if (data) {
            // An agent that predates digest_only streamed the file: hashed here, held to its end message.
            String got = HexFormat.of().formatHex(sha.digest());
            if (end.getSize() != size || !end.getSha256().equals(got)) {
                throw new TransportException("FileReadMismatch", false, "the agent of " + pod + " sent " + size
                        + " bytes hashing to " + got + " but announced " + end.getSize() + " bytes, "
                        + digestText(end.getSha256()) + "; read again");
            }
            return new ReadBacks.ReadBack(got, size);
        }
        // digest_only: the agent read the file from its disk and hashed it (a file is never empty: it holds
        // at least its header line, so an agent that ignores digest_only sends data).
        try {
            AgentAnswers.fileDigest(end);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("ReadRollbackFile", pod, e);
        }
        return new ReadBacks.ReadBack(end.getSha256(), end.getSize());
    }

    /** An agent's digest, as a message may repeat it: only when it has the form of one. */
    private static String digestText(String sha) {
        return AgentAnswers.isSha256(sha) ? sha : "(not a SHA-256)";
    }

    /**
     * Collects the formatter's bytes into data messages of exactly {@code chunkBytes} (the last one may be
     * shorter), cut wherever that falls in a line. Each message gets a fresh array, handed to gRPC without
     * a copy (never written again once sent). Reusing one array would save an allocation per MiB but is not
     * safe: gRPC's retriable stream keeps a sent message object until the call commits and serializes it
     * again for a transparent retry, so a reused array could change the bytes of a replayed message.
     */
    private final class Chunks implements RollbackFileFormat.Sink {
        private final Upload<WriteRollbackFileRequest, WriteRollbackFileResponse> upload;
        private byte[] buffer;
        private int fill;

        Chunks(Upload<WriteRollbackFileRequest, WriteRollbackFileResponse> upload) {
            this.upload = upload;
        }

        @Override
        public void write(byte[] bytes) {
            write(bytes, 0, bytes.length);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            int off = offset;
            int left = length;
            while (left > 0) {
                if (buffer == null) {
                    buffer = new byte[chunkBytes];
                }
                int n = Math.min(left, chunkBytes - fill);
                System.arraycopy(bytes, off, buffer, fill, n);
                fill += n;
                off += n;
                left -= n;
                if (fill == chunkBytes) {
                    flush();
                }
            }
        }

        void flush() {
            if (fill > 0) {
                upload.send(WriteRollbackFileRequest.newBuilder()
                        .setData(UnsafeByteOperations.unsafeWrap(buffer, 0, fill)).build());
                buffer = null;
                fill = 0;
            }
        }
    }
}
