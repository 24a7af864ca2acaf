package io.dbrollback.postgres;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.AgentServiceBase;
import io.dbrollback.agent.TailRange;
import io.dbrollback.agent.TailTally;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** The agent protocol v1 served by the PostgreSQL agent. */
final class PgAgentService extends AgentServiceBase {

    /** Rows fetched from the server at a time: the tail is streamed, never held whole. */
    static final int FETCH = 500;

    /** The decoding call: every change with its transaction's xid, commit time and positions. */
    static final String PEEK = "SELECT data FROM pg_logical_slot_peek_changes(?, NULL, NULL, 'format-version', '2',"
            + " 'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1', 'include-pk', '1',"
            + " 'include-typmod', '1', 'include-type-oids', '0')";

    /**
     * What a divergent transaction without a row change decoding shows touches (DDL, ANALYZE...): its
     * record is {@link Wal2JsonRecords#emptyTransaction}. Parentheses: no unquoted table name has them.
     */
    static final String NO_ROW_CHANGE = "(no row change)";

    private final PgAgent agent;

    PgAgentService(PgAgent agent) {
        super(agent.files, PgAgentService::failure);
        this.agent = agent;
    }

    @Override
    public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
        unary(out, agent::timeline);
    }

    @Override
    public void fence(FenceRequest request, StreamObserver<FenceResponse> out) {
        unary(out, () -> FenceResponse.newBuilder().setTimeline(agent.fence(request.getTerm(), request.getIncidentId()))
                .build());
    }

    @Override
    public void recoverToLsn(RecoverToLsnRequest request, StreamObserver<RecoverToLsnResponse> out) {
        unary(out, () -> {
            PgAgent.Recovered r = agent.recover(request.getTargetLsn(), request.getExpectedLastLsn(), request.getTerm(),
                    request.getIncidentId(), request.getExpectedRollbackFileSha256());
            return RecoverToLsnResponse.newBuilder().setRollbackId(r.rollbackId()).setLastLsn(r.lastLsn())
                    .setAlreadyDone(r.alreadyDone()).build();
        });
    }

    @Override
    public void rejoinAsReplica(RejoinAsReplicaRequest request, StreamObserver<RejoinAsReplicaResponse> out) {
        unary(out, () -> RejoinAsReplicaResponse.newBuilder().setTimeline(agent.rejoin(request.getPrimaryAddress(),
                request.getTerm(), request.getIncidentId())).build());
    }

    // ---- ReadDivergentTail --------------------------------------------------------------------------

    @Override
    protected void streamTail(TailRange range, ServerCallStreamObserver<TailMessage> call) {
        Pump pump = new Pump(call, range);
        call.setOnReadyHandler(pump::signal);
        call.setOnCancelHandler(pump::cancel);
        agent.tailsExecutor().execute(pump::run);
    }

    /**
     * Reads the slot's changes with a cursor and sends them while the transport is ready (gRPC flow
     * control): a slow reader holds back the reading, never the agent's memory.
     */
    private final class Pump {
        private final ServerCallStreamObserver<TailMessage> call;
        private final TailRange range;
        private final TailDigest digest = new TailDigest();
        private final List<TailRecord> chunk = new ArrayList<>();
        private long chunkBytes;
        private volatile boolean cancelled;

        Pump(ServerCallStreamObserver<TailMessage> call, TailRange range) {
            this.call = call;
            this.range = range;
        }

        synchronized void signal() {
            notifyAll();
        }

        synchronized void cancel() {
            cancelled = true;
            notifyAll();
        }

        void run() {
            try {
                readTail(range, () -> cancelled, (record, touched) -> add(record));
                if (cancelled) {
                    return;
                }
                flush();
                awaitReady();
                call.onNext(AgentProtos.trailer(digest));
                call.onCompleted();
            } catch (Exception e) {
                fail(tailFailure(e));
            }
        }

        private void fail(StatusRuntimeException e) {
            if (!cancelled) {
                try {
                    call.onError(e);
                } catch (RuntimeException ignored) {
                    // the call ended meanwhile
                }
            }
        }

        private void add(TailRecord record) throws InterruptedException {
            digest.add(record);
            if (record.lsn().value() <= range.resume()) {
                return; // a resumed stream: digested for the trailer, not sent
            }
            chunk.add(record);
            chunkBytes += AgentProtos.chunkBytes(record);
            if (chunk.size() >= range.perChunk() || chunkBytes >= AgentProtos.CHUNK_BYTES) {
                flush();
            }
        }

        private void flush() throws InterruptedException {
            if (chunk.isEmpty() || cancelled) {
                return;
            }
            awaitReady();
            call.onNext(AgentProtos.chunk(chunk));
            chunk.clear();
            chunkBytes = 0;
        }

        private synchronized void awaitReady() throws InterruptedException {
            while (!cancelled && !call.isReady()) {
                wait(200);
            }
        }
    }

    /** The status of a failed tail read, for the stream and the summary alike. */
    private static StatusRuntimeException tailFailure(Exception e) {
        if (e instanceof StatusRuntimeException sre) {
            return sre;
        }
        if (e instanceof Wal2JsonRecords.Uncapturable) {
            return AgentErrors.error(Status.Code.FAILED_PRECONDITION, "UNCAPTURABLE_CHANGE", e.getMessage()
                    + "; nothing of the tail was kept, nothing was removed");
        }
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return Status.UNAVAILABLE.withDescription("the agent is stopping").asRuntimeException();
        }
        return Status.INTERNAL.withDescription("reading the tail: " + e.getMessage()).asRuntimeException();
    }

    // ---- SummarizeTail ------------------------------------------------------------------------------

    /**
     * The summary, counted on a tail thread from the very read ReadDivergentTail streams
     * ({@link #readTail}): each record touches its table, {@code schema.table}, or
     * {@value #NO_ROW_CHANGE}.
     */
    @Override
    protected void summarizeTail(TailRange range, ServerCallStreamObserver<SummarizeTailResponse> call) {
        call.setOnCancelHandler(() -> { }); // a cancelled call is seen through isCancelled
        agent.tailsExecutor().execute(() -> {
            TailTally tally = new TailTally();
            StatusRuntimeException failed = null;
            try {
                readTail(range, call::isCancelled, tally::add);
            } catch (Exception e) {
                failed = tailFailure(e);
            }
            if (call.isCancelled()) {
                return;
            }
            try {
                if (failed != null) {
                    call.onError(failed);
                } else {
                    call.onNext(tally.response());
                    call.onCompleted();
                }
            } catch (RuntimeException ignored) {
                // the call ended meanwhile
            }
        });
    }

    /** What the tail read gives each record to: the record, and the table it touches ({@code schema.table}). */
    @FunctionalInterface
    interface TailSink {
        void add(TailRecord record, String touched) throws InterruptedException;
    }

    /**
     * Reads the records of {@code range} from the slot's changes with a cursor ({@value #FETCH} rows at a
     * time), in commit order, and gives each to {@code sink} with what it touches: the one source of
     * ReadDivergentTail and SummarizeTail, never holding the tail. Stops early once {@code cancelled}.
     */
    private void readTail(TailRange range, BooleanSupplier cancelled, TailSink sink)
            throws SQLException, IOException, InterruptedException, Wal2JsonRecords.Uncapturable {
        List<long[]> history;
        boolean fenced;
        long last;
        synchronized (agent.lock) {
            if (agent.state.recoverPhase != PgAgentState.RecoverPhase.NONE) {
                throw Status.UNAVAILABLE.withDescription("finishing an interrupted recover").asRuntimeException();
            }
            fenced = agent.state.fenced;
            try (Connection c = agent.pg.connect(fenced)) {
                last = agent.lastLsn(c);
            }
            history = agent.history(agent.pg.timeline());
        }
        if (range.to() > last) {
            throw AgentErrors.error(Status.Code.OUT_OF_RANGE, ErrorReason.RANGE_NOT_IN_LOG, "LSN "
                    + PgLsn.of(range.to()) + " is above " + agent.name() + "'s last LSN " + PgLsn.of(last));
        }
        if (range.from() == range.to()) {
            return; // an empty range: the trailer alone
        }
        try (Connection c = agent.pg.connect(fenced)) {
            long confirmed = confirmedFlush(c);
            if (confirmed > range.from()) {
                // Not readable from this node's log any more: the range is not in it, as far as a reader knows.
                throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.RANGE_NOT_IN_LOG, "the slot "
                        + agent.config.slot() + " was advanced to " + PgLsn.of(confirmed) + ", past the fork "
                        + PgLsn.of(range.from()) + ": transactions committed between them cannot be decoded"
                        + " any more (was a standby without a physical slot promoted?)");
            }
            c.setAutoCommit(false);
            Map<String, Boolean> full = new HashMap<>();
            Map<String, Integer> widths = new HashMap<>();
            Wal2JsonRecords.Identity identity = new Wal2JsonRecords.Identity() {
                @Override
                public boolean full(String schema, String table) throws Wal2JsonRecords.Uncapturable {
                    try {
                        return full.computeIfAbsent(schema + "." + table,
                                k -> replicaIdentityFull(c, schema, table));
                    } catch (IllegalStateException e) {
                        throw new Wal2JsonRecords.Uncapturable(e.getMessage());
                    }
                }

                @Override
                public int columns(String schema, String table) throws Wal2JsonRecords.Uncapturable {
                    try {
                        return widths.computeIfAbsent(schema + "." + table, k -> columnCount(c, schema, table));
                    } catch (IllegalStateException e) {
                        throw new Wal2JsonRecords.Uncapturable(e.getMessage());
                    }
                }
            };
            try (PreparedStatement s = c.prepareStatement(PEEK)) {
                s.setFetchSize(FETCH);
                s.setString(1, agent.config.slot());
                try (ResultSet r = s.executeQuery()) {
                    long commitEnd = 0;
                    String xid = "";
                    Instant commitTime = Instant.EPOCH;
                    boolean inRange = false;
                    long changes = 0;
                    while (r.next() && !cancelled.getAsBoolean()) {
                        JsonNode m = Wal2JsonRecords.parse(r.getString(1));
                        switch (m.path("action").asText()) {
                            case "B" -> {
                                commitEnd = PgLsn.parse(m.path("nextlsn").asText()).value();
                                xid = m.path("xid").asText();
                                commitTime = Wal2JsonRecords.commitTime(m.path("timestamp").asText());
                                inRange = commitEnd > range.from() && commitEnd <= range.to();
                                changes = 0;
                            }
                            case "C" -> {
                                if (inRange && changes == 0) {
                                    // DDL, ANALYZE...: nothing decodable, and pg_rewind removes it all the same
                                    sink.add(Wal2JsonRecords.emptyTransaction(commitEnd,
                                            PgAgent.termAt(history, commitEnd),
                                            xid, commitTime), NO_ROW_CHANGE);
                                }
                            }
                            case "M" -> {
                                // a logical message is no row change
                            }
                            default -> {
                                if (inRange) {
                                    changes++;
                                    sink.add(Wal2JsonRecords.record(m, commitEnd, PgAgent.termAt(history,
                                            commitEnd), xid, commitTime, identity),
                                            m.path("schema").asText() + "." + m.path("table").asText());
                                }
                            }
                        }
                    }
                }
            } finally {
                c.rollback();
            }
        }
    }

    private long confirmedFlush(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = ?")) {
            s.setString(1, agent.config.slot());
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    throw AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.RANGE_NOT_IN_LOG,
                            agent.name()
                            + " has no logical slot " + agent.config.slot()
                            + ": its divergent transactions cannot be decoded (the agent creates the slot while "
                            + "the node is primary)");
                }
                return r.getString(1) == null ? 0 : PgLsn.parse(r.getString(1)).value();
            }
        }
    }

    private static boolean replicaIdentityFull(Connection c, String schema, String table) {
        try (PreparedStatement s = c.prepareStatement("SELECT c.relreplident FROM pg_class c JOIN pg_namespace n"
                + " ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?")) {
            s.setString(1, schema);
            s.setString(2, table);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    throw new IllegalStateException("the table " + schema + "." + table + " of a divergent change"
                            + " no longer exists: its old rows cannot be known whole");
                }
                return "f".equals(r.getString(1));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(
                    "the replica identity of " + schema + "." + table + ": " + e.getMessage());
        }
    }

    /** The table's live columns now (a column added since a delete makes its old row look short: refused, safe). */
    private static int columnCount(Connection c, String schema, String table) {
        try (PreparedStatement s = c.prepareStatement("SELECT count(*) FROM pg_attribute a JOIN pg_class c"
                + " ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ?"
                + " AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped")) {
            s.setString(1, schema);
            s.setString(2, table);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("the columns of " + schema + "." + table + ": " + e.getMessage());
        }
    }

    // ---- unary calls ------------------------------------------------------------------------------

    /** A unary call's failure beyond a status, an I/O error and an interruption. */
    private static StatusRuntimeException failure(Exception e) {
        if (e instanceof SQLException) {
            // The server cannot be reached (restarting, down): the operator waits and asks again.
            return Status.UNAVAILABLE.withDescription("PostgreSQL: " + e.getMessage()).asRuntimeException();
        }
        return Status.INTERNAL.withDescription(e.toString()).asRuntimeException();
    }
}
