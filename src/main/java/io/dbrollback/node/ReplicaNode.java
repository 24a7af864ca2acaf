package io.dbrollback.node;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.AgentRequests;
import io.dbrollback.agent.RecoveryRecord;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.Operation;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The reference replica node: a small but real replicated key-value store that speaks the rollback
 * agent protocol. Versions are stamped with (term, LSN) in an fsynced append-only log; a primary
 * ships its log to replicas, which pull it over gRPC and acknowledge what they made durable; the
 * primary derives the majority-commit LSN from those acknowledgements. Promotion takes a new term.
 * Recover-to-LSN bumps the rollback id durably before it removes anything and finishes on restart
 * if the process died in the middle.
 *
 * <p>One lock guards the state; the log file is read outside it for tail streams. The gRPC services
 * ({@link AgentService}, {@link NodeService}) and the replication puller ({@link Replicator}) call
 * into the methods below.
 */
public final class ReplicaNode implements AutoCloseable {

    /**
     * How to run a node.
     *
     * @param host the address to bind and to announce
     * @param port 0 for an ephemeral port
     * @param clusterSize how many nodes the replica set has (majority = clusterSize / 2 + 1)
     * @param recoverPauseMillis test hook: after the rollback-id bump of a recover, print
     *     {@code RECOVER_PAUSED} on stdout and sleep this long (0: never)
     * @param tailPauseMillis test hook: after the first chunk of a divergent-tail stream went out
     *     (before the rest and the trailer), print {@code TAIL_PAUSED} on stdout and sleep this long
     *     (0: never)
     * @param writePauseMillis test hook: after the first data message of a WriteRollbackFile call is
     *     in its temporary file (before the end message, the fsync and the link), print
     *     {@code WRITE_PAUSED} on stdout and sleep this long (0: never)
     * @param rollbackDir where the agent writes rollback files (WriteRollbackFile); created with mode
     *     0700 on first use; {@code dataDir/rollback} when null
     * @param tls the node's TLS (both services, and replication from its peers); null serves plaintext
     */
    public record Config(String name, String host, int port, Path dataDir, int clusterSize, long recoverPauseMillis,
            long tailPauseMillis, long writePauseMillis, Path rollbackDir, NodeTls.Config tls) {
        public Config {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(dataDir, "dataDir");
            if (clusterSize < 1) {
                throw new IllegalArgumentException("clusterSize is at least 1");
            }
            if (rollbackDir == null) {
                rollbackDir = dataDir.resolve("rollback");
            }
        }

        /** Loopback, ephemeral port, no test hooks, rollback files in {@code dataDir/rollback}. */
        public static Config of(String name, Path dataDir, int clusterSize) {
            return new Config(name, "127.0.0.1", 0, dataDir, clusterSize, 0, 0, 0, null, null);
        }

        public Config withRecoverPause(long millis) {
            return new Config(name, host, port, dataDir, clusterSize, millis, tailPauseMillis, writePauseMillis,
                    rollbackDir, tls);
        }

        public Config withTailPause(long millis) {
            return new Config(name, host, port, dataDir, clusterSize, recoverPauseMillis, millis, writePauseMillis,
                    rollbackDir, tls);
        }

        public Config withWritePause(long millis) {
            return new Config(name, host, port, dataDir, clusterSize, recoverPauseMillis, tailPauseMillis, millis,
                    rollbackDir, tls);
        }

        public Config withRollbackDir(Path dir) {
            return new Config(name, host, port, dataDir, clusterSize, recoverPauseMillis, tailPauseMillis,
                    writePauseMillis, dir, tls);
        }

        /** The same node serving TLS (mutual when {@code tls} names a client CA). */
        public Config withTls(NodeTls.Config tls) {
            return new Config(name, host, port, dataDir, clusterSize, recoverPauseMillis, tailPauseMillis,
                    writePauseMillis, rollbackDir, tls);
        }
    }

