package io.dbrollback.postgres;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.RecoveryRecord;
import io.dbrollback.agent.AgentRequests;
import io.dbrollback.agent.DurableProperties;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.LsnKind;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.node.NodeTls;
import io.dbrollback.node.RollbackFileFaults;
import io.dbrollback.node.RollbackFiles;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The PostgreSQL agent: agent protocol v1 for one PostgreSQL server, which it runs (the server's
 * supervisor: it starts, fences, rewinds and restarts it). docs/postgresql.md has the design; in short:
 * term = timeline id, LSN = WAL position (LSN_KIND_POSITIONS), a record's LSN = the end of its
 * transaction's commit record, the fork = the switchpoint in the new primary's history file.
 * Capture: a logical slot (wal2json) that only moves to what every standby's physical slot has
 * flushed. Fence: the server restarted with no TCP listener and a private socket, durable in the
 * agent's state. Recover: pg_rewind from the primary among the peers, after a copy of what pg_rewind
 * reads and changes is put aside (a rerun restores it first); the rewound node starts as a fenced
 * standby. Rejoin: a physical slot on the primary, primary_conninfo, restart, streaming confirmed.
 */
public final class PgAgent implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(PgAgent.class.getName());

    private static final Pattern REWIND_CHECKPOINT = Pattern.compile(
            "rewinding from last common checkpoint at ([0-9A-Fa-f]+/[0-9A-Fa-f]+) on timeline ([0-9]+)");
    private static final Pattern WAL_SEGMENT = Pattern.compile("([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})");
    /** The configuration files pg_rewind copies from the source: the node's own are put back after it. */
    private static final List<String> OWN_CONFIG = List.of("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf",
            "pg_ident.conf");

    final PgAgentConfig config;
    final PgServerControl pg;
    final Object lock = new Object();
    /** Guarded by {@link #lock}. */
    final PgAgentState state;
    final RollbackFiles files;
    private final ScheduledExecutorService maintenance;
    private final ExecutorService tails;
    private Server server;
    private NodeTls tls;
    /** Test hook: runs after pg_rewind succeeded, before that is recorded (a throw is a crash there). */
    private volatile Runnable afterRewind = () -> { };
    /** The last problem the maintenance met (logged once per change). */
    private volatile String maintenanceProblem;
    /** Set when the agent stops serving: its maintenance then never touches the server again. */
    private volatile boolean closed;

    /** Injected disk faults (tests: {@link #rollbackFileFaults()}); none unless armed. */
    private final RollbackFileFaults rollbackFileFaults = new RollbackFileFaults();

    private PgAgent(PgAgentConfig config) throws IOException {
        this.config = config;
        this.pg = new PgServerControl(config);
        this.state = PgAgentState.load(config.stateDir());
        this.files = new RollbackFiles(this::admitTerm, () -> 0L, config.rollbackDir(), rollbackFileFaults);
        this.maintenance = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "pg-agent-maintenance"));
        this.tails = Executors.newCachedThreadPool(r -> daemon(r, "pg-agent-tail"));
    }

    /** Test hook: faults of the rollback files and their copies (a copies directory that looks full). */
    public RollbackFileFaults rollbackFileFaults() {
        return rollbackFileFaults;
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Finishes a recover a crash interrupted, brings the server up as the state says (fenced or not),
     * and serves the agent protocol.
     */
    public static PgAgent start(PgAgentConfig config) throws IOException {
        PgAgent agent = new PgAgent(config);
        try {
            synchronized (agent.lock) {
                if (agent.state.recoverPhase != PgAgentState.RecoverPhase.NONE) {
                    try {
                        agent.finishRecover();
                    } catch (IOException | SQLException | RuntimeException e) {
                        // Served all the same: every call but the recover's retry answers UNAVAILABLE until
                        // the maintenance (or that retry) finishes it.
                        LOG.warning("the interrupted recover of incident " + agent.state.lastRecovery.incident()
                                + " is not finished yet: " + e.getMessage());
                    }
                }
                if (agent.state.recoverPhase == PgAgentState.RecoverPhase.NONE) {
                    agent.ensureServer();
                }
            }
            if (config.tls() != null) {
                agent.tls = NodeTls.load(config.tls(), config.nodeName());
            }
            NettyServerBuilder builder = NettyServerBuilder.forAddress(
                    new InetSocketAddress(config.host(), config.port()));
            if (agent.tls != null) {
                builder.sslContext(agent.tls.serverContext()).intercept(agent.tls.clientCheck());
            }
            agent.server = builder.addService(new PgAgentService(agent)).build().start();
            long period = config.maintenance().toMillis();
            agent.maintenance.scheduleWithFixedDelay(agent::maintain, 0, period, TimeUnit.MILLISECONDS);
            return agent;
        } catch (IOException | RuntimeException e) {
            agent.close();
            throw e;
        }
    }

    Executor tailsExecutor() {
        return tails;
    }

    public int port() {
        return server.getPort();
    }

    public String name() {
        return config.nodeName();
    }

    /** Stops serving (the PostgreSQL server keeps running, as after a crash of the agent alone). */
    @Override
    public void close() {
        closed = true;
        maintenance.shutdownNow();
        tails.shutdownNow();
        if (server != null) {
            server.shutdownNow();
            try {
                server.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (tls != null) {
            tls.close();
        }
    }

    /** Test hook: {@code hook} runs after every successful pg_rewind, before the recover records it. */
    public void onRewound(Runnable hook) {
        this.afterRewind = hook == null ? () -> { } : hook;
    }

    /**
     * Test hook: stops serving as a killed process would, leaving the temporary files of the rollback
     * file writes in flight (the server keeps running).
     */
    public void crash() {
        files.halt();
        close();
    }

    /** Stops serving and stops the server cleanly. */
    public void shutdown() throws IOException {
        close();
        synchronized (lock) {
            pg.stop();
        }
    }

    // ---- the server as the state says --------------------------------------------------------------

    private Path ordinarySocket() {
        return config.socketDir().resolve(".s.PGSQL." + config.pgPort());
    }

    /**
     * Brings the server to what the state says: running, fenced (no TCP listener, the private socket
     * only) when the node is fenced, and with the fenced node's last LSN pinned.
     */
    private void ensureServer() throws IOException {
        boolean running = pg.running();
        boolean ordinary = Files.exists(ordinarySocket());
        if (running && state.fenced == ordinary) {
            pg.stop(); // running the other way: every session ends with the restart
            running = false;
        }
        if (!running && state.fenced && state.fencedLastLsn == 0 && !state.recoveredNotRejoined) {
            // Stopped cleanly, the WAL ends with the shutdown checkpoint, and every record a client wrote
            // lies before where it begins: that is the fenced node's last LSN (the checkpoint, and what the
            // fenced server writes by itself later, hold no client change).
            Long checkpoint = shutdownCheckpoint();
            if (checkpoint != null) {
                state.fencedLastLsn = checkpoint;
                state.save();
            }
        }
        if (!running) {
            pg.start(state.fenced);
        }
        if (state.fenced && state.fencedLastLsn == 0) {
            try (Connection c = pg.connect(true)) {
                if (!inRecovery(c)) {
                    // No client can reach the server from here on: the end of its WAL is the end of
                    // what a client ever wrote (the shutdown checkpoint of the fence's restart included).
                    state.fencedLastLsn = lsn(c, "SELECT pg_current_wal_lsn()");
                    state.save();
                }
            } catch (SQLException e) {
                throw new IOException("cannot read the fenced server's end of WAL: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Where the last checkpoint begins when the server was shut down cleanly as a primary
     * ({@code pg_controldata}), else null.
     */
    private Long shutdownCheckpoint() throws IOException {
        PgServerControl.Result r = pg.run("pg_controldata", List.of("-D", config.dataDir().toString()),
                Duration.ofSeconds(30));
        Matcher state = Pattern.compile("Database cluster state:\\s+(.+)").matcher(r.output());
        Matcher at = Pattern.compile("Latest checkpoint location:\\s+([0-9A-Fa-f]+/[0-9A-Fa-f]+)").matcher(r.output());
        if (!r.ok() || !state.find() || !state.group(1).strip().equals("shut down") || !at.find()) {
            return null;
        }
        return PgLsn.parse(at.group(1)).value();
    }

    private Connection connect() throws SQLException {
        return pg.connect(state.fenced);
    }

    static boolean inRecovery(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT pg_is_in_recovery()")) {
            r.next();
            return r.getBoolean(1);
        }
    }

    static long lsn(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            if (!r.next() || r.getString(1) == null) {
                return 0;
            }
            return PgLsn.parse(r.getString(1)).value();
        }
    }

    // ---- timeline -----------------------------------------------------------------------------------

    private void requireNoPendingRecover() {
        if (state.recoverPhase != PgAgentState.RecoverPhase.NONE) {
            throw Status.UNAVAILABLE.withDescription(config.nodeName()
                    + " is finishing the interrupted recover of incident "
                    + state.lastRecovery.incident() + " before it serves").asRuntimeException();
        }
    }

    /** The term history of timeline {@code tli}: one entry per timeline of its lineage, from LSN 1. */
    List<long[]> history(int tli) throws IOException {
        Map<Integer, Long> points = PgServerControl.switchpoints(pg.historyFile(tli));
        List<long[]> entries = new ArrayList<>();
        long first = 1;
        for (Map.Entry<Integer, Long> e : points.entrySet()) {
            entries.add(new long[] {e.getKey(), first});
            first = e.getValue() + 1;
        }
        entries.add(new long[] {tli, first});
        // A timeline that ended where it began holds no WAL of its own: the next one covers its start.
        List<long[]> kept = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            if (i + 1 < entries.size() && entries.get(i + 1)[1] <= entries.get(i)[1]) {
                continue;
            }
            kept.add(entries.get(i));
        }
        return kept;
    }

    /** The node's last LSN as the protocol means it (pinned while fenced, the target once recovered). */
    long lastLsn(Connection c) throws SQLException {
        if (state.recoveredNotRejoined) {
            return state.lastRecovery.target();
        }
        boolean recovery = inRecovery(c);
        if (!recovery) {
            if (state.fenced && state.fencedLastLsn > 0) {
                return state.fencedLastLsn;
            }
            return lsn(c, "SELECT pg_current_wal_lsn()");
        }
        return Math.max(lsn(c, "SELECT pg_last_wal_replay_lsn()"), 0);
    }

    Timeline timeline() throws IOException, SQLException {
        synchronized (lock) {
            requireNoPendingRecover();
            int tli = pg.timeline();
            try (Connection c = connect()) {
                boolean recovery = inRecovery(c);
                long last = lastLsn(c);
                Role role = state.fenced ? Role.ROLE_DETACHED : recovery ? Role.ROLE_REPLICA : Role.ROLE_PRIMARY;
                Timeline.Builder t = Timeline.newBuilder()
                        .setNode(config.nodeName())
                        .setRole(role)
                        .setCurrentTerm(Math.max(state.highestTerm, tli))
                        .setLastLsn(last)
                        .setCommitLsn(Math.min(state.commitLsn, last))
                        .setRollbackId(state.rollbackId)
                        .setFenced(state.fenced)
                        .setLastRecoveryIncident(state.lastRecovery.incident())
                        .setLastRecoveryTargetLsn(state.lastRecovery.target())
                        .setLastRecoveryFileSha256(state.lastRecovery.fileSha256())
                        .setFollowing(role == Role.ROLE_REPLICA ? state.following : "")
                        .setProtocolVersion(AgentProtos.PROTOCOL_VERSION)
                        .setLsnKind(LsnKind.LSN_KIND_POSITIONS);
                for (long[] e : history(tli)) {
                    // A recovered node's log ends at the fork: the timeline it will follow has no WAL of it yet.
                    if (e[1] <= Math.max(last, 1)) {
                        t.addHistory(TermHistoryEntry.newBuilder().setTerm(e[0]).setFirstLsn(e[1]));
                    }
                }
                return t.build();
            }
        }
    }

    /** The term history entry that holds {@code lsn}: the term of a record there. */
    static long termAt(List<long[]> history, long lsn) {
        long term = history.get(0)[0];
        for (long[] e : history) {
            if (e[1] <= lsn) {
                term = e[0];
            }
        }
        return term;
    }

    // ---- terms ----------------------------------------------------------------------------------------

    static void validate(long term, String incident) {
        AgentRequests.requireTermAndIncident(term, incident);
    }

    static StatusRuntimeException invalid(String message) {
        return AgentRequests.invalid(message);
    }

    private static StatusRuntimeException precondition(ErrorReason reason, String message) {
        return AgentErrors.error(Status.Code.FAILED_PRECONDITION, reason, message);
    }

    /** Refuses a stale term, adopts a higher one durably. The file RPCs' term check too. */
    void admitTerm(long term, String incident) throws IOException {
        validate(term, incident);
        synchronized (lock) {
            requireCurrentTerm(term);
            if (term > state.highestTerm) {
                state.highestTerm = term;
                state.save();
            }
        }
    }

    /** STALE_TERM when {@code term} is below the highest this node has seen; adopts nothing. */
    private void requireCurrentTerm(long term) throws IOException {
        long current = Math.max(state.highestTerm, pg.timeline());
        if (term < current) {
            throw precondition(ErrorReason.STALE_TERM, "term " + term + " is below " + config.nodeName()
                    + "'s current term " + current);
        }
    }

    // ---- Fence --------------------------------------------------------------------------------------

    Timeline fence(long term, String incident) throws IOException, SQLException {
        validate(term, incident);
        synchronized (lock) {
            requireNoPendingRecover();
            long current = Math.max(state.highestTerm, pg.timeline());
            if (term < current) {
                throw precondition(ErrorReason.STALE_TERM, "term " + term + " is below " + config.nodeName()
                        + "'s current term " + current);
            }
            if (!state.fenced) {
                try (Connection c = connect()) {
                    if (!inRecovery(c) && pg.timeline() == term) {
                        throw precondition(ErrorReason.LIVE_PRIMARY, config.nodeName() + " is the primary of term "
                                + term + ": only a higher term fences it");
                    }
                }
            }
            if (term > state.highestTerm) {
                state.highestTerm = term;
            }
            if (!state.fenced) {
                state.fenced = true;
                state.fenceIncident = incident;
                state.fencedLastLsn = 0;
            }
            state.save(); // the fence is durable before the server changes: a restart keeps it
            ensureServer();
        }
        return timeline();
    }

    // ---- RecoverToLsn ---------------------------------------------------------------------------------

    /** What RecoverToLsn answers. */
    record Recovered(long rollbackId, long lastLsn, boolean alreadyDone) {
    }

    Recovered recover(long target, long expectedLast, long term, String incident, String fileSha256)
            throws IOException, SQLException {
        validate(term, incident);
        if (target > expectedLast) {
            throw invalid("target LSN " + PgLsn.of(target) + " is above expected_last_lsn " + PgLsn.of(expectedLast));
        }
        if (!AgentRequests.isSha256Hex(fileSha256)) {
            throw invalid("expected_rollback_file_sha256 must be 64 lower-case hex digits");
        }
        synchronized (lock) {
            admitTerm(term, incident);
            if (incident.equals(state.lastRecovery.incident())) {
                if (!state.lastRecovery.sameRequest(target, expectedLast, fileSha256)) {
                    throw precondition(ErrorReason.RECOVER_CONFLICT,
                            "incident " + incident + " recovered " + config.nodeName()
                            + " to " + state.lastRecovery.target() + " (last LSN " + state.lastRecovery.expectedLast()
                            + ", file " + state.lastRecovery.fileSha256() + "); this call asks otherwise");
                }
                if (state.recoverPhase != PgAgentState.RecoverPhase.NONE) {
                    finishRecover();
                }
                return new Recovered(state.rollbackId, target, true);
            }
            requireNoPendingRecover();
            if (!state.fenced) {
                throw precondition(ErrorReason.NOT_FENCED, config.nodeName() + " is not fenced");
            }
            long last;
            int tli = pg.timeline();
            try (Connection c = connect()) {
                last = lastLsn(c);
            }
            if (expectedLast != last) {
                throw precondition(ErrorReason.LOG_CHANGED, config.nodeName() + "'s last LSN is " + PgLsn.of(last)
                        + ", not the expected " + PgLsn.of(expectedLast));
            }
            if (target < state.commitLsn) {
                throw precondition(ErrorReason.BELOW_COMMIT, "LSN " + PgLsn.of(target) + " is below "
                        + config.nodeName() + "'s commit LSN " + PgLsn.of(state.commitLsn));
            }
            if (target > last) {
                throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.RANGE_NOT_IN_LOG, "LSN "
                        + PgLsn.of(target) + " is above " + config.nodeName() + "'s last LSN " + PgLsn.of(last));
            }
            Primary source = primaryAmongPeers();
            Long switchpoint = source.switchpoints().get(tli);
            if (source.timeline() == tli || switchpoint == null || switchpoint != target) {
                throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.RANGE_NOT_IN_LOG, "pg_rewind from "
                        + source.address() + " (timeline " + source.timeline() + ") takes " + config.nodeName()
                        + " to " + (switchpoint == null || source.timeline() == tli ? "no fork of its timeline " + tli
                        : PgLsn.of(switchpoint)) + ", not to " + PgLsn.of(target));
            }
            // The durable intent first: the rollback id rises once per incident, before anything is removed.
            state.rollbackId++;
            state.lastRecovery = new RecoveryRecord(incident, target, expectedLast, fileSha256);
            state.recoverPhase = PgAgentState.RecoverPhase.BEGUN;
            state.recoverTimeline = tli;
            state.save();
            finishRecover();
            return new Recovered(state.rollbackId, target, false);
        }
    }

    /** Where a recover stands on disk: the copies a rerun of pg_rewind starts from. */
    private Path savedDir() {
        return config.stateDir().resolve("rewind-" + state.lastRecovery.incident());
    }

    /**
     * Takes the recover of the state's incident from its recorded phase to its end. Every phase is
     * recorded before the next begins, so a crash anywhere resumes here.
     */
    void finishRecover() throws IOException, SQLException {
        if (state.recoverPhase == PgAgentState.RecoverPhase.BEGUN) {
            stopCleanly();
            Primary source = primaryAmongPeers();
            checkpoint(source);
            PgServerControl.Result dry = rewind(source, true);
            Matcher m = REWIND_CHECKPOINT.matcher(dry.output());
            if (!dry.ok()) {
                throw new IOException("pg_rewind --dry-run failed (exit " + dry.exitCode() + "): "
                        + dry.output().strip());
            }
            long checkpoint = m.find() ? PgLsn.parse(m.group(1)).value() : 0;
            saveAside(checkpoint);
            state.recoverPhase = PgAgentState.RecoverPhase.SAVED;
            state.save();
        }
        if (state.recoverPhase == PgAgentState.RecoverPhase.SAVED) {
            pg.stop();
            restoreSaved();
            Primary source = primaryAmongPeers();
            checkpoint(source);
            PgServerControl.Result r = rewind(source, false);
            if (!r.ok()) {
                throw new IOException("pg_rewind failed (exit " + r.exitCode() + "): " + r.output().strip());
            }
            LOG.info(config.nodeName() + ": pg_rewind from " + source.address() + ": " + r.output().strip());
            afterRewind.run();
            putBackOwnConfig();
            state.recoverPhase = PgAgentState.RecoverPhase.REWOUND;
            state.recoveredNotRejoined = true;
            state.save();
        }
        if (state.recoverPhase == PgAgentState.RecoverPhase.REWOUND) {
            // A fenced standby with no upstream: it replays what pg_rewind brought to a consistent state
            // and serves reads through the private socket only. It can only if its WAL reaches the minimum
            // recovery point pg_rewind set: the source's position at the end of the rewind, which a segment
            // pg_rewind copied earlier need not hold yet (the source writes on: a running-transactions record,
            // the CHECKPOINT). Without it the start waits for WAL that never comes.
            if (!pg.running()) {
                completeWalToMinRecoveryPoint(primaryAmongPeers());
            }
            ensureServer();
            deleteTree(savedDir());
            state.recoverPhase = PgAgentState.RecoverPhase.NONE;
            state.save();
        }
    }

    /**
     * Stops the server and leaves its data directory shut down cleanly, as pg_rewind wants it: one that was not
     * (the server killed, its pod with it, after the recover began) is started fenced for its crash recovery and
     * stopped again. pg_rewind runs that recovery itself, but not in its {@code --dry-run}, which refuses such a
     * target ("target server must be shut down cleanly"): the recover would never get past it.
     */
    private void stopCleanly() throws IOException {
        pg.stop();
        String cluster = clusterState();
        if (!cluster.equals("shut down") && !cluster.equals("shut down in recovery")) {
            LOG.info(config.nodeName() + ": the data directory was not shut down cleanly (" + cluster
                    + "): crash recovery, fenced, before pg_rewind");
            pg.start(true);
            pg.stop();
        }
    }

    /**
     * Copies from the source, again, the WAL segments from the last one pg_rewind brought on the minimum recovery
     * point's timeline to the one that holds that point: read now, they hold it (the source wrote it before
     * pg_rewind read its position). Idempotent; nothing to do when the data directory has no minimum recovery point.
     */
    private void completeWalToMinRecoveryPoint(Primary source) throws IOException, SQLException {
        PgServerControl.Result r = pg.run("pg_controldata", List.of("-D", config.dataDir().toString()),
                Duration.ofSeconds(30));
        Matcher at = Pattern.compile("Minimum recovery ending location:\\s+([0-9A-Fa-f]+/[0-9A-Fa-f]+)")
                .matcher(r.output());
        Matcher tli = Pattern.compile("Min recovery ending loc's timeline:\\s+([0-9]+)").matcher(r.output());
        if (!r.ok() || !at.find() || !tli.find()) {
            throw new IOException("pg_controldata gave no minimum recovery point: " + r.output().strip());
        }
        long minRecovery = PgLsn.parse(at.group(1)).value();
        List<String> local;
        Path wal = config.dataDir().resolve("pg_wal");
        try (var list = Files.list(wal)) {
            local = list.map(f -> f.getFileName().toString()).toList();
        }
        List<String> fetch = segmentsToComplete(local, Integer.parseInt(tli.group(1)), minRecovery, walSegmentSize());
        if (fetch.isEmpty()) {
            return;
        }
        try (Connection c = pg.connectPeer(source.address(), config.superuser());
                PreparedStatement s = c.prepareStatement("SELECT pg_read_binary_file(?)")) {
            for (String name : fetch) {
                s.setString(1, "pg_wal/" + name);
                byte[] data;
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    data = rs.getBytes(1);
                }
                Path tmp = wal.resolve(name + ".dbrollback.tmp");
                Files.write(tmp, data);
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                Files.move(tmp, wal.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        DurableProperties.fsyncDirectory(wal);
        LOG.info(config.nodeName() + ": WAL segments " + fetch + " copied again from " + source.address()
                + ", to reach the minimum recovery point " + PgLsn.of(minRecovery));
    }

    /**
     * The WAL segment names to copy again so that the local WAL reaches {@code minRecovery} on timeline {@code tli}:
     * from the highest local segment of that timeline (pg_rewind may have copied it while the source still wrote
     * it) to the one that holds the point; none when there is no such point (0).
     */
    static List<String> segmentsToComplete(List<String> localNames, int tli, long minRecovery, long segmentSize) {
        if (minRecovery == 0) {
            return List.of();
        }
        long perId = 0x100000000L / segmentSize;
        long last = minRecovery / segmentSize;
        long highest = -1;
        for (String n : localNames) {
            Matcher m = WAL_SEGMENT.matcher(n);
            if (m.matches() && Integer.parseInt(m.group(1), 16) == tli) {
                long segno = Long.parseLong(m.group(2), 16) * perId + Long.parseLong(m.group(3), 16);
                if (segno <= last) {
                    highest = Math.max(highest, segno);
                }
            }
        }
        long first = highest < 0 ? last : highest;
        List<String> out = new ArrayList<>();
        for (long seg = first; seg <= last; seg++) {
            out.add(String.format("%08X%08X%08X", tli, seg / perId, seg % perId));
        }
        return out;
    }

    /** The data directory's "Database cluster state" ({@code pg_controldata}): "shut down", "in production"... */
    private String clusterState() throws IOException {
        PgServerControl.Result r = pg.run("pg_controldata", List.of("-D", config.dataDir().toString()),
                Duration.ofSeconds(30));
        Matcher m = Pattern.compile("Database cluster state:\\s+(.+)").matcher(r.output());
        if (!r.ok() || !m.find()) {
            throw new IOException("pg_controldata gave no cluster state: " + r.output().strip());
        }
        return m.group(1).strip();
    }

    private PgServerControl.Result rewind(Primary source, boolean dryRun) throws IOException {
        List<String> args = new ArrayList<>(List.of("--target-pgdata=" + config.dataDir(),
                "--source-server=host=" + source.address().host() + " port=" + source.address().port() + " user="
                        + config.superuser() + " dbname=postgres connect_timeout=10"));
        if (dryRun) {
            args.add("--dry-run");
        }
        return pg.run("pg_rewind", args, Duration.ofMinutes(30));
    }

    /** A CHECKPOINT on the source: until its first one after a promotion, pg_rewind sees the old timeline there. */
    private void checkpoint(Primary source) throws SQLException, IOException {
        try (Connection c = pg.connectPeer(source.address(), config.superuser()); Statement s = c.createStatement()) {
            s.execute("CHECKPOINT");
        }
    }

    /**
     * Copies aside what pg_rewind reads and overwrites: the WAL segments from the last common
     * checkpoint's on, the control file, and the node's own configuration files (fsynced).
     */
    private void saveAside(long checkpoint) throws IOException {
        Path saved = savedDir();
        deleteTree(saved);
        Files.createDirectories(saved.resolve("pg_wal"));
        Files.createDirectories(saved.resolve("global"));
        long segmentSize = walSegmentSize();
        long fromSegment = checkpoint / segmentSize;
        Path wal = config.dataDir().resolve("pg_wal");
        try (var list = Files.list(wal)) {
            for (Path f : (Iterable<Path>) list::iterator) {
                Matcher m = WAL_SEGMENT.matcher(f.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                long segno = Long.parseLong(m.group(2), 16) * (0x100000000L / segmentSize)
                        + Long.parseLong(m.group(3), 16);
                if (segno >= fromSegment) {
                    copyDurably(f, saved.resolve("pg_wal").resolve(f.getFileName()));
                }
            }
        }
        copyDurably(config.dataDir().resolve("global/pg_control"), saved.resolve("global/pg_control"));
        for (String name : OWN_CONFIG) {
            Path f = config.dataDir().resolve(name);
            if (Files.exists(f)) {
                copyDurably(f, saved.resolve(name));
            }
        }
        DurableProperties.fsyncDirectory(saved.resolve("pg_wal"));
        DurableProperties.fsyncDirectory(saved.resolve("global"));
        DurableProperties.fsyncDirectory(saved);
        DurableProperties.fsyncDirectory(config.stateDir());
    }

    /** Puts the saved WAL segments and control file back, as before the first run of pg_rewind. */
    private void restoreSaved() throws IOException {
        Path saved = savedDir();
        try (var list = Files.list(saved.resolve("pg_wal"))) {
            for (Path f : (Iterable<Path>) list::iterator) {
                copyDurably(f, config.dataDir().resolve("pg_wal").resolve(f.getFileName()));
            }
        }
        copyDurably(saved.resolve("global/pg_control"), config.dataDir().resolve("global/pg_control"));
        Files.deleteIfExists(config.dataDir().resolve("backup_label"));
        Files.deleteIfExists(config.dataDir().resolve("standby.signal"));
    }

    /**
     * pg_rewind copied the source's configuration: the node's own files come back, without any upstream
     * (the node follows no one until RejoinAsReplica), and it starts as a standby.
     */
    private void putBackOwnConfig() throws IOException {
        Path saved = savedDir();
        for (String name : OWN_CONFIG) {
            Path f = saved.resolve(name);
            if (Files.exists(f)) {
                copyDurably(f, config.dataDir().resolve(name));
            } else {
                Files.deleteIfExists(config.dataDir().resolve(name));
            }
        }
        writeAutoConf(null, null);
        Files.writeString(config.dataDir().resolve("standby.signal"), "");
        DurableProperties.fsyncDirectory(config.dataDir());
    }

    /**
     * Sets (or, with nulls, empties) primary_conninfo and primary_slot_name in postgresql.auto.conf,
     * keeping its other lines.
     */
    private void writeAutoConf(String conninfo, String slot) throws IOException {
        Path auto = config.dataDir().resolve("postgresql.auto.conf");
        List<String> lines = new ArrayList<>();
        if (Files.exists(auto)) {
            for (String l : Files.readAllLines(auto, StandardCharsets.UTF_8)) {
                String k = l.strip();
                if (!k.startsWith("primary_conninfo") && !k.startsWith("primary_slot_name")) {
                    lines.add(l);
                }
            }
        }
        lines.add("primary_conninfo = '" + (conninfo == null ? "" : conninfo.replace("'", "''")) + "'");
        lines.add("primary_slot_name = '" + (slot == null ? "" : slot) + "'");
        Path tmp = auto.resolveSibling("postgresql.auto.conf.dbrollback.tmp");
        Files.writeString(tmp, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        Files.move(tmp, auto, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private long walSegmentSize() throws IOException {
        PgServerControl.Result r = pg.run("pg_controldata", List.of("-D", config.dataDir().toString()),
                Duration.ofSeconds(30));
        Matcher m = Pattern.compile("Bytes per WAL segment:\\s+([0-9]+)").matcher(r.output());
        if (!r.ok() || !m.find()) {
            throw new IOException("pg_controldata gave no WAL segment size: " + r.output().strip());
        }
        return Long.parseLong(m.group(1));
    }

    private static void copyDurably(Path from, Path to) throws IOException {
        Path tmp = to.resolveSibling(to.getFileName() + ".dbrollback.tmp");
        Files.copy(from, tmp, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        Files.move(tmp, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    // ---- the primary among the peers -------------------------------------------------------------------

    /** A peer that is a primary: its address, timeline, and the switchpoints of its history. */
    record Primary(PgAgentConfig.HostPort address, int timeline, long lsn, Map<Integer, Long> switchpoints) {
    }

    /** The one primary among the peers; UNAVAILABLE when none (or more than one) answers as a primary. */
    Primary primaryAmongPeers() throws IOException {
        return primaryAmong(config.peers().stream().map(PgAgentConfig::hostPort).toList());
    }

    /**
     * The peers at the host of {@code address} (the primary's agent, host:port, as the operator names it):
     * compared by IP address, so that a pod IP finds the peer named by its DNS name. UNAVAILABLE when the
     * host does not resolve or is no peer's.
     */
    List<PgAgentConfig.HostPort> peersAt(String address) {
        String host;
        try {
            host = PgAgentConfig.hostPort(address).host();
        } catch (IllegalArgumentException e) {
            throw invalid("primary_address is not host:port: " + e.getMessage());
        }
        Set<String> ips = resolve(host);
        if (ips.isEmpty()) {
            throw Status.UNAVAILABLE.withDescription("the primary's host " + host + " does not resolve")
                    .asRuntimeException();
        }
        List<PgAgentConfig.HostPort> at = new ArrayList<>();
        for (String p : config.peers()) {
            PgAgentConfig.HostPort peer = PgAgentConfig.hostPort(p);
            if (resolve(peer.host()).stream().anyMatch(ips::contains)) {
                at.add(peer);
            }
        }
        if (at.isEmpty()) {
            throw Status.UNAVAILABLE.withDescription("the primary's host " + host + " is none of the peers "
                    + config.peers()).asRuntimeException();
        }
        return at;
    }

    private static Set<String> resolve(String host) {
        try {
            Set<String> ips = new HashSet<>();
            for (InetAddress a : InetAddress.getAllByName(host)) {
                ips.add(a.getHostAddress());
            }
            return ips;
        } catch (UnknownHostException e) {
            return Set.of();
        }
    }

    /** The one primary among {@code candidates}; UNAVAILABLE when none (or more than one) answers as a primary. */
    Primary primaryAmong(List<PgAgentConfig.HostPort> candidates) throws IOException {
        List<Primary> found = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (PgAgentConfig.HostPort peer : candidates) {
            try (Connection c = pg.connectPeer(peer, config.superuser())) {
                if (inRecovery(c)) {
                    continue;
                }
                int tli;
                long lsn;
                try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(
                        "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), pg_current_wal_lsn()")) {
                    r.next();
                    tli = Integer.parseInt(r.getString(1), 16);
                    lsn = PgLsn.parse(r.getString(2)).value();
                }
                String history = "";
                if (tli > 1) {
                    try (PreparedStatement s = c.prepareStatement("SELECT pg_read_file(?)")) {
                        s.setString(1, String.format("pg_wal/%08X.history", tli));
                        try (ResultSet r = s.executeQuery()) {
                            r.next();
                            history = r.getString(1);
                        }
                    }
                }
                found.add(new Primary(peer, tli, lsn, PgServerControl.switchpoints(history)));
            } catch (SQLException e) {
                problems.add(peer + ": " + e.getMessage());
            }
        }
        if (found.size() != 1) {
            throw Status.UNAVAILABLE.withDescription((found.isEmpty() ? "no primary" : found.size() + " primaries")
                    + " among the peers " + candidates + (problems.isEmpty() ? "" : "; " + problems))
                    .asRuntimeException();
        }
        return found.get(0);
    }

    // ---- RejoinAsReplica ----------------------------------------------------------------------------------

    Timeline rejoin(String primaryAddress, long term, String incident) throws IOException, SQLException,
            InterruptedException {
        validate(term, incident);
        if (primaryAddress == null || primaryAddress.isBlank()) {
            throw invalid("primary_address is empty");
        }
        synchronized (lock) {
            requireNoPendingRecover();
            // STALE_TERM first; a higher term is adopted only once the primary has let the rejoin through, so that a
            // refused rejoin (LOG_DIVERGED, UNAVAILABLE) leaves the node as it was, its term included.
            requireCurrentTerm(term);
            Primary primary = primaryAmong(peersAt(primaryAddress));
            int tli = pg.timeline();
            long last;
            try (Connection c = connect()) {
                last = lastLsn(c);
            }
            Long switchpoint = primary.switchpoints().get(tli);
            boolean prefix = primary.timeline() == tli ? last <= primary.lsn()
                    : switchpoint != null && last <= switchpoint;
            if (!prefix) {
                throw precondition(ErrorReason.LOG_DIVERGED, "the primary " + primary.address() + " (timeline "
                        + primary.timeline() + ") does not hold " + config.nodeName() + "'s log (timeline " + tli
                        + ", last LSN " + PgLsn.of(last) + ") as a prefix" + (switchpoint == null ? ""
                        : ": it left timeline " + tli + " at " + PgLsn.of(switchpoint)));
            }
            try (Connection c = pg.connectPeer(primary.address(), config.superuser());
                    PreparedStatement s = c.prepareStatement("SELECT pg_create_physical_replication_slot(?, true)"
                            + " WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ?)")) {
                s.setString(1, config.physicalSlot());
                s.setString(2, config.physicalSlot());
                s.execute();
            }
            String conninfo = "host=" + primary.address().host() + " port=" + primary.address().port() + " user="
                    + config.replicationUser() + (config.passfile() == null ? "" : " passfile=" + config.passfile())
                    + " application_name=" + config.physicalSlot();
            admitTerm(term, incident);
            writeAutoConf(conninfo, config.physicalSlot());
            Files.writeString(config.dataDir().resolve("standby.signal"), "");
            state.fenced = false;
            state.fencedLastLsn = 0;
            state.recoveredNotRejoined = false;
            state.following = primaryAddress;
            state.save();
            ensureServer();
            awaitStreaming(Duration.ofSeconds(60));
            // the answer shows this rejoin: taken before a concurrent fence can change the state
            return timeline();
        }
    }

    private void awaitStreaming(Duration timeout) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String status = null;
        while (System.nanoTime() < deadline) {
            try (Connection c = connect(); Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT status FROM pg_stat_wal_receiver")) {
                status = r.next() ? r.getString(1) : null;
                if ("streaming".equals(status)) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        throw Status.UNAVAILABLE.withDescription(config.nodeName() + " does not stream from its primary within "
                + timeout.toSeconds() + " s (WAL receiver: " + (status == null ? "none" : status) + "); server log: "
                + pg.logTail()).asRuntimeException();
    }

    // ---- maintenance on a primary ----------------------------------------------------------------------

    /**
     * On an unfenced primary: keeps the logical slot (created when missing), raises the commit LSN to
     * what a majority has flushed, and advances the slot to what every standby's physical slot has
     * flushed (never when a position is unknown). Finishes an interrupted recover. On every node: starts
     * the server again, as the state says (fenced when fenced), when it died on its own.
     */
    void maintain() {
        try {
            synchronized (lock) {
                if (closed) {
                    return;
                }
                if (state.recoverPhase != PgAgentState.RecoverPhase.NONE) {
                    finishRecover();
                    ensureServer();
                    return;
                }
                if (pg.certainlyDown()) {
                    // The OOM killer, a crash: nothing of the agent stopped it. Started again through crash
                    // recovery, fenced when the node is fenced (the fence is in the state, not in the process).
                    LOG.log(Level.WARNING, config.nodeName() + ": the PostgreSQL server is not running; starting it"
                            + (state.fenced ? " fenced" : ""));
                    ensureServer();
                }
                if (state.fenced) {
                    return;
                }
            }
            try (Connection c = pg.connect(false)) {
                if (inRecovery(c)) {
                    return;
                }
                ensureSlot(c);
                long commit = majorityFlushed(c);
                synchronized (lock) {
                    if (!state.fenced && commit > state.commitLsn) {
                        state.commitLsn = commit;
                        state.save();
                    }
                }
                advanceSlot(c);
            }
            report(null);
        } catch (IOException | SQLException | RuntimeException e) {
            report(e.getMessage());
        }
    }

    private void report(String problem) {
        if (problem != null && !problem.equals(maintenanceProblem)) {
            LOG.log(Level.WARNING, config.nodeName() + ": " + problem);
        }
        maintenanceProblem = problem;
    }

    private void ensureSlot(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM pg_replication_slots WHERE slot_name = ?")) {
            s.setString(1, config.slot());
            try (ResultSet r = s.executeQuery()) {
                if (r.next()) {
                    return;
                }
            }
        }
        try (Statement t = c.createStatement()) {
            // Creating a slot waits for the transactions running now: bounded, tried again next time.
            t.execute("SET statement_timeout = '10s'");
            try (PreparedStatement s = c.prepareStatement("SELECT pg_create_logical_replication_slot(?, 'wal2json')")) {
                s.setString(1, config.slot());
                s.execute();
            } finally {
                t.execute("RESET statement_timeout");
            }
        }
        LOG.info(config.nodeName() + ": logical slot " + config.slot() + " created");
    }

    /** The highest position a majority of the members (this one and its peers) has flushed, or 0. */
    private long majorityFlushed(Connection c) throws SQLException {
        List<Long> flushed = new ArrayList<>();
        flushed.add(lsn(c, "SELECT pg_current_wal_flush_lsn()"));
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(
                "SELECT flush_lsn FROM pg_stat_replication WHERE flush_lsn IS NOT NULL")) {
            while (r.next()) {
                flushed.add(PgLsn.parse(r.getString(1)).value());
            }
        }
        int members = config.peers().size() + 1;
        int majority = members / 2 + 1;
        if (flushed.size() < majority) {
            return 0;
        }
        flushed.sort(Comparator.reverseOrder());
        return flushed.get(majority - 1);
    }

    private void advanceSlot(Connection c) throws SQLException {
        long min = Long.MAX_VALUE;
        int physical = 0;
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(
                "SELECT restart_lsn FROM pg_replication_slots WHERE slot_type = 'physical'")) {
            while (r.next()) {
                physical++;
                if (r.getString(1) == null) {
                    return; // a standby whose position is unknown: the slot stays
                }
                min = Math.min(min, PgLsn.parse(r.getString(1)).value());
            }
        }
        if (physical == 0) {
            return;
        }
        long confirmed;
        try (PreparedStatement s = c.prepareStatement(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
            s.setString(1, config.slot());
            try (ResultSet r = s.executeQuery()) {
                if (!r.next() || r.getString(1) == null) {
                    return;
                }
                confirmed = PgLsn.parse(r.getString(1)).value();
            }
        }
        if (min > confirmed) {
            try (PreparedStatement s = c.prepareStatement("SELECT pg_replication_slot_advance(?, ?::pg_lsn)")) {
                s.setString(1, config.slot());
                s.setString(2, PgLsn.of(min).toString());
                s.execute();
            }
        }
    }
}
