package io.dbrollback.operator;

import static io.dbrollback.testing.RollbackChecks.sha256;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TestStreams;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.node.ReplicaNode;
import io.dbrollback.testing.CuttingProxy;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.ScriptedAgent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent-writes-the-file store against a real reference node over gRPC: the same bytes as the
 * exec mode, private modes, the fault cases (disk full, fsync error, a stream cut mid-write or
 * mid-read by a TCP proxy, a stale term, an existing file with other bytes) and quarantine.
 */
@IntegrationTest
class AgentRollbackFileStoreTest {

    private static final String INCIDENT = "5f0c1d2e-0000-4000-8000-00000000abcd";

    @TempDir
    Path root;

    private ReplicaNode node;
    private AgentClients clients;

    @BeforeEach
    void start() throws Exception {
        node = ReplicaNode.start(ReplicaNode.Config.of("db-0", root.resolve("node"), 1)
                .withRollbackDir(root.resolve("volume/rollback")));
        clients = new AgentClients();
    }

    @AfterEach
    void stop() {
        clients.close();
        node.close();
    }

    private AgentRollbackFileStore store(String address, Term planTerm, int chunk) {
        return new AgentRollbackFileStore(clients, null, Map.of("db-0", address), planTerm, chunk, null);
    }

    private AgentRollbackFileStore store() {
        return store(node.address(), Term.of(5), 300);
    }

    /** {@code n} records whose values are {@code valueBytes} long: a file of about n * 3 * valueBytes bytes. */
    private static List<TailRecord> tail(int n, int valueBytes) {
        List<TailRecord> out = new ArrayList<>();
        Instant t = Instant.parse("2026-03-01T10:00:00Z");
        for (int i = 1; i <= n; i++) {
            long lsn = 100 + i;
            Bytes key = Bytes.utf8("key-" + (i % 3));
            String pad = "v".repeat(valueBytes);
            out.add(switch (i % 3) {
                case 0 -> TailRecord.delete(lsn, 4, "tx" + i, t.plusMillis(i), key, Bytes.utf8("old-" + i + pad));
                case 1 -> TailRecord.insert(lsn, 4, "tx" + i, t.plusMillis(i), key,
                        Bytes.utf8("new-\u00e9-" + i + pad));
                default -> TailRecord.update(lsn, 4, "tx" + i, t.plusMillis(i), key, Bytes.utf8("a" + i + pad),
                        Bytes.utf8("b" + i + pad));
            });
        }
        return out;
    }

    private static RollbackFileHeader header(int n, long term) {
        return new RollbackFileHeader(INCIDENT, 1, "db/orders-leader", "db-0", Lsn.of(100), Lsn.of(100 + n),
                Term.of(4), Term.of(term), "db-1", n, Instant.parse("2026-03-01T10:05:00Z"));
    }

    private Path dir() {
        return root.resolve("volume/rollback");
    }

    private Path file() {
        return dir().resolve(RollbackFileName.of(INCIDENT, 1));
    }

