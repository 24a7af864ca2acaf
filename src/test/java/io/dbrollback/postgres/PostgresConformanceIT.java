package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import io.dbrollback.agent.conformance.AgentFixture;
import io.dbrollback.agent.conformance.ConformanceMain;
import io.dbrollback.agent.v1.GetTimelineRequest;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The agent conformance checks against the PostgreSQL agent on three real PostgreSQL 15 servers, in
 * the order and on the one cluster the published command uses ({@link ConformanceMain}), with the
 * fixture's knowledge of the database: a key/value table {@code kv} with REPLICA IDENTITY FULL, every
 * write an autocommit transaction (one record, one position), a restart that kills the server and the
 * agent, and client writes over TCP. Nothing may fail; what is skipped must need a second cluster.
 */
class PostgresConformanceIT {

    /** One diverged PostgreSQL cluster, as the suite's fixture contract describes it. */
    static final class Fixture implements AgentFixture {
        final PgAgentCluster c;
        final PgServer former;
        final PgServer leader;
        final Map<ByteString, ByteString> atFork = new LinkedHashMap<>();
        final List<Write> divergent = List.of(Write.put("d1", "new"), Write.put("a", "changed"), Write.delete("b"));

        Fixture() throws Exception {
            // Quiet: no autovacuum, so that no node's WAL moves by itself between two looks.
            c = PgAgentCluster.start(PgCluster.Options.defaults().setting("autovacuum", "off"));
            try {
                former = c.pg().primary();
                former.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL");
                c.awaitSlot();
                for (String[] kv : new String[][] {{"a", "1"}, {"b", "2"}, {"c", "3"}}) {
                    write(former, Write.put(kv[0], kv[1]));
                    atFork.put(ByteString.copyFromUtf8(kv[0]), ByteString.copyFromUtf8(kv[1]));
                }
                c.pg().awaitCaughtUp();
                PgCluster.await("a commit LSN on " + former.name(), () -> c.client(former.name())
                        .getTimeline(GetTimelineRequest.getDefaultInstance()).getCommitLsn() > 0);
                c.pg().cutOff();
                for (Write w : divergent) {
                    write(former, w);
                }
                leader = c.pg().failover().newPrimary();
            } catch (Exception | Error e) {
                c.close();
                throw e;
            }
        }

        static void write(PgServer s, Write w) throws SQLException {
            try (Connection conn = s.connect()) {
                write(conn, w);
            }
        }

        static void write(Connection conn, Write w) throws SQLException {
            String k = w.key().toStringUtf8();
            try (PreparedStatement p = conn.prepareStatement(w.isDelete() ? "DELETE FROM kv WHERE k = ?"
                    : "INSERT INTO kv VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v")) {
                p.setString(1, k);
                if (!w.isDelete()) {
                    p.setString(2, w.value().toStringUtf8());
                }
                p.executeUpdate();
            }
        }

        private PgServer server(Node node) {
            return node == Node.FORMER_PRIMARY ? former : leader;
        }

        @Override
        public String agentAddress(Node node) {
            return c.agentAddress(server(node).name());
        }

        @Override
        public String replicationAddress(Node node) {
            return agentAddress(node);
        }

        @Override
        public Map<ByteString, ByteString> dataAtFork() {
            return atFork;
        }

        @Override
        public List<Write> divergentWrites() {
            return divergent;
        }

        @Override
        public Map<ByteString, ByteString> readData(Node node) throws Exception {
            PgServer s = server(node);
            PgAgentConfig config = c.config(s.name());
            Path socket = Files.exists(config.fenceSocketDir().resolve(".s.PGSQL." + s.port()))
                    ? config.fenceSocketDir() : s.socketDir();
            Map<ByteString, ByteString> data = new LinkedHashMap<>();
            try (Connection conn = s.connectThroughSocket(socket); Statement st = conn.createStatement();
                    ResultSet r = st.executeQuery("SELECT k, v FROM kv ORDER BY k")) {
                while (r.next()) {
                    data.put(ByteString.copyFromUtf8(r.getString(1)), ByteString.copyFromUtf8(r.getString(2)));
                }
            }
            return data;
        }

