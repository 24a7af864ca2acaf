package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailIntegrityException;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.TestStreams;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.testing.IntegrationTest;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exec-based rollback file writer, its script run for real as local processes. */
@IntegrationTest
class ExecRollbackFileStoreTest {

    @TempDir
    Path root;

    private static final String DIR = "/var/lib/db/rollback";

    private static List<TailRecord> tail(int n) {
        List<TailRecord> out = new ArrayList<>();
        Instant t = Instant.parse("2026-03-01T10:00:00Z");
        for (int i = 1; i <= n; i++) {
            long lsn = 100 + i;
            Bytes key = Bytes.utf8("key-" + (i % 3));
            out.add(switch (i % 3) {
                case 0 -> TailRecord.delete(lsn, 4, "tx" + i, t.plusMillis(i), key, Bytes.utf8("old-" + i));
                case 1 -> TailRecord.insert(lsn, 4, "tx" + i, t.plusMillis(i), key, Bytes.utf8("new-\u00e9-" + i));
                default -> TailRecord.update(lsn, 4, "tx" + i, t.plusMillis(i), key, Bytes.utf8("a" + i),
                        Bytes.utf8("b" + i));
            });
        }
        return out;
    }

    /** {@code local} with {@code shim} first on the PATH of every call: its programs stand in for the pod's. */
    private static PodExec shimmed(LocalPodExec local, Path shim) {
        return (pod, c, argv, stdin, t) -> {
            List<String> withShim = new ArrayList<>(List.of("env", "PATH=" + shim + ":" + System.getenv("PATH")));
            withShim.addAll(argv);
            return local.exec(pod, c, withShim, stdin, t);
        };
    }

    private static TailStream stream(List<TailRecord> records) {
        return TestStreams.of(records);
    }

    private static RollbackFileHeader header(int n) {
        return new RollbackFileHeader("inc-9", 1, "orders", "db-0", Lsn.of(100), Lsn.of(100 + n), Term.of(4),
                Term.of(5), "db-1", n, Instant.parse("2026-03-01T10:05:00Z"));
    }

