package io.dbrollback.node;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentRequests;
import io.dbrollback.agent.DurableProperties;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.RollbackCopyBegin;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailDigest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The off-node copies an agent keeps of other pods' rollback files: StoreRollbackCopy and
 * ReadRollbackCopy, in {@code <rollback dir>/copies/<source node>/<incident>-plan<N>.rollback.jsonl}.
 * The same steps as a rollback file's write ({@link RollbackFiles}): a temporary file of the call's own
 * (mode 0600, directories 0700), the bytes checked against the size and SHA-256 announced, fsync, a hard
 * link that never replaces, the temporary name removed, the directory fsynced; a call that ends any
 * other way publishes nothing and removes its temporary file. Before any byte is written the free space
 * of the file system is checked against the announced size. Copies carry no term and never touch the
 * node's term, log or fence. Names come from {@link RollbackFileName} and a checked pod name only.
 */
final class RollbackCopies {

    /** A pod name as a directory name: a DNS label (no '/', never '.' or '..'). */
    private static final Pattern NODE = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private final Path dir;
    private final RollbackFileFaults faults;
    /** The temporary files of the calls running now. Guarded by {@code this}. */
    private final Set<Path> held = new HashSet<>();

    /**
     * @param dir the copies directory (created with mode 0700 when a copy arrives)
     * @param faults the node's injected faults (the free space the check sees)
     */
    RollbackCopies(Path dir, RollbackFileFaults faults) {
        this.dir = dir.toAbsolutePath().normalize();
        this.faults = faults;
    }

    Path directory() {
        return dir;
    }

    /** The copy of (source, incident, plan): refused as INVALID_REQUEST unless every part is plain. */
    private Path copy(String source, String incident, long plan) {
        if (source == null || !NODE.matcher(source).matches()) {
            throw AgentRequests.invalid("source_node must be a pod name (a DNS label: lower-case letters, digits"
                    + " and '-', at most 63, starting and ending with a letter or digit)");
        }
        String name;
        try {
            name = RollbackFileName.of(incident, plan);
        } catch (IllegalArgumentException e) {
            throw AgentRequests.invalid("no rollback file name: " + e.getMessage());
        }
        Path p = dir.resolve(source).resolve(name).normalize();
        if (!dir.equals(p.getParent().getParent())) {
            // Cannot happen with the two rules above; kept so that a change there cannot open a hole.
            throw AgentRequests.invalid("the copy's name leaves the copies directory");
        }
        return p;
    }

    private static void ensureDirectory(Path d) {
        try {
            for (Path p : new Path[] {d.getParent(), d}) {
                Files.createDirectories(p);
                Files.setPosixFilePermissions(p, RollbackFiles.DIR_MODE);
            }
        } catch (IOException e) {
            throw RollbackFiles.diskError(e, "cannot prepare the copies directory " + d);
        }
    }

    private long freeSpace(Path d) throws IOException {
        long injected = faults.copyFreeSpace();
        return injected >= 0 ? injected : Files.getFileStore(d).getUsableSpace();
    }

