package io.dbrollback.postgres;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.util.PSQLWarning;
import org.postgresql.util.ServerErrorMessage;

/**
 * Synchronous replication does not keep a former primary from diverging, and the rollback saves what it leaves.
 * Three real PostgreSQL 15 servers with their agents, {@code synchronous_standby_names = 'ANY 1 ("pg-1", "pg-2")'} and
 * {@code synchronous_commit = on}: each commit on {@code pg-0} waits until a standby has flushed it
 * ({@code pg_stat_replication} shows both standbys {@code quorum}). The standbys are then cut off, and on
 * {@code pg-0}:
 * <ol>
 *   <li>a transaction with {@code SET synchronous_commit = local} commits at once, without a warning;</li>
 *   <li>a transaction with the default setting waits for a standby at its COMMIT ({@code pg_stat_activity} shows
 *       the wait event {@code SyncRep}, and no other session sees its rows yet); its client cancels the statement
 *       ({@code Statement.cancel()}), and the COMMIT returns without an error, with only the SQL warning "canceling
 *       wait for synchronous replication due to user request", detail "The transaction has already committed
 *       locally, but might not have been replicated to the standby." Its rows are then visible on {@code pg-0};</li>
 *   <li>a third transaction is still waiting at its COMMIT when the rollback fences the node. The fence
 *       ({@code pg_ctl stop -m fast}, then a restart with no listener) does not wait for it: its client gets the
 *       warning "canceling the wait for synchronous replication and terminating connection due to administrator
 *       command" with the same detail, then loses its connection (SQLState 08006), never told whether it
 *       committed. It did: its commit record was in the WAL before the wait, so it is divergent too.</li>
 * </ol>
 * A standby is promoted, the other follows it, the new primary writes a row, and a ReplicaSetRollback through the
 * operator (the mock API server, a Lease whose term is the new timeline, the agent writing the file) saves exactly
 * the three transactions' five changes, with their keys, rows and transaction ids, rewinds {@code pg-0} and rejoins
 * it with the new primary's rows.
 *
 * <p>Every server has the same {@code synchronous_standby_names} ({@link PgCluster.Options}; the primary takes it
 * once its standbys stream). So the promoted standby keeps it, and the standby that follows it (named
 * {@code pg-1} or {@code pg-2}, its {@code application_name}) is its synchronous standby: the new primary's commits
 * wait for that one, which streams, and never block. The agent's logical slot exists before the cut
 * ({@link PgAgentCluster#awaitSlot()}): creating it waits for running transactions, and the waiting ones run until
 * the fence.
 */
class SynchronousReplicationIT {

    static final String NS = "pg-sync";
    static final String SYNC_NAMES = "ANY 1 (\"pg-1\", \"pg-2\")";
    static final String DETAIL = "The transaction has already committed locally, but might not have been replicated"
            + " to the standby.";