    @Test
    void writesAVerifiableJsonLinesFileWithPrivateModesAndRereadsIt() throws Exception {
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        ExecRollbackFileStore store = new ExecRollbackFileStore(exec, 300, Duration.ofSeconds(30));
        List<TailRecord> records = tail(25);
        PersistResult r = store.persist("db-0", "database", DIR, "rb.jsonl", header(25), stream(records));
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, r).file();
        Path local = root.resolve("rollback/rb.jsonl");
        byte[] bytes = Files.readAllBytes(local);
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)), file.sha256(),
                "the recorded digest is what sha256sum prints");
        assertEquals(bytes.length, file.bytes());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local.getParent())));
        assertFalse(Files.exists(root.resolve("rollback/.rb.jsonl.tmp")), "no temporary file left");
        assertTrue(exec.calls.size() > 3, "streamed in several chunks: " + exec.calls.size());

        List<String> lines = Files.readAllLines(local, StandardCharsets.UTF_8);
        assertEquals(27, lines.size());
        JsonNode head = Json.MAPPER.readTree(lines.get(0));
        assertEquals("header", head.get("type").asText());
        assertEquals(100, head.get("forkLsn").asLong());
        JsonNode del = Json.MAPPER.readTree(lines.get(3));
        assertEquals("DELETE", del.get("op").asText());
        assertEquals("old-3", new String(Base64.getDecoder().decode(del.get("before").asText()),
                StandardCharsets.UTF_8), "a delete keeps its pre-image");
        JsonNode trailer = Json.MAPPER.readTree(lines.get(26));
        TailDigest d = new TailDigest();
        records.forEach(d::add);
        assertEquals(d.finish(), trailer.get("tailSha256").asText());
        assertEquals(file.tailSha256(), trailer.get("tailSha256").asText());
        byte[] content = String.join("\n", lines.subList(0, 26)).concat("\n").getBytes(StandardCharsets.UTF_8);
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)),
                trailer.get("contentSha256").asText(), "head -n -1 FILE | sha256sum matches the trailer");

        VerifyResult v = store.verify("db-0", "database", file, Instant.now());
        assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 25, bytes.length), v);
        for (List<String> argv : exec.calls) {
            assertEquals(ExecRollbackFileStore.SHELL, argv.subList(0, 4), "always the one constant script");
        }
    }

    @Test
    void writingTheSameTailAgainReturnsTheExistingFileAndADifferentOneIsRefused() throws Exception {
        ExecRollbackFileStore store = new ExecRollbackFileStore(new LocalPodExec(root, "/var/lib/db"), 1 << 20,
                Duration.ofSeconds(30));
        RollbackFile first = ((PersistResult.Persisted) store.persist("db-0", "database", DIR, "rb.jsonl", header(5),
                stream(tail(5)))).file();
        byte[] before = Files.readAllBytes(root.resolve("rollback/rb.jsonl"));
        PersistResult again = store.persist("db-0", "database", DIR, "rb.jsonl", header(5), stream(tail(5)));
        assertEquals(first, assertInstanceOf(PersistResult.Persisted.class, again).file());
        PersistResult other = store.persist("db-0", "database", DIR, "rb.jsonl", header(6), stream(tail(6)));
        assertEquals(PersistResult.Kind.CONFLICT, assertInstanceOf(PersistResult.Failed.class, other).kind());
        assertTrue(Arrays.equals(before, Files.readAllBytes(root.resolve("rollback/rb.jsonl"))),
                "never overwritten");
    }

    @Test
    void aFileChangedOnDiskFailsVerificationAndIsQuarantinedNotDeleted() throws Exception {
        ExecRollbackFileStore store = new ExecRollbackFileStore(new LocalPodExec(root, "/var/lib/db"), 1 << 20,
                Duration.ofSeconds(30));
        RollbackFile file = ((PersistResult.Persisted) store.persist("db-0", "database", DIR, "rb.jsonl", header(5),
                stream(tail(5)))).file();
        Path local = root.resolve("rollback/rb.jsonl");
        byte[] b = Files.readAllBytes(local);
        b[b.length / 2] ^= 1;
        Files.write(local, b);
        VerifyResult v = store.verify("db-0", "database", file, Instant.ofEpochSecond(1234));
        VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class, v);
        assertEquals(DIR + "/rb.jsonl.quarantined-1234", m.quarantinedLocation());
        assertTrue(Files.exists(root.resolve("rollback/rb.jsonl.quarantined-1234")));
        assertFalse(Files.exists(local));
    }

    @Test
    void aCorruptTailPublishesNothing() {
        ExecRollbackFileStore store = new ExecRollbackFileStore(new LocalPodExec(root, "/var/lib/db"), 100,
                Duration.ofSeconds(30));
        List<TailRecord> records = tail(10);
        Iterator<TailRecord> it = records.iterator();
        TailStream breaking = new TailStream() {
            int n;

            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public TailRecord next() {
                if (++n == 6) {
                    throw new TailIntegrityException(TailIntegrityException.Kind.GAP, "gap");
                }
                return it.next();
            }

            @Override
            public void close() {
            }
        };
        assertThrows(TailIntegrityException.class,
                () -> store.persist("db-0", "database", DIR, "rb.jsonl", header(10), breaking));
        assertFalse(Files.exists(root.resolve("rollback/rb.jsonl")), "nothing published");
    }

    @Test
    void aMissingExitStatusOrACutAnswerIsNeverTakenForSuccess() {
        PodExec noStatus = (pod, c, argv, stdin, t) -> new PodExec.Result(null, "", "");
        ExecRollbackFileStore store = new ExecRollbackFileStore(noStatus);
        var e = assertThrows(TransportException.class,
                () -> store.persist("db-0", "database", DIR, "rb.jsonl", header(3), stream(tail(3))));
        assertTrue(e.outcomeUnknown());
        PodExec cut = (pod, c, argv, stdin, t) -> new PodExec.Result(0, "", "");
        assertThrows(TransportException.class, () -> new ExecRollbackFileStore(cut)
                .persist("db-0", "database", DIR, "rb.jsonl", header(3), stream(tail(3))));
    }

    @Test
    void aCutAnswerFromTheVerifyIsAnUnknownOutcomeAndNeverQuarantinesAGoodFile() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        ExecRollbackFileStore store = new ExecRollbackFileStore(local, 1 << 20, Duration.ofSeconds(30));
        RollbackFile file = ((PersistResult.Persisted) store.persist("db-0", "database", DIR, "rb.jsonl", header(5),
                stream(tail(5)))).file();
        PodExec cut = (pod, c, argv, stdin, t) -> {
            PodExec.Result r = local.exec(pod, c, argv, stdin, t);
            return new PodExec.Result(r.exitCode(), r.stdout().substring(0, Math.min(r.stdout().length(), 70)),
                    r.stderr());
        };
        assertThrows(TransportException.class,
                () -> new ExecRollbackFileStore(cut, 1 << 20, Duration.ofSeconds(30)).verify("db-0", "database", file,
                        Instant.now()));
        assertTrue(Files.exists(root.resolve("rollback/rb.jsonl")), "the good file stays where it is");
        assertInstanceOf(VerifyResult.Read.class, store.verify("db-0", "database", file, Instant.now()));
    }

    @Test
    void eachAttemptWritesItsOwnTemporaryFile() throws Exception {
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        ExecRollbackFileStore store = new ExecRollbackFileStore(exec, 100, Duration.ofSeconds(30));
        store.persist("db-0", "database", DIR, "a.jsonl", header(3), stream(tail(3)));
        store.persist("db-0", "database", DIR, "b.jsonl", header(3), stream(tail(3)));
        Set<String> attempts = new HashSet<>();
        for (List<String> argv : exec.calls) {
            if (argv.get(4).equals("begin")) {
                attempts.add(argv.get(7));
            }
        }
        assertEquals(2, attempts.size(), "a fresh attempt id per persist");
        try (var files = Files.list(root.resolve("rollback"))) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")), "no temporary file left");
        }
    }

    /**
     * Two writers (two operator instances) commit the same name at once: the other one's link lands
     * between this commit's existence test and its own link. A shim {@code ln} first links the name
     * itself (with the same bytes, or with other bytes), then runs the real ln, which then fails.
     */
    @Test
    void anotherWriterLinkingTheNameFirstIsTheSameFileOrAConflictNeverAnIoError() throws Exception {
        String realLn = Files.exists(Path.of("/usr/bin/ln")) ? "/usr/bin/ln" : "/bin/ln";
        for (boolean sameBytes : new boolean[] {true, false}) {
            Path work = root.resolve(sameBytes ? "same" : "other");
            Path shim = work.resolve("shim");
            Files.createDirectories(shim);
            Path ln = shim.resolve("ln");
            // argv of the script's link: ln -- TMP FINAL
            Files.writeString(ln, "#!/bin/sh\n"
                    + (sameBytes ? "cat -- \"$2\" > \"$3\"\n" : "printf 'another writer' > \"$3\"\n")
                    + "exec " + realLn + " \"$@\"\n");
            Files.setPosixFilePermissions(ln, PosixFilePermissions.fromString("rwx------"));
            LocalPodExec local = new LocalPodExec(work, "/var/lib/db");
            PodExec racing = shimmed(local, shim);
            PersistResult r = new ExecRollbackFileStore(racing, 1 << 20, Duration.ofSeconds(30))
                    .persist("db-0", "database", DIR, "rb.jsonl", header(5), stream(tail(5)));
            Path file = work.resolve("rollback/rb.jsonl");
            if (sameBytes) {
                RollbackFile f = assertInstanceOf(PersistResult.Persisted.class, r, String.valueOf(r)).file();
                assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                        .digest(Files.readAllBytes(file))), f.sha256(), "the other writer's file is this one");
                try (var files = Files.list(work.resolve("rollback"))) {
                    assertTrue(files.noneMatch(x -> x.getFileName().toString().endsWith(".tmp")),
                            "no temporary file left");
                }
            } else {
                assertEquals(PersistResult.Kind.CONFLICT, assertInstanceOf(PersistResult.Failed.class, r).kind(),
                        String.valueOf(r));
                assertEquals("another writer", Files.readString(file), "never overwritten");
            }
        }
    }

    // ---- No litter: a failed attempt removes its temporary file; the next begin removes older ones ----

    private Path rollbackDir() {
        return root.resolve("rollback");
    }

    /** The names in the rollback directory that are temporary files. */
    private List<String> temporaries() throws Exception {
        if (!Files.exists(rollbackDir())) {
            return List.of();
        }
        try (var files = Files.list(rollbackDir())) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".tmp")).sorted().toList();
        }
    }

    /** Runs every call for real, first letting {@code before} see (and change) the argv of each. */
    private PodExec around(LocalPodExec local, UnaryOperator<List<String>> before) {
        return (pod, c, argv, stdin, t) -> local.exec(pod, c, before.apply(argv), stdin, t);
    }

    @Test
    void aTailThatThrowsMidStreamLeavesNoTemporaryFile() throws Exception {
        ExecRollbackFileStore store = new ExecRollbackFileStore(new LocalPodExec(root, "/var/lib/db"), 100,
                Duration.ofSeconds(30));
        List<String> atTheThrow = new ArrayList<>();
        TailStream breaking = TestStreams.failingAt(tail(20), 15, () -> {
            try {
                atTheThrow.addAll(temporaries());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return new TransportException("TailTruncated", false, "cut");
        });
        assertThrows(TransportException.class,
                () -> store.persist("db-0", "database", DIR, "rb.jsonl", header(20), breaking));
        assertEquals(1, atTheThrow.size(), "the attempt had its temporary file when the tail broke: " + atTheThrow);
        assertEquals(List.of(), temporaries(), "removed by the abort");
        assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")), "nothing published");
    }

    @Test
    void aFailedAppendLeavesNoTemporaryFile() throws Exception {
        // The third append is told to expect one byte more than it gets: its bytes land in the temporary
        // file and the script answers "short write" (13).
        int[] appends = {0};
        PodExec shortWrite = around(new LocalPodExec(root, "/var/lib/db"), argv -> {
            if (argv.get(4).equals("append") && ++appends[0] == 3) {
                List<String> off = new ArrayList<>(argv);
                off.set(9, Long.toString(Long.parseLong(argv.get(9)) + 1));
                return off;
            }
            return argv;
        });
        var e = assertThrows(TransportException.class, () -> new ExecRollbackFileStore(
                shortWrite, 100, Duration.ofSeconds(30)).persist("db-0", "database", DIR, "rb.jsonl", header(20),
                        stream(tail(20))));
        assertEquals("ExecTruncated", e.code(), e.getMessage());
        assertFalse(e.outcomeUnknown());
        assertTrue(appends[0] >= 3, "the failing append ran");
        assertEquals(List.of(), temporaries());
        assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")));
    }

    @Test
    void aCutAnswerToAnAppendLeavesNoTemporaryFile() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        int[] appends = {0};
        PodExec cut = (pod, c, argv, stdin, t) -> {
            PodExec.Result r = local.exec(pod, c, argv, stdin, t);
            if (argv.get(4).equals("append") && ++appends[0] == 2) {
                return new PodExec.Result(r.exitCode(), r.stdout().substring(0, 5), r.stderr());
            }
            return r;
        };
        var e = assertThrows(TransportException.class, () -> new ExecRollbackFileStore(
                cut, 100, Duration.ofSeconds(30)).persist("db-0", "database", DIR, "rb.jsonl", header(20),
                        stream(tail(20))));
        assertTrue(e.outcomeUnknown(), e.getMessage());
        assertEquals(List.of(), temporaries());
        assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")));
    }

    /**
     * The persisting thread is interrupted while an append runs: the attempt fails as interrupted,
     * the thread keeps its interrupt, and the append is let finish before the abort removes the file.
     */
    @Test
    void anInterruptDuringAnAppendLeavesNoTemporaryFile() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        Thread persisting = Thread.currentThread();
        int[] appends = {0};
        PodExec interrupting = (pod, c, argv, stdin, t) -> {
            if (argv.get(4).equals("append") && ++appends[0] == 2) {
                persisting.interrupt();
                try {
                    Thread.sleep(300); // the append is still running when the interrupt lands
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
            return local.exec(pod, c, argv, stdin, t);
        };
        ExecRollbackFileStore store = new ExecRollbackFileStore(interrupting, 100, Duration.ofSeconds(30));
        TransportException e;
        try {
            e = assertThrows(TransportException.class,
                    () -> store.persist("db-0", "database", DIR, "rb.jsonl", header(20), stream(tail(20))));
        } finally {
            assertTrue(Thread.interrupted(), "the interrupt is kept");
        }
        assertEquals("Interrupted", e.code(), e.getMessage());
        assertEquals(List.of(), temporaries());
        assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")));
    }

    /**
     * The copy tool writes ten bytes of a chunk and then fails as a full disk does: head -c for a chunk under a
     * megabyte, dd for a larger one. Either way the call is NO_SPACE and the abort leaves no temporary file.
     */
    @Test
    void aFullDiskLeavesNoTemporaryFile() throws Exception {
        String realHead = Files.exists(Path.of("/usr/bin/head")) ? "/usr/bin/head" : "/bin/head";
        String realDd = Files.exists(Path.of("/usr/bin/dd")) ? "/usr/bin/dd" : "/bin/dd";
        Path shim = root.resolve("shim");
        Files.createDirectories(shim);
        // Both copy tools of the script take all of stdin, write 10 bytes, leave a mark of which one ran and fail
        // as a full disk makes them; dd's probe of its own flags still answers.
        for (String tool : List.of("head", "dd")) {
            String real = tool.equals("head") ? realHead : realDd;
            Path fake = shim.resolve(tool);
            Files.writeString(fake, "#!/bin/sh\ncase \" $* \" in *\" count=0 \"*) exec " + real + " \"$@\";; esac\n"
                    + "echo " + tool + " >> " + root.resolve("ran") + "\n"
                    + real + " \"$@\" 2>/dev/null | " + realHead + " -c 10\n"
                    + "echo \"" + tool + ": error writing 'standard output': No space left on device\" >&2\nexit 1\n");
            Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        }
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        PodExec shimmed = shimmed(local, shim);
        for (String tool : List.of("head", "dd")) {
            int chunk = tool.equals("head") ? 100 : 1_000_000;
            int records = tool.equals("head") ? 20 : 8000;
            List<Long> leftAfterAppend = new ArrayList<>();
            PodExec full = (pod, c, argv, stdin, t) -> {
                PodExec.Result r = shimmed.exec(pod, c, argv, stdin, t);
                if (argv.get(4).equals("append")) {
                    try {
                        leftAfterAppend.add(Files.size(rollbackDir().resolve(temporaries().get(0))));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
                return r;
            };
            Files.deleteIfExists(root.resolve("ran"));
            PersistResult r = new ExecRollbackFileStore(full, chunk, Duration.ofSeconds(30)).persist("db-0",
                    "database", DIR, "rb.jsonl", header(records), stream(tail(records)));
            assertEquals(PersistResult.Kind.NO_SPACE, assertInstanceOf(PersistResult.Failed.class, r).kind(),
                    String.valueOf(r));
            assertEquals(List.of(tool), Files.readAllLines(root.resolve("ran")), "the copy tool of that chunk");
            assertEquals(List.of(10L), leftAfterAppend, "the failed append left tail bytes in its temporary file");
            assertEquals(List.of(), temporaries(), "which the abort removed");
            assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")));
        }
    }

    @Test
    void whenTheAbortFailsTooTheNextAttemptsBeginRemovesTheLeftover() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        PodExec noAbort = (pod, c, argv, stdin, t) -> argv.get(4).equals("abort")
                ? new PodExec.Result(null, "", "exec failed: connection reset") : local.exec(pod, c, argv, stdin, t);
        ExecRollbackFileStore store = new ExecRollbackFileStore(noAbort, 100, Duration.ofSeconds(30));
        TailStream breaking = TestStreams.failingAt(tail(20), 10, () -> new io.dbrollback.coordinator
                .TransportException("TailTruncated", false, "cut"));
        String name = RollbackFileName.of("inc-9", 1);
        assertThrows(TransportException.class,
                () -> store.persist("db-0", "database", DIR, name, header(20), breaking));
        List<String> left = temporaries();
        assertEquals(1, left.size(), "the abort failed: the temporary file is still there " + left);
        assertTrue(Files.size(rollbackDir().resolve(left.get(0))) > 0, "with tail bytes");

        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, store.persist("db-0", "database", DIR,
                name, header(20), stream(tail(20)))).file();
        assertEquals(List.of(), temporaries(), "the next attempt's begin removed it");
        assertInstanceOf(VerifyResult.Read.class, new ExecRollbackFileStore(local, 100, Duration.ofSeconds(30))
                .verify("db-0", "database", file, Instant.now()));
    }

    /**
     * Leftovers of crashed attempts of this incident (any plan) go at the next begin, also when the
     * file exists already; the published and quarantined files, another incident's temporary files
     * (even one whose id begins with this incident's file name) and dot-names of another form stay.
     */
    @Test
    void theNextBeginRemovesThisIncidentsLeftoversAndNothingElse() throws Exception {
        Path dir = rollbackDir();
        Files.createDirectories(dir);
        String attempt = "0f1e2d3c-4b5a-4968-8776-655443322110";
        String name = RollbackFileName.of("inc-9", 1);
        List<String> crashed = List.of("." + name + "." + attempt + ".tmp",
                ".inc-9-plan2.rollback.jsonl." + attempt + ".tmp", ".inc-9-plan17.rollback.jsonl.abc.tmp");
        List<String> kept = List.of("inc-9-plan2.rollback.jsonl", "inc-9-plan2.rollback.jsonl.quarantined-1234",
                name + ".quarantined-99", ".other-plan1.rollback.jsonl." + attempt + ".tmp",
                ".inc-9-plan1-plan1.rollback.jsonl." + attempt + ".tmp", ".inc-9-plan1.rollback.jsonl.tmp",
".inc-9-plan0.rollback.jsonl." + attempt + ".tmp",
                ".inc-9-planx.rollback.jsonl." + attempt + ".tmp", "notes.tmp");
        for (String n : crashed) {
            Files.writeString(dir.resolve(n), "tail bytes of a crashed attempt");
        }
        for (String n : kept) {
            Files.writeString(dir.resolve(n), "keep " + n);
        }
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        ExecRollbackFileStore store = new ExecRollbackFileStore(exec, 100, Duration.ofSeconds(30));
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, store.persist("db-0", "database", DIR,
                name, header(5), stream(tail(5)))).file();
        for (String n : crashed) {
            assertFalse(Files.exists(dir.resolve(n)), n + " removed");
        }
        for (String n : kept) {
            assertEquals("keep " + n, Files.readString(dir.resolve(n)), n + " untouched");
        }
        for (List<String> argv : exec.calls) {
            if (argv.get(4).equals("begin")) {
                assertEquals("inc-9", argv.get(8), "the incident is its own argv entry");
            }
        }

        // The file exists now: a retry's begin answers EXISTS and still removes a new leftover.
        Files.writeString(dir.resolve(crashed.get(0)), "tail bytes of a crashed attempt");
        assertEquals(file, assertInstanceOf(PersistResult.Persisted.class, store.persist("db-0", "database", DIR,
                name, header(5), stream(tail(5)))).file());
        assertFalse(Files.exists(dir.resolve(crashed.get(0))));
        assertTrue(Files.exists(dir.resolve(name)), "the published file stays");
    }

    /**
     * Two writers of one incident (two operator instances): the second one's begin removes the first
     * one's temporary file, so the first one's next append finds it gone and answers 13, a retried
     * attempt (never a disk error); the retry finds the second one's file with the same bytes.
     */
    @Test
    void anotherWritersBeginRemovingThisAttemptsFileMakesItRetryNeverFail() throws Exception {
        String name = RollbackFileName.of("inc-9", 1);
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        ExecRollbackFileStore other = new ExecRollbackFileStore(local, 100, Duration.ofSeconds(30));
        boolean[] raced = {false};
        PodExec racing = (pod, c, argv, stdin, t) -> {
            if (argv.get(4).equals("append") && !raced[0]) {
                raced[0] = true;
                assertInstanceOf(PersistResult.Persisted.class, other.persist("db-0", "database", DIR, name,
                        header(5), stream(tail(5))));
            }
            return local.exec(pod, c, argv, stdin, t);
        };
        ExecRollbackFileStore first = new ExecRollbackFileStore(racing, 100, Duration.ofSeconds(30));
        var e = assertThrows(TransportException.class,
                () -> first.persist("db-0", "database", DIR, name, header(5), stream(tail(5))));
        assertEquals("ExecTruncated", e.code(), e.getMessage());
        assertFalse(e.outcomeUnknown());
        assertEquals(List.of(), temporaries());
        assertInstanceOf(PersistResult.Persisted.class, first.persist("db-0", "database", DIR, name, header(5),
                stream(tail(5))), "the retry takes the other writer's file: the same bytes");
    }

    /** The temporary file vanishing before the commit is a retried attempt (13), never FSYNC_FAILED. */
    @Test
    void aCommitWhoseTemporaryFileIsGoneIsRetriedNotAnFsyncFailure() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        PodExec removing = (pod, c, argv, stdin, t) -> {
            if (argv.get(4).equals("commit")) {
                try {
                    for (String n : temporaries()) {
                        Files.delete(rollbackDir().resolve(n));
                    }
                } catch (Exception x) {
                    throw new IllegalStateException(x);
                }
            }
            return local.exec(pod, c, argv, stdin, t);
        };
        var e = assertThrows(TransportException.class, () -> new ExecRollbackFileStore(
                removing, 100, Duration.ofSeconds(30)).persist("db-0", "database", DIR, "rb.jsonl", header(5),
                        stream(tail(5))));
        assertEquals("ExecTruncated", e.code(), e.getMessage());
        assertFalse(e.outcomeUnknown());
        assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")));
    }
    /**
     * The pod's hash of a file of a megabyte or more: openssl's answer when it is 64 lowercase hex digits,
     * else sha256sum's. A fake openssl first in PATH shows which one answered: one that prints a
     * well-formed digest of its own is believed (so the read-back is its), one that fails or prints
     * another format is not, and the verify still reads the true digest.
     */
    @Test
    void aLargeFilesReadBackHashIsOpensslsWhenWellFormedElseSha256sums() throws Exception {
        RollbackFile file = persisted(8000);
        assertTrue(file.bytes() >= 1_000_000, "a file of " + file.bytes() + " bytes");
        assertHashedFirstBy("openssl", file);
    }

    /**
     * Below 999,999 bytes the order turns: sha256sum starts faster than openssl, and hashing the file is
     * the smaller part of the call. The same rules: a well-formed answer is believed, anything else is
     * not, and openssl reads the true digest.
     */
    @Test
    void aSmallFilesReadBackHashIsSha256sumsWhenWellFormedElseOpenssls() throws Exception {
        RollbackFile file = persisted(5);
        assertHashedFirstBy("sha256sum", file);
    }

    private RollbackFile persisted(int records) {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        return assertInstanceOf(PersistResult.Persisted.class, new ExecRollbackFileStore(local)
                .persist("db-0", "database", DIR, "rb.jsonl", header(records), stream(tail(records)))).file();
    }

    private void assertHashedFirstBy(String tool, RollbackFile file) throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        String forged = "0123456789abcdef".repeat(4);
        String[] fakes = {
            "#!/bin/sh\ncat > /dev/null\necho 'SHA2-256(stdin)= " + forged + "'\n", // another format
            "#!/bin/sh\ncat > /dev/null\necho '" + forged.toUpperCase() + " *stdin'\n",
            "#!/bin/sh\necho 'unsupported' >&2\nexit 1\n",                       // fails
            "#!/bin/sh\ncat > /dev/null\necho '" + forged + " *stdin'\n",          // well-formed: believed
        };
        for (int i = 0; i < fakes.length; i++) {
            Path bin = Files.createDirectories(root.resolve(tool + "-bin-" + i));
            Path fake = bin.resolve(tool);
            Files.writeString(fake, fakes[i]);
            fake.toFile().setExecutable(true);
            PodExec withFake = shimmed(local, bin);
            VerifyResult v = new ExecRollbackFileStore(withFake).verify("db-0", "database", file,
                    Instant.parse("2026-03-01T11:00:00Z"));
            if (i == fakes.length - 1) {
                assertTrue(assertInstanceOf(VerifyResult.Mismatch.class, v).detail().startsWith(
                        "read back SHA-256 " + forged), "a well-formed " + tool + " answer is the read-back: " + v);
                break;
            }
            assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), file.recordCount(), file.bytes()), v,
                    "fake " + tool + " " + i + " is not believed: the other tool reads the file");
        }
    }

    private static List<String> operations(LocalPodExec exec) {
        return exec.calls.stream().map(argv -> argv.get(4)).toList();
    }

    /**
     * The script is sent form-encoded in the exec request's URL, once per argv entry with the
     * operation's arguments (names, a UUID, lengths), path and query parameters around it. Vert.x (the
     * mock API server) answers 414 to a request line above 4096 bytes, and so may proxies in front of a
     * real API server: a script that grew past this budget failed every exec with "An error has
     * occurred" there. The longest request line any spec can make (every name at its longest, the
     * directory alternating '/' and a letter, which form-encoding triples) must fit.
     */
    @Test
    void theLongestExecRequestLineFits() {
        String ns = "n".repeat(63);
        String pod = "p".repeat(253);
        String container = "c".repeat(63);
        String dir = "/a".repeat(100);
        String incident = "i".repeat(63);
        String name = RollbackFileName.of(incident, 2_000_000_000);
        String attempt = UUID.randomUUID().toString();
        int longest = 0;
        for (List<String> args : List.of(List.of("put", dir, name, attempt, incident, "4194304"),
                List.of("begin", dir, name, attempt, incident),
                List.of("append", dir, name, attempt, "16777216", "99999999999"),
                List.of("quarantine", dir, name, "99999999999"))) {
            StringBuilder line = new StringBuilder("GET /api/v1/namespaces/" + ns + "/pods/" + pod + "/exec?");
            for (String a : ExecRollbackFileStore.argv(args.toArray(String[]::new))) {
                line.append("command=").append(URLEncoder.encode(a, StandardCharsets.UTF_8)).append('&');
            }
            line.append("container=").append(container).append("&stdin=true&stdout=true&stderr=true HTTP/1.1");
            longest = Math.max(longest, line.length());
        }
        assertTrue(longest <= 4096, "the longest exec request line takes " + longest + " of 4096 bytes");
    }

    /**
     * A file that fits one chunk is one exec ({@code put}: begin, append and commit in one process): the
     * same bytes, modes and read-back as the three-step path, no temporary file, a crashed attempt's
     * leftover swept; written again it is found (EXISTS) with the same bytes, and other bytes under the
     * name are a conflict, never overwritten.
     */
    @Test
    void aSmallFileIsOneExecWithTheSameGuaranteesAsThreeSteps() throws Exception {
        String name = RollbackFileName.of("inc-9", 1);
        Path dir = Files.createDirectories(rollbackDir());
        String leftover = "." + RollbackFileName.of("inc-9", 1) + ".dead-attempt.tmp";
        Files.writeString(dir.resolve(leftover), "tail bytes of a crashed attempt");
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        ExecRollbackFileStore store = new ExecRollbackFileStore(exec);
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, store.persist("db-0", "database", DIR,
                name, header(25), stream(tail(25)))).file();
        assertEquals(List.of("put"), operations(exec), "one round trip to the pod");
        assertEquals(ExecRollbackFileStore.SHELL, exec.calls.get(0).subList(0, 4));
        assertEquals(List.of("inc-9", Long.toString(file.bytes())), exec.calls.get(0).subList(8, 10),
                "the incident and the length are argv entries of their own");
        Path local = dir.resolve(name);
        byte[] bytes = Files.readAllBytes(local);
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)), file.sha256());
        assertEquals(bytes.length, file.bytes());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals(List.of(), temporaries(), "the leftover is swept, nothing of this attempt is left");

        // The same bytes through the three-step path are the same file.
        LocalPodExec stepped = new LocalPodExec(root.resolve("stepped"), "/var/lib/db");
        RollbackFile three = assertInstanceOf(PersistResult.Persisted.class, new ExecRollbackFileStore(stepped,
                1 << 20, 0, Duration.ofSeconds(30)).persist("db-0", "database", DIR, name, header(25),
                        stream(tail(25)))).file();
        assertEquals(List.of("begin", "append", "commit"), operations(stepped), "0: never one call");
        assertEquals(file.sha256(), three.sha256());

        // Again: found under the name with the same bytes, one exec, nothing rewritten.
        exec.calls.clear();
        assertEquals(file, assertInstanceOf(PersistResult.Persisted.class, store.persist("db-0", "database", DIR,
                name, header(25), stream(tail(25)))).file());
        assertEquals(List.of("put"), operations(exec));
        assertEquals(List.of(), temporaries());
        // Other bytes under the name: a conflict, the published file untouched.
        PersistResult other = store.persist("db-0", "database", DIR, name, header(24), stream(tail(24)));
        assertEquals(PersistResult.Kind.CONFLICT, assertInstanceOf(PersistResult.Failed.class, other).kind());
        assertEquals(HexFormat.of().formatHex(bytes), HexFormat.of().formatHex(Files.readAllBytes(local)));
        assertEquals(List.of(), temporaries());
        assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 25, bytes.length),
                store.verify("db-0", "database", file, Instant.now()));
    }

    /**
     * The threshold: a file larger than the single-call limit but within one chunk takes begin, one
     * append and commit; a file larger than a chunk takes an append per chunk.
     */
    @Test
    void aFileAboveTheSingleCallLimitTakesTheThreeStepPath() throws Exception {
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        assertInstanceOf(PersistResult.Persisted.class, new ExecRollbackFileStore(exec, 1 << 20, 512,
                Duration.ofSeconds(30)).persist("db-0", "database", DIR, "a.jsonl", header(25), stream(tail(25))));
        assertEquals(List.of("begin", "append", "commit"), operations(exec));
        exec.calls.clear();
        assertInstanceOf(PersistResult.Persisted.class, new ExecRollbackFileStore(exec, 2048, 2048,
                Duration.ofSeconds(30)).persist("db-0", "database", DIR, "b.jsonl", header(25), stream(tail(25))));
        List<String> ops = operations(exec);
        assertEquals("begin", ops.get(0));
        assertEquals("commit", ops.get(ops.size() - 1));
        assertTrue(ops.subList(1, ops.size() - 1).stream().allMatch("append"::equals) && ops.size() > 4,
                ops.toString());
        assertEquals(Files.readAllBytes(rollbackDir().resolve("a.jsonl")).length,
                Files.readAllBytes(rollbackDir().resolve("b.jsonl")).length);
        // A limit of 0: always three steps, begun before the first record is read.
        exec.calls.clear();
        TailStream inner = stream(tail(25));
        int[] read = {0};
        TailStream counted = new TailStream() {
            @Override
            public boolean hasNext() {
                return inner.hasNext();
            }

            @Override
            public TailRecord next() {
                read[0]++;
                return inner.next();
            }

            @Override
            public TailDigest digest() {
                return inner.digest();
            }

            @Override
            public void close() {
                inner.close();
            }
        };
        int[] readBeforeBegin = {-1};
        PodExec watching = (pod, c, argv, stdin, t) -> {
            if (argv.get(4).equals("begin")) {
                readBeforeBegin[0] = read[0];
            }
            return exec.exec(pod, c, argv, stdin, t);
        };
        assertInstanceOf(PersistResult.Persisted.class, new ExecRollbackFileStore(watching, 1 << 20, 0,
                Duration.ofSeconds(30)).persist("db-0", "database", DIR, "c.jsonl", header(25), counted));
        assertEquals(List.of("begin", "append", "commit"), operations(exec));
        assertEquals(0, readBeforeBegin[0], "begun before the first record was read");
    }

    /**
     * put and commit read the published file back (after the fsyncs, from its final name); the verify step
     * of the same file in this process uses that answer, once, instead of an exec of its own. Without it (a
     * second verify, another process, a put whose read-back failed) the verify step re-reads in the pod.
     */
    @Test
    void theVerifyStepUsesThePublishingExecsReadBackOnceThenRereads() throws Exception {
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        ReadBacks readBacks = new ReadBacks(16);
        ExecRollbackFileStore store = new ExecRollbackFileStore(exec, 1 << 20, 1 << 20, 1 << 20,
                Duration.ofSeconds(30), readBacks.in("db"));
        RollbackFile file = ((PersistResult.Persisted) store.persist("db-0", "database", DIR, "one.jsonl", header(25),
                stream(tail(25)))).file();
        byte[] bytes = Files.readAllBytes(rollbackDir().resolve("one.jsonl"));
        assertEquals(List.of("put"), operations(exec));
        assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 25, bytes.length),
                store.verify("db-0", "database", file, Instant.now()));
        assertEquals(List.of("put"), operations(exec), "no exec for the verify: the put read the file back");
        // Verified again: the entry was taken; the pod re-reads.
        assertInstanceOf(VerifyResult.Read.class, store.verify("db-0", "database", file, Instant.now()));
        assertEquals(List.of("put", "verify"), operations(exec));

        // The three-step path: commit reads back too.
        exec.calls.clear();
        ExecRollbackFileStore chunked = new ExecRollbackFileStore(exec, 512, 0, 512, Duration.ofSeconds(30),
                readBacks.in("db"));
        RollbackFile three = ((PersistResult.Persisted) chunked.persist("db-0", "database", DIR, "three.jsonl",
                header(25), stream(tail(25)))).file();
        assertInstanceOf(VerifyResult.Read.class, new ExecRollbackFileStore(exec, 512, 0, 512, Duration.ofSeconds(30),
                readBacks.in("other")).verify("db-0", "database", three, Instant.now()), "another namespace's pod");
        assertEquals("verify", operations(exec).get(operations(exec).size() - 1));
        exec.calls.clear();
        assertInstanceOf(VerifyResult.Read.class, chunked.verify("db-0", "database", three, Instant.now()));
        assertEquals(List.of(), operations(exec), "the commit's read-back, no exec");
    }

    /**
     * A read-back that differs from what was streamed fails the verify step and quarantines the file, as a
     * verify exec's would; a put whose read-back failed answers without one and the verify step execs.
     */
    @Test
    void aReadBackThatDiffersQuarantinesAndAMissingOneMeansAVerifyExec() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        String other = "0".repeat(64);
        PodExec lying = (pod, c, argv, stdin, t) -> {
            PodExec.Result r = local.exec(pod, c, argv, stdin, t);
            return argv.get(4).equals("put") && argv.get(6).equals("lie.jsonl")
                    ? new PodExec.Result(0, r.stdout().replaceFirst("[0-9a-f]{64}", other), r.stderr())
                    : argv.get(4).equals("put") ? new PodExec.Result(0, "COMMITTED OK\n", r.stderr()) : r;
        };
        ReadBacks readBacks = new ReadBacks(16);
        ExecRollbackFileStore store = new ExecRollbackFileStore(lying, 1 << 20, 1 << 20, 1 << 20,
                Duration.ofSeconds(30), readBacks.in("db"));
        RollbackFile lie = ((PersistResult.Persisted) store.persist("db-0", "database", DIR, "lie.jsonl", header(25),
                stream(tail(25)))).file();
        VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class,
                store.verify("db-0", "database", lie, Instant.ofEpochSecond(99)));
        assertTrue(m.detail().startsWith("read back SHA-256 " + other), m.detail());
        assertEquals(DIR + "/lie.jsonl.quarantined-99", m.quarantinedLocation());
        assertTrue(Files.exists(rollbackDir().resolve("lie.jsonl.quarantined-99")), "renamed, never deleted");

        local.calls.clear();
        RollbackFile plain = ((PersistResult.Persisted) store.persist("db-0", "database", DIR, "plain.jsonl",
                header(25), stream(tail(25)))).file();
        assertInstanceOf(VerifyResult.Read.class, store.verify("db-0", "database", plain, Instant.now()));
        assertEquals(List.of("put", "verify"), local.calls.stream().map(a -> a.get(4)).toList());
    }

    /**
     * An image whose dd cannot count bytes (busybox without count_bytes, say) copies with head -c: the same
     * bytes, for a put and for appends of a megabyte and more (where dd would copy).
     */
    @Test
    void aDdThatCannotCountBytesLeavesTheCopyToHead() throws Exception {
        Path shim = Files.createDirectories(root.resolve("old-dd"));
        Path dd = shim.resolve("dd");
        Files.writeString(dd, "#!/bin/sh\necho dd >> " + root.resolve("ran") + "\n"
                + "echo \"dd: invalid input flag: 'count_bytes'\" >&2\nexit 1\n");
        Files.setPosixFilePermissions(dd, PosixFilePermissions.fromString("rwx------"));
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        PodExec oldDd = shimmed(local, shim);
        RollbackFile put = ((PersistResult.Persisted) new ExecRollbackFileStore(oldDd, 4 << 20, Duration.ofSeconds(30))
                .persist("db-0", "database", DIR, "put.jsonl", header(8000), stream(tail(8000)))).file();
        assertTrue(put.bytes() > 1_000_000, "a put of " + put.bytes() + " bytes");
        assertEquals(List.of("dd"), Files.readAllLines(root.resolve("ran")), "dd was asked, once");
        RollbackFile appended = ((PersistResult.Persisted) new ExecRollbackFileStore(oldDd, 1_000_000, 0, 1_000_000,
                Duration.ofSeconds(30)).persist("db-0", "database", DIR, "appended.jsonl", header(8000),
                        stream(tail(8000)))).file();
        byte[] bytes = Files.readAllBytes(rollbackDir().resolve("put.jsonl"));
        assertArrayEquals(bytes, Files.readAllBytes(rollbackDir().resolve("appended.jsonl")));
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)), put.sha256());
        assertEquals(put.sha256(), appended.sha256());
        assertInstanceOf(VerifyResult.Read.class, new ExecRollbackFileStore(oldDd).verify("db-0", "database", appended,
                Instant.now()));
    }

    /**
     * A big file's appends double from the first chunk to the largest (fewer round trips to the pod), and
     * the file is the same bytes as one written in equal chunks.
     */
    @Test
    void theAppendsOfABigFileGrowToTheLargestChunk() throws Exception {
        LocalPodExec exec = new LocalPodExec(root, "/var/lib/db");
        List<Integer> sizes = new ArrayList<>();
        PodExec watching = (pod, c, argv, stdin, t) -> {
            if (argv.get(4).equals("append")) {
                sizes.add(stdin.length);
            }
            return exec.exec(pod, c, argv, stdin, t);
        };
        RollbackFile grown = ((PersistResult.Persisted) new ExecRollbackFileStore(watching, 1024, 1024, 4096,
                Duration.ofSeconds(30)).persist("db-0", "database", DIR, "grown.jsonl", header(200),
                        stream(tail(200)))).file();
        assertTrue(grown.bytes() > 1024 + 2048 + 4096 * 2, "a file of several largest chunks: " + grown.bytes());
        assertEquals(List.of(1024, 2048, 4096, 4096), sizes.subList(0, 4), sizes.toString());
        assertTrue(sizes.subList(4, sizes.size() - 1).stream().allMatch(n -> n == 4096), sizes.toString());
        assertTrue(sizes.get(sizes.size() - 1) <= 4096, sizes.toString());
        assertEquals(grown.bytes(), sizes.stream().mapToLong(Integer::longValue).sum());

        RollbackFile even = ((PersistResult.Persisted) new ExecRollbackFileStore(exec, 1024, Duration.ofSeconds(30))
                .persist("db-0", "database", DIR, "even.jsonl", header(200), stream(tail(200)))).file();
        assertArrayEquals(Files.readAllBytes(rollbackDir().resolve("even.jsonl")),
                Files.readAllBytes(rollbackDir().resolve("grown.jsonl")));
        assertEquals(even.sha256(), grown.sha256());
        assertInstanceOf(VerifyResult.Read.class, new ExecRollbackFileStore(exec).verify("db-0", "database", grown,
                Instant.now()));
    }

    /**
     * A put whose input arrives short (a cut exec stream) publishes nothing: 13, a retried attempt, and
     * the abort removes its temporary file.
     */
    @Test
    void aCutPutPublishesNothingAndLeavesNoTemporaryFile() throws Exception {
        LocalPodExec local = new LocalPodExec(root, "/var/lib/db");
        PodExec cutting = (pod, c, argv, stdin, t) -> local.exec(pod, c, argv,
                argv.get(4).equals("put") ? Arrays.copyOf(stdin, stdin.length / 2) : stdin, t);
        var e = assertThrows(TransportException.class, () -> new ExecRollbackFileStore(cutting).persist("db-0",
                "database", DIR, "rb.jsonl", header(5), stream(tail(5))));
        assertEquals("ExecTruncated", e.code(), e.getMessage());
        assertFalse(Files.exists(rollbackDir().resolve("rb.jsonl")), "nothing published");
        assertEquals(List.of(), temporaries(), "the abort removed the half-written temporary file");
        assertEquals(List.of("put", "abort"), operations(local));
    }
}
