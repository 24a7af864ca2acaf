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
 * <p>A file of at most {@code singleCallMaxBytes} (4 MiB by default) goes in one exec ({@code put}): the
 * bytes are read from stdin, exactly LEN of them (the exec protocol cannot close stdin: {@code dd} counting bytes
 * in 64 KiB blocks where the image's dd can, else {@code head -c LEN}), into a
 * temporary file, the size checked, the file fsynced, hard-linked to its final name (which fails rather
 * than overwrite an existing file), and the directory fsynced. A larger file takes the same steps over
 * several calls: {@code begin}, one {@code append} per chunk (size checked after each), {@code commit}.
 * Mode 0600 in a 0700 directory. Verification re-reads the file in the pod with {@code openssl dgst
 * -sha256} when the image has it, else {@code sha256sum}. A missing exit status, a missing
 * acknowledgement line or a short write fails the step; nothing is removed from any node because of it
 * but the attempt's own temporary file.
 *
 * <p>The script travels in the exec request's URL: it is kept compact, since API servers and proxies
 * bound the request line (the mock API server at 4 KiB; {@code ExecRollbackFileStoreTest} holds the
 * budget).
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
            // d: the directory, f: the final name, t: this attempt's temporary file
            "d=$2;f=$2/$3;t=$2/.$3.${4-}.tmp",
            // g ("gone"): fail with 13 when this attempt's temporary file has been removed
            "g(){ [ -f \"$t\" ]||{ echo temp file gone>&2;exit 13;};}",
            // sha: the SHA-256 of file $1 ($2 bytes, when known) as 64 lowercase hex digits: openssl when the image
            // has it and it answers in that form (about 3x faster than coreutils' sha256sum where the CPU has SHA
            // instructions), else sha256sum, held to the same form; below 999999 bytes sha256sum first (it starts
            // in 3 ms where openssl takes 5). Either way the file is read in full; a failed read is a failed call.
            "sha(){ k=;[ ${2-999999} -lt 999999 ]&&k=sha256sum;"
                    + "for c in $k \"openssl dgst -sha256 -r\" sha256sum;do h=$($c<\"$1\" 2>&-)&&h=${h%% *}&&"
                    + "[ ${#h} = 64 ]&&case $h in *[!0-9a-f]*);;*)echo $h;return;;esac;done;return 1;}",
            // w: the temporary file holds exactly $1 bytes, else 13 (retried)
            "w(){ s=$(wc -c <\"$t\")||{ g;exit 10;};s=$((s+0));"
                    + "[ $s = \"$1\" ]||{ echo short write $s/$1>&2;exit 13;};}",
            // r: read the published file back: its size (s) and SHA-256 (h)
            "r(){ s=$(wc -c <\"$f\")&&s=$((s+0))&&h=$(sha \"$f\" $s);}",
            // c: copy exactly $1 bytes of stdin to stdout (the exec protocol cannot close stdin): from 1 MB on, dd
            // in 64 KiB blocks where it counts bytes and keeps quiet but for errors (GNU coreutils; a third less CPU
            // than head's small writes), else head -c (a small copy does not pay for the probe's process)
            "c(){ D=iflag=count_bytes,fullblock\\ status=none;if [ $1 -gt 999999 ]&&dd count=0 $D</dev/null 2>&-;"
                    + "then dd bs=64k count=$1 $D;else head -c $1;fi;}",
            // p: publish this attempt's temporary file: fsync it, hard-link it to the final name (ln never
            // replaces; the name existed, or another writer linked it between the test and ln: compare), remove
            // the temporary name, fsync the file and the directory, then read the published file back for the
            // verify step (a read-back that fails is no answer: the verify step reads again with its own exec).
            "p(){ sync -- \"$t\"||{ g;exit 11;}",
            "if [ -e \"$f\" ]||! ln -- \"$t\" \"$f\";then [ -e \"$f\" ]||{ g;exit 10;};"
                    + "a=$(sha \"$f\")||exit 10;b=$(sha \"$t\")||{ g;exit 10;};"
                    + "[ \"$a\" = \"$b\" ]||{ echo \"$f holds other bytes\">&2;exit 12;};fi",
            "rm -f -- \"$t\";sync -- \"$f\" \"$d\"||exit 11;r&&echo COMMITTED $h $s OK||echo COMMITTED OK;}",
            "case $1 in",
            // begin: make the directory and this attempt's empty temporary file. put: the same, then the whole file
            // from stdin ($6 bytes), checked, published: begin + append + commit in one call.
            "begin|put)[ -d \"$d\" ]||mkdir -p -- \"$d\";chmod 700 -- \"$d\"||exit 10",
            // $5 is the incident: its temporary files are .$5-plan<N>.rollback.jsonl.<attempt>.tmp (an incident
            // whose id starts with "$5-plan<N>" has no bare number there). Litter that cannot be removed does not
            // stop this attempt; the next begin tries again.
            "[ -z \"$5\" ]||for x in \"$d/.$5-plan\"*.tmp;"
                    + "do case ${x#\"$d/.$5-plan\"} in .*|0*|*[!0-9]*.rollback.jsonl.*);;"
                    + "*.rollback.jsonl.*.tmp)rm -f -- \"$x\";;esac;done",
            // the name exists: put's stdin is read to its end even so (the exec's sender never writes into a
            // closed stream)
            "if [ -e \"$f\" ];then [ $1 = begin ]||c \"$6\">/dev/null;sync -- \"$f\" \"$d\"||exit 11;"
                    + "h=$(sha \"$f\")||exit 10;echo EXISTS $h OK;exit 0;fi",
            // a new, empty temporary file, mode 0600 by the umask (a leftover of the same name is removed first)
            "[ ! -e \"$t\" ]||rm -f -- \"$t\"&&: >\"$t\"||exit 10",
            "[ $1 = begin ]&&{ echo BEGUN OK;exit 0;}",
            "c \"$6\">>\"$t\"||{ g;exit 10;};w \"$6\";p;;",
            "append)g;c \"$5\">>\"$t\"||exit 10;w \"$6\";echo APPENDED $s OK;;",
            "commit)g;p;;",
            "abort)rm -f -- \"$t\"||exit 10;echo ABORTED OK;;",
            "verify)[ -f \"$f\" ]||{ echo MISSING OK;exit 0;};r||exit 10;echo FILE $h $s OK;;",
            "quarantine)q=$f.quarantined-$4;[ -e \"$q\" ]&&exit 12;mv -- \"$f\" \"$q\"||exit 10;"
                    + "sync -- \"$d\"||exit 11;echo QUARANTINED OK;;",
            "*)exit 2;;",
            "esac");

    private static final Logger LOG = Logger.getLogger(ExecRollbackFileStore.class);

    /** argv[0] of every call, then the script, then $0 for the script. */
    static final List<String> SHELL = List.of("sh", "-c", SCRIPT, "dbrollback-file");

    private static final int MAX_CHUNK = 4 << 20;
    /**
     * The largest append of a big file: chunks grow from {@link #MAX_CHUNK} by doubling to this, so a
     * 20M-record file (8.4 GB) takes 505 appends instead of 2,014 (each exec is a round trip through
     * the API server and the kubelet, and a process start in the pod). At most two chunks are in memory.
     */
    private static final int MAX_GROWN_CHUNK = 16 << 20;

    /** Every answer is one line ending in " OK": a line cut short never parses. */
    private static final Pattern EXISTS = Pattern.compile("EXISTS ([0-9a-f]{64}) OK\n");
    private static final Pattern FILE = Pattern.compile(
            "FILE ([0-9a-f]{64}) ([0-9]{1,18}) OK\n");
    /** The answer of put and commit: published, with the read-back of the published file when it succeeded. */
    private static final Pattern COMMITTED = Pattern.compile(
            "COMMITTED(?: ([0-9a-f]{64}) ([0-9]{1,18}))? OK\n");

    private final PodExec exec;
    private final int chunkBytes;
    /** The append size chunks grow to, doubling after each full one (at least {@link #chunkBytes}). */
    private final int maxChunkBytes;
    /** The largest file written by one {@code put}; a larger one goes chunk by chunk. */
    private final int singleCallMaxBytes;
    private final Duration timeout;
    /** Where put and commit leave their read-back for the verify step; null: the verify step always execs. */
    private final ReadBacks.Scope readBacks;

    /** The deadline of one exec call. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);

    public ExecRollbackFileStore(PodExec exec) {
        this(exec, MAX_CHUNK, MAX_CHUNK, MAX_GROWN_CHUNK, DEFAULT_TIMEOUT);
    }

    /** Files of up to one chunk go in one call. */
    public ExecRollbackFileStore(PodExec exec, int chunkBytes, Duration timeout) {
        this(exec, chunkBytes, chunkBytes, timeout);
    }

    /**
     * @param chunkBytes the bytes of one append (at most 4 MiB)
     * @param singleCallMaxBytes the largest file written by one {@code put} exec (at most {@code chunkBytes};
     *     0: always begin, append, commit)
     */
    public ExecRollbackFileStore(PodExec exec, int chunkBytes, int singleCallMaxBytes, Duration timeout) {
        this(exec, chunkBytes, singleCallMaxBytes, chunkBytes, timeout);
    }

    /**
     * @param chunkBytes the bytes of the first append (at most 4 MiB)
     * @param singleCallMaxBytes the largest file written by one {@code put} exec (at most {@code chunkBytes};
     *     0: always begin, append, commit)
     * @param maxChunkBytes the appends after the first double in size up to this (at most 16 MiB; at most
     *     {@code chunkBytes}: every append is {@code chunkBytes})
     */
    public ExecRollbackFileStore(PodExec exec, int chunkBytes, int singleCallMaxBytes, int maxChunkBytes,
            Duration timeout) {
        this(exec, chunkBytes, singleCallMaxBytes, maxChunkBytes, timeout, null);
    }

    /**
     * @param readBacks where put and commit leave the read-back of the file they published, for the verify step
     *     of the same file in this process (null: the verify step always re-reads with an exec of its own)
     */
    public ExecRollbackFileStore(PodExec exec, int chunkBytes, int singleCallMaxBytes, int maxChunkBytes,
            Duration timeout, ReadBacks.Scope readBacks) {
        this.exec = exec;
        this.readBacks = readBacks;
        this.chunkBytes = Math.max(1, Math.min(chunkBytes, MAX_CHUNK));
        this.singleCallMaxBytes = Math.max(0, Math.min(singleCallMaxBytes, this.chunkBytes));
        this.maxChunkBytes = Math.max(this.chunkBytes, Math.min(maxChunkBytes, MAX_GROWN_CHUNK));
        this.timeout = timeout;
    }

    /** The default chunk (and largest single-call file): 4 MiB. */
    public static int defaultChunkBytes() {
        return MAX_CHUNK;
    }

    /** The default size the appends of a big file grow to: 16 MiB. */
    public static int defaultMaxChunkBytes() {
        return MAX_GROWN_CHUNK;
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
     *
     * <p>A file of at most {@link #singleCallMaxBytes} bytes (a small tail) is written by one exec,
     * {@code put}: the same steps as {@code begin}, one append and {@code commit}, in one process. A larger
     * one by {@code begin}, one {@code append} per chunk, {@code commit}; the chunks double in size from
     * {@link #chunkBytes} up to {@link #maxChunkBytes}. The first exec runs once the first chunk is full or
     * the tail ended, so a small tail costs one round trip to the pod, not three.
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
        String path = dir + "/" + name;
        Chunker chunker = new Chunker(pod, container, dir, name, attempt, incident);
        try (chunker) {
            if (singleCallMaxBytes == 0) {
                // Always three steps: begin before the first record is read, as a file above the
                // single-call limit does once its first chunk is full.
                chunker.begin();
            }
            RollbackFileFormat.Summary summary = write(header, tail, chunker);
            PersistResult failed = chunker.flush();
            if (failed != null) {
                return failed;
            }
            String existing = chunker.existing();
            if (existing != null) {
                // Written before (a retry after a crash), now fsynced: the same content is the same file.
                if (summary.sha256().equals(existing)) {
                    return new PersistResult.Persisted(new RollbackFile(path, summary.sha256(), summary.tailSha256(),
                            summary.bytes(), summary.records()));
                }
                return new PersistResult.Failed(PersistResult.Kind.CONFLICT, path + " exists with SHA-256 " + existing
                        + ", not the " + summary.sha256() + " of this tail; it is never overwritten");
            }
            if (chunker.sent() != summary.bytes()) {
                throw new TransportException("ExecTruncated", false, "sent " + chunker.sent() + " of "
                        + summary.bytes() + " bytes of " + path);
            }
            if (!chunker.published()) {
                PodExec.Result committed = run(pod, container, null, "commit", dir, name, attempt);
                if (!committed.succeeded()) {
                    return failure(committed);
                }
                chunker.markPublished(committed(committed, "commit"));
            }
            if (readBacks != null) {
                // A write without a read-back (the name existed, or the commit could not read it) also drops what
                // an earlier write of the same file left: the verify step then reads the file itself.
                readBacks.replace(pod, container, path, chunker.readBack());
            }
            return new PersistResult.Persisted(new RollbackFile(path, summary.sha256(), summary.tailSha256(),
                    summary.bytes(), summary.records()));
        } finally {
            // After the chunker closed: no append of this attempt is still running.
            if (chunker.mayHaveLeftTemporaryFile()) {
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

    /** The answer of a put or commit that succeeded: its read-back of the published file, or null. */
    private static ReadBacks.ReadBack committed(PodExec.Result r, String op) {
        Matcher m = COMMITTED.matcher(r.stdout());
        if (!m.matches()) {
            throw incomplete(op, r);
        }
        return m.group(1) == null ? null : new ReadBacks.ReadBack(m.group(1), Long.parseLong(m.group(2)));
    }

    /**
     * Re-reads the file in the pod; quarantines (renames) it when it is missing or differs. The read-back that
     * the put or commit of this file made in this process right after publishing it is used, once, instead of a
     * new exec.
     */
    public VerifyResult verify(String pod, String container, RollbackFile expected, Instant now) {
        int slash = expected.location().lastIndexOf('/');
        String dir = expected.location().substring(0, slash);
        String name = expected.location().substring(slash + 1);
        ReadBacks.ReadBack readBack = readBacks == null ? null
                : readBacks.take(pod, container, expected.location());
        String sha;
        long size;
        if (readBack != null) {
            sha = readBack.sha256();
            size = readBack.bytes();
        } else {
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
            sha = m.group(1);
            size = Long.parseLong(m.group(2));
        }
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
     * Buffers the file's bytes and writes them to the pod. Nothing is sent until the first chunk is
     * full: a file that ends before (at most {@link #singleCallMaxBytes}) goes in one {@code put};
     * otherwise {@code begin} runs when the first chunk is full, and each chunk is appended. The append
     * of one chunk runs on its own thread while the next chunk is read and encoded, so reading and
     * writing overlap; at most two chunks are in memory (one being sent, one being filled), and the
     * appends stay in order. The first chunk is exactly {@code chunkBytes}, each next one twice the one
     * before up to {@code maxChunkBytes} (the last one may be shorter), cut
     * wherever that falls in a line: the file is the concatenation of the appends. The two arrays
     * take turns, so nothing is copied between the formatter's line and the exec's stdin. When
     * {@code begin} or {@code put} finds the name published (an earlier attempt's file), the rest of the
     * file is only formatted, for its digest, and nothing more is sent.
     */
    private final class Chunker implements RollbackFileFormat.Sink, AutoCloseable {
        private final String pod;
        private final String container;
        private final String dir;
        private final String name;
        private final String attempt;
        private final String incident;
        /** The chunk being filled, up to {@link #fill}; grows to {@link #limit} (small tails stay small). */
        private byte[] filling = new byte[Math.min(chunkBytes, 64 * 1024)];
        private int fill;
        /** The size of the chunk being filled: {@code chunkBytes}, doubled after each full one up to the max. */
        private int limit = chunkBytes;
        /** The array of the append in flight, free again once it finished. */
        private byte[] sending;
        private ExecutorService writer;
        private Future<?> inFlight;
        private volatile long sent;
        private volatile PersistResult failed;
        private volatile RuntimeException broken;
        /** An exec that makes this attempt's temporary file (begin or put) was started. */
        private boolean touched;
        /** begin made the temporary file: chunks are appended to it. */
        private boolean begun;
        /** put or commit published the file: no temporary file of this attempt is left. */
        private boolean published;
        /** The SHA-256 of the file begin or put found published under the name, else null. */
        private String existing;
        /** What put or commit read back from the file it published, else null. */
        private ReadBacks.ReadBack readBack;

        Chunker(String pod, String container, String dir, String name, String attempt, String incident) {
            this.pod = pod;
            this.container = container;
            this.dir = dir;
            this.name = name;
            this.attempt = attempt;
            this.incident = incident;
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
                if (failed != null || existing != null) {
                    return; // the tail is still consumed to its end; nothing more is sent
                }
                if (fill == filling.length) {
                    if (filling.length < limit) {
                        filling = Arrays.copyOf(filling, Math.min(limit, filling.length * 2));
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

        /**
         * Sends what is left (the whole file in one {@code put} when nothing was sent yet and it is small
         * enough) and waits for every append; the failure, if any.
         */
        PersistResult flush() {
            if (failed == null && existing == null && !begun && fill <= singleCallMaxBytes) {
                put();
                return failed;
            }
            if (failed == null && existing == null && fill > 0) {
                send();
            }
            awaitInFlight();
            return failed;
        }

        long sent() {
            return sent;
        }

        String existing() {
            return existing;
        }

        boolean published() {
            return published;
        }

        void markPublished(ReadBacks.ReadBack readBack) {
            published = true;
            this.readBack = readBack;
        }

        ReadBacks.ReadBack readBack() {
            return readBack;
        }

        /** Whether this attempt may have left a temporary file in the pod (an abort removes it). */
        boolean mayHaveLeftTemporaryFile() {
            return touched && !published && existing == null;
        }

        /** The whole file in one exec: begin, append and commit in one process. */
        private void put() {
            touched = true;
            byte[] all = fill == filling.length ? filling : Arrays.copyOf(filling, fill);
            PodExec.Result r = exec.exec(pod, container, argv("put", dir, name, attempt, incident,
                    Integer.toString(all.length)), all, timeout);
            fill = 0;
            if (failedOrExisting(r)) {
                return;
            }
            ReadBacks.ReadBack answer = committed(r, "put");
            sent = all.length;
            markPublished(answer);
        }

        /**
         * Records a failed call ({@code failed}) or a name already published ({@code existing}, from the EXISTS
         * answer of begin and put); true when either ended the write.
         */
        private boolean failedOrExisting(PodExec.Result r) {
            if (!r.succeeded()) {
                failed = failure(r);
                return true;
            }
            Matcher exists = EXISTS.matcher(r.stdout());
            if (exists.matches()) {
                existing = exists.group(1);
                return true;
            }
            return false;
        }

        /** Makes this attempt's empty temporary file, or finds the name already published. */
        private void begin() {
            touched = true;
            PodExec.Result r = run(pod, container, null, "begin", dir, name, attempt, incident);
            if (failedOrExisting(r)) {
                return;
            }
            if (!r.stdout().equals("BEGUN OK\n")) {
                throw incomplete("begin", r);
            }
            begun = true;
            writer = Executors.newSingleThreadExecutor(t -> {
                Thread w = new Thread(t, "rollback-file-writer");
                w.setDaemon(true);
                return w;
            });
        }

        private void send() {
            if (!begun) {
                begin();
                if (!begun) {
                    fill = 0;
                    return;
                }
            }
            awaitInFlight();
            byte[] free = sending;
            sending = null;
            if (failed != null) {
                fill = 0;
                return;
            }
            byte[] chunk;
            if (fill == filling.length) {
                // A full array goes as it is; the one the last append used (now done) is filled next, unless
                // the chunks grew past it.
                chunk = filling;
                sending = filling;
                limit = (int) Math.min((long) limit * 2, maxChunkBytes);
                filling = free != null && free.length == limit ? free : new byte[limit];
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
            if (writer == null) {
                return;
            }
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
