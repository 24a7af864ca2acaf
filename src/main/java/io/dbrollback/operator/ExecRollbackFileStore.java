package io.dbrollback.operator;

import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.RollbackFileName;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * Writes and verifies rollback files in the target pod's data volume through pod exec. Every call
 * runs one constant POSIX shell script ({@link #SCRIPT}) whose arguments are passed as separate argv
 * entries: no value of a custom resource is ever part of a shell string.
 *
 * <p>A file is streamed in chunks into a temporary file (each chunk read with {@code head -c LEN},
 * since the exec protocol cannot close stdin, and the size checked after every chunk), then fsynced,
 * hard-linked to its final name (which fails rather than overwrite an existing file), and the
 * directory fsynced. Mode 0600 in a 0700 directory. Verification re-reads the file in the pod with
 * {@code sha256sum}. A missing exit status, a missing acknowledgement line or a short write fails the
 * step; nothing is removed from any node because of it but the attempt's own temporary file.
 */
public final class ExecRollbackFileStore {

    /**
     * The one script; $1 is the operation, the rest its arguments. Exit codes: 10 an I/O error, 11 a
     * failed fsync, 12 the name holds other bytes, 13 this attempt's temporary file is gone or short
     * (retried), 2 an unknown operation.
     *
     * <p>No litter: {@code begin} first removes the temporary files that earlier attempts of the same
     * incident (any plan) left behind, and {@code abort} removes this attempt's own. Only dot-names of
     * the form {@code .<incident>-plan<N>.rollback.jsonl.<attempt>.tmp} are touched, never a published
     * file or a quarantined one (neither begins with a dot). Two writers of the same
     * incident (two operator instances, {@code TwoOperatorsTest}) may remove each other's temporary
     * file that way: the other one's next append or its commit then finds its file gone and answers 13,
     * never a disk error, and that attempt is retried; whoever commits first publishes, and the other's
     * retry finds the same bytes under the name. Hence every step that touches the temporary file
     * checks, when it fails, whether the file is still there ({@code gone}).
     */
    static final String SCRIPT = String.join("\n",
            "set -u",
            "umask 077",
            "dir=\"$2\"; final=\"$2/$3\"; tmp=\"$2/.$3.${4-}.tmp\"",
            "gone() { [ -f \"$tmp\" ] || { echo \"no temporary file for this attempt\" >&2; exit 13; }; }",
            "case \"$1\" in",
            "begin)",
            "mkdir -p -- \"$dir\" || exit 10",
            "chmod 700 -- \"$dir\" || exit 10",
            // $5 is the incident: its temporary files are .$5-plan<N>.rollback.jsonl.<attempt>.tmp (an
            // incident whose id starts with "$5-plan<N>" has no bare number there). Litter that cannot be
            // removed does not stop this attempt; the next begin tries again.
            "[ -z \"$5\" ] || for t in \"$dir/.$5-plan\"*.tmp; do case \"${t#\"$dir/.$5-plan\"}\" in"
                    + " .*|0*|*[!0-9]*.rollback.jsonl.*) ;; *.rollback.jsonl.*.tmp) rm -f -- \"$t\" ;; esac; done",
            "if [ -e \"$final\" ]; then",
            "sync -- \"$final\" \"$dir\" || exit 11",
            "set -- $(sha256sum < \"$final\") || exit 10",
            "echo \"EXISTS $1 OK\"; exit 0",
            "fi",
            "rm -f -- \"$tmp\"",
            ": > \"$tmp\" || exit 10",
            "chmod 600 -- \"$tmp\" || exit 10",
            "echo \"BEGUN OK\" ;;",
            "append)",
            "gone",
            "head -c \"$5\" >> \"$tmp\" || exit 10",
            "size=$(wc -c < \"$tmp\") || { gone; exit 10; }",
            "size=$((size + 0))",
            "[ \"$size\" = \"$6\" ] || { echo \"short write: $size of $6 bytes\" >&2; exit 13; }",
            "echo \"APPENDED $size OK\" ;;",
            "commit)",
            "gone",
            "sync -- \"$tmp\" || { gone; exit 11; }",
            // The name existed, or another writer linked it between the test and ln: compare, never replace.
            "if [ -e \"$final\" ] || ! ln -- \"$tmp\" \"$final\"; then",
            "[ -e \"$final\" ] || { gone; exit 10; }",
            "a=$(sha256sum < \"$final\") || exit 10",
            "b=$(sha256sum < \"$tmp\") || { gone; exit 10; }",
            "[ \"$a\" = \"$b\" ] || { echo \"$final exists with other content\" >&2; exit 12; }",
            "fi",
            "rm -f -- \"$tmp\"",
            "sync -- \"$final\" \"$dir\" || exit 11",
            "echo \"COMMITTED OK\" ;;",
            "abort)",
            "rm -f -- \"$tmp\" || exit 10",
            "echo \"ABORTED OK\" ;;",
            "verify)",
            "if [ ! -f \"$final\" ]; then echo \"MISSING OK\"; exit 0; fi",
            "size=$(wc -c < \"$final\") || exit 10",
            "set -- $(sha256sum < \"$final\") || exit 10",
            "echo \"FILE $1 $((size + 0)) OK\" ;;",
            "quarantine)",
            "to=\"$final.quarantined-$4\"",
            "[ -e \"$to\" ] && exit 12",
            "mv -- \"$final\" \"$to\" || exit 10",
            "sync -- \"$dir\" || exit 11",
            "echo \"QUARANTINED OK\" ;;",
            "*) exit 2 ;;",
            "esac");

    private static final Logger LOG = Logger.getLogger(ExecRollbackFileStore.class);

    /** argv[0] of every call, then the script, then $0 for the script. */
    static final List<String> SHELL = List.of("sh", "-c", SCRIPT, "dbrollback-file");

    private static final int MAX_CHUNK = 4 << 20;

    /** Every answer is one line ending in " OK": a line cut short never parses. */
    private static final Pattern EXISTS = Pattern.compile("EXISTS ([0-9a-f]{64}) OK\n");
    private static final Pattern FILE = Pattern.compile(
            "FILE ([0-9a-f]{64}) ([0-9]{1,18}) OK\n");

    private final PodExec exec;
    private final int chunkBytes;
    private final Duration timeout;

    public ExecRollbackFileStore(PodExec exec) {
        this(exec, MAX_CHUNK, Duration.ofMinutes(2));
    }

    public ExecRollbackFileStore(PodExec exec, int chunkBytes, Duration timeout) {
        this.exec = exec;
        this.chunkBytes = Math.max(1, Math.min(chunkBytes, MAX_CHUNK));
        this.timeout = timeout;
    }

    /**
     * This store as a {@link RollbackFileStore}: files named by {@link io.dbrollback.model.RollbackFileName}
     * in {@code dir} of {@code container}.
     */
    public RollbackFileStore in(String container, String dir) {
        return new RollbackFileStore() {
            @Override
            public PersistResult persist(String pod, RollbackFileHeader header, TailStream tail) {
                return ExecRollbackFileStore.this.persist(pod, container, dir, RollbackFileName
                        .of(header.incidentId(), header.planNumber()), header, tail);
            }

            @Override
            public VerifyResult verify(String pod, RollbackFile expected, Instant now) {
                return ExecRollbackFileStore.this.verify(pod, container, expected, now);
            }
        };
    }

    /** The argv of one call: the constant script, then each argument as its own entry. */
    static List<String> argv(String... args) {
        List<String> argv = new ArrayList<>(SHELL);
        argv.addAll(List.of(args));
        return argv;
    }

    /**
     * Streams {@code tail} into {@code dir/name} in {@code pod}. See {@link io.dbrollback.coordinator
     * .RollbackTransport#persistRollbackFile} for the contract.
     */
    public PersistResult persist(String pod, String container, String dir, String name, RollbackFileHeader header,
            TailStream tail) {
        // Every attempt writes its own temporary file: a late writer of an earlier attempt (or of another
        // operator instance) can never touch the file this attempt links into place.
        String attempt = UUID.randomUUID().toString();
        // The incident whose leftover temporary files begin removes; none (nothing is swept) for a name
        // that is not a rollback file name.
        String incident = RollbackFileName.parse(name)
                .map(RollbackFileName.Parsed::incidentId).orElse("");
        // Set once no temporary file of this attempt can be left: committed, or never made.
        boolean clean = false;
        try {
            PodExec.Result begun = run(pod, container, null, "begin", dir, name, attempt, incident);
            if (!begun.succeeded()) {
                return failure(begun);
            }
            String path = dir + "/" + name;
            Matcher exists = EXISTS.matcher(begun.stdout());
            if (exists.matches()) {
                clean = true; // begin made no temporary file
                // Written before (a retry after a crash), now fsynced: the same content is the same file.
                String existing = exists.group(1);
                RollbackFileFormat.Summary would = write(header, tail, new RollbackFileFormat.Sink() {
                    @Override
                    public void write(byte[] bytes) {
                    }

                    @Override
                    public void write(byte[] bytes, int offset, int length) {
                    }
                });
                if (would.sha256().equals(existing)) {
                    return new PersistResult.Persisted(new RollbackFile(path, would.sha256(), would.tailSha256(),
                            would.bytes(), would.records()));
                }
                return new PersistResult.Failed(PersistResult.Kind.CONFLICT, path + " exists with SHA-256 " + existing
                        + ", not the " + would.sha256() + " of this tail; it is never overwritten");
            }
            if (!begun.stdout().equals("BEGUN OK\n")) {
                throw incomplete("begin", begun);
            }
            RollbackFileFormat.Summary summary;
            try (Chunker chunker = new Chunker(pod, container, dir, name, attempt)) {
                summary = write(header, tail, chunker);
                PersistResult failed = chunker.flush();
                if (failed != null) {
                    return failed;
                }
                if (chunker.sent() != summary.bytes()) {
                    throw new TransportException("ExecTruncated", false, "sent " + chunker.sent() + " of "
                            + summary.bytes() + " bytes of " + path);
                }
            }
            PodExec.Result committed = run(pod, container, null, "commit", dir, name, attempt);
            if (!committed.succeeded()) {
                return failure(committed);
            }
            if (!committed.stdout().equals("COMMITTED OK\n")) {
                throw incomplete("commit", committed);
            }
            clean = true;
            return new PersistResult.Persisted(new RollbackFile(path, summary.sha256(), summary.tailSha256(),
                    summary.bytes(), summary.records()));
        } finally {
            if (!clean) {
                abort(pod, container, dir, name, attempt);
            }
        }
    }

    /**
     * Removes this attempt's temporary file after any failure (the tail breaking, a failed or cut
     * append or commit, an interrupt): a full disk is not left fuller, and tail bytes do not linger.
     * Never the published name, which a cut commit may have made: the temporary name is only a
     * second link then. When this exec fails too, the next attempt's begin removes the file. Never
     * throws: the failure that brought us here is the one reported.
     */
    private void abort(String pod, String container, String dir, String name, String attempt) {
        // An interrupted thread still cleans up (one short exec, bounded by the timeout): an interrupt
        // would otherwise make the exec fail at once.
        boolean interrupted = Thread.interrupted();
        String failed;
        try {
            PodExec.Result r = run(pod, container, null, "abort", dir, name, attempt);
            failed = r.succeeded() && r.stdout().equals("ABORTED OK\n") ? null : describe(r);
        } catch (RuntimeException e) {
            failed = e.toString();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (failed != null) {
            LOG.debugf("the temporary file of a failed write of %s/%s in %s stays until the next attempt: %s", dir,
                    name, pod, failed);
        }
    }

    /** Re-reads the file in the pod; quarantines (renames) it when it is missing or differs. */
    public VerifyResult verify(String pod, String container, RollbackFile expected, Instant now) {
        int slash = expected.location().lastIndexOf('/');
        String dir = expected.location().substring(0, slash);
        String name = expected.location().substring(slash + 1);
        PodExec.Result r = run(pod, container, null, "verify", dir, name);
        if (!r.succeeded()) {
            throw new TransportException(r.exitCode() == null ? "ExecNoExitStatus" : "ExecFailed",
                    r.exitCode() == null, "verify of " + expected.location() + " failed: " + describe(r));
        }
        if (r.stdout().equals("MISSING OK\n")) {
            return new VerifyResult.Mismatch(expected.location() + " is missing in pod " + pod, null);
        }
        Matcher m = FILE.matcher(r.stdout());
        if (!m.matches()) {
            throw incomplete("verify", r); // a cut or garbled answer is an unknown outcome, never a mismatch
        }
        String sha = m.group(1);
        long size = Long.parseLong(m.group(2));
        if (sha.equals(expected.sha256()) && size == expected.bytes()) {
            // The bytes on disk are the bytes streamed, so they hold the streamed tail digest too.
            return new VerifyResult.Read(sha, expected.tailSha256(), expected.recordCount(), size);
        }
        String stamp = Long.toString(now.getEpochSecond());
        PodExec.Result q = run(pod, container, null, "quarantine", dir, name, stamp);
        String where = q.succeeded() && q.stdout().equals("QUARANTINED OK\n")
                ? expected.location() + ".quarantined-" + stamp : null;
        return new VerifyResult.Mismatch("read back SHA-256 " + sha + " and " + size + " bytes, wrote "
                + expected.sha256() + " and " + expected.bytes(), where);
    }

    private RollbackFileFormat.Summary write(RollbackFileHeader header, TailStream tail, RollbackFileFormat.Sink sink) {
        RollbackFileFormat f = new RollbackFileFormat(sink, tail.digest());
        f.header(header);
        while (tail.hasNext()) {
            f.record(tail.next());
        }
        return f.trailer();
    }

    /**
     * Buffers the file's bytes and appends them to the pod's temporary file a chunk at a time. The
     * append of one chunk runs on its own thread while the next chunk is read and encoded, so reading
     * and writing overlap; at most two chunks are in memory (one being sent, one being filled), and the
     * appends stay in order. A chunk is exactly {@code chunkBytes} (the last one may be shorter), cut
     * wherever that falls in a line: the file is the concatenation of the appends. The two arrays
     * take turns, so nothing is copied between the formatter's line and the exec's stdin.
     */
    private final class Chunker implements RollbackFileFormat.Sink, AutoCloseable {
        private final String pod;
        private final String container;
        private final String dir;
        private final String name;
        private final String attempt;
        /** The chunk being filled, up to {@link #fill}; grows to {@code chunkBytes} (small tails stay small). */
        private byte[] filling = new byte[Math.min(chunkBytes, 64 * 1024)];
        private int fill;
        /** The array of the append in flight, free again once it finished. */
        private byte[] sending;
        private final ExecutorService writer = Executors
                .newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "rollback-file-writer");
                    t.setDaemon(true);
                    return t;
                });
        private Future<?> inFlight;
        private volatile long sent;
        private volatile PersistResult failed;
        private volatile RuntimeException broken;

        Chunker(String pod, String container, String dir, String name, String attempt) {
            this.pod = pod;
            this.container = container;
            this.dir = dir;
            this.name = name;
            this.attempt = attempt;
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
                if (failed != null) {
                    return; // the tail is still consumed to its end; nothing more is sent
                }
                if (fill == filling.length) {
                    if (filling.length < chunkBytes) {
                        filling = Arrays.copyOf(filling, Math.min(chunkBytes, filling.length * 2));
                    } else {
                        send();
                        continue;
                    }
                }
                int n = Math.min(left, filling.length - fill);
                System.arraycopy(bytes, off, filling, fill, n);
                fill += n;
                off += n;
                left -= n;
            }
        }

        /** Sends what is left and waits for every append; the failure, if any. */
        PersistResult flush() {
            if (failed == null && fill > 0) {
                send();
            }
            awaitInFlight();
            return failed;
        }

        long sent() {
            return sent;
        }

        private void send() {
            awaitInFlight();
            byte[] free = sending;
            sending = null;
            if (failed != null) {
                fill = 0;
                return;
            }
            byte[] chunk;
            if (fill == filling.length) {
                // A full array goes as it is; the one the last append used (now done) is filled next.
                chunk = filling;
                sending = filling;
                filling = free != null ? free : new byte[filling.length];
            } else {
                chunk = Arrays.copyOf(filling, fill);
            }
            fill = 0;
            long expect = sent + chunk.length;
            inFlight = writer.submit(() -> append(chunk, expect));
        }

        private void awaitInFlight() {
            if (inFlight != null) {
                try {
                    inFlight.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new TransportException("Interrupted", true, "interrupted while appending to " + name);
                } catch (ExecutionException e) {
                    throw new IllegalStateException("append task failed", e.getCause());
                }
                inFlight = null;
            }
            if (broken != null) {
                throw broken;
            }
        }

        private void append(byte[] chunk, long expect) {
            try {
                PodExec.Result r = exec.exec(pod, container, argv("append", dir, name, attempt,
                        Integer.toString(chunk.length), Long.toString(expect)), chunk, timeout);
                if (!r.succeeded()) {
                    failed = failure(r);
                    return;
                }
                if (!r.stdout().equals("APPENDED " + expect + " OK\n")) {
                    throw incomplete("append", r);
                }
                sent = expect;
            } catch (RuntimeException e) {
                broken = e;
            }
        }

        /**
         * Lets an append still running finish (each is bounded by the exec timeout), also after an
         * interrupt, so that the abort which may follow is the last thing done to the temporary file:
         * an append left running could re-create the file after the abort removed it. A second
         * interrupt stops the wait; the next attempt's begin then removes what is left.
         */
        @Override
        public void close() {
            writer.shutdown();
            boolean interrupted = Thread.interrupted();
            try {
                if (!writer.awaitTermination(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS)) {
                    writer.shutdownNow();
                }
            } catch (InterruptedException e) {
                writer.shutdownNow();
                interrupted = true;
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private PodExec.Result run(String pod, String container, byte[] stdin, String... args) {
        return exec.exec(pod, container, argv(args), stdin, timeout);
    }

    /** A failed call: a disk-level failure ends the incident closed; a lost exit status is retried. */
    private static PersistResult failure(PodExec.Result r) {
        if (r.exitCode() == null) {
            throw new TransportException("ExecNoExitStatus", true, "no exit status from the pod: " + describe(r));
        }
        if (r.exitCode() == 13) {
            // This attempt's temporary file is gone (another attempt's begin removed it) or short: the
            // attempt is retried with a new file, nothing was published.
            throw new TransportException("ExecTruncated", false, "the temporary file of this attempt is gone or"
                    + " short: " + describe(r));
        }
        String err = r.stderr() == null ? "" : r.stderr();
        PersistResult.Kind kind;
        if (r.exitCode() == 11) {
            kind = PersistResult.Kind.FSYNC_FAILED;
        } else if (r.exitCode() == 12) {
            kind = PersistResult.Kind.CONFLICT;
        } else if (err.contains("No space left")) {
            kind = PersistResult.Kind.NO_SPACE;
        } else if (err.contains("Permission denied") || err.contains("Read-only file system")) {
            kind = PersistResult.Kind.PERMISSION_DENIED;
        } else if (r.exitCode() == 10) {
            kind = PersistResult.Kind.IO_ERROR;
        } else {
            throw new TransportException("ExecFailed", false, "exec failed: " + describe(r));
        }
        return new PersistResult.Failed(kind, describe(r));
    }

    private static TransportException incomplete(String op, PodExec.Result r) {
        return new TransportException("ExecTruncated", true, op + ": the pod's answer is missing or cut short ("
                + describe(r) + ")");
    }

    private static String describe(PodExec.Result r) {
        String err = r.stderr() == null ? "" : r.stderr().trim();
        String out = r.stdout() == null ? "" : r.stdout().trim();
        return "exit " + r.exitCode() + (err.isEmpty() ? "" : ", stderr: " + abbreviate(err))
                + (out.isEmpty() ? "" : ", stdout: " + abbreviate(out));
    }

    private static String abbreviate(String s) {
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }
}
