package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailIntegrityException;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The exec-based rollback file writer, its script run for real as local processes. */
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
        assertEquals("old-3", new String(java.util.Base64.getDecoder().decode(del.get("before").asText()),
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
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(root.resolve("rollback/rb.jsonl"))),
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
        var e = assertThrows(io.dbrollback.coordinator.TransportException.class,
                () -> store.persist("db-0", "database", DIR, "rb.jsonl", header(3), stream(tail(3))));
        assertTrue(e.outcomeUnknown());
        PodExec cut = (pod, c, argv, stdin, t) -> new PodExec.Result(0, "", "");
        assertThrows(io.dbrollback.coordinator.TransportException.class, () -> new ExecRollbackFileStore(cut)
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
        assertThrows(io.dbrollback.coordinator.TransportException.class,
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
        java.util.Set<String> attempts = new java.util.HashSet<>();
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
        String realLn = java.nio.file.Files.exists(Path.of("/usr/bin/ln")) ? "/usr/bin/ln" : "/bin/ln";
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
            PodExec racing = (pod, c, argv, stdin, t) -> {
                List<String> withShim = new ArrayList<>(List.of("env", "PATH=" + shim + ":" + System.getenv("PATH")));
                withShim.addAll(argv);
                return local.exec(pod, c, withShim, stdin, t);
            };
            PersistResult r = new ExecRollbackFileStore(racing, 1 << 20, Duration.ofSeconds(30))
                    .persist("db-0", "database", DIR, "rb.jsonl", header(5), stream(tail(5)));
            Path file = work.resolve("rollback/rb.jsonl");
            if (sameBytes) {
                RollbackFile f = assertInstanceOf(PersistResult.Persisted.class, r, String.valueOf(r)).file();
                assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                        .digest(Files.readAllBytes(file))), f.sha256(), "the other writer's file is this one");
                try (var files = Files.list(work.resolve("rollback"))) {
                    assertTrue(files.noneMatch(x -> x.getFileName().toString().endsWith(".tmp")), "no temporary file left");
                }
            } else {
                assertEquals(PersistResult.Kind.CONFLICT, assertInstanceOf(PersistResult.Failed.class, r).kind(),
                        String.valueOf(r));
                assertEquals("another writer", Files.readString(file), "never overwritten");
            }
        }
    }
}
