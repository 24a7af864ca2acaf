package io.dbrollback.postgres;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.operator.CrashPoints;
import io.dbrollback.testing.OperatorProcess;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A ReplicaSetRollback of a real PostgreSQL former primary, end to end: three PostgreSQL 15 servers
 * with their agents, the operator against the mock API server (pods, and a Lease whose holder is the
 * new primary and whose term is its timeline), in the agent-writes-the-file mode. The former primary
 * holds divergent transactions over three tables, one of 50,000 rows and one that began before the
 * cut and committed after it; the rollback saves every one of their changes to a verified file,
 * rewinds the node with pg_rewind and rejoins it, and it then holds the new primary's rows.
 */
class PostgresRollbackIT extends PgOperatorCase {

    static final String NS = "pg";
    static final int BIG = 50_000;

    private void startOperator() {
        operator = PgAgentCluster.startOperator(client, NS);
    }

    private void kubernetesObjects(String leader, int term) {
        c.kubernetesObjects(client, NS, leader, term);
    }

    private static ReplicaSetRollback rollback(String name, String target) {
        return PgAgentCluster.rollback(NS, name, target);
    }

    private ReplicaSetRollback get(String name) {
        return RollbackChecks.get(client, NS, name);
    }

    private ReplicaSetRollbackStatus awaitPhase(String name, String... phases) {
        try {
            await().atMost(Duration.ofSeconds(300)).pollInterval(Duration.ofMillis(100)).until(() -> {
                ReplicaSetRollback r = get(name);
                return r != null && r.getStatus() != null && r.getStatus().getPhase() != null
                        && List.of(phases).contains(r.getStatus().getPhase());
            });
        } catch (ConditionTimeoutException e) {
            ReplicaSetRollback r = get(name);
            ReplicaSetRollbackStatus s = r == null ? null : r.getStatus();
            throw new AssertionError("no phase of " + List.of(phases) + " within 300 s; status: " + (s == null ? "none"
                    : "phase " + s.getPhase() + ", waiting " + s.getWaiting() + " (" + s.getWaitMessage()
                    + "), lastError "
                    + s.getLastError() + ", attempts " + s.getAttempts()), e);
        }
        return get(name).getStatus();
    }

    private List<Event> events(String name, String reason) {
        return RollbackChecks.events(client, NS, name, reason);
    }

    static void exec(Connection conn, String... sql) throws SQLException {
        try (Statement s = conn.createStatement()) {
            for (String q : sql) {
                s.execute(q);
            }
        }
    }

    /** The divergence every test here starts from; returns the failover and the number of divergent changes. */
    private record Story(PgCluster.Failover failover, int divergentChanges) {
    }