        @Override
        public void awaitFormerPrimaryCaughtUp(Duration timeout) throws Exception {
            PgCluster.await(former.name() + " holding " + leader.name() + "'s rows and WAL",
                    () -> readData(Node.FORMER_PRIMARY).equals(readData(Node.NEW_PRIMARY))
                            && c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance()).getLastLsn()
                            == c.client(leader.name()).getTimeline(GetTimelineRequest.getDefaultInstance())
                                    .getLastLsn());
        }

        /** A crash of the pod: the agent stops at once, the server is killed (-m immediate); then both start again. */
        @Override
        public void restartFormerPrimary() throws Exception {
            c.agent(former.name()).crash();
            former.run("pg_ctl", "-D", former.dataDir().toString(), "-m", "immediate", "-w", "stop");
            c.restartAgent(former.name());
        }

        /** A client write over TCP, as any client would try it. */
        @Override
        public boolean tryClientWriteOnFormerPrimary(Write write) {
            try (Connection conn = former.connect()) {
                write(conn, write);
                return true;
            } catch (SQLException e) {
                return false;
            }
        }

        @Override
        public Path localFile(Node node, String agentPath) {
            return Path.of(agentPath);
        }

        @Override
        public String nodeName(Node node) {
            return server(node).name();
        }

        @Override
        public void limitCopySpace(Node node, long bytes) {
            c.agent(server(node).name()).rollbackFileFaults().copyFreeSpace(bytes);
        }

        @Override
        public ByteString recordKey(ByteString key) {
            ObjectNode n = Wal2JsonRecords.JSON.createObjectNode();
            n.put("schema", "public");
            n.put("table", "kv");
            n.putObject("key").put("k", key.toStringUtf8());
            return ByteString.copyFrom(Wal2JsonRecords.bytes(n).toByteArray());
        }

        @Override
        public ByteString recordImage(ByteString key, ByteString value) {
            ArrayNode row = Wal2JsonRecords.JSON.createArrayNode();
            row.addObject().put("name", "k").put("type", "text").put("value", key.toStringUtf8());
            row.addObject().put("name", "v").put("type", "text").put("value", value.toStringUtf8());
            return ByteString.copyFrom(Wal2JsonRecords.bytes(row).toByteArray());
        }

        @Override
        public void close() {
            c.close();
        }
    }

    @Test
    void thePostgresAgentPassesTheConformanceChecks() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int exit;
        try (Fixture f = new Fixture(); PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            exit = ConformanceMain.run(f, out);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        List<String> lines = List.of(text.split("\\R"));
        System.out.println("postgres conformance: " + lines.get(lines.size() - 1));
        assertEquals(List.of(), lines.stream().filter(l -> l.startsWith("FAIL")).toList(), text);
        assertEquals(0, exit, text);
        for (String skipped : lines.stream().filter(l -> l.startsWith("SKIPPED")).toList()) {
            assertTrue(skipped.contains(": on the only cluster it would ")
                    || skipped.contains("the new primary no longer"
                    + " holds"), "only what needs a second cluster (or the new primary's own tail: a promoted"
                    + " standby's slot begins at its promotion) is skipped: "
                    + skipped + "\n" + text);
        }
        assertTrue(lines.contains("PASS RecoverToLsn: the data is the data at the fork"), text);
        assertEquals(4, lines.stream().filter(l -> l.startsWith("PASS StoreRollbackCopy (optional): ")).count(),
                "the PostgreSQL agent keeps off-node copies: " + text);
        assertTrue(lines.contains("PASS RejoinAsReplica: the data is the new primary's"), text);
        assertTrue(lines.contains("PASS SummarizeTail (optional): what ReadDivergentTail streams for the same range"),
                text);
        assertTrue(lines.contains("PASS SummarizeTail (optional): range errors as ReadDivergentTail's"), text);
    }
}
