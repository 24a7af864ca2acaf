package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.ForkPoint;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL agent killed in the middle: while it streams a divergent tail (the stream breaks, the
 * next read after the restart gives the same trailer), and right after pg_rewind ran but before the
 * recover recorded it (the restart restores the WAL and control file it copied aside and runs pg_rewind
 * again; the node ends rewound, its rollback id raised once, and rejoins with the new primary's rows).
 *
 * <p>And the whole pod killed: the agent and its server SIGKILLed at once during the capture (the restarted agent
 * finds a stale {@code postmaster.pid}, starts the server fenced through crash recovery, and reads the same tail),
 * and pg_rewind itself killed part way ({@link PgBinFaults}), with the agent alive (the call fails, a retry
 * resumes) and with the agent killed with it (the restart resumes); and the pod killed while the recover stops the
 * server (the restart takes the server through crash recovery before pg_rewind). A stale {@code postmaster.pid}
 * whose pid another process holds (as in a restarted pod's new pid namespace) does not pass for the server.
 */
class PgAgentCrashIT {

    private PgAgentCluster c;
    private PgServer former;
    private PgServer leader;
    private long fork;
    private Timeline fenced;

    @BeforeEach
    void diverge() throws Exception {
        c = PgAgentCluster.start(PgCluster.Options.defaults());
        former = c.pg().primary();
        former.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL");
        c.awaitSlot();
        former.execute("INSERT INTO kv SELECT 'k' || i, 'v' || i FROM generate_series(1, 100) i");
        c.pg().cutOff();
        former.execute("INSERT INTO kv SELECT 'new' || i, 'x' FROM generate_series(1, 20000) i",
                "UPDATE kv SET v = 'changed' WHERE k LIKE 'k1%'", "DELETE FROM kv WHERE k LIKE 'k2%'");
        leader = c.pg().failover().newPrimary();
        leader.execute("INSERT INTO kv VALUES ('on-new-primary', 'kept')");
        Timeline t0 = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        Timeline t1 = c.client(leader.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        fork = ((ForkPoint.Found) ForkPoint.compute(AgentProtos.fromProto(t0), AgentProtos.fromProto(t1))).lsn()
                .value();
        fenced = c.client(former.name()).fence(FenceRequest.newBuilder().setTerm(2).setIncidentId("crash").build())
                .getTimeline();
    }

    @AfterEach
    void stop() {
        if (c != null) {
            c.close();
        }
    }

    private RecoverToLsnRequest recoverRequest() {
        return RecoverToLsnRequest.newBuilder().setTargetLsn(fork).setTerm(2).setIncidentId("crash")
                .setExpectedRollbackFileSha256("cd".repeat(32)).setExpectedLastLsn(fenced.getLastLsn()).build();
    }

    private TailTrailer readWhole() {
        Iterator<TailMessage> it = c.client(former.name()).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(fork).setToInclusive(fenced.getLastLsn()).build());
        TailMessage last = null;
        while (it.hasNext()) {
            last = it.next();
        }
        assertTrue(last != null && last.hasTrailer());
        return last.getTrailer();
    }

    @Test
    void aCaptureCutByAKillIsReadWholeAfterTheRestart() throws Exception {
        TailTrailer before = readWhole();
        assertEquals(20000 + 12 + 11, before.getRecordCount(),
                "20,000 inserts, 12 updates (k1, k10..k19, k100), 11 deletes");
        Iterator<TailMessage> it = c.client(former.name()).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(fork).setToInclusive(fenced.getLastLsn()).build());
        assertTrue(it.next().hasChunk(), "the stream has begun");
        c.agent(former.name()).crash();
        assertThrows(StatusRuntimeException.class, () -> {
            while (it.hasNext()) {
                it.next();
            }
        }, "the stream of the killed agent breaks; it never ends with a trailer");
        c.restartAgent(former.name());
        Timeline after = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertTrue(after.getFenced(), "the fence survives the restart");
        assertEquals(fenced.getLastLsn(), after.getLastLsn());
        assertEquals(before, readWhole(), "the same tail, to the digest");
    }

    @Test
    void aRecoverKilledAfterPgRewindResumesFromTheCopiesAndEndsOnce() throws Exception {
        RecoverToLsnRequest recover = recoverRequest();
        c.agent(former.name()).onRewound(() -> {
            throw new IllegalStateException("killed right after pg_rewind");
        });
        assertThrows(StatusRuntimeException.class, () -> c.client(former.name()).recoverToLsn(recover));
        c.agent(former.name()).crash();
        // The restart finishes the recover before it serves: the copies back, pg_rewind again, a fenced standby.
        c.restartAgent(former.name());
        assertRecoveredOnceThenRejoins(recover);
    }

    /**
     * The end of every interrupted recover: rewound once (rollback id 1, last LSN the fork, still fenced), a retry
     * answered {@code already_done}, the copies gone, and after the rejoin the new primary's rows (and its large
     * table, when it has one).
     */
    private void assertRecoveredOnceThenRejoins(RecoverToLsnRequest recover) throws Exception {
        Timeline t = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertEquals(1, t.getRollbackId(), "the rollback id rose once");
        assertEquals(fork, t.getLastLsn());
        assertEquals("crash", t.getLastRecoveryIncident());
        assertTrue(t.getFenced());
        RecoverToLsnResponse retry = c.client(former.name()).recoverToLsn(recover);
        assertTrue(retry.getAlreadyDone());
        assertEquals(1, retry.getRollbackId());
        assertFalse(Files.exists(c.config(former.name()).stateDir().resolve("rewind-crash")),
                "the copies are gone once the recover is done");
        c.client(former.name()).rejoinAsReplica(RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(
                c.agentAddress(leader.name())).setTerm(2).setIncidentId("crash").build());
        PgCluster.await(former.name() + " holding the new primary's rows", () -> former.tableRows("kv")
                .equals(leader.tableRows("kv")));
        assertTrue(former.tableRows("kv").contains("(on-new-primary,kept)"));
        if ("t".equals(leader.queryString("SELECT to_regclass('big') IS NOT NULL"))) {
            String digest = "SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) FROM big t";
            PgCluster.await(former.name() + " holding the new primary's large table", () -> former.queryString(digest)
                    .equals(leader.queryString(digest)));
        }
    }

    // ---- the whole pod killed ---------------------------------------------------------------------------------

    /**
     * The pod killed during the capture: the agent crashes and its server is SIGKILLed ({@link PgServer#kill}: the
     * postmaster and every process of it) while the agent streams the tail. The restarted agent finds the server
     * down with a stale {@code postmaster.pid}, starts it fenced (crash recovery: the server was not shut down),
     * reports it fenced at the same last LSN, keeps it off TCP, and reads the same tail to the digest.
     */
    @Test
    void aPodKilledDuringTheCaptureComesBackFencedWithTheSameTail() throws Exception {
        TailTrailer before = readWhole();
        Iterator<TailMessage> it = c.client(former.name()).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(fork).setToInclusive(fenced.getLastLsn()).build());
        assertTrue(it.next().hasChunk(), "the stream has begun");
        c.agent(former.name()).crash();
        long killed = former.kill();
        assertThrows(StatusRuntimeException.class, () -> {
            while (it.hasNext()) {
                it.next();
            }
        }, "the stream of the killed pod breaks; it never ends with a trailer");
        Path pidFile = former.dataDir().resolve("postmaster.pid");
        assertEquals(Long.toString(killed), Files.readAllLines(pidFile).get(0).strip(),
                "a stale postmaster.pid is left");
        Path log = c.config(former.name()).stateDir().resolve("postgresql.log");
        long logBefore = Files.size(log);

        c.restartAgent(former.name());
        Timeline after = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertTrue(after.getFenced(), "the fence survives the killed pod");
        assertEquals(fenced.getLastLsn(), after.getLastLsn(), "the same last LSN");
        assertNotEquals(Long.toString(killed), Files.readAllLines(pidFile).get(0).strip(), "a new postmaster");
        String startLog = Files.readString(log, StandardCharsets.UTF_8).substring((int) logBefore);
        assertTrue(startLog.contains("was not properly shut down; automatic recovery in progress"),
                "the server came back through crash recovery:\n" + startLog);
        SQLException refused = assertThrows(SQLException.class, () -> former.connect().close(),
                "no client reaches the restarted server over TCP");
        assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
        assertFalse(Files.exists(former.socketDir().resolve(".s.PGSQL." + former.port())), "nor through its socket");
        assertEquals(before, readWhole(), "the same tail, to the digest");
    }

    /**
     * A server killed alone (the OOM killer, a crash) while its agent lives: the agent starts it again at its
     * next maintenance, as its state says: the fenced former primary fenced (no TCP, the same last LSN, the same
     * tail), the new primary taking writes over TCP again.
     */
    @Test
    void aServerThatDiesAloneIsStartedAgainByItsAgentAsTheStateSays() throws Exception {
        TailTrailer before = readWhole();
        long killed = former.kill();
        PgCluster.await(former.name() + " started again by its agent", () -> {
            try {
                return c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance()).getFenced();
            } catch (StatusRuntimeException e) {
                return false; // UNAVAILABLE while the server is down
            }
        });
        Path pidFile = former.dataDir().resolve("postmaster.pid");
        assertNotEquals(Long.toString(killed), Files.readAllLines(pidFile).get(0).strip(), "a new postmaster");
        Timeline after = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertEquals(fenced.getLastLsn(), after.getLastLsn(), "the same last LSN");
        assertThrows(SQLException.class, () -> former.connect().close(), "still fenced: no client over TCP");
        assertEquals(before, readWhole(), "the same tail, to the digest");

        leader.kill();
        PgCluster.await(leader.name() + " started again and taking writes over TCP", () -> {
            try (Connection conn = leader.connect(); Statement s = conn.createStatement()) {
                s.execute("INSERT INTO kv VALUES ('after-restart', 'kept')");
                return true;
            } catch (SQLException e) {
                return false;
            }
        });
        assertEquals(Role.ROLE_PRIMARY, c.client(leader.name()).getTimeline(GetTimelineRequest.getDefaultInstance())
                .getRole());
    }

    /**
     * A stale {@code postmaster.pid} whose pid another live process holds: what a pod's restart can leave, since its
     * containers start in a new pid namespace where the old postmaster's pid may be anyone's, the agent's own threads
     * included. Here a {@code sleep} takes that part. The restarted agent must not take that process for its server
     * (nor may PostgreSQL refuse to start because of it): it starts the server fenced, as after any killed pod.
     * (Before {@link PgServerControl#lockFileOfNoServer}, {@code pg_ctl status}, which only asks whether the pid is
     * alive, made the agent serve with its server down, every call UNAVAILABLE, and nothing ever started it.)
     */
    @Test
    void aStalePostmasterPidThatAnotherProcessHoldsIsNoServer() throws Exception {
        c.agent(former.name()).crash();
        former.kill();
        Path pidFile = former.dataDir().resolve("postmaster.pid");
        Process other = new ProcessBuilder("sleep", "600").start();
        try {
            List<String> lines = new ArrayList<>(Files.readAllLines(pidFile));
            lines.set(0, Long.toString(other.pid()));
            Files.write(pidFile, lines);

            c.restartAgent(former.name());
            Timeline after = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
            assertTrue(after.getFenced());
            assertEquals(fenced.getLastLsn(), after.getLastLsn());
            assertNotEquals(Long.toString(other.pid()), Files.readAllLines(pidFile).get(0).strip(), "a new postmaster");
            assertTrue(other.isAlive(), "the other process is left alone");
            assertThrows(SQLException.class, () -> former.connect().close(), "still fenced: no TCP");
        } finally {
            other.destroyForcibly();
        }
    }

    /**
     * pg_rewind killed part way with the agent alive: RecoverToLsn fails (INTERNAL, pg_rewind's exit 137), the node
     * claims no recover (GetTimeline answers UNAVAILABLE while the recover is pending), and a retry of the same call
     * restores the copies, runs pg_rewind again and finishes: rollback id 1, last LSN the fork, fenced; the rejoin
     * gives the new primary's rows.
     *
     * <p>The cut ({@link #assertCutInsidePgRewind}): the new primary has a table of about 16 MB that the former
     * primary never had, so pg_rewind copies its file whole. pg_rewind first decides what to do with every file and
     * truncates every file it will copy (the former primary's WAL segments that the new primary also has among
     * them), then fetches the files' contents in path order, that table's ({@code base/...}) before the WAL
     * ({@code pg_wal/...}), and only at the end writes {@code backup_label} and the control file. The wrapper
     * stops pg_rewind as soon as it has written into that table's file, and SIGKILLs it. Known from what the wrapper
     * saw: pg_rewind's exit status 137 (it had not ended), some of the table written (1 MB chunks; the test prints how
     * much: 1 to 10 of its 16 MB in the runs here, the later ones on a loaded machine), and the target's files before
     * and after: WAL segments that the agent had copied aside changed (emptied: pg_rewind run again without the
     * copies fails with "could not read file" on the fork's segment), the control file unchanged and no
     * {@code backup_label}.
     */
    @Test
    void aPgRewindKilledPartWayFailsTheRecoverAndARetryResumesIt() throws Exception {
        PgBinFaults cut = cutPgRewindInTheLargeTable();
        cut.refuseReruns(true); // the maintenance's retries fail at once until the test has looked
        RecoverToLsnRequest recover = recoverRequest();
        StatusRuntimeException failed = assertThrows(StatusRuntimeException.class,
                () -> c.client(former.name()).recoverToLsn(recover));
        assertEquals(Status.Code.INTERNAL, failed.getStatus().getCode(), failed.toString());
        assertTrue(failed.getStatus().getDescription().contains("pg_rewind failed (exit 137)"), failed.toString());
        assertCutInsidePgRewind(cut);
        assertPendingNotRecovered();

        cut.refuseReruns(false);
        RecoverToLsnResponse resumed = c.client(former.name()).recoverToLsn(recover);
        assertEquals(1, resumed.getRollbackId());
        assertEquals(fork, resumed.getLastLsn());
        assertRecoveredOnceThenRejoins(recover);
    }

    /**
     * The pod killed inside pg_rewind: pg_rewind is cut at the same point as in
     * {@link #aPgRewindKilledPartWayFailsTheRecoverAndARetryResumesIt}, and the agent is killed while it still waits
     * for it (the wrapper holds the agent in its call until the crash is done, so the agent never gets to act on
     * pg_rewind's end; its server is stopped during pg_rewind, so nothing else is left to kill). The call fails; the
     * restarted agent finds the recover pending, restores the copies, runs pg_rewind again and ends it before it
     * serves: rollback id 1, last LSN the fork, fenced; the rejoin gives the new primary's rows.
     */
    @Test
    void aPodKilledInsidePgRewindIsResumedByTheRestart() throws Exception {
        PgBinFaults cut = cutPgRewindInTheLargeTable();
        cut.refuseReruns(true);
        cut.stayAfterKill(true);
        PgAgent agent = c.agent(former.name());
        RecoverToLsnRequest recover = recoverRequest();
        var client = c.client(former.name());
        CompletableFuture<RecoverToLsnResponse> call =
                CompletableFuture.supplyAsync(() -> client.recoverToLsn(recover));
        PgCluster.await("pg_rewind killed part way", cut::killed);
        agent.crash();
        ExecutionException failed = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
        assertInstanceOf(StatusRuntimeException.class, failed.getCause(), "the call fails visibly");
        assertCutInsidePgRewind(cut);
        // The killed agent's call ends (its pg_rewind failed, nothing recorded) before a new agent takes the files.
        cut.stayAfterKill(false);
        synchronized (agent.lock) {
            assertEquals(PgAgentState.RecoverPhase.SAVED, agent.state.recoverPhase);
        }
        assertFalse(former.isRunning(), "the server was stopped for pg_rewind");

        cut.refuseReruns(false);
        c.restartAgent(former.name());
        assertRecoveredOnceThenRejoins(recover);
    }

    /**
     * The pod killed while the recover stops the server: RecoverToLsn has recorded its intent (phase BEGUN, rollback
     * id 1) and runs {@code pg_ctl stop} on the fenced server; the pod dies there ({@link PgBinFaults} holds that
     * stop, the test SIGKILLs the server and crashes the agent), so the data directory is left not shut down. The
     * restarted agent resumes the recover before it serves. pg_rewind needs a target shut down cleanly: its
     * {@code --dry-run}, which names the checkpoint the copies start from, refuses anything else ("target server must
     * be shut down cleanly"; pg_rewind runs the crash recovery itself only when it is not a dry run). So the agent
     * takes the server through its crash recovery (started fenced) and stops it cleanly first. The node ends rewound
     * once and rejoins with the new primary's rows.
     */
    @Test
    void aPodKilledWhileTheRecoverStopsTheServerIsResumedByTheRestart() throws Exception {
        PgBinFaults bins = PgBinFaults.create(c.pg().folder("bin-faults"), c.pg().install().bindir(), null);
        c.restartAgent(former.name(), bins.bindir());
        PgAgent agent = c.agent(former.name());
        bins.holdNextStop();
        RecoverToLsnRequest recover = recoverRequest();
        var client = c.client(former.name());
        CompletableFuture<RecoverToLsnResponse> call =
                CompletableFuture.supplyAsync(() -> client.recoverToLsn(recover));
        PgCluster.await("the recover stopping the server", bins::stopHeld);
        PgAgentState recorded = PgAgentState.load(c.config(former.name()).stateDir());
        assertEquals(PgAgentState.RecoverPhase.BEGUN, recorded.recoverPhase, "the intent is recorded");
        assertEquals(1, recorded.rollbackId);
        former.kill();
        agent.crash(); // its call stays in the held pg_ctl stop, as a killed agent would never come back from it
        ExecutionException failed = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
        assertInstanceOf(StatusRuntimeException.class, failed.getCause(), "the call fails visibly");
        assertEquals("in production", former.controlData().get("Database cluster state"), "not shut down");
        try {
            c.restartAgent(former.name());
            assertRecoveredOnceThenRejoins(recover);
        } finally {
            bins.releaseStop();
        }
        synchronized (agent.lock) {
            // The killed agent's call is out of pg_ctl: it failed and, the server running again, gave up.
        }
        Timeline t = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertEquals(1, t.getRollbackId(), "nothing changed by the killed agent's call");
        assertEquals(Role.ROLE_REPLICA, t.getRole());
    }

    /**
     * After pg_rewind, the node's WAL ends before the minimum recovery point pg_rewind set (the source wrote its
     * last record after pg_rewind copied that segment: simulated by zeroing that record's end). A fenced standby
     * with no upstream could never become consistent, and its start would wait its whole 300 s; the agent copies
     * those segments again from the source first, and the recover ends at once.
     */
    @Test
    void aRewoundNodeWhoseWalEndsBeforeTheMinimumRecoveryPointGetsTheRestFromTheSource() throws Exception {
        PgBinFaults bins = PgBinFaults.create(c.pg().folder("bin-faults"), c.pg().install().bindir(), null);
        bins.shortenWalAfterNextRewind();
        c.restartAgent(former.name(), bins.bindir());
        RecoverToLsnResponse r = c.client(former.name()).withDeadlineAfter(120, TimeUnit.SECONDS)
                .recoverToLsn(recoverRequest());
        assertTrue(bins.shortened() != null, "the WAL was cut short of the minimum recovery point");
        assertEquals(1, r.getRollbackId());
        Timeline t = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertTrue(t.getFenced());
        assertEquals(fork, t.getLastLsn());
        c.client(former.name()).rejoinAsReplica(RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(
                c.agentAddress(leader.name())).setTerm(2).setIncidentId("crash").build());
        PgCluster.await(former.name() + " holding the new primary's rows", () -> former.tableRows("kv")
                .equals(leader.tableRows("kv")));
    }

    /**
     * A table of about 16 MB on the new primary (made after the fork: the former primary never had it), and the
     * former primary's agent restarted with pg_rewind cut as soon as it has written into that table's file there.
     */
    private PgBinFaults cutPgRewindInTheLargeTable() throws Exception {
        leader.execute("CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 30) AS pad FROM "
                + "generate_series(1, 16000) g");
        bigFileSize = Long.parseLong(leader.queryString("SELECT pg_relation_size('big')"));
        assertTrue(bigFileSize > 10_000_000L, "the large table holds " + bigFileSize + " bytes");
        Path watched = former.dataDir().resolve(leader.queryString("SELECT pg_relation_filepath('big')"));
        assertFalse(Files.exists(watched), "the former primary has no file at " + watched);
        PgBinFaults cut = PgBinFaults.create(c.pg().folder("bin-faults"), c.pg().install().bindir(), watched);
        c.restartAgent(former.name(), cut.bindir());
        return cut;
    }

    private long bigFileSize;

    /** Where the wrapper cut pg_rewind: inside its work, after it changed the target's WAL and before its end. */
    private void assertCutInsidePgRewind(PgBinFaults cut) throws Exception {
        assertTrue(cut.killed());
        assertEquals(137, cut.exitStatus(), "pg_rewind was running when the SIGKILL came");
        assertTrue(cut.copiedBytes() > 0, "pg_rewind had begun copying the large table");
        Map<String, String> before = cut.before();
        Map<String, String> after = cut.after();
        assertEquals(before.get("global/pg_control"), after.get("global/pg_control"),
                "the control file not written yet");
        assertFalse(after.containsKey("backup_label"), "no backup_label yet");
        Path saved = c.config(former.name()).stateDir().resolve("rewind-crash").resolve("pg_wal");
        List<String> changed;
        try (var list = Files.list(saved)) {
            changed = list.map(f -> "pg_wal/" + f.getFileName())
                    .filter(f -> !Objects.equals(before.get(f), after.get(f))).sorted().toList();
        }
        assertFalse(changed.isEmpty(), "pg_rewind had changed WAL the agent saved aside: before " + before
                + ", after " + after);
        System.out.println("pg_rewind cut after " + cut.copiedBytes() + " of " + bigFileSize
                + " bytes of the large table; saved WAL it had changed: " + changed.stream()
                .map(f -> f + " (" + before.get(f) + " -> " + after.get(f) + ")").toList());
    }

    /** The recover is pending: recorded (phase SAVED, the rollback id of its durable intent), and claimed nowhere. */
    private void assertPendingNotRecovered() {
        PgAgent agent = c.agent(former.name());
        synchronized (agent.lock) {
            assertEquals(PgAgentState.RecoverPhase.SAVED, agent.state.recoverPhase);
            assertEquals(1, agent.state.rollbackId, "the intent's rollback id, recorded before anything was touched");
            assertFalse(agent.state.recoveredNotRejoined);
        }
        StatusRuntimeException pending = assertThrows(StatusRuntimeException.class,
                () -> c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAVAILABLE, pending.getStatus().getCode(), pending.toString());
    }
}