    private final Config config;
    private final Clock clock;
    final Object lock = new Object();
    final NodeLog log;
    final NodeState state;
    private final TreeMap<Bytes, Bytes> data = new TreeMap<>(ReplicaNode::compareBytes);
    private final Map<String, Long> acks = new HashMap<>();
    volatile boolean isolated;
    final RollbackFileFaults rollbackFileFaults = new RollbackFileFaults();
    final RollbackFiles rollbackFiles;
    /** Tail records handed to gRPC so far, over all streams: what a slow reader can hold back. */
    final AtomicLong tailRecordsSent = new AtomicLong();
    private Server server;
    private Replicator replicator;
    private NodeTls tls;
    private volatile Runnable recoverHook;

    private ReplicaNode(Config config, Clock clock) throws IOException {
        this.config = config;
        this.clock = clock;
        Files.createDirectories(config.dataDir());
        this.log = NodeLog.open(config.dataDir());
        this.state = NodeState.load(config.dataDir());
        this.rollbackFiles = new RollbackFiles(this::admitTerm, () -> config.writePauseMillis(), config.rollbackDir(),
                rollbackFileFaults);
        if (state.recoveryPending) {
            finishRecovery();
        }
        for (long lsn = 1; lsn <= log.lastLsn(); lsn++) {
            apply(data, log.read(lsn));
        }
        // A node keeps its term: a log holding a higher term than the state saw adopts it.
        long lastTerm = log.termAt(log.lastLsn());
        if (lastTerm > state.currentTerm) {
            state.currentTerm = lastTerm;
            state.save();
        }
    }

    /** Opens the node's data, finishes an interrupted recover, and serves both services. */
    public static ReplicaNode start(Config config) throws IOException {
        return start(config, Clock.systemUTC());
    }

    public static ReplicaNode start(Config config, Clock clock) throws IOException {
        ReplicaNode node = new ReplicaNode(config, clock);
        InetSocketAddress address = new InetSocketAddress(config.host(), config.port());
        try {
            if (config.tls() != null) {
                node.tls = NodeTls.load(config.tls(), config.name());
            }
            NettyServerBuilder builder = NettyServerBuilder.forAddress(address);
            if (node.tls != null) {
                builder.sslContext(node.tls.serverContext()).intercept(node.tls.clientCheck());
            }
            node.server = builder
                    .addService(new AgentService(node))
                    .addService(new NodeService(node))
                    .build()
                    .start();
        } catch (IOException | RuntimeException e) {
            node.close();
            throw e;
        }
        node.replicator = new Replicator(node, node.tls);
        node.replicator.start();
        return node;
    }

    public String name() {
        return config.name();
    }

    /**
     * Test hook for in-process nodes: runs inside every recover right after its durable intent and
     * rollback-id bump, before anything is removed, with the node's lock held (the node is busy, as
     * during a long recover). A hook that blocks holds the recover there. Null removes it.
     */
    public void onRecoverBegun(Runnable hook) {
        this.recoverHook = hook;
    }

    public int port() {
        return server.getPort();
    }

    /** host:port of both services (agent and replication). */
    public String address() {
        return config.host() + ":" + port();
    }

    Config config() {
        return config;
    }

    /** Where the agent writes rollback files. */
    public Path rollbackDir() {
        return rollbackFiles.directory();
    }

    /** Test hook: faults for the next WriteRollbackFile call. */
    public RollbackFileFaults rollbackFileFaults() {
        return rollbackFileFaults;
    }

    /** Tail records handed to the transport so far (all ReadDivergentTail streams). */
    public long tailRecordsSent() {
        return tailRecordsSent.get();
    }

    /**
     * Test hook: stops the node as a killed process would stop, for the rollback file calls: the calls
     * running now are not told, so their temporary files stay behind (what a later call's begin
     * removes). Everything else is durable at every step anyway, so the rest is {@link #close()}.
     */
    public void halt() {
        rollbackFiles.halt();
        close();
    }

