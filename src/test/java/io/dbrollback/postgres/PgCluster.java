package io.dbrollback.postgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Real PostgreSQL servers on loopback for tests: a primary ({@code pg-0}) and streaming standbys ({@code pg-1},
 * {@code pg-2}, ...) made with pg_basebackup, each with a physical replication slot on its upstream; and the steps of
 * a failover: {@link #cutOff()}, {@link #failover()} (promote the most advanced standby, the others follow it), and
 * after a pg_rewind, {@link #rejoin}. Everything lives in one temporary folder, removed with every server stopped by
 * {@link #close()} (also from a shutdown hook if a test never closes it).
 *
 * <p>Every server binary runs as described in {@link PgInstall} (under {@code unshare -U} when root). Settings for
 * the PostgreSQL agent's design: {@code wal_level=logical}, {@code wal_log_hints=on} (pg_rewind),
 * {@code max_replication_slots}, {@code max_wal_senders}, {@code hot_standby}, {@code output_plugin_libraries} with
 * wal2json when the server has that setting (15.19+), {@code wal_keep_size} (so that pg_rewind finds the former
 * primary's WAL back to the last common checkpoint), a replication user, and {@code synchronous_commit} and
 * {@code synchronous_standby_names} from {@link Options}.
 */
public final class PgCluster implements AutoCloseable {

    /** How the cluster is made. */
    public static final class Options {
        int standbys = 2;
        String synchronousCommit = "on";
        String synchronousStandbyNames = "";
        boolean fsync = false;
        final Map<String, String> extra = new LinkedHashMap<>();

        /** Two standbys, {@code synchronous_commit=on} without synchronous standbys, {@code fsync=off}. */
        public static Options defaults() {
            return new Options();
        }

        public Options standbys(int n) {
            standbys = n;
            return this;
        }

        /** {@code synchronous_commit} (on, remote_apply, remote_write, local, off). */
        public Options synchronousCommit(String value) {
            synchronousCommit = value;
            return this;
        }

        /**
         * {@code synchronous_standby_names}, e.g. {@code ANY 1 ("pg-1", "pg-2")}: standbys are named pg-1, pg-2...
         * (their {@code application_name}; a name with a {@code -} must be double-quoted there). Every
         * server has it (a promoted standby keeps it). The primary takes it only once its standbys stream
         * ({@link PgCluster#start}): before, its first commit would wait for a standby forever.
         */
        public Options synchronousStandbyNames(String value) {
            synchronousStandbyNames = value;
            return this;
        }

        /** {@code fsync=on}: slower, for tests that crash the machine's view of a server rather than a process. */
        public Options fsync(boolean on) {
            fsync = on;
            return this;
        }

        /** Any other setting, written as given (quote strings: {@code "'value'"}). */
        public Options setting(String name, String value) {
            extra.put(name, value);
            return this;
        }
    }

    /** What {@link #cutOff()} left: where each standby stopped receiving, and the primary's flushed WAL then. */
    public record Cut(PgLsn primaryFlushLsn, Map<String, PgLsn> receivedBy) {
    }

    /**
     * A failover: the promoted standby, its new timeline, and the switchpoint that its timeline history file gives
     * for the former timeline (the end of the last WAL record it replayed on it).
     */
    public record Failover(PgServer formerPrimary, PgServer newPrimary, int formerTimeline, int newTimeline,
            PgLsn switchpoint, PgLsn replayedBeforePromotion, String historyFile) {
    }

    private static final Duration WAIT = Duration.ofSeconds(60);

    private final PgInstall install;
    private final Path root;
    private final Path scratch;
    private final String password = UUID.randomUUID().toString();
    private final Map<String, String> settings;
    private final List<PgServer> servers = new ArrayList<>();
    private final Map<PgServer, PgServer> upstream = new LinkedHashMap<>();
    private final Thread shutdownHook;
    private PgServer primary;
    private boolean closed;

    private PgCluster(PgInstall install, Path root, Map<String, String> settings) throws IOException {
        this.install = install;
        this.root = root;
        this.scratch = Files.createDirectories(root.resolve("scratch"));
        this.settings = settings;
        this.shutdownHook = new Thread(this::closeQuietly, "pg-cluster-cleanup");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Starts a primary and {@code options.standbys} streaming standbys, and waits until every standby streams.
     * Fails (never skips) when PostgreSQL or wal2json is not installed, saying how to install them.
     */
    public static PgCluster start(Options options) throws IOException, SQLException {
        PgInstall install = PgInstall.find();
        install.requireWal2json();
        PgCluster cluster = new PgCluster(install, Files.createTempDirectory("pgc"), settings(install, options));
        try {
            cluster.build(options.standbys);
            return cluster;
        } catch (IOException | SQLException | RuntimeException | Error e) {
            cluster.closeQuietly();
            throw e;
        }
    }

    static Map<String, String> settings(PgInstall install, Options o) {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("max_connections", "40");
        s.put("shared_buffers", "32MB");
        s.put("wal_level", "logical");
        s.put("wal_log_hints", "on");
        s.put("full_page_writes", "on");
        s.put("max_wal_senders", "10");
        s.put("max_replication_slots", "10");
        s.put("hot_standby", "on");
        s.put("wal_retrieve_retry_interval", "'200ms'");
        // pg_rewind reads the former primary's WAL from the last checkpoint before the fork; the former primary's own
        // checkpoints after the fork (its restart for the fence is one) remove older segments unless kept
        s.put("wal_keep_size", "'1GB'");
        s.put("synchronous_commit", o.synchronousCommit);
        s.put("synchronous_standby_names", "'" + o.synchronousStandbyNames + "'");
        s.put("fsync", o.fsync ? "on" : "off");
        s.put("lc_messages", "'C'");
        // An ANALYZE commits a transaction with no decodable change, which the agent keeps as an uncaptured
        // record (and the rollback then waits for approval): the tests' tails hold only what the tests wrote.
        s.put("autovacuum", "off");
        if (install.hasSetting("output_plugin_libraries")) {
            s.put("output_plugin_libraries", "'pgoutput, test_decoding, wal2json'");
        }
        s.putAll(o.extra);
        return s;
    }

    private void build(int standbys) throws IOException, SQLException {
        PgServer p = newServer("pg-0");
        p.initdb();
        p.start();
        String synchronousNames = settings.getOrDefault("synchronous_standby_names", "''");
        boolean synchronous = !synchronousNames.equals("''");
        if (synchronous) {
            // No standby yet: the replication role's commit would wait for one forever. ALTER SYSTEM commits
            // nothing; pg_basebackup copies this file, but each standby's is written anew.
            p.execute("ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()");
        }
        p.execute("CREATE ROLE " + PgServer.REPLICATION_USER + " REPLICATION LOGIN PASSWORD '" + password + "'");
        primary = p;
        for (int i = 1; i <= standbys; i++) {
            PgServer s = newServer("pg-" + i);
            // -C -S: the standby's physical slot on the primary, so that its WAL stays until the standby has it
            s.run("pg_basebackup", "-h", "127.0.0.1", "-p", Integer.toString(p.port()), "-U",
                    PgServer.REPLICATION_USER, "-D", s.dataDir().toString(), "-X", "stream", "-c", "fast", "-N", "-C",
                    "-S", s.slotName()).ok("pg_basebackup " + s.name());
            s.writeConfig();
            s.writeStandbyConfig(p, s.slotName());
            s.start();
            upstream.put(s, p);
        }
        for (PgServer s : standbys()) {
            awaitStreaming(s, 1);
        }
        if (synchronous) {
            p.execute("ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()");
            await(p.name() + " with synchronous standbys " + synchronousNames, () -> !p.queryString(
                    "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')").equals("0"));
        }
    }

    private PgServer newServer(String name) throws IOException {
        PgServer s = new PgServer(install, name, Files.createDirectories(root.resolve(name)), scratch, settings,
                password);
        servers.add(s);
        return s;
    }

    /** The installation in use. */
    public PgInstall install() {
        return install;
    }

    /** Every server, in creation order ({@code pg-0} first). */
    public List<PgServer> servers() {
        return List.copyOf(servers);
    }

    /** The server named {@code name}. */
    public PgServer server(String name) {
        return servers.stream().filter(s -> s.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no server " + name));
    }

    /** The current primary. */
    public PgServer primary() {
        return primary;
    }

    /** The servers that stream (or streamed until {@link #cutOff()}) from the current primary. */
    public List<PgServer> standbys() {
        return upstream.entrySet().stream().filter(e -> e.getValue() == primary).map(Map.Entry::getKey).toList();
    }

    /** A folder in the cluster's temporary folder (removed with it). */
    public Path folder(String name) throws IOException {
        return Files.createDirectories(root.resolve(name));
    }

    // ---- waiting -------------------------------------------------------------------------------------------------

    /** A condition checked every 20 ms. */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** Waits until {@code condition} holds (60 s at most), else fails naming {@code what}. */
    public static void await(String what, Condition condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (condition.holds()) {
                    return;
                }
                last = null;
            } catch (Exception e) {
                last = e;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
        throw new AssertionError("timed out after " + WAIT.toSeconds() + " s waiting for " + what, last);
    }

    private void awaitStreaming(PgServer standby, int timeline) {
        await(standby.name() + " streaming on timeline " + timeline, () -> "streaming".equals(standby.queryString(
                "SELECT status FROM pg_stat_wal_receiver WHERE received_tli = " + timeline)));
    }

    /**
     * Waits until every standby of the primary has replayed all the WAL the primary has written as of now, including
     * records of transactions still open. Those are sent only once flushed, and the WAL writer does not flush a
     * partial page for them by itself (the next running-xacts record, up to 15 s later, does): when the flush is
     * behind, a transaction that only takes an xid ({@code SELECT txid_current()}) commits, which flushes the WAL
     * and which logical decoding never shows (it has no change).
     */
    public void awaitCaughtUp() throws SQLException {
        PgLsn target = primary.queryLsn("SELECT pg_current_wal_insert_lsn()");
        if (target.isAfter(primary.queryLsn("SELECT pg_current_wal_flush_lsn()"))) {
            primary.execute("SELECT txid_current()");
        }
        await(primary.name() + " flushing " + target, () -> !target.isAfter(
                primary.queryLsn("SELECT pg_current_wal_flush_lsn()")));
        for (PgServer s : standbys()) {
            await(s.name() + " replaying " + target, () -> !target.isAfter(
                    s.queryLsn("SELECT pg_last_wal_replay_lsn()")));
        }
    }

    /** The server's current timeline (its current WAL file name's first field). */
    public static int timeline(PgServer s) throws SQLException {
        String file = s.queryString("SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
                + "ELSE pg_walfile_name(pg_current_wal_lsn()) END");
        if (file == null) {
            return Integer.parseInt(s.queryString("SELECT received_tli FROM pg_stat_wal_receiver"));
        }
        return Integer.parseInt(file.substring(0, 8), 16);
    }

    // ---- the failover --------------------------------------------------------------------------------------------

    /**
     * Cuts the primary off from its standbys once they have caught up ({@link #awaitCaughtUp()}: so they hold the
     * records of transactions open now, not their commits): each standby stops replicating
     * ({@code ALTER SYSTEM SET primary_conninfo = ''} and a reload end its WAL receiver), then this waits until the
     * primary has no WAL sender left. The primary keeps running and taking writes, which no standby receives.
     */
    public Cut cutOff() throws SQLException {
        awaitCaughtUp();
        for (PgServer s : standbys()) {
            s.execute("ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()");
        }
        Map<String, PgLsn> received = new LinkedHashMap<>();
        for (PgServer s : standbys()) {
            await(s.name() + " without a WAL receiver", () -> s.queryString("SELECT count(*) FROM pg_stat_wal_receiver")
                    .equals("0"));
            received.put(s.name(), s.queryLsn("SELECT pg_last_wal_receive_lsn()"));
        }
        await(primary.name() + " without WAL senders", () -> primary.queryString(
                "SELECT count(*) FROM pg_stat_replication").equals("0"));
        return new Cut(primary.queryLsn("SELECT pg_current_wal_flush_lsn()"), received);
    }

    /**
     * Promotes the standby that replayed the most of the primary's WAL ({@code pg_ctl promote}: a new timeline) and
     * makes the other standbys follow it (a slot on it, {@code primary_conninfo} to it, a reload; they move to the
     * new timeline since {@code recovery_target_timeline} is {@code latest}). The former primary is left as it is:
     * running, detached. Reads the switchpoint from the new timeline's history file.
     */
    public Failover failover() throws SQLException, IOException {
        List<PgServer> candidates = standbys();
        if (candidates.isEmpty()) {
            throw new IllegalStateException("no standby to promote");
        }
        for (PgServer s : candidates) {
            await(s.name() + " replaying all it received", () -> s.queryString(
                    "SELECT pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()").equals("t"));
        }
        Map<PgServer, PgLsn> replayed = new LinkedHashMap<>();
        for (PgServer s : candidates) {
            replayed.put(s, s.queryLsn("SELECT pg_last_wal_replay_lsn()"));
        }
        PgServer chosen = candidates.stream().max(Comparator.comparing(replayed::get)).orElseThrow();
        PgServer former = primary;
        int formerTimeline = timeline(former);
        chosen.promote();
        int newTimeline = timeline(chosen);
        String historyName = String.format("%08X.history", newTimeline);
        String history = chosen.queryString("SELECT pg_read_file('pg_wal/" + historyName + "')");
        PgLsn switchpoint = switchpoint(history, formerTimeline);
        primary = chosen;
        upstream.remove(chosen);
        for (PgServer other : candidates) {
            if (other != chosen) {
                follow(other, chosen, newTimeline);
            }
        }
        return new Failover(former, chosen, formerTimeline, newTimeline, switchpoint, replayed.get(chosen), history);
    }

    /**
     * The switchpoint of {@code timeline} in a timeline history file's text: each line is
     * {@code <parent timeline>\t<switchpoint LSN>\t<reason>}.
     */
    public static PgLsn switchpoint(String historyFile, int timeline) {
        for (String line : historyFile.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 2 && !f[0].startsWith("#") && Integer.parseInt(f[0]) == timeline) {
                return PgLsn.parse(f[1]);
            }
        }
        throw new AssertionError("timeline " + timeline + " not in the history file:\n" + historyFile);
    }

    private void follow(PgServer standby, PgServer newPrimary, int newTimeline) throws SQLException {
        newPrimary.execute("SELECT pg_create_physical_replication_slot('" + standby.slotName() + "', true)");
        standby.execute("ALTER SYSTEM SET primary_conninfo = '" + newPrimary.conninfo(PgServer.REPLICATION_USER)
                + " application_name=" + standby.name() + "'",
                "ALTER SYSTEM SET primary_slot_name = '" + standby.slotName() + "'", "SELECT pg_reload_conf()");
        upstream.put(standby, newPrimary);
        awaitStreaming(standby, newTimeline);
        awaitCaughtUp();
    }

    /**
     * Rejoins a stopped, rewound former primary as a standby of the current primary: its own {@code postgresql.conf}
     * and {@code pg_hba.conf} written again (pg_rewind copied the source's), {@code postgresql.auto.conf} with only
     * {@code primary_conninfo} and {@code primary_slot_name} (a new slot on the primary), {@code standby.signal};
     * then starts it and waits until it streams on the primary's timeline and has caught up.
     */
    public void rejoin(PgServer former) throws SQLException, IOException {
        PgServer p = primary;
        p.execute("SELECT pg_create_physical_replication_slot('" + former.slotName() + "', true)");
        former.writeConfig();
        former.writeStandbyConfig(p, former.slotName());
        former.start();
        upstream.put(former, p);
        awaitStreaming(former, timeline(p));
        awaitCaughtUp();
    }

    // ---- cleanup -------------------------------------------------------------------------------------------------

    /** Stops every server ({@code -m immediate}) and removes the temporary folder. */
    @Override
    public void close() {
        closeQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
    }

    private synchronized void closeQuietly() {
        if (closed) {
            return;
        }
        closed = true;
        for (PgServer s : servers) {
            try {
                s.stopQuietly();
            } catch (RuntimeException | Error e) {
                System.err.println("could not stop " + s + ": " + e);
            }
        }
        try {
            deleteTree(root);
        } catch (IOException | UncheckedIOException e) {
            System.err.println("could not remove " + root + ": " + e);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