    /** Removes temporary files of earlier calls for the same copy that no running call holds. */
    private void removeLeftovers(Path target) {
        Pattern leftover = Pattern.compile("\\." + Pattern.quote(target.getFileName().toString())
                + "\\.[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\\.tmp");
        try (Stream<Path> files = Files.list(target.getParent())) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (leftover.matcher(f.getFileName().toString()).matches() && !held.contains(f)) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            System.err.println("leftover temporary copies of " + target.getFileName() + " not removed: "
                    + e.getMessage());
        }
    }

    // ---- StoreRollbackCopy ---------------------------------------------------------------------

    StreamObserver<StoreRollbackCopyRequest> store(StreamObserver<StoreRollbackCopyResponse> out) {
        return new Store(out);
    }

    private final class Store implements StreamObserver<StoreRollbackCopyRequest> {
        private final StreamObserver<StoreRollbackCopyResponse> out;
        private final MessageDigest sha = TailDigest.newSha256();
        private RollbackCopyBegin begin;
        private Path target;
        private Path tmp;
        private FileChannel channel;
        private long size;
        private RollbackFileEnd end;
        private boolean done;
        /** Whether the test hook of the first data message ran. */
        private boolean hooked;

        Store(StreamObserver<StoreRollbackCopyResponse> out) {
            this.out = out;
        }

        @Override
        public synchronized void onNext(StoreRollbackCopyRequest m) {
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
                fail(RollbackFiles.diskError(e, "cannot write " + (target == null ? "the copy" : target)));
            } catch (RuntimeException e) {
                fail(Status.INTERNAL.withDescription("StoreRollbackCopy: " + e).asRuntimeException());
            }
        }

        private void begin(RollbackCopyBegin b) throws IOException {
            if (begin != null) {
                throw invalid("a second begin message");
            }
            if (!AgentRequests.isSha256Hex(b.getSha256())) {
                throw invalid("begin.sha256 must be 64 lower-case hex digits");
            }
            if (b.getSize() >= Long.MAX_VALUE) {
                throw invalid("begin.size must be below 2^63");
            }
            target = copy(b.getSourceNode(), b.getIncidentId(), b.getPlanNumber());
            begin = b;
            ensureDirectory(target.getParent());
            synchronized (RollbackCopies.this) {
                removeLeftovers(target);
                if (Files.exists(target)) {
                    return; // take the whole stream and compare it with the existing copy at the end
                }
                long free = freeSpace(target.getParent());
                if (free < b.getSize()) {
                    throw AgentErrors.error(Status.Code.RESOURCE_EXHAUSTED, ErrorReason.NO_SPACE, "the copies"
                            + " directory " + dir + " has " + free + " bytes free, the copy needs " + b.getSize()
                            + "; nothing was written");
                }
                tmp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
                held.add(tmp);
            }
            channel = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    RollbackFiles.FILE_MODE);
        }

        private void data(ByteString data) throws IOException {
            if (begin == null || end != null) {
                throw invalid(begin == null ? "data before the begin message" : "data after the end message");
            }
            if (data.size() > RollbackFiles.MAX_DATA) {
                throw invalid("a data message of " + data.size() + " bytes; at most 1 MiB (" + RollbackFiles.MAX_DATA
                        + " bytes)");
            }
            if (size + data.size() > begin.getSize()) {
                throw mismatch("more bytes than the " + begin.getSize() + " announced at begin");
            }
            if (channel != null) {
                ByteBuffer buf = data.asReadOnlyByteBuffer();
                while (buf.hasRemaining()) {
                    channel.write(buf);
                }
            }
            sha.update(data.asReadOnlyByteBuffer());
            size += data.size();
            if (channel != null && !hooked) {
                hooked = true;
                Runnable hook = faults.copyDataHook();
                if (hook != null) {
                    hook.run(); // the test hook of RollbackFileFaults#onCopyData
                }
            }
        }

        private void end(RollbackFileEnd e) {
            if (begin == null || end != null) {
                throw invalid(begin == null ? "an end message before the begin message" : "a second end message");
            }
            String got = HexFormat.of().formatHex(sha.digest());
            if (e.getSize() != size || !e.getSha256().equals(got) || size != begin.getSize()
                    || !got.equals(begin.getSha256())) {
                throw mismatch("received " + size + " bytes with SHA-256 " + got + "; begin announced "
                        + begin.getSize() + " bytes with " + begin.getSha256() + ", end " + e.getSize() + " bytes with "
                        + e.getSha256());
            }
            end = e;
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
                StoreRollbackCopyResponse r = publish();
                done = true;
                out.onNext(r);
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                fail(e);
            } catch (IOException e) {
                fail(RollbackFiles.diskError(e, "cannot publish " + target));
            } catch (RuntimeException e) {
                fail(Status.INTERNAL.withDescription("StoreRollbackCopy: " + e).asRuntimeException());
            }
        }

        private StoreRollbackCopyResponse publish() throws IOException {
            if (channel == null) {
                return existing();
            }
            try {
                channel.force(true);
            } catch (IOException e) {
                throw RollbackFiles.fsyncError(e, "fsync of " + tmp + " failed; the copy is not published");
            }
            channel.close();
            channel = null;
            try {
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException raced) {
                Files.delete(tmp);
                release();
                return existing();
            }
            try {
                Files.delete(tmp);
            } catch (IOException e) {
                System.err.println("copy " + target.getFileName() + " published; its temporary name could not be"
                        + " removed: " + e.getMessage());
            }
            release();
            try {
                DurableProperties.fsyncDirectory(target.getParent());
            } catch (IOException e) {
                throw RollbackFiles.fsyncError(e, "fsync of " + target.getParent() + " failed after publishing "
                        + target.getFileName() + "; the copy is not known to be durable");
            }
            return response(false);
        }

        private StoreRollbackCopyResponse existing() throws IOException {
            RollbackFiles.Content c = RollbackFiles.hash(target);
            if (c.size() != end.getSize() || !c.sha256().equals(end.getSha256())) {
                throw AgentErrors.error(Status.Code.ALREADY_EXISTS, ErrorReason.FILE_EXISTS, target
                        + " exists with SHA-256 " + c.sha256() + " (" + c.size() + " bytes), not the "
                        + end.getSha256() + " sent; it is never replaced");
            }
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ)) {
                ch.force(true);
                DurableProperties.fsyncDirectory(target.getParent());
            } catch (IOException e) {
                throw RollbackFiles.fsyncError(e, "fsync of the existing " + target + " failed");
            }
            return response(true);
        }

        private StoreRollbackCopyResponse response(boolean existed) {
            return StoreRollbackCopyResponse.newBuilder().setPath(target.toString()).setSize(end.getSize())
                    .setSha256(end.getSha256()).setAlreadyExisted(existed).build();
        }

        private void release() {
            synchronized (RollbackCopies.this) {
                held.remove(tmp);
            }
            tmp = null;
        }

        @Override
        public synchronized void onError(Throwable t) {
            done = true;
            discard();
        }

        private void fail(StatusRuntimeException e) {
            done = true;
            discard();
            out.onError(e);
        }

        private void discard() {
            RollbackFiles.closeAndRemove(channel, tmp, "temporary copy");
            channel = null;
            if (tmp != null) {
                release();
            }
        }
    }

    private static StatusRuntimeException invalid(String what) {
        return AgentRequests.invalid("StoreRollbackCopy: " + what);
    }

    private static StatusRuntimeException mismatch(String what) {
        return AgentErrors.error(Status.Code.ABORTED, ErrorReason.TRANSFER_MISMATCH, "StoreRollbackCopy: " + what
                + "; nothing was published");
    }

    // ---- ReadRollbackCopy ----------------------------------------------------------------------

    void read(ReadRollbackCopyRequest request, ServerCallStreamObserver<ReadRollbackCopyResponse> out) {
        Path p;
        FileChannel ch;
        try {
            p = copy(request.getSourceNode(), request.getIncidentId(), request.getPlanNumber());
            ch = FileChannel.open(p, StandardOpenOption.READ);
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (NoSuchFileException e) {
            out.onError(AgentErrors.error(Status.Code.NOT_FOUND, ErrorReason.FILE_NOT_FOUND, "no copy of "
                    + RollbackFileName.of(request.getIncidentId(), request.getPlanNumber()) + " from "
                    + request.getSourceNode() + " in " + dir));
            return;
        } catch (IOException e) {
            out.onError(RollbackFiles.diskError(e, "cannot read the copy"));
            return;
        }
        new RollbackFiles.ReadPump<>(out, ch, p, d -> ReadRollbackCopyResponse.newBuilder().setData(d).build(),
                e -> ReadRollbackCopyResponse.newBuilder().setEnd(e).build()).start();
    }
}