    @Override
    public void close() {
        if (replicator != null) {
            replicator.stop();
        }
        if (server != null) {
            server.shutdownNow();
            try {
                server.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (tls != null) {
            tls.close();
        }
        try {
            log.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- state ---------------------------------------------------------------------------------

    Timeline timeline() {
        synchronized (lock) {
            Timeline.Builder b = Timeline.newBuilder()
                    .setNode(config.name())
                    .setRole(AgentProtos.toProto(state.role))
                    .setCurrentTerm(state.currentTerm)
                    .setLastLsn(log.lastLsn())
                    .setCommitLsn(Math.min(state.commitLsn, log.lastLsn()))
                    .setRollbackId(state.rollbackId)
                    .setFenced(state.fenced)
                    .setLastRecoveryIncident(state.lastRecovery.incident())
                    .setLastRecoveryTargetLsn(state.lastRecovery.target())
                    .setLastRecoveryFileSha256(state.lastRecovery.fileSha256())
                    .setFollowing(state.role == NodeRole.REPLICA ? state.following : "")
                    .setProtocolVersion(AgentProtos.PROTOCOL_VERSION);
            for (TermHistory.Entry e : log.history().entries()) {
                b.addHistory(TermHistoryEntry.newBuilder().setTerm(e.term().value()).setFirstLsn(e.firstLsn().value()));
            }
            return b.build();
        }
    }

    /** Refuses a mutating call below the highest term seen; adopts a higher one (a primary steps down). */
    void checkTerm(long term, String incident) throws IOException {
        validate(term, incident);
        if (term < state.currentTerm) {
            throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.STALE_TERM,
                    config.name() + " has seen term " + state.currentTerm + "; the call carries term " + term);
        }
        if (term > state.currentTerm) {
            state.currentTerm = term;
            if (state.role == NodeRole.PRIMARY) {
                state.role = NodeRole.DETACHED;
            }
        }
    }

    /**
     * The term check of a mutating call that does not touch the log (the rollback file RPCs): a
     * stale term is refused, a higher one adopted durably before the call goes on.
     */
    void admitTerm(long term, String incident) throws IOException {
        synchronized (lock) {
            long before = state.currentTerm;
            NodeRole role = state.role;
            checkTerm(term, incident);
            if (state.currentTerm != before || state.role != role) {
                state.save();
            }
        }
    }

    /**
     * Malformed requests are refused before the term is looked at, so they adopt nothing. An incident
     * id is a plain identifier ({@link RollbackFileName#isIncidentId}); upper case is refused, never
     * lower-cased, so that one incident has one spelling.
     */
    static void validate(long term, String incident) {
        AgentRequests.requireTermAndIncident(term, incident);
    }

    private static StatusRuntimeException invalid(String message) {
        return AgentRequests.invalid(message);
    }

    static boolean isSha256Hex(String s) {
        return AgentRequests.isSha256Hex(s);
    }

    /** A refusal after the term check: the adopted term is made durable first (the one change allowed). */
    private StatusRuntimeException refuse(ErrorReason reason, String message) throws IOException {
        state.save();
        return AgentErrors.error(Status.Code.FAILED_PRECONDITION, reason, message);
    }

    Timeline fence(long term, String incident) throws IOException {
        synchronized (lock) {
            checkTerm(term, incident);
            if (state.role == NodeRole.PRIMARY && term == state.currentTerm) {
                // A live primary is deposed only by a higher term; under its own term a Fence is a mistake.
                throw refuse(ErrorReason.LIVE_PRIMARY, config.name() + " is the primary of term " + term
                        + "; a live primary is fenced only under a higher term");
            }
            state.fenced = true;
            state.role = NodeRole.DETACHED;
            state.save();
        }
        return timeline();
    }

    /** Result of a recover: the rollback id after it, the last LSN, and whether it was a retry. */
    record Recovered(long rollbackId, long lastLsn, boolean alreadyDone) {
    }

    Recovered recover(long target, long expectedLast, long term, String incident, String fileSha256)
            throws IOException, InterruptedException {
        validate(term, incident);
        if (target > expectedLast) {
            throw invalid("target LSN " + target + " is above expected_last_lsn " + expectedLast);
        }
        if (!isSha256Hex(fileSha256)) {
            throw invalid("expected_rollback_file_sha256 must be the rollback file's SHA-256 as 64 "
                    + "lower-case hex digits");
        }
        synchronized (lock) {
            checkTerm(term, incident);
            if (incident.equals(state.lastRecovery.incident())) {
                if (!state.lastRecovery.sameRequest(target, expectedLast, fileSha256)) {
                    throw refuse(ErrorReason.RECOVER_CONFLICT, "incident " + incident + " recovered to LSN "
                            + state.lastRecovery.target() + " expecting last LSN " + state.lastRecovery.expectedLast()
                            + " with file " + state.lastRecovery.fileSha256() + "; this call asks for LSN " + target
                            + " expecting " + expectedLast + " with file " + fileSha256);
                }
                if (state.recoveryPending) {
                    finishRecovery();
                }
                state.save();
                // The recorded outcome, even if the node has caught up since (a late retry removes nothing).
                return new Recovered(state.rollbackId, state.lastRecovery.target(), true);
            }
            if (!state.fenced) {
                throw refuse(ErrorReason.NOT_FENCED, config.name() + " is not fenced; fence it before recovering");
            }
            if (log.lastLsn() != expectedLast) {
                // Also what a recover of an incident that another incident's recover overtook meets: v1 never
                // answers INCIDENT_SUPERSEDED (nothing tells a node when an incident began).
                throw refuse(ErrorReason.LOG_CHANGED, config.name() + " is at LSN " + log.lastLsn()
                        + ", the recover expects " + expectedLast);
            }
            if (target < state.commitLsn) {
                throw refuse(ErrorReason.BELOW_COMMIT, "target LSN " + target + " is below the majority-commit LSN "
                        + state.commitLsn);
            }
            if (target > log.lastLsn()) {
                // Last, as the protocol orders it: a node that can no longer reach target_lsn (compaction).
                // The reference node keeps its whole log, so after LOG_CHANGED this never fires; it stays
                // so that a change to the checks above cannot make the node cut below what it was asked.
                throw refuse(ErrorReason.RANGE_NOT_IN_LOG, "target LSN " + target + " is above the last LSN "
                        + log.lastLsn());
            }
            // 1. The intent and the new rollback id are durable before anything is removed. A recover
            // that removes nothing (target == last LSN) is an incident all the same: the id still rises.
            state.rollbackId++;
            state.lastRecovery = new RecoveryRecord(incident, target, expectedLast, fileSha256);
            state.recoveryPending = true;
            state.save();
            if (config.recoverPauseMillis() > 0) {
                System.out.println("RECOVER_PAUSED " + incident);
                System.out.flush();
                Thread.sleep(config.recoverPauseMillis());
            }
            Runnable hook = recoverHook;
            if (hook != null) {
                hook.run();
            }
            // 2. Restore the pre-images, newest first, then cut the log; 3. record completion.
            for (long lsn = log.lastLsn(); lsn > target; lsn--) {
                undo(data, log.read(lsn));
            }
            finishRecovery();
            return new Recovered(state.rollbackId, log.lastLsn(), false);
        }
    }

    /** Cuts the log to the recorded target and clears the pending mark; idempotent. */
    private void finishRecovery() throws IOException {
        if (log.lastLsn() > state.lastRecovery.target()) {
            log.truncateTo(state.lastRecovery.target());
            data.clear();
            for (long lsn = 1; lsn <= log.lastLsn(); lsn++) {
                apply(data, log.read(lsn));
            }
        }
        state.recoveryPending = false;
        state.save();
    }

    /** How often a rejoin asks the primary again when this node's log moved while it asked. */
    private static final int REJOIN_ATTEMPTS = 3;

    /**
     * Follows {@code primaryAddress} after checking, over the replication protocol, that the primary's
     * log holds this node's log as a prefix (the term of its record at this node's last LSN): a node
     * never follows a primary it would have to overwrite records to follow. The primary is asked
     * outside the lock (a network call must not stall GetTimeline); the answer counts only if this
     * node's log did not move meanwhile. Nothing changes on a refusal, not even the term.
     */
    Timeline rejoin(String primaryAddress, long term, String incident) throws IOException {
        validate(term, incident);
        if (primaryAddress == null || primaryAddress.isBlank()) {
            throw invalid("primary_address is required");
        }
        for (int attempt = 1; ; attempt++) {
            long last;
            long lastTerm;
            synchronized (lock) {
                if (term < state.currentTerm) {
                    checkTerm(term, incident); // STALE_TERM, before the primary is asked
                }
                last = log.lastLsn();
                lastTerm = log.termAt(last);
            }
            requirePrefixOf(primaryAddress, last, lastTerm);
            synchronized (lock) {
                if (log.lastLsn() != last || log.termAt(last) != lastTerm) {
                    if (attempt < REJOIN_ATTEMPTS) {
                        continue;
                    }
                    throw Status.UNAVAILABLE.withDescription(config.name() + "'s log kept moving while "
                            + primaryAddress + " was asked whether it holds it; nothing changed").asRuntimeException();
                }
                checkTerm(term, incident);
                state.role = NodeRole.REPLICA;
                state.following = primaryAddress;
                state.fenced = false;
                state.save();
                lock.notifyAll();
                // the answer shows this rejoin: taken before a concurrent fence can change the state
                return timeline();
            }
        }
    }

    /**
     * LOG_DIVERGED unless {@code primary}'s log holds LSN {@code last} with {@code lastTerm}; UNAVAILABLE if it cannot
     * tell.
     */
    private void requirePrefixOf(String primary, long last, long lastTerm) {
        if (isolated) {
            throw Status.UNAVAILABLE.withDescription(config.name() + " is isolated and cannot reach " + primary
                    + "; nothing changed").asRuntimeException();
        }
        Replicator.Position p;
        try {
            p = replicator.termAt(primary, last);
        } catch (StatusRuntimeException e) {
            throw Status.UNAVAILABLE.withDescription("cannot ask " + primary + " whether it holds " + config.name()
                    + "'s log (" + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
                    + "); nothing changed")
                    .withCause(e).asRuntimeException();
        }
        if (last > 0 && (p.lastLsn() < last || p.term() != lastTerm)) {
            throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.LOG_DIVERGED, primary
                    + " does not hold " + config.name() + "'s log as a prefix: " + config.name() + "'s record at LSN "
                    + last + " is of term " + lastTerm + ", " + primary + (p.lastLsn() < last ? " ends at LSN "
                    + p.lastLsn() : " has term " + p.term() + " there") + "; nothing changed");
        }
    }

    /**
     * The replication stream found that the followed primary no longer holds this node's log (it
     * answered DIVERGED): the node never overwrites records, so it stops following and fences itself,
     * durably, until a rollback saves and removes its divergent tail.
     */
    void divergedFrom(String primary, String why) throws IOException {
        synchronized (lock) {
            if (state.role != NodeRole.REPLICA || !state.following.equals(primary)) {
                return;
            }
            state.role = NodeRole.DETACHED;
            state.following = "";
            state.fenced = true;
            state.save();
            lock.notifyAll();
        }
        System.err.println("node " + config.name() + " stopped following " + primary + " and fenced itself: " + why);
    }

    // ---- the database's own operations ---------------------------------------------------------

    /** Writes on the primary; each entry is a (key, value) or (key, null) for a delete. */
    long[] write(List<Map.Entry<Bytes, Bytes>> writes) throws IOException {
        synchronized (lock) {
            if (state.role != NodeRole.PRIMARY || state.fenced || state.primaryTerm != state.currentTerm) {
                throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, "NOT_PRIMARY", config.name()
                        + " does not accept writes (role " + state.role + (state.fenced ? ", fenced" : "") + ")");
            }
            List<TailRecord> records = new ArrayList<>(writes.size());
            Map<Bytes, Bytes> view = new HashMap<>();
            long lsn = log.lastLsn();
            for (Map.Entry<Bytes, Bytes> w : writes) {
                Bytes key = w.getKey();
                Bytes old = view.containsKey(key) ? view.get(key) : data.get(key);
                lsn++;
                String tx = config.name() + "-" + state.primaryTerm + "-" + lsn;
                TailRecord r;
                if (w.getValue() == null) {
                    if (old == null) {
                        throw AgentErrors.error(Status.Code.NOT_FOUND, "NO_SUCH_KEY", "no key to delete");
                    }
                    r = new TailRecord(Lsn.of(lsn), Term.of(state.primaryTerm), tx, clock.instant(), Operation.DELETE,
                            key, old, null);
                } else if (old == null) {
                    r = new TailRecord(Lsn.of(lsn), Term.of(state.primaryTerm), tx, clock.instant(), Operation.INSERT,
                            key, null, w.getValue());
                } else {
                    r = new TailRecord(Lsn.of(lsn), Term.of(state.primaryTerm), tx, clock.instant(), Operation.UPDATE,
                            key, old, w.getValue());
                }
                view.put(key, w.getValue());
                records.add(r);
            }
            log.append(records);
            for (TailRecord r : records) {
                apply(data, r);
            }
            recomputeCommit();
            lock.notifyAll();
            return new long[] {log.lastLsn(), state.primaryTerm};
        }
    }

    Bytes read(Bytes key) {
        synchronized (lock) {
            return data.get(key);
        }
    }

    /** A sorted copy of the key-value state, and the last LSN it reflects. */
    Map.Entry<TreeMap<Bytes, Bytes>, Long> dump() {
        synchronized (lock) {
            TreeMap<Bytes, Bytes> copy = new TreeMap<>(ReplicaNode::compareBytes);
            copy.putAll(data);
            return Map.entry(copy, log.lastLsn());
        }
    }

    Timeline promote(long term) throws IOException {
        synchronized (lock) {
            if (term <= state.currentTerm) {
                throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.STALE_TERM,
                        "promotion needs a term above " + state.currentTerm);
            }
            state.currentTerm = term;
            state.primaryTerm = term;
            state.role = NodeRole.PRIMARY;
            state.following = "";
            state.fenced = false;
            acks.clear();
            state.save();
            lock.notifyAll();
        }
        return timeline();
    }