    private List<String> listing() throws Exception {
        if (!Files.exists(dir())) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private long currentTerm() {
        return clients.stub(node.address(), null).withDeadlineAfter(10, TimeUnit.SECONDS)
                .getTimeline(GetTimelineRequest.getDefaultInstance()).getCurrentTerm();
    }

    @Test
    void writesTheBytesTheExecModeWritesWithPrivateModesAndReadsThemBack() throws Exception {
        List<TailRecord> records = tail(40, 20);
        PersistResult r = store().persist("db-0", header(40, 5), TestStreams.of(records));
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, r).file();
        assertEquals(file().toString(), file.location(), "the agent's own path, named by the incident and plan");
        byte[] bytes = Files.readAllBytes(file());
        assertEquals(sha256(bytes), file.sha256());
        assertEquals(bytes.length, file.bytes());
        assertEquals(40, file.recordCount());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file())));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir())));
        assertEquals(List.of(file().getFileName().toString()), listing(), "no temporary file left");
        assertEquals(5, currentTerm(), "the node adopted the write's higher term");

        // The exec mode, run for real on the same header and records, writes the same bytes.
        Path execRoot = root.resolve("exec");
        RollbackFile viaExec = ((PersistResult.Persisted) new ExecRollbackFileStore(new LocalPodExec(execRoot,
                "/var/lib/db"), 1 << 20, Duration.ofSeconds(30)).in("database", "/var/lib/db/rollback")
                .persist("db-0", header(40, 5), TestStreams.of(records))).file();
        assertArrayEquals(Files.readAllBytes(execRoot.resolve("rollback").resolve(file().getFileName())), bytes);
        assertEquals(viaExec.sha256(), file.sha256());
        assertEquals(viaExec.tailSha256(), file.tailSha256());

        VerifyResult v = store().verify("db-0", file, Instant.now());
        assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 40, bytes.length), v);
    }

    @Test
    void writingTheSameFileAgainFindsItAndOtherBytesNeverReplaceIt() throws Exception {
        RollbackFile first = ((PersistResult.Persisted) store().persist("db-0", header(5, 5),
                TestStreams.of(tail(5, 1)))).file();
        byte[] before = Files.readAllBytes(file());
        PersistResult again = store().persist("db-0", header(5, 5), TestStreams.of(tail(5, 1)));
        assertEquals(first, assertInstanceOf(PersistResult.Persisted.class, again).file(), "a retry finds its file");
        PersistResult other = store().persist("db-0", header(6, 5), TestStreams.of(tail(6, 1)));
        PersistResult.Failed f = assertInstanceOf(PersistResult.Failed.class, other);
        assertEquals(PersistResult.Kind.CONFLICT, f.kind());
        assertTrue(f.message().contains("FILE_EXISTS"), f.message());
        assertArrayEquals(before, Files.readAllBytes(file()), "never overwritten");
        assertEquals(List.of(file().getFileName().toString()), listing());
    }

    @Test
    void aFullDiskFailsClosedAndPublishesNothing() throws Exception {
        node.rollbackFileFaults().noSpaceAfter(2000);
        PersistResult r = store().persist("db-0", header(50, 5), TestStreams.of(tail(50, 20)));
        PersistResult.Failed f = assertInstanceOf(PersistResult.Failed.class, r);
        assertEquals(PersistResult.Kind.NO_SPACE, f.kind());
        assertTrue(f.message().contains("No space left"), f.message());
        assertEquals(List.of(), listing(), "nothing published, the temporary file removed");
    }

    @Test
    void anFsyncErrorFailsClosedAndPublishesNothing() throws Exception {
        node.rollbackFileFaults().failNextFsync();
        PersistResult r = store().persist("db-0", header(5, 5), TestStreams.of(tail(5, 1)));
        assertEquals(PersistResult.Kind.FSYNC_FAILED, assertInstanceOf(PersistResult.Failed.class, r).kind());
        assertEquals(List.of(), listing());
    }

    @Test
    void aTemporaryNameLeftAfterThePublishIsNotAFailedWrite() throws Exception {
        node.rollbackFileFaults().failNextTempRemoval();
        PersistResult r = store().persist("db-0", header(5, 5), TestStreams.of(tail(5, 1)));
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, r).file();
        assertEquals(sha256(Files.readAllBytes(file())), file.sha256());
        List<String> names = listing();
        assertEquals(2, names.size(), names.toString());
        assertTrue(names.contains(file().getFileName().toString()), names.toString());
        assertTrue(names.stream().filter(n -> !n.equals(file().getFileName().toString()))
                .allMatch(n -> n.startsWith(".") && n.endsWith(".tmp")), "only a dot-name is left: " + names);
        VerifyResult.Read read = assertInstanceOf(VerifyResult.Read.class, store().verify("db-0", file,
                Instant.ofEpochSecond(1)));
        assertEquals(file.sha256(), read.fileSha256(), "the published file reads back whole");
    }

    @Test
    void aReadErrorOfTheReadBackFailsClosedAndPublishesNothing() throws Exception {
        node.rollbackFileFaults().beforeNextReadBack(() -> {
            throw new IOException("Input/output error");
        });
        PersistResult r = store().persist("db-0", header(5, 5), TestStreams.of(tail(5, 1)));
        PersistResult.Failed failed = assertInstanceOf(PersistResult.Failed.class, r);
        assertEquals(PersistResult.Kind.IO_ERROR, failed.kind(), failed.message());
        assertEquals(List.of(), listing(), "nothing published, the temporary file removed");
    }

    @Test
    void aTermThatGoesStaleDuringTheReadBackPublishesNothing() throws Exception {
        // A newer term arrives after the file was made durable, while the agent reads it back: the check right
        // before the link refuses the write.
        node.rollbackFileFaults().beforeNextReadBack(() -> clients.stub(node.address(), null)
                .withDeadlineAfter(10, TimeUnit.SECONDS)
                .fence(FenceRequest.newBuilder().setTerm(9).setIncidentId("another").build()));
        TransportException e = assertThrows(TransportException.class,
                () -> store().persist("db-0", header(5, 5), TestStreams.of(tail(5, 1))));
        assertEquals("STALE_TERM", e.code(), e.getMessage());
        assertEquals(List.of(), listing(), "nothing published, the temporary file removed");
        assertEquals(9, currentTerm());
    }

    @Test
    void aStaleTermIsRefusedAndWritesNothing() throws Exception {
        clients.stub(node.address(), null).withDeadlineAfter(10, TimeUnit.SECONDS)
                .fence(FenceRequest.newBuilder().setTerm(9).setIncidentId("another").build());
        TransportException e = assertThrows(TransportException.class,
                () -> store().persist("db-0", header(5, 5), TestStreams.of(tail(5, 1))));
        assertEquals("STALE_TERM", e.code());
        assertFalse(e.outcomeUnknown(), "a refusal changed nothing");
        assertEquals(List.of(), listing());
        assertEquals(9, currentTerm(), "the node keeps the highest term");

        // A quarantine under the stale term is refused too: the bad file keeps its name, never trusted.
        RollbackFile file = ((PersistResult.Persisted) store(node.address(), Term.of(9), 300).persist("db-0",
                header(5, 9), TestStreams.of(tail(5, 1)))).file();
        Files.write(file(), new byte[] {'x'}, StandardOpenOption.APPEND);
        VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class,
                store(node.address(), Term.of(5), 300).verify("db-0", file, Instant.ofEpochSecond(77)));
        assertNull(m.quarantinedLocation(), "STALE_TERM: not renamed");
        assertEquals(List.of(file().getFileName().toString()), listing());
    }

    @Test
    void aConnectionCutMidWriteIsRetriedAndNothingPartialIsPublished() throws Exception {
        List<TailRecord> records = tail(600, 200); // about 0.5 MB
        try (CuttingProxy proxy = new CuttingProxy("127.0.0.1", node.port())) {
            proxy.cutUpstreamAfter(100_000);
            AgentRollbackFileStore store = store(proxy.address(), Term.of(5), 16 * 1024);
            TransportException e = assertThrows(TransportException.class,
                    () -> store.persist("db-0", header(600, 5), TestStreams.of(records)));
            assertEquals(1, proxy.cuts());
            assertTrue(e.outcomeUnknown(), "a cut write may or may not have happened: " + e.getMessage());
            // The agent notices the broken call and removes its temporary file; nothing is published.
            await().atMost(Duration.ofSeconds(10)).until(() -> listing().isEmpty());

            RollbackFile file = ((PersistResult.Persisted) store.persist("db-0", header(600, 5),
                    TestStreams.of(records))).file();
            assertEquals(sha256(Files.readAllBytes(file())), file.sha256());
            assertInstanceOf(VerifyResult.Read.class, store.verify("db-0", file, Instant.now()));
        }
    }

    @Test
    void anAgentSideResetMidWriteIsAnUnknownOutcomeAndTheRetryCompletes() throws Exception {
        node.rollbackFileFaults().cutAfter(1000);
        TransportException e = assertThrows(TransportException.class,
                () -> store().persist("db-0", header(40, 5), TestStreams.of(tail(40, 20))));
        assertEquals("UNAVAILABLE", e.code());
        assertTrue(e.outcomeUnknown());
        assertEquals(List.of(), listing());
        assertInstanceOf(PersistResult.Persisted.class,
                store().persist("db-0", header(40, 5), TestStreams.of(tail(40, 20))));
    }

    /**
     * The tail breaks mid-upload, while the agent holds a temporary file with part of it: the write is
     * cancelled, and the agent discards that file (no litter), publishing nothing.
     */
    @Test
    void aTailThatBreaksCancelsTheWriteAndPropagates() throws Exception {
        Iterator<TailRecord> it = tail(200, 50).iterator();
        TransportException broken = new TransportException("TailTruncated", false, "the tail stream was cut");
        List<String> atTheBreak = new ArrayList<>();
        TailStream breaking = new TailStream() {
            int n;

            @Override
            public boolean hasNext() {
                if (++n == 150) {
                    await().atMost(Duration.ofSeconds(10)).until(() -> listing().stream().anyMatch(
                            f -> f.startsWith(".") && f.endsWith(".tmp")));
                    atTheBreak.addAll(uncheckedListing());
                    throw broken;
                }
                return it.hasNext();
            }

            @Override
            public TailRecord next() {
                return it.next();
            }

            @Override
            public void close() {
            }
        };
        TransportException e = assertThrows(TransportException.class,
                () -> store().persist("db-0", header(200, 5), breaking));
        assertSame(broken, e, "the tail's own exception, unchanged");
        assertEquals(1, atTheBreak.size(), "the agent had its temporary file when the tail broke: " + atTheBreak);
        await().atMost(Duration.ofSeconds(10)).until(() -> listing().isEmpty());
    }

    private List<String> uncheckedListing() {
        try {
            return listing();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aChangedFileIsQuarantinedByRenameAndAMissingOneIsAMismatch() throws Exception {
        RollbackFile file = ((PersistResult.Persisted) store().persist("db-0", header(5, 5),
                TestStreams.of(tail(5, 1)))).file();
        byte[] b = Files.readAllBytes(file());
        b[b.length / 2] ^= 1;
        Files.write(file(), b);
        VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class,
                store().verify("db-0", file, Instant.ofEpochSecond(1234)));
        Path quarantined = dir().resolve(file().getFileName() + ".quarantined-1234");
        assertEquals(quarantined.toString(), m.quarantinedLocation());
        assertArrayEquals(b, Files.readAllBytes(quarantined), "renamed, never deleted or rewritten");
        assertFalse(Files.exists(file()));

        VerifyResult.Mismatch missing = assertInstanceOf(VerifyResult.Mismatch.class,
                store().verify("db-0", file, Instant.ofEpochSecond(1235)));
        assertTrue(missing.detail().contains("missing"), missing.detail());
        assertNull(missing.quarantinedLocation());
    }

    @Test
    void theAgentRereadsAndHashesTheFileSoNoByteOfItComesBack() throws Exception {
        List<TailRecord> records = tail(600, 200);
        RollbackFile file = ((PersistResult.Persisted) store(node.address(), Term.of(5), 64 * 1024).persist("db-0",
                header(600, 5), TestStreams.of(records))).file();
        List<ReadRollbackFileResponse> answered = new CopyOnWriteArrayList<>();
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address()).onReadFile(m -> {
            answered.addAll(m);
            return m;
        })) {
            AgentRollbackFileStore store = store("127.0.0.1:" + agent.port(), Term.of(5), 64 * 1024);
            assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 600, file.bytes()),
                    store.verify("db-0", file, Instant.now()));
            assertEquals(List.of(ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                    .setSize(file.bytes()).setSha256(file.sha256())).build()), answered,
                    "one end message with what the node read from its disk, no data (a file of " + file.bytes()
                            + " bytes)");

            // The bytes on disk change: the node's own re-read sees it; the file is quarantined.
            byte[] b = Files.readAllBytes(file());
            b[b.length - 10] ^= 1;
            Files.write(file(), b);
            VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class,
                    store.verify("db-0", file, Instant.ofEpochSecond(77)));
            assertTrue(m.detail().contains("read back SHA-256 " + sha256(b)), m.detail());
            assertEquals(dir().resolve(file().getFileName() + ".quarantined-77").toString(), m.quarantinedLocation());
        }
    }

    /** A store through {@code agent} that keeps its writes' read-backs for its verify steps, as the operator does. */
    private AgentRollbackFileStore readBackStore(ScriptedAgent agent) {
        return new AgentRollbackFileStore(clients, null, Map.of("db-0", "127.0.0.1:" + agent.port()), Term.of(5),
                300, new ReadBacks(8).in("db"));
    }

    private static RollbackFile persist40(AgentRollbackFileStore store) {
        return ((PersistResult.Persisted) store.persist("db-0", header(40, 5), TestStreams.of(tail(40, 20)))).file();
    }

    @Test
    void theWritesReadBackIsTheVerifyOfThisProcessOnceAndLaterVerifiesAskTheAgent() throws Exception {
        List<WriteRollbackFileResponse> writes = new CopyOnWriteArrayList<>();
        List<ReadRollbackFileResponse> reads = new CopyOnWriteArrayList<>();
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address()).onWriteFileAnswer(r -> {
            writes.add(r);
            return r;
        }).onReadFile(m -> {
            reads.addAll(m);
            return m;
        })) {
            AgentRollbackFileStore store = readBackStore(agent);
            RollbackFile file = persist40(store);
            assertEquals(1, writes.size());
            assertTrue(writes.get(0).getReadBack(), "the node read its file back after the fsync: " + writes);
            assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 40, file.bytes()),
                    store.verify("db-0", file, Instant.now()));
            assertEquals(List.of(), reads, "the write's read-back was the verify: no ReadRollbackFile");

            // Written again (an operator's retry): the node re-reads the existing file and answers that read-back.
            assertEquals(file, persist40(store));
            assertTrue(writes.get(1).getAlreadyExisted() && writes.get(1).getReadBack(), writes.toString());
            assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 40, file.bytes()),
                    store.verify("db-0", file, Instant.now()));
            assertEquals(List.of(), reads, "the retry's read-back was the verify: no ReadRollbackFile");

            // Taken once: the next verify of the same file asks the node, which sees a change on its disk.
            byte[] b = Files.readAllBytes(file());
            b[3] ^= 1;
            Files.write(file(), b);
            VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class,
                    store.verify("db-0", file, Instant.ofEpochSecond(90)));
            assertEquals(1, reads.size(), "one end message: " + reads);
            assertEquals(dir().resolve(file().getFileName() + ".quarantined-90").toString(), m.quarantinedLocation());
        }
    }

    @Test
    void aWriteAnsweredWithoutReadBackIsVerifiedByTheAgentsReRead() throws Exception {
        List<ReadRollbackFileResponse> reads = new CopyOnWriteArrayList<>();
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address())
                .onWriteFileAnswer(r -> r.toBuilder().setReadBack(false).build()).onReadFile(m -> {
                    reads.addAll(m);
                    return m;
                })) {
            AgentRollbackFileStore store = readBackStore(agent);
            RollbackFile file = persist40(store);
            assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 40, file.bytes()),
                    store.verify("db-0", file, Instant.now()));
            assertEquals(List.of(ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                    .setSize(file.bytes()).setSha256(file.sha256())).build()), reads,
                    "an agent that does not say it read the file back (one that predates read_back) re-reads it");
        }
    }

    @Test
    void aLaterWriteWithoutReadBackDropsTheReadBackOfTheEarlierOne() throws Exception {
        List<ReadRollbackFileResponse> reads = new CopyOnWriteArrayList<>();
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address()).onReadFile(m -> {
            reads.addAll(m);
            return m;
        })) {
            AgentRollbackFileStore store = readBackStore(agent);
            RollbackFile file = persist40(store); // read back by the node, kept for a verify that does not come
            agent.onWriteFileAnswer(r -> r.toBuilder().setReadBack(false).build()); // the pod's agent downgraded
            assertEquals(file, persist40(store));
            byte[] b = Files.readAllBytes(file());
            b[5] ^= 1;
            Files.write(file(), b);
            assertInstanceOf(VerifyResult.Mismatch.class, store.verify("db-0", file, Instant.ofEpochSecond(91)));
            assertEquals(1, reads.size(), "the verify asked the node, not the first write's read-back: " + reads);
        }
    }

    @Test
    void bytesTheDiskChangedAreFoundByTheReadBackBeforeTheFileIsPublished() throws Exception {
        // After the fsync, before the read-back, the temporary file's first byte changes: a disk that gives back
        // other bytes than it was given. A digest of the bytes as they arrived would not see it.
        node.rollbackFileFaults().beforeNextReadBack(() -> {
            try (Stream<Path> s = Files.list(dir())) {
                Path tmp = s.filter(p -> p.getFileName().toString().endsWith(".tmp")).findFirst().orElseThrow();
                byte[] b = Files.readAllBytes(tmp);
                b[0] ^= 1;
                Files.write(tmp, b);
            }
        });
        TransportException e = assertThrows(TransportException.class,
                () -> store().persist("db-0", header(40, 5), TestStreams.of(tail(40, 20))));
        assertEquals("TRANSFER_MISMATCH", e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("from the file after its fsync"), e.getMessage());
        assertEquals(List.of(), listing(), "nothing published, the temporary file removed");
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class,
                store().persist("db-0", header(40, 5), TestStreams.of(tail(40, 20)))).file();
        assertEquals(sha256(Files.readAllBytes(file())), file.sha256(), "the retry publishes the file");
    }

    @Test
    void aDigestThatIsNotOneIsAnInvalidAnswerAndQuarantinesNothing() throws Exception {
        RollbackFile file = ((PersistResult.Persisted) store().persist("db-0", header(5, 5),
                TestStreams.of(tail(5, 1)))).file();
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address()).onReadFile(messages -> List.of(
                ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(file.bytes())
                        .setSha256(file.sha256().toUpperCase(Locale.ROOT))).build()))) {
            TransportException e = assertThrows(TransportException.class,
                    () -> store("127.0.0.1:" + agent.port(), Term.of(5), 300).verify("db-0", file, Instant.now()));
            assertEquals("AgentAnswerInvalid", e.code());
            assertTrue(e.getMessage().contains("DigestForm"), e.getMessage());
            assertEquals(List.of(file().getFileName().toString()), listing(), "the file keeps its name");
        }
    }

    @Test
    void anAgentThatPredatesDigestOnlyStreamsTheFileBackAndTheOperatorHashesIt() throws Exception {
        RollbackFile file = ((PersistResult.Persisted) store().persist("db-0", header(40, 5),
                TestStreams.of(tail(40, 20)))).file();
        List<ReadRollbackFileResponse> answered = new CopyOnWriteArrayList<>();
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address()).predatingDigestOnly().onReadFile(m -> {
            answered.addAll(m);
            return m;
        })) {
            AgentRollbackFileStore store = store("127.0.0.1:" + agent.port(), Term.of(5), 300);
            assertEquals(new VerifyResult.Read(file.sha256(), file.tailSha256(), 40, file.bytes()),
                    store.verify("db-0", file, Instant.now()));
            assertEquals(file.bytes(), answered.stream().filter(ReadRollbackFileResponse::hasData)
                    .mapToLong(m -> m.getData().size()).sum(), "the whole file came back");

            // Its data and its end message disagree: retried, never a mismatch, nothing quarantined.
            agent.onReadFile(messages -> messages.stream().map(m -> !m.hasEnd() ? m : ReadRollbackFileResponse
                    .newBuilder().setEnd(RollbackFileEnd.newBuilder(m.getEnd()).setSha256("f".repeat(64))).build())
                    .toList());
            TransportException e = assertThrows(TransportException.class,
                    () -> store.verify("db-0", file, Instant.now()));
            assertEquals("FileReadMismatch", e.code());
            assertEquals(List.of(file().getFileName().toString()), listing(), "the file keeps its name");
        }
    }

    @Test
    void aReadBackCutShortIsRetriedAndNeverQuarantinesAGoodFile() throws Exception {
        List<TailRecord> records = tail(600, 200);
        RollbackFile file = ((PersistResult.Persisted) store(node.address(), Term.of(5), 64 * 1024).persist("db-0",
                header(600, 5), TestStreams.of(records))).file();
        // An agent that streams the file back (it predates digest_only), cut mid-stream.
        try (ScriptedAgent agent = ScriptedAgent.fronting(node.address()).predatingDigestOnly();
                CuttingProxy proxy = new CuttingProxy("127.0.0.1", agent.port())) {
            proxy.cutDownstreamAfter(200_000);
            AgentRollbackFileStore store = store(proxy.address(), Term.of(5), 64 * 1024);
            TransportException e = assertThrows(TransportException.class,
                    () -> store.verify("db-0", file, Instant.now()));
            assertEquals(1, proxy.cuts());
            assertFalse(e.outcomeUnknown(), "a read changes nothing: " + e.getMessage());
            assertEquals(List.of(file().getFileName().toString()), listing(), "the good file stays where it is");
            assertInstanceOf(VerifyResult.Read.class, store.verify("db-0", file, Instant.now()));
        }
    }
}
