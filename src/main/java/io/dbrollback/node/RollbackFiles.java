package io.dbrollback.node;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.DurableProperties;
import io.dbrollback.agent.RollbackFileRpcs;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.QuarantineRollbackFileResponse;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackFileBegin;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailDigest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The reference node's side of the agent-writes-the-file mode: the rollback directory (mode 0700)
 * and the three file RPCs. A file is written into a temporary file of its own call (mode 0600),
 * fsynced, read back from disk and checked against the sender's size and SHA-256 (the one hash of the
 * file, answered as its read-back), hard-linked to its final name (a link never replaces an existing
 * file), its temporary name removed and the directory fsynced. A call
 * that does not get that far publishes nothing and removes its own temporary file, whichever way it
 * ends. At {@code begin} a call also removes the temporary files of earlier calls for its incident
 * that no running call holds (what a killed process left). File names come from
 * {@link RollbackFileName} only; no path is ever taken from a request.
 */
public final class RollbackFiles implements RollbackFileRpcs {

    /**
     * The term check of the node that owns the directory: refuses a malformed request or a stale term
     * (a {@link io.grpc.StatusRuntimeException} with the agent's reason) and adopts a higher term
     * durably.
     */
    @FunctionalInterface
    public interface TermGate {
        void admitTerm(long term, String incident) throws IOException;
    }

    /** Largest data message sent by {@link #read}. */
    static final int READ_CHUNK = 256 * 1024;
    /** Largest data message a WriteRollbackFile call may send: 1 MiB. */
    static final int MAX_DATA = 1 << 20;

    static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    static final FileAttribute<Set<PosixFilePermission>> FILE_MODE = PosixFilePermissions
            .asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final TermGate node;
    private final LongSupplier writePauseMillis;
    private final Path dir;
    private final RollbackFileFaults faults;
    private final RollbackCopies copies;
    /** The temporary files of the calls running now: never removed as leftovers. Guarded by {@code this}. */
    private final Set<Path> held = new HashSet<>();
    /** Set by {@link #halt()}: running calls end as in a killed process, leaving their temporary files. */
    private volatile boolean halted;

    /**
     * @param node the owning node's term check
     * @param writePauseMillis a test hook: a pause after a write's first data message (0: none)
     * @param dir the rollback directory (created with mode 0700 when missing)
     * @param faults injected disk faults (tests); {@code new RollbackFileFaults()} for none
     */
    public RollbackFiles(TermGate node, LongSupplier writePauseMillis, Path dir,
            RollbackFileFaults faults) {
        this.node = node;
        this.writePauseMillis = writePauseMillis;
        this.dir = dir.toAbsolutePath().normalize();
        this.faults = faults;
        this.copies = new RollbackCopies(this.dir.resolve("copies"), faults);
    }

    public Path directory() {
        return dir;
    }

    /** Test hook of {@link ReplicaNode#halt()}: calls that end from now on keep their temporary files. */
    public void halt() {
        halted = true;
    }

    /** The temporary name of one call writing {@code target}: a dot-name no rollback file name can take. */
    private Path temporary(Path target) {
        return dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    }