    /**
     * Appends records shipped by {@code primary}, if this node still follows it, unfenced and
     * connected; returns false (appending nothing) otherwise. Refuses records that do not continue
     * the log.
     */
    boolean appendReplicated(String primary, List<TailRecord> records, long primaryTerm, long primaryCommit)
            throws IOException {
        synchronized (lock) {
            if (isolated || state.role != NodeRole.REPLICA || state.fenced || !state.following.equals(primary)) {
                return false;
            }
            boolean changed = false;
            if (primaryTerm > state.currentTerm) {
                state.currentTerm = primaryTerm;
                changed = true;
            }
            log.append(records);
            for (TailRecord r : records) {
                apply(data, r);
            }
            long commit = Math.min(primaryCommit, log.lastLsn());
            if (commit > state.commitLsn) {
                state.commitLsn = commit;
                changed = true;
            }
            if (changed) {
                state.save();
            }
            return true;
        }
    }

    /** A replica learns the primary's commit LSN from an acknowledgement. */
    void learnCommit(long primaryCommit) throws IOException {
        synchronized (lock) {
            long commit = Math.min(primaryCommit, log.lastLsn());
            if (state.role == NodeRole.REPLICA && commit > state.commitLsn) {
                state.commitLsn = commit;
                state.save();
            }
        }
    }