    private Story diverge(int big) throws Exception {
        PgServer p0 = c.pg().primary();
        p0.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL",
                "CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(20,2))",
                "ALTER TABLE acct REPLICA IDENTITY FULL",
                "CREATE TABLE events (id bigserial PRIMARY KEY, payload text)",
                "ALTER TABLE events REPLICA IDENTITY FULL");
        c.awaitSlot();
        p0.execute("INSERT INTO kv SELECT 'k' || i, 'v' || i FROM generate_series(1, 20) i",
                "INSERT INTO acct SELECT i, 'owner-' || i, 100.00 FROM generate_series(1, 10) i");
        // Began before the cut, committed after it: divergent, although its changes reached the standbys.
        Connection straddling = p0.connect();
        straddling.setAutoCommit(false);
        exec(straddling, "INSERT INTO kv VALUES ('straddles', 'before the cut')",
                "UPDATE acct SET balance = 1.00 WHERE id = 10",
                "SELECT txid_current()");
        c.pg().cutOff();
        p0.execute("INSERT INTO kv SELECT 'new' || i, 'x' FROM generate_series(1, 5) i",
                "UPDATE kv SET v = 'changed' WHERE k IN ('k1', 'k2', 'k3')",
                "DELETE FROM kv WHERE k IN ('k4', 'k5')",
                "UPDATE acct SET balance = 123456789012345678.99 WHERE id = 1",
                "DELETE FROM acct WHERE id = 2",
                "INSERT INTO events (payload) SELECT 'event ' || i FROM generate_series(1, " + big + ") i");
        straddling.commit();
        straddling.close();
        PgCluster.Failover f = c.pg().failover();
        f.newPrimary().execute("INSERT INTO kv VALUES ('on-new-primary', 'kept')");
        kubernetesObjects(f.newPrimary().name(), f.newTimeline());
        return new Story(f, 5 + 3 + 2 + 1 + 1 + big + 2);
    }

    @Test
    void aPostgresFormerPrimaryIsRolledBackWithEveryDivergentChangeSaved() throws Exception {
        Story story = diverge(BIG);
        PgCluster.Failover f = story.failover();
        int divergentChanges = story.divergentChanges();
        PgServer p0 = f.formerPrimary();
        PgServer p1 = f.newPrimary();
        startOperator();
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(rollback("rb", p0.name())).create();
        ReplicaSetRollbackStatus s = awaitPhase("rb", "Completed", "Failed", "Aborted");
        assertEquals("Completed", s.getPhase(), () -> s.getReason() + ": " + s.getMessage());

        // The plan in WAL positions, the fork at the switchpoint.
        assertEquals("Positions", s.getPlan().getLsnKind());
        assertEquals(f.switchpoint().value(), s.getPlan().getForkLsn());
        assertEquals((long) divergentChanges, s.getTail().getRecords());
        assertEquals((long) divergentChanges, s.getRollbackFile().getRecords());

        // The file, in the agent's rollback directory: every change, whole, verified by its digest.
        Path file = Path.of(s.getRollbackFile().getPath());
        assertTrue(file.startsWith(c.config(p0.name()).rollbackDir()), file.toString());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update(Files.readAllBytes(file));
        assertEquals(s.getRollbackFile().getSha256(), HexFormat.of().formatHex(sha.digest()));
        Map<String, Integer> perTable = new HashMap<>();
        long lastLsn = 0;
        JsonNode straddlingInsert = null;
        try (var lines = Files.lines(file)) {
            for (String line : (Iterable<String>) lines::iterator) {
                JsonNode n = Wal2JsonRecords.JSON.readTree(line);
                if (!"record".equals(n.path("type").asText())) {
                    continue; // the header and the trailer
                }
                assertTrue(n.get("lsn").asLong() > s.getPlan().getForkLsn());
                assertTrue(n.get("lsn").asLong() >= lastLsn, "commit order");
                lastLsn = n.get("lsn").asLong();
                JsonNode key = Wal2JsonRecords.JSON.readTree(decode(n.get("key")));
                perTable.merge(key.get("table").asText() + " " + n.get("op").asText().toLowerCase(Locale.ROOT), 1,
                        Integer::sum);
                if (key.path("key").path("k").asText().equals("straddles")) {
                    straddlingInsert = n;
                }
            }
        }
        assertEquals(Map.of("kv insert", 6, "kv update", 3, "kv delete", 2, "acct update", 2, "acct delete", 1,
                "events insert", BIG), perTable);
        assertNotNull(straddlingInsert, "the transaction that straddled the cut is saved");

        // One recover; the former primary streams from the new one and holds exactly its rows.
        PgCluster.await(p0.name() + " holding the new primary's rows",
                () -> p0.tableRows("kv").equals(p1.tableRows("kv"))
                && p0.tableRows("acct").equals(p1.tableRows("acct")));
        assertEquals(0, Integer.parseInt(p0.queryString("SELECT count(*) FROM events")));
        assertTrue(p0.tableRows("kv").contains("(on-new-primary,kept)"));
        assertEquals("t", p0.queryString("SELECT pg_is_in_recovery()"));
        assertThrows(SQLException.class, () -> p0.execute("INSERT INTO kv VALUES ('client', 'write')"),
                "the rejoined node is a read-only standby");
        List<Event> loud = events("rb", "NodeRolledBack");
        assertEquals(1, loud.size());
        assertTrue(loud.get(0).getMessage().contains(divergentChanges + " records"), loud.get(0).getMessage());
    }

    /**
     * The operator process killed (SIGKILL, by its crash hook) in the middle of the capture, with the
     * intent to recover recorded but pg_rewind not asked for, and right after pg_rewind answered; a new
     * operator process resumes from the status alone: one recover, every change in the verified file,
     * the node rejoined with the new primary's rows.
     */
    @ParameterizedTest
    @ValueSource(strings = {"record:3000", "status:Recovering", "call:RecoverToLsn"})
    void anOperatorKilledMidwayResumesFromTheStatus(String crashPoint) throws Exception {
        Story story = diverge(5000);
        PgServer p0 = story.failover().formerPrimary();
        PgServer p1 = story.failover().newPrimary();
        Path work = c.pg().folder("operator-logs");
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(rollback("rb", p0.name())).create();
        try (OperatorProcess first = OperatorProcess.start(api, work.resolve("operator-1.log"), Map.of(
                CrashPoints.ENV, crashPoint, "DBROLLBACK_ROLLBACK_FILE_WRITER", "agent", "HOSTNAME", "pg-crash-1"),
                OperatorProcess.LEAN_JVM_FLAGS)) {
            assertEquals(CrashPoints.EXIT_STATUS, first.awaitExit(Duration.ofSeconds(300)), "killed at " + crashPoint);
            assertEquals(1, first.linesStartingWith(CrashPoints.MARKER).size());
        }
        try (OperatorProcess second = OperatorProcess.start(api, work.resolve("operator-2.log"), Map.of(
                "DBROLLBACK_ROLLBACK_FILE_WRITER", "agent", "HOSTNAME", "pg-crash-2"),
                OperatorProcess.LEAN_JVM_FLAGS)) {
            ReplicaSetRollbackStatus s;
            try {
                s = awaitPhase("rb", "Completed", "Failed", "Aborted");
            } catch (AssertionError e) {
                // What the resuming operator did (its log goes with the cluster's folder).
                List<String> log = Files.readAllLines(second.log());
                throw new AssertionError(e.getMessage() + "\nthe resuming operator's log, last lines:\n"
                        + String.join("\n", log.subList(Math.max(0, log.size() - 60), log.size())), e);
            }
            assertEquals("Completed", s.getPhase(), () -> s.getReason() + ": " + s.getMessage());
            assertEquals((long) story.divergentChanges(), s.getRollbackFile().getRecords());
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(Path.of(s.getRollbackFile().getPath())));
            assertEquals(s.getRollbackFile().getSha256(), HexFormat.of().formatHex(sha.digest()));
            assertEquals(1, c.client(p0.name()).getTimeline(GetTimelineRequest.getDefaultInstance())
                    .getRollbackId(), "one recover");
            PgCluster.await(p0.name() + " holding the new primary's rows", () -> p0.tableRows("kv").equals(
                    p1.tableRows("kv")));
        }
    }

    /**
     * Divergent changes the agent cannot keep whole (a TRUNCATE, an update of a table without REPLICA
     * IDENTITY FULL, DDL) are kept in the file as UNCAPTURED records saying what and why, and the rollback,
     * automatic and far within its limits, waits for a person with the verified file in hand: nothing is
     * removed until the approval names the file's digest; then pg_rewind removes them with the rest.
     */
    @Test
    void changesThatCannotBeCapturedWholeAreKeptMarkedAndWaitForAPerson() throws Exception {
        PgServer p0 = c.pg().primary();
        p0.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL",
                "CREATE TABLE plain (id int PRIMARY KEY, v text)", "CREATE TABLE wiped (id int PRIMARY KEY)",
                "ALTER TABLE wiped REPLICA IDENTITY FULL");
        c.awaitSlot();
        p0.execute("INSERT INTO kv SELECT 'k' || i, 'v' || i FROM generate_series(1, 10) i",
                "INSERT INTO plain SELECT i, 'p' || i FROM generate_series(1, 3) i",
                "INSERT INTO wiped SELECT generate_series(1, 5)");
        c.pg().cutOff();
        p0.execute("INSERT INTO kv VALUES ('d', 'divergent')", "UPDATE plain SET v = 'changed' WHERE id = 1",
                "TRUNCATE wiped", "CREATE TABLE made_after_cut (id int)");
        PgCluster.Failover f = c.pg().failover();
        PgServer p1 = f.newPrimary();
        kubernetesObjects(p1.name(), f.newTimeline());
        startOperator();
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(rollback("rb", p0.name())).create();
        ReplicaSetRollbackStatus s = awaitPhase("rb", "AwaitingApproval", "Completed", "Failed", "Aborted");
        assertEquals("AwaitingApproval", s.getPhase(), () -> s.getReason() + ": " + s.getMessage());
        assertEquals(List.of("UncapturedChanges"), s.getGates(), "automatic, within every limit: only this gate");
        assertEquals(4L, s.getTail().getRecords());
        assertEquals(3L, s.getTail().getUncapturedRecords());
        assertTrue(s.getMessage().contains("3 of the records are changes the node could not capture whole"),
                s.getMessage());
        await().atMost(Duration.ofSeconds(30)).until(() -> !events("rb", "AwaitingApproval").isEmpty());
        assertEquals("Warning", events("rb", "AwaitingApproval").get(0).getType());

        // The file says what each one touched and why it is not whole.
        Map<String, String> uncaptured = new HashMap<>();
        int captured = 0;
        try (var lines = Files.lines(Path.of(s.getRollbackFile().getPath()))) {
            for (String line : (Iterable<String>) lines::iterator) {
                JsonNode n = Wal2JsonRecords.JSON.readTree(line);
                if (!"record".equals(n.path("type").asText())) {
                    continue;
                }
                JsonNode key = Wal2JsonRecords.JSON.readTree(decode(n.get("key")));
                if ("UNCAPTURED".equals(n.get("op").asText())) {
                    uncaptured.put(key.get("uncaptured").asText(), key.path("table").asText());
                    assertFalse(key.get("why").asText().isBlank());
                } else {
                    assertEquals("INSERT", n.get("op").asText());
                    assertEquals("d", key.get("key").get("k").asText());
                    captured++;
                }
            }
        }
        assertEquals(1, captured);
        assertEquals(Map.of("OLD_ROW_INCOMPLETE", "plain", "TRUNCATE", "wiped", "NO_DECODABLE_CHANGE", ""), uncaptured);

        Timeline t = c.client(p0.name()).getTimeline(
                GetTimelineRequest.getDefaultInstance());
        assertEquals(0, t.getRollbackId(), "nothing removed before a person decides");
        assertTrue(t.getFenced());
        try (Connection fenced = p0.connectThroughSocket(c.config(p0.name()).fenceSocketDir());
                Statement st = fenced.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_class WHERE relname = 'made_after_cut'")) {
            assertTrue(rs.next() && rs.getInt(1) == 1, "the DDL is still on the node, behind its fence");
        }

        ReplicaSetRollback r = get("rb");
        Map<String, String> annotations = new HashMap<>(r.getMetadata().getAnnotations() == null ? Map.of()
                : r.getMetadata().getAnnotations());
        annotations.put(ReplicaSetRollback.APPROVE_ANNOTATION, s.getRollbackFile().getSha256());
        r.getMetadata().setAnnotations(annotations);
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(r).update();
        ReplicaSetRollbackStatus done = awaitPhase("rb", "Completed", "Failed", "Aborted");
        assertEquals("Completed", done.getPhase(), () -> done.getReason() + ": " + done.getMessage());
        PgCluster.await(p0.name() + " holding the new primary's rows",
                () -> p0.tableRows("kv").equals(p1.tableRows("kv"))
                && p0.tableRows("wiped").equals(p1.tableRows("wiped")));
        assertEquals("0", p0.queryString("SELECT count(*) FROM pg_class WHERE relname = 'made_after_cut'"),
                "pg_rewind removed the DDL, as the file said it would");
    }

    /** The file's key field: the key's bytes in base64 (docs/rollback-file.md). */
    private static String decode(JsonNode key) {
        return new String(Base64.getDecoder().decode(key.asText()), StandardCharsets.UTF_8);
    }
}
