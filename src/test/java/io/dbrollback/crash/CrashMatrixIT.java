package io.dbrollback.crash;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.crash.CrashCell.NodeKill;
import io.dbrollback.crash.CrashCell.OperatorKill;
import io.dbrollback.node.RollbackFileFaults;
import io.dbrollback.operator.CrashPoints;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.ExecDispatcher;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.OperatorProcess;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.RollbackChecks.ExpectedTail;
import io.dbrollback.testing.RollbackChecks.FileLedger;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

/**
 * The crash matrix on real processes: the packaged operator as its own JVM, halted by its crash
 * hook right after each side effect and after each status write (or SIGKILLed by the test with an
 * exec in flight), then a fresh operator JVM that must resume from the status alone; and the former
 * primary as its own JVM, SIGKILLed while its tail is read, while the file is persisted and in the
 * middle of its recover, then restarted on the same data. The same for the mode where the former
 * primary's agent writes the rollback file (WriteRollbackFile) and the operator reads it back
 * (ReadRollbackFile): operator halts around the upload, the read-back and the recover, and the node
 * killed while its agent writes the file. The copy step (the verified file copied to orders-2's agent
 * and read back, in every run) has its halts too, and a SIGKILL of the operator with the copy's upload
 * held in orders-2's agent. Every run must end Completed with the
 * tail the node had in a verified file (same digest, every record), one rollback-id bump, the
 * former primary holding the new primary's data, the full record in the status, and no rollback
 * file overwritten or deleted ({@link RollbackChecks}); and one verified copy of the file on orders-2,
 * its bytes the file's, no temporary file beside it, verified before the recover began.
 *
 * <p>One mock API server for all runs, a namespace and three nodes per run. Operator JVMs are
 * chained: the JVM started after a crash resumes that run and is already armed (scoped to its
 * rollback) for the next run's crash point, so a run costs one operator start.
 *
 * <p>System properties: {@code crash.runs} runs per cell (default 2), {@code crash.cells} a regular
 * expression selecting cells by name, {@code crash.soak} extra random runs (default 0) drawn from
 * {@code crash.seed} (a number, or {@code random}), {@code crash.run.timeout} seconds per run (default
 * 180). Needs the packaged operator: runs in {@code mvn verify}'s integration-test phase.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CrashMatrixIT {

    static final int RUNS = Integer.getInteger("crash.runs", 2);
    static final String CELLS = System.getProperty("crash.cells", "");
    static final int SOAK = Integer.getInteger("crash.soak", 0);
    static final long SEED = seed(System.getProperty("crash.seed", "random"));
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(Long.getLong("crash.run.timeout", 180));
    /** The nodes stamp writes from here on, one second per write: every run makes the same tail. */
    static final Instant CLOCK_START = Instant.parse("2026-01-01T00:00:00Z");
    static final String PAUSE = "120000";
    static final String ROLLBACK = "rb";
    static final boolean CDS = !"false".equals(System.getProperty("crash.cds"));
    /** The operator's rollback file writer: {@code exec} (pod exec) or {@code agent} (WriteRollbackFile). */
    static final String WRITER_ENV = "DBROLLBACK_ROLLBACK_FILE_WRITER";
    /** The largest file the exec writer puts in one call; 0 in the three-step cells. */
    static final String SINGLE_CALL_ENV = "DBROLLBACK_ROLLBACK_FILE_EXEC_SINGLE_CALL_MAX_BYTES";
    /** The pod that holds the copy: orders-1 leads, orders-2 is its follower (the copy target rule). */
    static final int COPY_POD = 2;

    private MockApiServer api;
    private KubernetesClient client;
    private Path work;
    private OperatorProcess operator;
    private Path classArchive;
    private String operatorArmedFor;
    /** How the running operator writes the rollback file. */
    private CrashCell.Writer operatorWriter;
    private int operatorStarts;
    private long started;
    /** Operator crash points not reached yet, in the order the runs reach them. */
    private final Deque<Armed> pending = new ArrayDeque<>();
    private final Map<String, Tally> tally = new LinkedHashMap<>();
    private final Map<String, String> tailDigests = new HashMap<>();

    /** One run of one cell. */
    record Run(int index, int round, CrashCell cell) {
        String namespace() {
            return "crash-" + index;
        }

        String rollbackKey() {
            return namespace() + "/" + ROLLBACK;
        }
    }

    /** A crash point armed for one run: {@code POINT@NAMESPACE/NAME}. */
    record Armed(int run, String point, String spec) {
    }

    /** Runs and failures of one cell, for the summary table. */
    static final class Tally {
        int runs;
        int failures;
        double seconds;
        final List<String> failed = new ArrayList<>();
    }

    private static long seed(String s) {
        return "random".equals(s) ? new Random().nextLong() : Long.parseLong(s);
    }

    @BeforeAll
    void startApiServer() throws Exception {
        assertTrue(Files.exists(OperatorProcess.JAR), OperatorProcess.JAR + " is missing: this test runs after"
                + " `mvn package` (mvn verify does that)");
        work = Path.of("target", "crash-matrix");
        if (Files.exists(work)) { // the nodes' data of an earlier invocation
            try (Stream<Path> old = Files.walk(work)) {
                old.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Files.createDirectories(work);
        api = MockApiServer.start();
        client = api.client();
        try (InputStream in = Files.newInputStream(Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml"))) {
            client.apiextensions().v1().customResourceDefinitions()
                    .resource(Serialization.unmarshal(in, CustomResourceDefinition.class)).create();
        }
        started = System.nanoTime();
    }

    @AfterAll
    void stopAndReport() throws Exception {
        try {
            if (operator != null) {
                operator.close();
            }
        } finally {
            if (api != null) {
                api.close();
            }
        }
        printSummary();
    }

    @TestFactory
    Stream<DynamicTest> everyRunEndsCompletedWithTheSameFileAndOneBump() {
        List<Run> runs = new ArrayList<>();
        List<CrashCell> cells = CrashCell.matrix(CELLS);
        for (int round = 1; round <= RUNS; round++) {
            for (CrashCell cell : cells) {
                runs.add(new Run(runs.size(), round, cell));
            }
        }
        if (SOAK > 0 && runs.isEmpty() && CDS) {
            // a control run first: its operator writes the class archive the soak's many JVMs start from
            runs.add(new Run(0, 1, CrashCell.matrix().get(0)));
        }
        Random soak = new Random(SEED);
        for (int k = 0; k < SOAK; k++) {
            runs.add(new Run(runs.size(), k + 1, CrashCell.random(new Random(soak.nextLong()))));
        }
        System.out.println("crash matrix: " + cells.size() + " cells x " + RUNS + " runs" + (SOAK > 0 ? ", soak "
                + SOAK + " random runs, seed " + SEED + " (replay: -Dcrash.seed=" + SEED + " -Dcrash.soak=" + SOAK + ")"
                : ""));
        for (Run r : runs) {
            for (String point : r.cell().hooks()) {
                pending.add(new Armed(r.index(), point, point + "@" + r.rollbackKey()));
            }
        }
        return runs.stream().map(r -> DynamicTest.dynamicTest("#" + r.index() + " " + r.cell().name()
                + (r.cell().name().startsWith("soak") ? "" : " (run " + r.round() + ")"), () -> runAndTally(r)));
    }

    private void runAndTally(Run run) throws Exception {
        String row = run.cell().name().startsWith("soak") ? "soak: random combinations (seed " + SEED + ")"
                : run.cell().name();
        Tally t = tally.computeIfAbsent(row, k -> new Tally());
        t.runs++;
        long t0 = System.nanoTime();
        try {
            run(run);
        } catch (Throwable e) {
            t.failures++;
            t.failed.add("#" + run.index() + " " + run.cell().name() + ": " + e.getMessage());
            throw e;
        } finally {
            pending.removeIf(a -> a.run() == run.index());
            t.seconds += (System.nanoTime() - t0) / 1e9;
        }
    }

    // ---- one run ------------------------------------------------------------------------------

    private void run(Run run) throws Exception {
        CrashCell cell = run.cell();
        String ns = run.namespace();
        Map<String, String> firstEnv = switch (cell.nodeKill()) {
            case RECOVER -> Map.of("DBROLLBACK_NODE_RECOVER_PAUSE_MS", PAUSE);
            case WRITE -> Map.of("DBROLLBACK_NODE_WRITE_PAUSE_MS", PAUSE);
            default -> Map.of();
        };
        long runT0 = System.nanoTime();
        try (DbCluster db = new DbCluster(api, client, ns, new DbCluster.Options(work.resolve(ns), CLOCK_START,
                cell.targetProcess(), firstEnv));
                CopyHold copyHold = cell.operatorKill() == OperatorKill.COPY ? new CopyHold(db) : null) {
            db.failover();
            ExpectedTail expected = ExpectedTail.read(db.node(0), db.node(1));
            String earlier = tailDigests.putIfAbsent(cell.name(), expected.sha256());
            if (earlier != null) {
                assertEquals(earlier, expected.sha256(), "every run of a cell makes the same divergent tail");
            }
            if (cell.nodeKill() == NodeKill.TAIL_READ) {
                // The test read the tail first; from now on every tail stream of orders-0 pauses mid-way.
                db.restartTarget(Map.of("DBROLLBACK_NODE_TAIL_PAUSE_MS", PAUSE));
            }
            ExecDispatcher.Hold appendHold = cell.operatorKill() == OperatorKill.APPEND
                    || cell.nodeKill() == NodeKill.PERSIST
                    ? api.exec().holdNext(ns, "orders-0", argv -> isOperation(argv, cell.heldOperation())) : null;
            FileLedger ledger = new FileLedger(db.volume(0).resolve("rollback"));
            FileLedger copies = new FileLedger(copiesDir(db, COPY_POD));
            long setupMillis = (System.nanoTime() - runT0) / 1_000_000;
            int startsBefore = operatorStarts;
            boolean archiving = startArchivingOperator(run);
            if (!archiving) {
                ensureOperator(run);
            }
            client.resources(ReplicaSetRollback.class).inNamespace(ns).resource(db.rollback(ROLLBACK)).create();
            Faults faults = new Faults();
            long runStart = System.nanoTime();
            long deadline = runStart + RUN_TIMEOUT.toNanos();
            ReplicaSetRollback r;
            while (true) {
                if (!operator.isAlive()) {
                    operatorDied(run, db, ledger, copies);
                    continue;
                }
                r = rollback(ns);
                if (terminal(r)) {
                    if (nextCrashOf(run) != null && operator.awaitExit(Duration.ofSeconds(30)) != null) {
                        operatorDied(run, db, ledger, copies); // it halts right after writing the terminal status
                        continue;
                    }
                    break;
                }
                killNodeWhenDue(cell, db, appendHold, ledger, faults, expected, ns);
                if (cell.operatorKill() == OperatorKill.APPEND && !faults.operatorSigkilled && appendHold.isHeld()) {
                    operator.kill();
                    ReplicaSetRollbackStatus s = rollback(ns).getStatus();
                    assertEquals("Fenced", s.getPhase(), "SIGKILLed while persisting");
                    assertEquals(Map.of(), ledger.finalFiles(), "no file was published yet");
                    appendHold.release(); // its client is gone: the held command never runs
                    ledger.snapshot();
                    faults.operatorSigkilled = true;
                    operator = null;
                    ensureOperator(run);
                }
                if (copyHold != null && !faults.operatorSigkilled && copyHold.isHeld()) {
                    operator.kill();
                    assertCopyCutShort(rollback(ns).getStatus(), db, ledger, copies, expected);
                    // Its client is gone: once the hold lets go, the agent learns it and removes the temporary file.
                    copyHold.release();
                    Awaitility.await("orders-2's agent removes the cut upload's temporary file")
                            .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                            .until(() -> copies.temporaryFiles().isEmpty());
                    assertEquals(Map.of(), copies.finalFiles(), "the cut upload published nothing");
                    ledger.snapshot();
                    faults.operatorSigkilled = true;
                    operator = null;
                    ensureOperator(run);
                }
                if (cell.randomKillMillis() >= 0 && !faults.operatorSigkilled
                        && System.nanoTime() - runStart >= cell.randomKillMillis() * 1_000_000L) {
                    operator.kill();
                    ReplicaSetRollbackStatus s = rollback(ns).getStatus();
                    faults.landed = "SIGKILL landed in phase " + (s == null ? "none" : s.getPhase());
                    ledger.snapshot();
                    faults.operatorSigkilled = true;
                    operator = null;
                    ensureOperator(run);
                }
                if (System.nanoTime() > deadline) {
                    ReplicaSetRollbackStatus s = r.getStatus();
                    fail("the rollback did not end within " + RUN_TIMEOUT + ": phase "
                            + (s == null ? null : s.getPhase()) + ", last error "
                            + (s == null ? null : s.getLastError()) + "; operator log " + operator.log());
                }
                Thread.sleep(20);
            }
            if (appendHold != null) {
                appendHold.release();
            }
            if (archiving) {
                stopArchivingOperator();
            }
            assertNull(nextCrashOf(run), "every armed crash point was reached");
            if (cell.nodeKill() != NodeKill.NONE) {
                assertTrue(faults.nodeKilled, "the node was killed " + cell.nodeKill());
            }
            if (cell.operatorKill() != OperatorKill.NONE) {
                assertTrue(faults.operatorSigkilled, "the operator was SIGKILLed with its " + cell.operatorKill()
                        + " in flight");
            }
            long endMillis = (System.nanoTime() - runStart) / 1_000_000;
            RollbackChecks.assertCompleted(client, db, r, expected, ledger, cell.agentWriter());
            assertOneVerifiedCopy(db, r, copies);
            if (!cell.agentWriter()) {
                // Every attempt that failed removed its temporary file, and the next attempt's begin
                // removed those of attempts cut short by a crash.
                assertEquals(Map.of(), ledger.temporaryFiles(), "exec mode: no temporary file is left");
            }
            if (cell.agentWriter()) {
                List<ExecDispatcher.ExecRecord> execs = api.exec().execLog().stream()
                        .filter(e -> e.namespace().equals(ns)).toList();
                assertEquals(List.of(), execs, "the agent wrote the file: no pods/exec in " + ns);
            }
            if (cell.nodeKill() != NodeKill.NONE && cell.hooks().isEmpty() && cell.randomKillMillis() < 0) {
                // The kill struck the operator's step in flight: the step failed, and was retried.
                String step = cell.nodeKill() == NodeKill.RECOVER ? "RECOVER failed" : "PERSIST_TAIL failed";
                List<String> failed = client.v1().events().inNamespace(ns).list().getItems().stream()
                        .filter(e -> "StepFailed".equals(e.getReason())).map(e -> e.getMessage()).toList();
                assertTrue(failed.stream().anyMatch(m -> m.startsWith(step)), "a StepFailed event for "
                        + step + ": " + failed);
            }
            System.out.printf("#%d %s: setup %d ms, rollback %d ms (%d operator starts), checks %d ms %s%n",
                    run.index(), cell.name(), setupMillis, endMillis, operatorStarts - startsBefore,
                    (System.nanoTime() - runStart) / 1_000_000 - endMillis, faults.landed);
        }
    }

    /**
     * The operator was SIGKILLed with the copy's upload held in orders-2's agent: the file verified and
     * on record, the copy neither published nor recorded, the bytes sent so far in the call's temporary
     * file, and nothing removed from orders-0.
     */
    private static void assertCopyCutShort(ReplicaSetRollbackStatus s, DbCluster db, FileLedger ledger,
            FileLedger copies, ExpectedTail expected) {
        assertEquals("Verified", s.getPhase(), "SIGKILLed while copying");
        assertNull(verifiedCopy(s), "no copy on record: " + s.getCopies());
        assertEquals(Map.of(), copies.finalFiles(), "no copy published");
        assertEquals(1, copies.temporaryFiles().size(), "one upload's temporary file: " + copies.temporaryFiles());
        assertTrue(copies.temporaryFiles().values().stream().allMatch(size -> size > 0),
                "the first chunk is in it: " + copies.temporaryFiles());
        assertEquals(1, ledger.finalFiles().size(), "the rollback file stays on orders-0: " + ledger.finalFiles());
        assertNothingRemovedYet(db, s);
        assertEquals(expected.lastLsn(), db.node(0).timeline().getLastLsn(), "orders-0 still holds its tail");
    }

    /** The former primary holds its divergent tail: no recover yet (the copy comes first). */
    private static void assertNothingRemovedYet(DbCluster db, ReplicaSetRollbackStatus s) {
        Timeline t = db.node(0).timeline();
        assertEquals(0, t.getRollbackId(), "no recover on orders-0 before the copy is on record");
        assertEquals(s.getPlan().getLastLsn(), t.getLastLsn(), "orders-0 still holds its divergent tail");
    }

    /**
     * The end of the copy step every run must show: one copy on record, verified, of the file's digest and
     * size, at the path orders-2's agent answered; its bytes there are the file's; no other copy and no
     * temporary file in orders-2's copies directory, no copy on orders-1; a published copy never replaced;
     * and the copy verified before the recover (the first step that removes anything) began.
     */
    private static void assertOneVerifiedCopy(DbCluster db, ReplicaSetRollback r, FileLedger copies)
            throws Exception {
        ReplicaSetRollbackStatus s = r.getStatus();
        assertNotNull(s.getCopies(), "status.copies");
        assertEquals(1, s.getCopies().size(), "one copy on record: " + s.getCopies());
        CopyStatus c = verifiedCopy(s);
        assertNotNull(c, "the copy is verified: " + s.getCopies().get(0).getMessage());
        assertEquals("Agent", c.getKind());
        assertEquals("orders-" + COPY_POD, c.getPod(), "the leader's follower holds the copy");
        assertNull(c.getFailure());
        assertEquals(s.getRollbackFile().getSha256(), c.getSha256(), "the copy's digest is the verified file's");
        assertEquals(s.getRollbackFile().getBytes(), c.getBytes());
        String name = copyName(r);
        Path copy = copiesDir(db, COPY_POD).resolve(name);
        assertEquals(copy.toAbsolutePath().normalize().toString(), c.getPath(), "the path orders-2's agent answered");
        assertArrayEquals(Files.readAllBytes(db.volume(0).resolve("rollback").resolve(name)), Files.readAllBytes(copy),
                "the copy's bytes on orders-2 are the rollback file's");
        copies.assertIntact();
        assertEquals(Map.of(name, c.getSha256()), copies.finalFiles(), "exactly one copy on orders-2");
        assertEquals(Map.of(), copies.temporaryFiles(), "no temporary file left in orders-2's copies directory");
        assertFalse(Files.exists(copiesDir(db, 1)), "no copy on orders-1, the leader");
        Instant recovering = s.getSteps().stream().filter(t -> "Recovering".equals(t.getPhase()))
                .map(StepTime::getTime).map(Instant::parse).findFirst().orElseThrow();
        assertFalse(Instant.parse(c.getVerifiedAt()).isAfter(recovering), "the copy verified (" + c.getVerifiedAt()
                + ") before the recover began (" + recovering + ")");
    }

    /** The status's verified copy of the current plan's file, or null. */
    private static CopyStatus verifiedCopy(ReplicaSetRollbackStatus s) {
        if (s.getCopies() == null) {
            return null;
        }
        return s.getCopies().stream().filter(c -> c.getVerifiedAt() != null
                && Objects.equals(c.getPlan(), s.getPlan().getNumber())).findFirst().orElse(null);
    }

    /** orders-N's copies directory for orders-0's rollback files. */
    private static Path copiesDir(DbCluster db, int pod) {
        return db.volume(pod).resolve("rollback").resolve("copies").resolve("orders-0");
    }

    /** The name of the rollback file (and of its copy) of this rollback's first plan. */
    private static String copyName(ReplicaSetRollback r) {
        return r.getMetadata().getUid() + "-plan1.rollback.jsonl";
    }

    /**
     * The copy's upload held in orders-2's agent: the first StoreRollbackCopy of the run stops right after
     * its first data message is in the call's temporary file, until released (or the run's timeout).
     */
    private static final class CopyHold implements AutoCloseable {
        private final RollbackFileFaults faults;
        private final CountDownLatch released = new CountDownLatch(1);
        private final AtomicBoolean taken = new AtomicBoolean();
        private volatile boolean held;

        CopyHold(DbCluster db) {
            faults = db.replicaNode(COPY_POD).rollbackFileFaults();
            faults.onCopyData(() -> {
                if (!taken.compareAndSet(false, true)) {
                    return; // later uploads pass
                }
                held = true;
                try {
                    released.await(RUN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }

        boolean isHeld() {
            return held;
        }

        void release() {
            released.countDown();
        }

        @Override
        public void close() {
            faults.onCopyData(null);
            release();
        }
    }

    /** What a run went through so far. */
    private static final class Faults {
        boolean nodeKilled;
        boolean operatorSigkilled;
        String landed = "";
    }

    private void killNodeWhenDue(CrashCell cell, DbCluster db, ExecDispatcher.Hold appendHold, FileLedger ledger,
            Faults faults, ExpectedTail expected, String ns) throws Exception {
        if (faults.nodeKilled) {
            return;
        }
        boolean due = switch (cell.nodeKill()) {
            case NONE -> false;
            case TAIL_READ -> db.targetProcess().printed("TAIL_PAUSED");
            case RECOVER -> db.targetProcess().printed("RECOVER_PAUSED");
            case PERSIST -> appendHold.isHeld();
            case WRITE -> db.targetProcess().printed("WRITE_PAUSED");
        };
        if (!due) {
            return;
        }
        Process killed = db.targetProcess().process;
        int execs = db.killTarget();
        assertEquals(137, killed.exitValue(), "SIGKILL");
        if (cell.nodeKill() == NodeKill.PERSIST) {
            assertTrue(execs >= 1, "the append exec in flight died with the node's container");
        }
        if (cell.nodeKill() == NodeKill.WRITE) {
            // Killed with the first chunk in its temporary file: nothing published, nothing recorded.
            assertEquals(0, execs, "no exec in agent mode");
            assertEquals("Fenced", rollback(ns).getStatus().getPhase(), "killed while the file was written");
            assertEquals(Map.of(), ledger.finalFiles(), "nothing published yet");
            assertTrue(ledger.temporaryFiles().values().stream().anyMatch(size -> size > 0),
                    "the first chunk is in the call's temporary file: " + ledger.temporaryFiles());
        }
        faults.nodeKilled = true;
        ledger.snapshot();
        db.restartTarget(Map.of());
        if (cell.nodeKill() == NodeKill.RECOVER) {
            Timeline t = db.node(0).timeline();
            assertEquals(1, t.getRollbackId(), "the bump made before the kill survived it, once");
            assertEquals(expected.forkLsn(), t.getLastLsn(), "the restart finished the recover before serving");
        }
    }

    /**
     * The operator process is gone: it must be the armed crash point of this run, with its marker
     * and exit status 137, and the world must show the step done but not recorded. Then a fresh
     * operator JVM takes over.
     */
    private void operatorDied(Run run, DbCluster db, FileLedger ledger, FileLedger copies) throws Exception {
        Integer code = operator.awaitExit(Duration.ofSeconds(10));
        List<String> markers = operator.linesStartingWith(CrashPoints.MARKER);
        Armed armed = nextCrashOf(run);
        if (armed == null || !armed.spec().equals(operatorArmedFor)) {
            fail("the operator died unexpectedly (exit " + code + ", markers " + markers + "); log " + operator.log());
        }
        assertEquals(CrashPoints.EXIT_STATUS, code, "the hook halts with 137; log " + operator.log());
        assertEquals(List.of(CrashPoints.MARKER + " " + armed.spec() + " " + run.rollbackKey()), markers,
                "it died at the armed point");
        pending.remove(armed);
        ReplicaSetRollback r = rollback(run.namespace());
        assertSideEffectDoneButNotRecorded(armed.point(), run.cell().agentWriter(), r, db, ledger, copies);
        ledger.snapshot();
        copies.snapshot();
        operator = null;
        ensureOperator(run);
    }

    /** Evidence that the halt came right after the step's side effect and before its record. */
    private void assertSideEffectDoneButNotRecorded(String point, boolean agentWriter, ReplicaSetRollback r,
            DbCluster db, FileLedger ledger, FileLedger copies) {
        ReplicaSetRollbackStatus s = r.getStatus();
        assertEquals(CrashCell.recordedPhaseAt(point), s.getPhase(), "the status at the halt at " + point);
        if (agentWriter && point.equals("record:1")) {
            // The upload was cut with the operator: the agent publishes nothing and removes its
            // temporary file (if the begin message arrived at all).
            assertEquals(Map.of(), ledger.finalFiles(), "nothing published");
            Awaitility.await("the agent removes the cut call's temporary file").atMost(Duration.ofSeconds(10))
                    .pollInterval(Duration.ofMillis(20)).until(() -> ledger.temporaryFiles().isEmpty());
            return;
        }
        switch (point) {
            case "call:Fence" -> assertTrue(db.node(0).timeline().getFenced(), "fenced, not yet recorded");
            case "exec:begin", "record:1" -> {
                assertEquals(Map.of(), ledger.finalFiles(), "nothing published yet");
                assertTrue(!ledger.temporaryFiles().isEmpty(), "the attempt's temporary file exists");
            }
            case "exec:append" -> {
                assertEquals(Map.of(), ledger.finalFiles(), "nothing published yet");
                assertTrue(ledger.temporaryFiles().values().stream().anyMatch(size -> size > 0),
                        "the chunk is in the temporary file: " + ledger.temporaryFiles());
            }
            case "exec:commit", "exec:put", "call:PersistRollbackFile" -> {
                assertEquals(1, ledger.finalFiles().size(), "the file is published: " + ledger.finalFiles());
                assertNull(s.getRollbackFile(), "but not recorded");
            }
            case "call:CopyRollbackFile" -> {
                assertNull(verifiedCopy(s), "the copy is not recorded: " + s.getCopies());
                assertEquals(Map.of(copyName(r), s.getRollbackFile().getSha256()), copies.finalFiles(),
                        "but it is on orders-2, the file's bytes");
                assertEquals(Map.of(), copies.temporaryFiles(), "and nothing else");
                assertNothingRemovedYet(db, s);
            }
            case "status:CopyVerified" -> {
                CopyStatus c = verifiedCopy(s);
                assertNotNull(c, "the copy is recorded: " + s.getCopies());
                assertEquals(s.getRollbackFile().getSha256(), c.getSha256());
                assertEquals(Map.of(copyName(r), c.getSha256()), copies.finalFiles(), "the copy on orders-2");
                assertNothingRemovedYet(db, s);
            }
            case "call:RecoverToLsn" -> {
                Timeline t = db.node(0).timeline();
                assertEquals(1, t.getRollbackId(), "recovered: the rollback id rose");
                assertEquals(r.getMetadata().getUid(), t.getLastRecoveryIncident());
                assertNull(s.getRollbackIdAfter(), "but not recorded");
            }
            case "call:EmitRollbackEvent" -> assertTrue(client.v1().events().inNamespace(r.getMetadata().getNamespace())
                    .list().getItems().stream().anyMatch(e -> "NodeRolledBack".equals(e.getReason())),
                    "the event exists, not yet recorded");
            case "call:RejoinAsReplica" -> assertEquals(Role.ROLE_REPLICA, db.node(0).timeline().getRole(),
                    "rejoined, not yet recorded");
            default -> {
                // status:PHASE and exec:verify / call:VerifyRollbackFile (reads only): the phase says it all
            }
        }
    }

    // ---- operator processes -------------------------------------------------------------------

    private Armed nextCrashOf(Run run) {
        Armed head = pending.peekFirst();
        return head != null && head.run() == run.index() ? head : null;
    }

    /**
     * Makes sure an operator process runs, armed for the next crash point still to come (of this run
     * or a later one); a process armed for another point is replaced.
     */
    private void ensureOperator(Run run) throws InterruptedException {
        String want = pending.isEmpty() ? null : pending.peekFirst().spec();
        CrashCell.Writer writer = run.cell().writer();
        if (operator != null && operator.isAlive() && Objects.equals(want, operatorArmedFor)
                && writer == operatorWriter) {
            return;
        }
        if (operator != null) {
            operator.kill();
        }
        List<String> flags = new ArrayList<>(OperatorProcess.LEAN_JVM_FLAGS);
        if (classArchive != null) {
            flags.add("-XX:SharedArchiveFile=" + classArchive);
        }
        startOperator(want, writer, flags);
    }

    private void startOperator(String armed, CrashCell.Writer writer, List<String> flags)
            throws InterruptedException {
        operatorStarts++;
        Map<String, String> env = new HashMap<>();
        env.put("HOSTNAME", "crash-operator-" + operatorStarts);
        if (armed != null) {
            env.put(CrashPoints.ENV, armed);
        }
        env.put(WRITER_ENV, writer == CrashCell.Writer.AGENT ? "agent" : "exec");
        if (writer == CrashCell.Writer.EXEC) {
            env.put(SINGLE_CALL_ENV, "0"); // begin, append, commit: the path of files over 4 MiB
        }
        operator = OperatorProcess.start(api, work.resolve("operator-" + operatorStarts + ".log"), env, flags);
        operatorArmedFor = armed;
        operatorWriter = writer;
        if (operatorStarts == 1) {
            operator.awaitReady(Duration.ofSeconds(90)); // a packaged operator that cannot start fails here, clearly
        }
    }

    /**
     * The first run, when it is the control, is driven by an unarmed operator that writes a class
     * archive of what it loaded when it exits; later operator JVMs start from it (about a second
     * less per start on a small machine). Off with -Dcrash.cds=false.
     */
    private boolean startArchivingOperator(Run run) throws InterruptedException {
        CrashCell c = run.cell();
        if (!CDS || run.index() != 0 || c.agentWriter() || !c.hooks().isEmpty() || c.operatorKill() != OperatorKill.NONE
                || c.nodeKill() != NodeKill.NONE || c.randomKillMillis() >= 0) {
            return false;
        }
        List<String> flags = new ArrayList<>(OperatorProcess.LEAN_JVM_FLAGS);
        flags.add("-XX:ArchiveClassesAtExit=" + work.resolve("operator.jsa"));
        flags.add("-Xlog:cds*=off"); // thousands of harmless "Skipping ..." lines otherwise
        startOperator(null, c.writer(), flags);
        return true;
    }

    private void stopArchivingOperator() throws InterruptedException {
        operator.close(Duration.ofSeconds(60)); // a graceful exit writes the archive
        operator = null;
        if (Files.exists(work.resolve("operator.jsa"))) {
            classArchive = work.resolve("operator.jsa");
        }
    }

    // ---- helpers --------------------------------------------------------------------------------

    private ReplicaSetRollback rollback(String ns) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(ROLLBACK).get();
    }

    private static boolean terminal(ReplicaSetRollback r) {
        String p = r == null || r.getStatus() == null ? null : r.getStatus().getPhase();
        return p != null && List.of("Completed", "Failed", "Aborted", "DryRunCompleted").contains(p);
    }

    /** Whether an exec's argv runs the rollback-file script's {@code operation}. */
    static boolean isOperation(List<String> argv, String operation) {
        return argv.size() > 4 && argv.get(0).equals("sh") && argv.get(4).equals(operation);
    }

    private void printSummary() {
        double total = (System.nanoTime() - started) / 1e9;
        StringBuilder b = new StringBuilder();
        b.append(System.lineSeparator()).append("CRASH MATRIX SUMMARY (").append(String.format("%.0f", total))
                .append(" s, ").append(operatorStarts).append(" operator JVMs")
                .append(SOAK > 0 ? ", soak seed " + SEED : "").append(")").append(System.lineSeparator());
        int width = tally.keySet().stream().mapToInt(String::length).max().orElse(4);
        String format = "| %-" + width + "s | %4s | %8s | %7s |" + System.lineSeparator();
        b.append(String.format(format, "cell", "runs", "failures", "s/run"));
        b.append(String.format(format, "-".repeat(width), "----", "--------", "-------"));
        int runs = 0;
        int failures = 0;
        for (Map.Entry<String, Tally> e : tally.entrySet()) {
            Tally t = e.getValue();
            b.append(String.format(format, e.getKey(), t.runs, t.failures, String.format("%.1f", t.seconds / t.runs)));
            runs += t.runs;
            failures += t.failures;
        }
        b.append(String.format(format, "total", runs, failures, ""));
        tally.values().forEach(t -> t.failed.forEach(
                f -> b.append("FAILED ").append(f).append(System.lineSeparator())));
        System.out.println(b);
    }
}