    private PgAgentCluster c;
    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;
    private final ExecutorService clients = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "sync-rep-client");
        t.setDaemon(true);
        return t;
    });
    private final List<Connection> connections = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        c = PgAgentCluster.start(PgCluster.Options.defaults().synchronousStandbyNames(SYNC_NAMES));
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stop() {
        clients.shutdownNow();
        for (Connection conn : connections) {
            try {
                conn.close();
            } catch (SQLException ignored) {
                // its server may be gone
            }
        }
        if (operator != null) {
            operator.stop();
        }
        if (api != null) {
            api.close();
        }
        if (c != null) {
            c.close();
        }
    }

    private void startOperator() {
        operator = PgAgentCluster.startOperator(client, NS);
    }

    private ReplicaSetRollback get(String name) {
        return RollbackChecks.get(client, NS, name);
    }

    private ReplicaSetRollbackStatus awaitEnd(String name) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100)).until(() -> {
            ReplicaSetRollback r = get(name);
            return r != null && r.getStatus() != null && r.getStatus().getPhase() != null
                    && List.of("Completed", "Failed", "Aborted").contains(r.getStatus().getPhase());
        });
        return get(name).getStatus();
    }

    /** A client of {@code s} in a transaction of its own (autocommit off), closed after the test. */
    private Connection transaction(PgServer s) throws SQLException {
        Connection conn = s.connect();
        connections.add(conn);
        conn.setAutoCommit(false);
        return conn;
    }

    private static long xid(Connection conn) throws SQLException {
        return Long.parseLong(query(conn, "SELECT txid_current() % 4294967296"));
    }

    private static String query(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static void exec(Connection conn, String... sql) throws SQLException {
        try (Statement st = conn.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    /** Waits until the backend {@code pid} of {@code s} waits for a synchronous standby. */
    private static void awaitSyncRepWait(PgServer s, String pid) {
        PgCluster.await("backend " + pid + " of " + s.name() + " waiting for synchronous replication",
                () -> "SyncRep".equals(s.queryString("SELECT wait_event FROM pg_stat_activity WHERE pid = " + pid)));
    }

    /** How a COMMIT ended for its client: the error it threw (null when it returned) and its warnings. */
    private record Outcome(SQLException error, List<String> warnings) {
    }

    /** Every warning on a statement, as "SEVERITY: message | detail", from the server's notice fields. */
    private static List<String> warnings(SQLWarning w) {
        List<String> all = new ArrayList<>();
        for (; w != null; w = w.getNextWarning()) {
            if (w instanceof PSQLWarning pw && pw.getServerErrorMessage() != null) {
                ServerErrorMessage m = pw.getServerErrorMessage();
                all.add(m.getSeverity() + ": " + m.getMessage() + " | " + m.getDetail());
            } else {
                all.add(w.toString());
            }
        }
        return all;
    }

    @Test
    void commitsThatSynchronousReplicationDidNotHoldBackAreSavedByTheRollback() throws Exception {
        PgServer p0 = c.pg().primary();
        assertEquals(SYNC_NAMES, p0.queryString("SHOW synchronous_standby_names"));
        assertEquals("on", p0.queryString("SHOW synchronous_commit"));
        p0.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL");
        c.awaitSlot();
        p0.execute("INSERT INTO kv VALUES ('a', '1'), ('b', '2'), ('c', '3')");
        PgCluster.await("both standbys synchronous (quorum)", () -> p0.queryString(
                "SELECT string_agg(application_name || ' ' || sync_state, ', ' ORDER BY application_name)"
                        + " FROM pg_stat_replication").equals("pg-1 quorum, pg-2 quorum"));

        c.pg().cutOff();

        // 1. synchronous_commit = local: committed at once, nothing said.
        Connection local = transaction(p0);
        exec(local, "SET synchronous_commit = local");
        long localXid = xid(local);
        exec(local, "INSERT INTO kv VALUES ('local', 'synchronous_commit=local')",
                "UPDATE kv SET v = 'changed locally' WHERE k = 'a'");
        Future<List<String>> localCommit = clients.submit(() -> {
            try (Statement st = local.createStatement()) {
                st.execute("COMMIT");
                return warnings(st.getWarnings());
            }
        });
        assertEquals(List.of(), localCommit.get(30, TimeUnit.SECONDS), "a local commit neither waits nor warns");

        // 2. The default: the COMMIT waits for a standby; the client cancels it and is warned.
        Connection warned = transaction(p0);
        String warnedPid = query(warned, "SELECT pg_backend_pid()");
        long warnedXid = xid(warned);
        exec(warned, "INSERT INTO kv VALUES ('warned', 'committed locally')", "DELETE FROM kv WHERE k = 'b'");
        Statement warnedCommit = warned.createStatement();
        Future<List<String>> warnedResult = clients.submit(() -> {
            warnedCommit.execute("COMMIT");
            return warnings(warnedCommit.getWarnings());
        });
        awaitSyncRepWait(p0, warnedPid);
        assertFalse(p0.tableRows("kv").contains("(warned,\"committed locally\")"),
                "while its COMMIT waits, no other session sees the transaction");
        warnedCommit.cancel();
        assertEquals(List.of("WARNING: canceling wait for synchronous replication due to user request | " + DETAIL),
                warnedResult.get(30, TimeUnit.SECONDS), "the COMMIT succeeded, with a warning only");
        warnedCommit.close();
        assertEquals(List.of("(a,\"changed locally\")", "(c,3)", "(local,synchronous_commit=local)",
                "(warned,\"committed locally\")"), p0.tableRows("kv"), "both are committed on pg-0");

        // 3. A COMMIT still waiting when the rollback fences the node.
        Connection pending = transaction(p0);
        String pendingPid = query(pending, "SELECT pg_backend_pid()");
        long pendingXid = xid(pending);
        exec(pending, "INSERT INTO kv VALUES ('pending', 'waiting at the fence')");
        Future<Outcome> pendingResult = clients.submit(() -> {
            Statement st = pending.createStatement();
            try {
                st.execute("COMMIT");
                return new Outcome(null, warnings(st.getWarnings()));
            } catch (SQLException e) {
                return new Outcome(e, warnings(st.getWarnings()));
            }
        });
        awaitSyncRepWait(p0, pendingPid);

        PgCluster.Failover f = c.pg().failover();
        PgServer p1 = f.newPrimary();
        assertEquals(SYNC_NAMES, p1.queryString("SHOW synchronous_standby_names"));
        p1.execute("INSERT INTO kv VALUES ('on-new-primary', 'kept')"); // waits for the standby that follows it
        assertEquals("quorum", p1.queryString("SELECT string_agg(sync_state, ',') FROM pg_stat_replication"),
                "the new primary's one standby is synchronous");
        assertFalse(pendingResult.isDone(), "the COMMIT on pg-0 still waits");

        c.kubernetesObjects(client, NS, p1.name(), f.newTimeline());
        startOperator();
        client.resources(ReplicaSetRollback.class).inNamespace(NS)
                .resource(PgAgentCluster.rollback(NS, "rb", p0.name())).create();
        ReplicaSetRollbackStatus s = awaitEnd("rb");
        assertEquals("Completed", s.getPhase(), () -> s.getReason() + ": " + s.getMessage());

        // The fence ended the waiting session: its client is warned, then loses the connection.
        Outcome atFence = pendingResult.get(30, TimeUnit.SECONDS);
        assertNotNull(atFence.error(), "the COMMIT waiting at the fence does not return normally");
        assertEquals("08006", atFence.error().getSQLState(), atFence.error().toString());
        assertEquals(List.of("WARNING: canceling the wait for synchronous replication and terminating connection due to"
                + " administrator command | " + DETAIL), atFence.warnings());

        // The file: exactly the three transactions, in commit order, with their keys and rows.
        assertEquals(f.switchpoint().value(), s.getPlan().getForkLsn());
        assertEquals(5L, s.getRollbackFile().getRecords());
        Path file = Path.of(s.getRollbackFile().getPath());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(Files.readAllBytes(file));
        assertEquals(s.getRollbackFile().getSha256(), HexFormat.of().formatHex(sha.digest()));
        Map<Long, List<String>> byTx = new LinkedHashMap<>();
        long lastLsn = 0;
        try (var lines = Files.lines(file)) {
            for (String line : (Iterable<String>) lines::iterator) {
                JsonNode n = Wal2JsonRecords.JSON.readTree(line);
                if (!"record".equals(n.path("type").asText())) {
                    continue;
                }
                assertTrue(n.get("lsn").asLong() > s.getPlan().getForkLsn());
                assertTrue(n.get("lsn").asLong() >= lastLsn, "commit order");
                lastLsn = n.get("lsn").asLong();
                byTx.computeIfAbsent(Long.parseLong(n.get("tx").asText()), k -> new ArrayList<>())
                        .add(n.get("op").asText() + " " + decode(n.get("key")) + " " + decode(n.get("before")) + " -> "
                                + decode(n.get("after")));
            }
        }
        String kv = "{\"schema\":\"public\",\"table\":\"kv\",\"key\":";
        Map<Long, List<String>> expected = new LinkedHashMap<>();
        expected.put(localXid, List.of(
                "INSERT " + kv + "{\"k\":\"local\"}}  -> " + row("local", "synchronous_commit=local"),
                "UPDATE " + kv + "{\"k\":\"a\"}} " + row("a", "1") + " -> " + row("a", "changed locally")));
        expected.put(warnedXid, List.of(
                "INSERT " + kv + "{\"k\":\"warned\"}}  -> " + row("warned", "committed locally"),
                "DELETE " + kv + "{\"k\":\"b\"}} " + row("b", "2") + " -> "));
        expected.put(pendingXid, List.of(
                "INSERT " + kv + "{\"k\":\"pending\"}}  -> " + row("pending", "waiting at the fence")));
        assertEquals(expected, byTx);
        assertEquals(List.of(localXid, warnedXid, pendingXid), List.copyOf(byTx.keySet()), "in commit order");

        // Rewound and rejoined: the new primary's rows, none of the divergent ones.
        PgCluster.await(p0.name() + " holding the new primary's rows",
                () -> p0.tableRows("kv").equals(p1.tableRows("kv")));
        assertEquals(List.of("(a,1)", "(b,2)", "(c,3)", "(on-new-primary,kept)"), p0.tableRows("kv"));
        assertEquals("t", p0.queryString("SELECT pg_is_in_recovery()"));
        assertEquals(1, c.client(p0.name()).getTimeline(GetTimelineRequest.getDefaultInstance())
                .getRollbackId(), "one recover");
    }

    private static String row(String k, String v) {
        return "[{\"name\":\"k\",\"type\":\"text\",\"value\":\"" + k + "\"},"
                + "{\"name\":\"v\",\"type\":\"text\",\"value\":\"" + v + "\"}]";
    }

    /** A base64 field of the file as its UTF-8 text ("" when absent). */
    private static String decode(JsonNode field) {
        return field == null || field.isNull() || field.asText().isEmpty() ? ""
                : new String(Base64.getDecoder().decode(field.asText()), StandardCharsets.UTF_8);
    }
}