    /**
     * Removes the temporary files of earlier calls for {@code incident} that no running call holds:
     * only names {@link #temporary} makes, so a published or quarantined file never matches.
     */
    private void removeLeftovers(String incident) {
        Pattern leftover = Pattern.compile("\\." + Pattern.quote(incident)
                + "-plan[1-9][0-9]{0,9}\\.rollback\\.jsonl\\.[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\\.tmp");
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (leftover.matcher(f.getFileName().toString()).matches() && !held.contains(f)) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            // A leftover that cannot be removed now is tried again at the next begin; it is never read.
            System.err.println("leftover temporary files of incident " + incident + " not removed: " + e.getMessage());
        }
    }

    /** The file of (incident, plan) in the directory: refused as INVALID_REQUEST unless a plain name. */
    private Path file(String incident, long plan) {
        String name;
        try {
            name = RollbackFileName.of(incident, plan);
        } catch (IllegalArgumentException e) {
            throw AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST,
                    "no rollback file name: " + e.getMessage());
        }
        Path p = dir.resolve(name).normalize();
        if (!dir.equals(p.getParent())) {
            // Cannot happen with RollbackFileName's rule; kept so that a change there cannot open a hole.
            throw AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST,
                    "the rollback file name leaves the rollback directory");
        }
        return p;
    }

    /** mkdir -p and chmod 700 of the directory, as the exec mode's script does. */
    private void ensureDirectory() {
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, DIR_MODE);
        } catch (IOException e) {
            throw diskError(e, "cannot prepare the rollback directory " + dir);
        }
    }

    /**
     * A disk error as the protocol names it. Java reports ENOSPC and EROFS only in the message of an
     * IOException, so the message decides; anything unrecognised is an I/O error.
     */
    static StatusRuntimeException diskError(IOException e, String what) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("No space left") || m.contains("Disk quota exceeded")) {
            return AgentErrors.error(Status.Code.RESOURCE_EXHAUSTED, ErrorReason.NO_SPACE, what + ": " + m);
        }
        if (e instanceof AccessDeniedException || m.contains("Permission denied")
                || m.contains("Read-only file system")) {
            return AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.NOT_WRITABLE, what + ": " + m);
        }
        return AgentErrors.error(Status.Code.DATA_LOSS, ErrorReason.IO_ERROR, what + ": " + m);
    }

    static StatusRuntimeException fsyncError(IOException e, String what) {
        return AgentErrors.error(Status.Code.DATA_LOSS, ErrorReason.FSYNC_FAILED, what + ": " + e.getMessage());
    }

    /** SHA-256 and size of a file on disk. */
    record Content(long size, String sha256) {
    }

    static Content hash(Path p) throws IOException {
        MessageDigest sha = TailDigest.newSha256();
        long size = 0;
        ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            int n;
            while ((n = ch.read(buf)) >= 0) {
                buf.flip();
                sha.update(buf);
                size += n;
                buf.clear();
            }
        }
        return new Content(size, HexFormat.of().formatHex(sha.digest()));
    }

    // ---- WriteRollbackFile ---------------------------------------------------------------------

    /** The receiving side of one WriteRollbackFile call. */
    @Override
    public StreamObserver<WriteRollbackFileRequest> write(StreamObserver<WriteRollbackFileResponse> out) {
        return new Write(out);
    }

    private final class Write implements StreamObserver<WriteRollbackFileRequest> {
        private final StreamObserver<WriteRollbackFileResponse> out;
        private final MessageDigest sha = TailDigest.newSha256();
        private final RollbackFileFaults.Armed armed;
        private RollbackFileBegin begin;
        private Path target;
        /** This call's own temporary file; null when the final name existed at the start (compare only). */
        private Path tmp;
        private FileChannel channel;
        private long size;
        private RollbackFileEnd end;
        private boolean done;
        private boolean paused;

        Write(StreamObserver<WriteRollbackFileResponse> out) {
            this.out = out;
            this.armed = faults.take();
        }

        @Override
        public synchronized void onNext(WriteRollbackFileRequest m) {
            if (done) {
                return;
            }
            try {
                switch (m.getBodyCase()) {
                    case BEGIN -> begin(m.getBegin());
                    case DATA -> data(m.getData());
                    case END -> end(m.getEnd());
                    default -> throw invalid("an empty message");
                }
            } catch (StatusRuntimeException e) {
                fail(e);
            } catch (IOException e) {
                fail(diskError(e, "cannot write " + (target == null ? "the rollback file" : target)));
            } catch (RuntimeException e) {
                fail(Status.INTERNAL.withDescription("WriteRollbackFile: " + e).asRuntimeException());
            }
        }

        private void begin(RollbackFileBegin b) throws IOException {
            if (begin != null) {
                throw invalid("a second begin message");
            }
            ReplicaNode.validate(b.getTerm(), b.getIncidentId());
            target = file(b.getIncidentId(), b.getPlanNumber());
            node.admitTerm(b.getTerm(), b.getIncidentId());
            begin = b;
            ensureDirectory();
            synchronized (RollbackFiles.this) {
                removeLeftovers(b.getIncidentId());
                if (Files.exists(target)) {
                    return; // take the whole stream, hash it, and compare it with the existing file at the end
                }
                tmp = temporary(target);
                held.add(tmp);
            }
            channel = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), FILE_MODE);
        }

        private void data(ByteString data) throws IOException {
            if (begin == null || end != null) {
                throw invalid(begin == null ? "data before the begin message" : "data after the end message");
            }
            if (data.size() > MAX_DATA) {
                throw invalid("a data message of " + data.size() + " bytes; at most 1 MiB (" + MAX_DATA + " bytes)");
            }
            if (armed.cutAfter() >= 0 && size + data.size() > armed.cutAfter()) {
                // The test hook for a connection reset mid-write: the call ends as a cut stream would.
                throw Status.UNAVAILABLE.withDescription("connection reset while writing the rollback file")
                        .asRuntimeException();
            }
            if (channel != null) {
                if (armed.noSpaceAfter() >= 0 && size + data.size() > armed.noSpaceAfter()) {
                    throw new IOException("No space left on device");
                }
                ByteBuffer buf = data.asReadOnlyByteBuffer();
                while (buf.hasRemaining()) {
                    channel.write(buf);
                }
            }
            if (channel == null) {
                // The name exists: the stream is only compared (with the end message, then with the file).
                sha.update(data.asReadOnlyByteBuffer());
            }
            size += data.size();
            pauseOnce();
        }

        /**
         * The test hook of {@link ReplicaNode.Config#writePauseMillis}: a window after the first data
         * message is in the temporary file, before anything is published (a process killed here
         * leaves only its temporary file).
         */
        private void pauseOnce() {
            long millis = writePauseMillis.getAsLong();
            if (millis <= 0 || paused) {
                return;
            }
            paused = true;
            System.out.println("WRITE_PAUSED " + target.getFileName() + " " + size);
            System.out.flush();
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void end(RollbackFileEnd e) {
            if (begin == null || end != null) {
                throw invalid(begin == null ? "an end message before the begin message" : "a second end message");
            }
            // A new file is hashed once, read back from disk after its fsync (publish); a stream that only
            // meets an existing name was hashed as it came.
            String got = channel == null ? HexFormat.of().formatHex(sha.digest()) : null;
            if (e.getSize() != size || got != null && !e.getSha256().equals(got)) {
                throw mismatch("received " + size + " bytes" + (got == null ? "" : " with SHA-256 " + got), e);
            }
            end = e;
        }

        private StatusRuntimeException mismatch(String what, RollbackFileEnd e) {
            return AgentErrors.error(Status.Code.ABORTED, ErrorReason.TRANSFER_MISMATCH, what
                    + ", the end message announces " + e.getSize() + " bytes with " + e.getSha256()
                    + "; nothing was published");
        }

        @Override
        public synchronized void onCompleted() {
            if (done) {
                return;
            }
            try {
                if (end == null) {
                    throw invalid("the stream ended without its end message");
                }
                WriteRollbackFileResponse r = publish();
                done = true;
                out.onNext(r);
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                fail(e);
            } catch (IOException e) {
                fail(diskError(e, "cannot publish " + target));
            } catch (RuntimeException e) {
                fail(Status.INTERNAL.withDescription("WriteRollbackFile: " + e).asRuntimeException());
            }
        }

        private WriteRollbackFileResponse publish() throws IOException {
            if (channel != null) {
                try {
                    if (armed.failFsync()) {
                        throw new IOException("Input/output error");
                    }
                    channel.force(true);
                } catch (IOException e) {
                    throw fsyncError(e, "fsync of " + tmp + " failed; the file is not published");
                }
                channel.close();
                channel = null;
                // The read-back: the whole file from disk, after its fsync, is what must equal the end message.
                // Nothing else hashes a new file, so this one pass is both the transfer's check and the verify.
                if (armed.beforeReadBack() != null) {
                    armed.beforeReadBack().run();
                }
                Content back = hash(tmp);
                if (back.size() != end.getSize() || !back.sha256().equals(end.getSha256())) {
                    throw mismatch("received " + back.size() + " bytes whose SHA-256, read back from the file after its"
                            + " fsync, is " + back.sha256(), end);
                }
                // The term is checked again right before the link: a newer term may have arrived while the bytes
                // streamed, were made durable or were read back.
                node.admitTerm(begin.getTerm(), begin.getIncidentId());
                try {
                    Files.createLink(target, tmp);
                } catch (FileAlreadyExistsException raced) {
                    // Another call published the name meanwhile: compare, never replace.
                    Files.delete(tmp);
                    release();
                    return existing();
                }
                removePublishedTemp();
                try {
                    DurableProperties.fsyncDirectory(dir);
                } catch (IOException e) {
                    throw fsyncError(e, "fsync of " + dir + " failed after publishing " + target.getFileName()
                            + "; the file is not known to be durable");
                }
                return response(false);
            }
            // The term is checked again: a newer term may have arrived while the bytes streamed.
            node.admitTerm(begin.getTerm(), begin.getIncidentId());
            return existing();
        }

        /**
         * The file is published under its name: its temporary name is only a second link to it. Failing to
         * remove that link leaves a dot-name (never taken for a rollback file) and is not a failure of the
         * write: answering an error here would say "nothing was published" about a published file.
         */
        private void removePublishedTemp() {
            try {
                if (armed.failTempRemoval()) {
                    throw new IOException("Operation not permitted");
                }
                Files.delete(tmp);
            } catch (IOException e) {
                System.err.println("rollback file " + target.getFileName() + " published; its temporary name "
                        + tmp.getFileName() + " could not be removed: " + e.getMessage());
            }
            release();
        }

        /** This call no longer holds a temporary file (removed, or left to a later begin). */
        private void release() {
            synchronized (RollbackFiles.this) {
                held.remove(tmp);
            }
            tmp = null;
        }

        /** The final name existed: the same bytes are the same file (made durable first); others are a conflict. */
        private WriteRollbackFileResponse existing() throws IOException {
            Content c = hash(target);
            if (c.size() != end.getSize() || !c.sha256().equals(end.getSha256())) {
                throw AgentErrors.error(Status.Code.ALREADY_EXISTS, ErrorReason.FILE_EXISTS, target
                        + " exists with SHA-256 " + c.sha256() + " (" + c.size() + " bytes), not the "
                        + end.getSha256() + " sent; it is never replaced");
            }
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ)) {
                ch.force(true);
                DurableProperties.fsyncDirectory(dir);
            } catch (IOException e) {
                throw fsyncError(e, "fsync of the existing " + target + " failed");
            }
            return response(true);
        }

        private WriteRollbackFileResponse response(boolean existed) {
            // Either way the size and SHA-256 are those of the file read back from disk (a new file after its
            // fsync, an existing one in existing()), equal to the end message's.
            return WriteRollbackFileResponse.newBuilder().setPath(target.toString()).setSize(end.getSize())
                    .setSha256(end.getSha256()).setAlreadyExisted(existed).setReadBack(true).build();
        }

        @Override
        public synchronized void onError(Throwable t) {
            // The client cancelled or the connection broke: nothing is published.
            done = true;
            discard();
        }

        private void fail(StatusRuntimeException e) {
            done = true;
            discard();
            out.onError(e);
        }

        /** Every way a call ends without publishing comes here: its temporary file goes, whatever failed. */
        private void discard() {
            if (halted) {
                return; // a killed process cleans nothing up
            }
            closeAndRemove(channel, tmp, "temporary file");
            channel = null;
            if (tmp != null) {
                release();
            }
        }
    }

    /**
     * Closes {@code channel} and removes the temporary file {@code tmp} (either may be null) of a call that ends
     * without publishing; a failure is printed (never a rollback file or a copy: the next begin for the same
     * incident removes what is left).
     */
    static void closeAndRemove(FileChannel channel, Path tmp, String what) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing fails only after a failed write; the file is removed below all the same
            }
        }
        if (tmp != null) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                System.err.println(what + " " + tmp.getFileName() + " not removed: " + e.getMessage());
            }
        }
    }

    private static StatusRuntimeException invalid(String what) {
        return AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST,
                "WriteRollbackFile: " + what);
    }

    // ---- ReadRollbackFile ----------------------------------------------------------------------

    /** Streams a file back, reading the next chunk only when the transport is ready for it. */
    @Override
    public void read(ReadRollbackFileRequest request, ServerCallStreamObserver<ReadRollbackFileResponse> out) {
        Path p;
        FileChannel ch;
        try {
            p = file(request.getIncidentId(), request.getPlanNumber());
            ch = FileChannel.open(p, StandardOpenOption.READ);
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (NoSuchFileException e) {
            out.onError(AgentErrors.error(Status.Code.NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                    "no rollback file " + RollbackFileName.of(request.getIncidentId(), request.getPlanNumber())
                            + " in " + dir));
            return;
        } catch (IOException e) {
            out.onError(diskError(e, "cannot read the rollback file"));
            return;
        }
        ReadPump<ReadRollbackFileResponse> pump = new ReadPump<>(out, ch, p,
                d -> ReadRollbackFileResponse.newBuilder().setData(d).build(),
                e -> ReadRollbackFileResponse.newBuilder().setEnd(e).build());
        if (request.getDigestOnly()) {
            pump.digestOnly();
        } else {
            pump.start();
        }
    }

    /**
     * Streams a file to a call: the next chunk is read only when the transport is ready for it, then
     * the end message with the size and SHA-256 of what was sent. Used by ReadRollbackFile and
     * ReadRollbackCopy.
     */
    static final class ReadPump<T> {
        private final ServerCallStreamObserver<T> call;
        private final FileChannel ch;
        private final Path path;
        private final Function<ByteString, T> data;
        private final Function<RollbackFileEnd, T> end;
        private final MessageDigest sha = TailDigest.newSha256();
        private final ByteBuffer buf = ByteBuffer.allocate(READ_CHUNK);
        private long size;
        private volatile boolean done;

        ReadPump(ServerCallStreamObserver<T> call, FileChannel ch, Path path, Function<ByteString, T> data,
                Function<RollbackFileEnd, T> end) {
            this.call = call;
            this.ch = ch;
            this.path = path;
            this.data = data;
            this.end = end;
        }

        void start() {
            call.setOnCancelHandler(this::finish);
            call.setOnReadyHandler(this::pump);
            pump();
        }

        synchronized void pump() {
            try {
                while (!done && call.isReady()) {
                    buf.clear();
                    int n = ch.read(buf);
                    if (n < 0) {
                        complete();
                        finish();
                        return;
                    }
                    buf.flip();
                    ByteString chunk = ByteString.copyFrom(buf);
                    sha.update(chunk.asReadOnlyByteBuffer());
                    size += n;
                    call.onNext(data.apply(chunk));
                }
            } catch (IOException e) {
                finish();
                call.onError(diskError(e, "cannot read " + path));
            }
        }

        /**
         * Reads and hashes the whole file, sending nothing but the end message (ReadRollbackFile's
         * {@code digest_only}). Runs on the call's thread; a cancelled call stops the reading.
         */
        void digestOnly() {
            call.setOnCancelHandler(this::finish);
            try {
                while (!done) {
                    buf.clear();
                    int n = ch.read(buf);
                    if (n < 0) {
                        complete();
                        break;
                    }
                    buf.flip();
                    sha.update(buf);
                    size += n;
                }
            } catch (IOException e) {
                if (!done) {
                    call.onError(diskError(e, "cannot read " + path));
                }
            } finally {
                finish();
            }
        }

        /** The end message with the size and SHA-256 of everything read, and the call's completion. */
        private void complete() {
            call.onNext(end.apply(RollbackFileEnd.newBuilder().setSize(size)
                    .setSha256(HexFormat.of().formatHex(sha.digest())).build()));
            call.onCompleted();
        }

        synchronized void finish() {
            done = true;
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only
            }
        }
    }

    // ---- StoreRollbackCopy, ReadRollbackCopy --------------------------------------------------------

    /** The directory of the copies this agent keeps of other pods' files: {@code <dir>/copies}. */
    public Path copiesDirectory() {
        return copies.directory();
    }

    @Override
    public StreamObserver<StoreRollbackCopyRequest> storeCopy(StreamObserver<StoreRollbackCopyResponse> out) {
        return copies.store(out);
    }

    @Override
    public void readCopy(ReadRollbackCopyRequest request, ServerCallStreamObserver<ReadRollbackCopyResponse> out) {
        copies.read(request, out);
    }

    // ---- QuarantineRollbackFile ----------------------------------------------------------------

    /** The same file (one inode under two names) or the same bytes. */
    private static boolean sameContent(Path a, Path b) throws IOException {
        return Files.isSameFile(a, b) || hash(a).equals(hash(b));
    }

    @Override
    public QuarantineRollbackFileResponse quarantine(QuarantineRollbackFileRequest r) throws IOException {
        ReplicaNode.validate(r.getTerm(), r.getIncidentId());
        Path p = file(r.getIncidentId(), r.getPlanNumber());
        node.admitTerm(r.getTerm(), r.getIncidentId());
        Path to = dir.resolve(p.getFileName() + ".quarantined-" + Long.toUnsignedString(r.getStamp()));
        synchronized (this) {
            if (!Files.exists(p)) {
                if (Files.exists(to)) {
                    return QuarantineRollbackFileResponse.newBuilder().setQuarantinedPath(to.toString()).build();
                }
                throw AgentErrors.error(Status.Code.NOT_FOUND, ErrorReason.FILE_NOT_FOUND, "no rollback file "
                        + p.getFileName() + " in " + dir);
            }
            try {
                // A link never replaces: the quarantine name, if taken, stays what it is.
                Files.createLink(to, p);
            } catch (FileAlreadyExistsException e) {
                if (!sameContent(p, to)) {
                    throw AgentErrors.error(Status.Code.ALREADY_EXISTS, ErrorReason.FILE_EXISTS, to.getFileName()
                            + " already exists with other bytes; nothing was renamed");
                }
                // The same file under both names: a quarantine cut between its link and its unlink. Finish it.
            } catch (IOException e) {
                throw diskError(e, "cannot quarantine " + p.getFileName());
            }
            try {
                Files.delete(p);
                DurableProperties.fsyncDirectory(dir);
            } catch (IOException e) {
                throw fsyncError(e, "renaming " + p.getFileName() + " was not made durable");
            }
        }
        return QuarantineRollbackFileResponse.newBuilder().setQuarantinedPath(to.toString()).build();
    }
}
