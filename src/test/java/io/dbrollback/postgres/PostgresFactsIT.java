package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.postgres.DivergentFailover.Written;
import io.dbrollback.postgres.Wal2Json.Message;
import io.dbrollback.postgres.Wal2Json.Txn;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The facts about PostgreSQL 15 the PostgreSQL agent builds on, each checked on real servers (docs/postgresql.md,
 * "Facts verified on PostgreSQL 15"): three servers, a failover with a divergent tail ({@link DivergentFailover}),
 * then in order: the switchpoint, pg_rewind's dry run, the fence candidate, capturing the tail by logical decoding,
 * pg_rewind for real, and the rejoin. The steps depend on each other, as the agent's do.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PostgresFactsIT {

    private final long t0 = System.nanoTime();
    private PgCluster cluster;
    private DivergentFailover story;
    private PgServer former;
    private PgServer newPrimary;
    private PgLsn s;
    private List<Txn> decoded;
    private PgLsn lastCommonCheckpoint;

    @BeforeAll
    void failoverWithDivergence() throws Exception {
        cluster = PgCluster.start(PgCluster.Options.defaults());
        long started = ms(t0);
        story = DivergentFailover.run(cluster);
        former = story.failover.formerPrimary();
        newPrimary = story.failover.newPrimary();
        s = story.failover.switchpoint();
        System.out.printf("postgres facts: %s; three servers started in %d ms (initdb, 2 x pg_basebackup, 3 x start), "
                + "the failover story in %d ms; %s promoted to timeline %d at %s%n", cluster.install().version(),
                started, ms(t0) - started, newPrimary.name(), story.failover.newTimeline(), s);
    }

    @AfterAll
    void cleanup() {
        if (cluster != null) {
            cluster.close();
        }
        System.out.printf("postgres facts: %d ms in all%n", ms(t0));
    }

    @Test
    @Order(1)
    void everyServerBinaryRunsAsThisUserWithItsOwnFiles() throws Exception {
        PgInstall install = cluster.install();
        assertEquals(15, install.major(), install.version());
        boolean root = "0".equals(Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow().split("\\s+")[2]);
        assertEquals(root, install.underUserNamespace(), "unshare -U exactly when root");
        // initdb, pg_ctl, postgres and pg_basebackup made and run these; the data directories stay ours, mode 0700
        String me = System.getProperty("user.name");
        for (PgServer server : cluster.servers()) {
            assertEquals(me, Files.getOwner(server.dataDir()).getName(), server.name());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.dataDir())));
            assertEquals(me, Files.getOwner(server.dataDir().resolve("global/pg_control")).getName());
        }
        assertEquals("in production", former.controlData().get("Database cluster state"));
        assertEquals("in production", newPrimary.controlData().get("Database cluster state"));
        PgServer follower = cluster.standbys().get(0);
        assertEquals("in archive recovery", follower.controlData().get("Database cluster state"));
        // pg_waldump reads the former primary's timeline 1 at the switchpoint: a record begins exactly there
        String dump = former.run("pg_waldump", "--path=" + former.dataDir().resolve("pg_wal"), "--timeline=1",
                "--start=" + s, "--limit=1").ok("pg_waldump").output();
        assertTrue(dump.contains("lsn: " + s.toWaldumpString() + ","), dump);
        // the settings the design needs
        assertEquals("logical", newPrimary.queryString("SHOW wal_level"));
        assertEquals("on", newPrimary.queryString("SHOW wal_log_hints"));
        assertEquals(install.hasSetting("output_plugin_libraries"), newPrimary.queryString(
                "SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'").equals("1"));
        System.out.printf("postgres facts: root=%s (unshare -U=%s), output_plugin_libraries %s%n", root,
                install.underUserNamespace(), install.hasSetting("output_plugin_libraries") ? "listed" : "absent");
    }

    @Test
    @Order(2)
    void theNewTimelinesHistoryFileGivesTheSwitchpoint() throws Exception {
        PgCluster.Failover f = story.failover;
        assertEquals(f.formerTimeline() + 1, f.newTimeline());
        // the switchpoint is the end of the last record the promoted standby replayed on the former timeline
        assertEquals(f.replayedBeforePromotion(), s);
        assertFalse(s.isAfter(story.cut.receivedBy().get(newPrimary.name())));
        assertTrue(story.formerPrimaryEnd.isAfter(s), "the former primary's WAL goes on past the switchpoint");
        assertTrue(f.historyFile().startsWith(f.formerTimeline() + "\t" + s + "\t"), f.historyFile());
        // the same file over a replication connection (TIMELINE_HISTORY), and on the standby that followed
        assertEquals(f.historyFile(), timelineHistoryOverReplication(newPrimary, f.newTimeline()));
        PgServer follower = cluster.standbys().get(0);
        assertEquals(f.historyFile(), follower.queryString(
                "SELECT pg_read_file('pg_wal/" + String.format("%08X", f.newTimeline()) + ".history')"));
        assertEquals(f.newTimeline(), PgCluster.timeline(follower));
        System.out.printf("postgres facts: history file %s: %s", String.format("%08X.history", f.newTimeline()),
                f.historyFile());
    }

    private static String timelineHistoryOverReplication(PgServer server, int timeline) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", PgServer.REPLICATION_USER);
        p.setProperty("password", server.password());
        p.setProperty("replication", "database");
        p.setProperty("preferQueryMode", "simple");
        p.setProperty("assumeMinServerVersion", "15");
        p.setProperty("sslmode", "disable");
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/postgres",
                p);
                Statement st = c.createStatement(); ResultSet rs = st.executeQuery("TIMELINE_HISTORY " + timeline)) {
            rs.next();
            assertEquals(String.format("%08X.history", timeline), rs.getString(1));
            return new String(rs.getBytes(2), StandardCharsets.UTF_8);
        }
    }

    @Test
    @Order(3)
    void pgRewindsDryRunReportsTheSameSwitchpointAndChangesNothing() throws Exception {
        former.stop(); // pg_rewind needs a target shut down cleanly
        Map<String, String> control = former.controlData();
        assertEquals("shut down", control.get("Database cluster state"));
        assertEquals("1", control.get("Latest checkpoint's TimeLineID"));
        Map<String, String> before = digests(former.dataDir().resolve("pg_wal"));
        // until the promoted server's first checkpoint, its control file names the former timeline, and pg_rewind
        // then sees nothing to do: it says so and exits 0 (the promotion's checkpoint is a spread one, minutes long)
        String checkpointTimeline = newPrimary.queryString("SELECT timeline_id FROM pg_control_checkpoint()");
        if (checkpointTimeline.equals("1")) {
            PgInstall.Result early = former.rewind(newPrimary, true).ok("pg_rewind --dry-run before the checkpoint");
            assertTrue(early.output().contains("source and target cluster are on the same timeline")
                    && early.output().contains("no rewind required"), early.output());
        }
        newPrimary.execute("CHECKPOINT");
        assertEquals(Integer.toString(story.failover.newTimeline()), newPrimary.queryString(
                "SELECT timeline_id FROM pg_control_checkpoint()"));
        PgInstall.Result dry = former.rewind(newPrimary, true).ok("pg_rewind --dry-run");
        assertTrue(dry.output().contains("servers diverged at WAL location " + s + " on timeline 1"), dry.output());
        assertEquals(before, digests(former.dataDir().resolve("pg_wal")));
        assertEquals("shut down", former.controlData().get("Database cluster state"));
        Matcher m = Pattern.compile("rewinding from last common checkpoint at (\\S+) "
                + "on timeline 1").matcher(dry.output());
        assertTrue(m.find(), dry.output());
        lastCommonCheckpoint = PgLsn.parse(m.group(1));
        assertTrue(s.isAfter(lastCommonCheckpoint));
        System.out.printf("postgres facts: the new primary's checkpoint timeline before CHECKPOINT: %s; "
                + "pg_rewind --dry-run in %d ms: %s%n", checkpointTimeline, dry.millis(),
                dry.output().lines().filter(l -> l.contains("diverged")).findFirst().orElse(""));
    }

    @Test
    @Order(4)
    void theFenceCandidateRefusesClientsAndAdmitsTheAgent() throws Exception {
        Path fence = cluster.folder("fence-" + former.name());
        former.restartFenced(fence);
        // a client over TCP: nothing listens
        SQLException tcp = assertThrows(SQLException.class, former::connect);
        assertEquals("08001", tcp.getSQLState(), tcp.getMessage());
        assertTrue(tcp.getMessage().contains("Connection to 127.0.0.1:" + former.port() + " refused"),
                tcp.getMessage());
        // a client on the node's ordinary socket: the socket is gone
        assertFalse(Files.exists(former.socketDir().resolve(".s.PGSQL." + former.port())));
        SQLException socket = assertThrows(SQLException.class, () -> former.connectThroughSocket(former.socketDir()));
        assertEquals("08001", socket.getSQLState(), socket.getMessage());
        // the agent, through the private socket directory (mode 0700): a primary still, no client session left
        try (Connection agent = former.connectThroughSocket(fence); Statement st = agent.createStatement()) {
            assertEquals("f", one(st, "SELECT pg_is_in_recovery()"));
            assertEquals("", one(st, "SHOW listen_addresses"));
            assertEquals("0", one(st, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    + "AND pid <> pg_backend_pid()"));
            // the slot survived the restarts, never advanced: its confirmed position is where it was created
            assertEquals(story.slotLsn.toString(), one(st, "SELECT confirmed_flush_lsn FROM pg_replication_slots "
                    + "WHERE slot_name = '" + DivergentFailover.SLOT + "'"));
        }
        assertTrue(s.isAfter(story.slotLsn));
        System.out.printf("postgres facts: fenced: TCP '%s'; ordinary socket '%s'; agent via the private socket: ok%n",
                tcp.getMessage(), socket.getMessage());
    }

    @Test
    @Order(5)
    void logicalDecodingOnTheFencedFormerPrimaryReturnsEveryDivergentChange() throws Exception {
        long t = System.nanoTime();
        List<Message> messages;
        try (Connection agent = former.connectAsAgent()) {
            messages = Wal2Json.peek(agent, DivergentFailover.SLOT);
        }
        long peekMs = ms(t);
        decoded = Wal2Json.transactions(messages);

        // the LSNs each message carries
        PgLsn previousCommit = null;
        for (Txn txn : decoded) {
            assertEquals(txn.begin().lsn(), txn.commit().lsn(), "B and C carry the commit record's start as lsn");
            assertEquals(txn.begin().nextLsn(), txn.commit().nextLsn(), "B and C carry its end as nextlsn");
            assertTrue(txn.commitEndLsn().isAfter(txn.commitLsn()));
            assertEquals(txn.commitEndLsn(), txn.commit().rowLsn(), "the C row's lsn column is the commit's end");
            assertEquals(txn.xid(), txn.begin().rowXid());
            if (previousCommit != null) {
                assertTrue(txn.commitLsn().isAfter(previousCommit), "decoding yields commit order");
            }
            previousCommit = txn.commitLsn();
            for (Message change : txn.changes()) {
                assertEquals(change.lsn(), change.rowLsn(), "a change's lsn is its own record's start, in both places");
                assertTrue(txn.commitLsn().isAfter(change.lsn()), "every change precedes its commit record");
                assertFalse(change.rowLsn().isAfter(change.lsn()));
                assertFalse(txn.begin().rowLsn().isAfter(change.lsn()), "the B row's lsn column is at or before "
                        + "the first change (the transaction's first record)");
                assertTrue(change.data().hasNonNull("timestamp"));
            }
        }

        // a transaction is shared iff its commit record ends at or before S
        Map<Long, Txn> byXid = decoded.stream().collect(Collectors.toMap(Txn::xid, x -> x));
        for (Written w : story.shared) {
            Txn txn = byXid.get(w.xid());
            assertFalse(txn.divergentAfter(s), w.label() + " ends at " + txn.commitEndLsn() + ", S " + s);
            assertEquals(w.changes(), counts(txn), w.label());
        }
        List<Txn> divergent = decoded.stream().filter(x -> x.divergentAfter(s)).toList();
        for (Txn txn : decoded) {
            // equivalently: its commit record starts at or after S (S is a record boundary)
            assertEquals(txn.divergentAfter(s), !s.isAfter(txn.commitLsn()));
        }
        Set<Long> writtenDivergent = story.divergent.stream().map(Written::xid).collect(Collectors.toSet());
        List<Long> decodedOrder = divergent.stream().map(Txn::xid).filter(writtenDivergent::contains).toList();
        assertEquals(story.divergent.stream().map(Written::xid).toList(), decodedOrder,
                "every divergent transaction, in commit order (the straddling one last)");
        for (Written w : story.divergent) {
            assertEquals(w.changes(), counts(byXid.get(w.xid())), w.label());
        }
        for (Txn txn : divergent) {
            if (!writtenDivergent.contains(txn.xid())) {
                assertEquals(List.of(), txn.changes(), "a transaction the story did not write (autovacuum) is empty");
            }
        }

        // the straddling transaction: changes before S, commit after: divergent, all its changes with it
        Txn straddling = byXid.get(story.straddling.xid());
        assertTrue(straddling.divergentAfter(s));
        for (Message change : straddling.changes()) {
            assertTrue(s.isAfter(change.lsn()), "its change at " + change.lsn() + " is before S " + s);
        }
        assertTrue(s.isAfter(straddling.begin().rowLsn()), "placing it by its first record would call it shared");
        assertFalse(story.straddlingFirstWriteAfter.isAfter(straddling.changes().get(0).lsn()));

        // nothing for the sequence's nextval, the unlogged table (not even its transaction), or any sequence
        assertFalse(byXid.containsKey(story.unloggedOnly.xid()), "the unlogged-only transaction is not decoded");
        for (Txn txn : decoded) {
            for (Message change : txn.changes()) {
                assertFalse(!change.lsn().isAfter(story.sequenceOnly.to()) && !story.sequenceOnly.from().isAfter(
                        change.lsn()), "a change inside the nextval window: " + change.data());
                assertNotEquals("public.scratch", change.table());
                assertNotEquals("public.tickets", change.table());
            }
        }

        // counts: every divergent row the story wrote, 50,000-row transaction included
        int decodedRows = 0;
        for (Txn txn : divergent) {
            decodedRows += (int) txn.changes().stream().filter(m -> !m.action().equals("T")).count();
        }
        assertEquals(story.divergentRows(), decodedRows);
        Written big = story.divergent.stream().filter(w -> w.label().startsWith("insert 50,000")).findFirst()
                .orElseThrow();
        assertEquals(DivergentFailover.BIG_ROWS, byXid.get(big.xid()).changes().size());

        // advancing the slot to S (not past it) leaves exactly the divergent transactions to decode
        try (Connection agent = former.connectAsAgent(); Statement st = agent.createStatement()) {
            assertEquals(s.toString(), one(st, "SELECT end_lsn FROM pg_replication_slot_advance('"
                    + DivergentFailover.SLOT + "', '" + s + "')"));
            t = System.nanoTime();
            List<Txn> afterAdvance = Wal2Json.transactions(Wal2Json.peek(agent, DivergentFailover.SLOT));
            long advancedPeekMs = ms(t);
            assertTrue(afterAdvance.stream().allMatch(x -> x.divergentAfter(s)));
            // (an autovacuum transaction may commit between the two reads: compare those with changes)
            assertEquals(withChanges(divergent), withChanges(afterAdvance));
            // the server's share: decoding alone, nothing sent but a count
            t = System.nanoTime();
            String count = one(st, "SELECT count(*) FROM pg_logical_slot_peek_changes('" + DivergentFailover.SLOT
                    + "', NULL, NULL, '" + String.join("', '", Wal2Json.OPTIONS) + "')");
            long serverMs = ms(t);
            assertEquals(afterAdvance.stream().mapToInt(x -> x.changes().size() + 2).sum(), Integer.parseInt(count));
            System.out.printf("postgres facts: peek from the slot's creation: %d messages, %d transactions (%d "
                    + "divergent, %d divergent rows) read and parsed in %d ms; after advancing the slot to S: %d ms; "
                    + "decoding alone (count(*) on the server): %d ms%n", messages.size(), decoded.size(),
                    divergent.size(), decodedRows, peekMs, advancedPeekMs, serverMs);
        }
    }

    @Test
    @Order(6)
    void decodedRowsCarryWhatTheReplicaIdentityGives() {
        Map<String, Written> byLabel = story.divergent.stream().collect(Collectors.toMap(Written::label, w -> w));
        Map<Long, Txn> byXid = decoded.stream().collect(Collectors.toMap(Txn::xid, x -> x));
        // REPLICA IDENTITY FULL: an update carries the new row and the whole old row; a delete the whole old row
        Message update = byXid.get(byLabel.get("update 10 accounts").xid()).changes().get(0);
        assertEquals(List.of("id", "owner", "balance"), names(update.data().get("columns")));
        assertEquals(List.of("id", "owner", "balance"), names(update.data().get("identity")));
        JsonNode balance = update.data().get("columns").get(2);
        assertEquals("numeric(20,2)", balance.get("type").asText());
        assertEquals(1700, balance.get("typeoid").asInt());
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"typeoid\":23}]", update.data().get("pk").toString());
        Message delete = byXid.get(byLabel.get("delete 5 accounts").xid()).changes().get(0);
        assertFalse(delete.data().has("columns"));
        assertEquals(List.of("id", "owner", "balance"), names(delete.data().get("identity")));
        // without it (REPLICA IDENTITY DEFAULT): the old row is the primary key only
        List<Message> plain = byXid.get(byLabel.get("update and delete without REPLICA IDENTITY FULL").xid()).changes();
        assertEquals(List.of("id", "v"), names(plain.get(0).data().get("columns")));
        assertEquals(List.of("id"), names(plain.get(0).data().get("identity")));
        assertEquals(List.of("id"), names(plain.get(1).data().get("identity")));
        // an unchanged TOASTed column is missing from the new row; the FULL old row has it
        Message docs = byXid.get(byLabel.get("update beside a TOASTed value").xid()).changes().get(0);
        assertEquals(List.of("id", "tag"), names(docs.data().get("columns")));
        assertEquals(List.of("id", "tag", "body"), names(docs.data().get("identity")));
        assertEquals(96_000, docs.data().get("identity").get(2).get("value").asText().length());
        // numeric values are bare JSON numbers with every digit and their scale: read them as exact decimals
        assertTrue(update.raw().contains("{\"name\":\"balance\",\"type\":\"numeric(20,2)\",\"typeoid\":1700,"
                + "\"value\":100.00}"), update.raw());
        assertEquals("100.00", update.data().get("identity").get(2).get("value").decimalValue().toPlainString());
        Message wide = byXid.get(byLabel.get("numeric wider than a double").xid()).changes().get(0);
        assertEquals(new BigDecimal(DivergentFailover.WIDE_NUMERIC), wide.data().get("columns").get(2).get("value")
                .decimalValue());
        // a bigserial's values are in the rows (the sequence itself is not decoded)
        List<Message> orders = byXid.get(byLabel.get("insert 3 orders (bigserial)").xid()).changes();
        assertEquals(List.of(1L, 2L, 3L), orders.stream().map(m -> m.data().get("columns").get(0).get("value").asLong())
                .toList());
        // TRUNCATE: one message, no rows; DDL: an empty transaction
        Message truncate = byXid.get(byLabel.get("truncate").xid()).changes().get(0);
        assertEquals("T", truncate.action());
        assertFalse(truncate.data().has("columns") || truncate.data().has("identity"));
        assertEquals(List.of(), byXid.get(byLabel.get("ddl").xid()).changes());
        System.out.printf("postgres facts: an update message: %s%npostgres facts: a begin: %s; a commit: %s%n",
                update.raw(), byXid.get(byLabel.get("update 10 accounts").xid()).begin().raw(),
                byXid.get(byLabel.get("update 10 accounts").xid()).commit().raw());
    }

    @Test
    @Order(7)
    void pgRewindOverwritesTheTailSegmentDropsTheSlotsAndCopiesTheConfiguration() throws Exception {
        former.stop();
        Path wal = former.dataDir().resolve("pg_wal");
        long segmentSize = Long.parseLong(newPrimary.queryString("SELECT setting FROM pg_settings "
                + "WHERE name = 'wal_segment_size'"));
        String tailSegment = s.segmentFileName(1, segmentSize);
        Map<String, String> before = digests(wal);
        assertTrue(before.containsKey(tailSegment), tailSegment + " in " + before.keySet());
        // before the rewind, pg_waldump finds the straddling transaction's commit record where decoding said
        Txn straddling = decoded.stream().filter(x -> x.xid() == story.straddling.xid()).findFirst().orElseThrow();
        String commit = former.run("pg_waldump", "--path=" + wal, "--timeline=1", "--start=" + straddling.commitLsn(),
                "--limit=1").ok("pg_waldump").output();
        assertTrue(commit.contains("rmgr: Transaction") && commit.contains("COMMIT")
                && commit.contains("lsn: " + straddling.commitLsn().toWaldumpString() + ",")
                && commit.matches("(?s).*tx: +" + straddling.xid() + ",.*"), commit);
        assertTrue(Files.isDirectory(former.dataDir().resolve("pg_replslot").resolve(DivergentFailover.SLOT)));

        // pg_rewind reads the target's WAL back to the last common checkpoint: without that segment it fails, and
        // changes nothing (here the segment is moved away; a checkpoint of the former primary after the fork removes
        // it unless wal_keep_size, a slot or an archive keeps it)
        String checkpointSegment = lastCommonCheckpoint.segmentFileName(1, segmentSize);
        Path aside = cluster.folder("aside");
        Files.move(wal.resolve(checkpointSegment), aside.resolve(checkpointSegment));
        Map<String, String> controlBefore = digests(former.dataDir().resolve("global"));
        PgInstall.Result missing = former.rewind(newPrimary, false);
        assertEquals(1, missing.exitCode(), missing.output());
        assertTrue(missing.output().contains("could not open file") && missing.output().contains(checkpointSegment)
                && missing.output().contains("could not find previous WAL record"), missing.output());
        Files.move(aside.resolve(checkpointSegment), wal.resolve(checkpointSegment));
        assertEquals(before, digests(wal), "the failed pg_rewind changed no WAL file");
        assertEquals(controlBefore, digests(former.dataDir().resolve("global")), "nor the control file");

        PgInstall.Result rewind = former.rewind(newPrimary, false).ok("pg_rewind");
        assertTrue(rewind.output().contains("servers diverged at WAL location " + s + " on timeline 1"));
        Map<String, String> after = digests(wal);
        assertNotEquals(before.get(tailSegment), after.get(tailSegment), "the tail's segment is overwritten");
        try (var slots = Files.list(former.dataDir().resolve("pg_replslot"))) {
            assertEquals(List.of(), slots.toList(), "every replication slot is gone");
        }
        // the configuration is the source's now: the node's own settings must be written again
        for (String file : List.of("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf")) {
            assertEquals(Files.readString(newPrimary.dataDir().resolve(file)),
                    Files.readString(former.dataDir().resolve(file)), file);
        }
        assertTrue(Files.readString(former.dataDir().resolve("postgresql.conf")).contains(
                "port = " + newPrimary.port() + "\n"));
        assertTrue(Files.exists(former.dataDir().resolve("backup_label")));
        assertFalse(Files.exists(former.dataDir().resolve("standby.signal")));
        TreeMap<String, String> fate = new TreeMap<>();
        before.forEach((name, digest) -> fate.put(name, !after.containsKey(name) ? "removed"
                : after.get(name).equals(digest) ? "same" : "overwritten"));
        after.keySet().stream().filter(n -> !before.containsKey(n)).forEach(n -> fate.put(n, "new"));
        System.out.printf("postgres facts: last common checkpoint %s (segment %s), S %s (segment %s); without the "
                + "checkpoint's segment: %s; pg_rewind in %d ms; WAL files: %s%n", lastCommonCheckpoint,
                checkpointSegment, s, tailSegment, missing.output().lines().filter(l -> l.contains("error"))
                .collect(Collectors.joining(" / ")), rewind.millis(), fate);
    }

    @Test
    @Order(8)
    void theRewoundFormerPrimaryRejoinsAsAStandbyAndHoldsTheNewPrimarysData() throws Exception {
        long t = System.nanoTime();
        cluster.rejoin(former);
        long rejoinMs = ms(t);
        assertEquals("t", former.queryString("SELECT pg_is_in_recovery()"));
        assertEquals(story.failover.newTimeline(), PgCluster.timeline(former));
        assertEquals("streaming", newPrimary.queryString("SELECT state FROM pg_stat_replication "
                + "WHERE application_name = '" + former.name() + "'"));
        String tables = "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relkind = 'r' "
                + "AND relpersistence = 'p' AND relnamespace = 'public'::regnamespace";
        assertEquals(newPrimary.queryString(tables), former.queryString(tables), "the DDL's table is gone");
        int rows = 0;
        for (String table : newPrimary.queryString(tables).split(",")) {
            List<String> expected = newPrimary.tableRows(table);
            assertEquals(expected, former.tableRows(table), table);
            assertEquals(expected, cluster.standbys().stream().filter(x -> x != former).findFirst().orElseThrow()
                    .tableRows(table), table);
            rows += expected.size();
        }
        assertEquals("0", former.queryString("SELECT count(*) FROM pg_replication_slots"));
        // logical decoding needs a primary on 15: a standby cannot even hold a logical slot
        SQLException onStandby = assertThrows(SQLException.class, () -> former.execute(
                "SELECT pg_create_logical_replication_slot('on_standby', '" + Wal2Json.PLUGIN + "')"));
        assertTrue(onStandby.getMessage().contains("logical decoding cannot be used while in recovery"),
                onStandby.getMessage());
        System.out.printf("postgres facts: rejoined and caught up in %d ms; %d rows equal on all three%n", rejoinMs,
                rows);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    private static Map<String, Integer> counts(Txn txn) {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (Message change : txn.changes()) {
            m.merge(change.action() + " " + change.table(), 1, Integer::sum);
        }
        return m;
    }

    /** xid and change count of each transaction that has changes, in order. */
    private static List<String> withChanges(List<Txn> txns) {
        return txns.stream().filter(x -> !x.changes().isEmpty()).map(x -> x.xid() + ":" + x.changes().size()).toList();
    }

    private static List<String> names(JsonNode columns) {
        List<String> out = new ArrayList<>();
        columns.forEach(c -> out.add(c.get("name").asText()));
        return out;
    }

    private static String one(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static Map<String, String> digests(Path dir) throws IOException {
        Map<String, String> m = new HashMap<>();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                try {
                    m.put(f.getFileName().toString(), HexFormat.of().formatHex(
                            MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
                } catch (NoSuchAlgorithmException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return new TreeMap<>(m);
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }
}