    /** A replica made {@code lsn} durable in {@code term}; returns the commit LSN. */
    long ack(String replica, long lsn, long term) throws IOException {
        synchronized (lock) {
            if (state.role == NodeRole.PRIMARY && term == state.primaryTerm) {
                acks.merge(replica, lsn, Math::max);
                recomputeCommit();
            }
            return Math.min(state.commitLsn, log.lastLsn());
        }
    }

    private void recomputeCommit() throws IOException {
        if (state.role != NodeRole.PRIMARY) {
            return;
        }
        long[] positions = new long[acks.size() + 1];
        positions[0] = log.lastLsn();
        int i = 1;
        for (long v : acks.values()) {
            positions[i++] = Math.min(v, log.lastLsn());
        }
        Arrays.sort(positions);
        int majority = config.clusterSize() / 2 + 1;
        if (positions.length < majority) {
            return;
        }
        long commit = positions[positions.length - majority];
        if (commit > state.commitLsn) {
            state.commitLsn = commit;
            state.save();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    static void apply(Map<Bytes, Bytes> kv, TailRecord r) {
        if (r.after() == null) {
            kv.remove(r.key());
        } else {
            kv.put(r.key(), r.after());
        }
    }

    /** Restores the pre-image of {@code r}. */
    static void undo(Map<Bytes, Bytes> kv, TailRecord r) {
        if (r.before() == null) {
            kv.remove(r.key());
        } else {
            kv.put(r.key(), r.before());
        }
    }

    static int compareBytes(Bytes a, Bytes b) {
        return Arrays.compareUnsigned(a.toByteArray(), b.toByteArray());
    }

    StatusRuntimeException unavailableIfIsolated() {
        return isolated ? Status.UNAVAILABLE.withDescription(config.name() + " is isolated").asRuntimeException()
                : null;
    }
}
