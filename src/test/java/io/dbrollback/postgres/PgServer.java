package io.dbrollback.postgres;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * One real PostgreSQL server of a {@link PgCluster}: its data directory, its loopback port and its own Unix socket
 * directory, in the cluster's temporary folder. The cluster creates, stops and removes it.
 *
 * <p>Its {@code postgresql.conf} is written whole by {@link #writeConfig()}: the cluster's settings plus this
 * node's own ({@code port}, {@code listen_addresses}, {@code unix_socket_directories}, {@code cluster_name}).
 * pg_basebackup and pg_rewind copy the source's files, so the cluster writes them again afterwards.
 */
public final class PgServer {

    /** The superuser the tests connect as. */
    public static final String SUPERUSER = "postgres";
    /** The replication user (REPLICATION LOGIN) the standbys stream as. */
    public static final String REPLICATION_USER = "replicator";

    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(120);

    private final PgInstall install;
    private final String name;
    private final Path home;
    private final Path scratch;
    private final Map<String, String> clusterSettings;
    private final String password;
    private int port;
    private Path fencedSocketDir;

    PgServer(PgInstall install, String name, Path home, Path scratch, Map<String, String> clusterSettings,
            String password) throws IOException {
        this.install = install;
        this.name = name;
        this.home = home;
        this.scratch = scratch;
        this.clusterSettings = clusterSettings;
        this.password = password;
        this.port = freePort();
        Files.createDirectories(socketDir());
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The node's name, e.g. {@code pg-0}, also its {@code cluster_name} and {@code application_name}. */
    public String name() {
        return name;
    }

    /** The name as a replication slot name ({@code pg_0}). */
    public String slotName() {
        return name.replace('-', '_');
    }

    /** The data directory. */
    public Path dataDir() {
        return home.resolve("data");
    }

    /** The node's ordinary Unix socket directory. */
    public Path socketDir() {
        return home.resolve("sock");
    }

    /** The server log (pg_ctl's {@code -l}). */
    public Path logFile() {
        return home.resolve("server.log");
    }

    /** The loopback TCP port. */
    public int port() {
        return port;
    }

    /** The libpq connection string of this server for {@code user} over TCP (with the cluster's password). */
    public String conninfo(String user) {
        return "host=127.0.0.1 port=" + port + " user=" + user + " password=" + password + " dbname=postgres";
    }

    /** The cluster's password (of the superuser and the replication user). */
    String password() {
        return password;
    }

    // ---- files -------------------------------------------------------------------------------------------------

    /** The node's own settings, written after the cluster's. */
    Map<String, String> nodeSettings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("listen_addresses", "'127.0.0.1'");
        s.put("port", Integer.toString(port));
        s.put("unix_socket_directories", "'" + socketDir() + "'");
        s.put("cluster_name", "'" + name + "'");
        return s;
    }

    /** Writes {@code postgresql.conf} (the cluster's settings, then the node's) and {@code pg_hba.conf}. */
    public void writeConfig() throws IOException {
        StringBuilder conf = new StringBuilder("# written by the test harness (io.dbrollback.postgres.PgServer)\n");
        Map<String, String> all = new LinkedHashMap<>(clusterSettings);
        all.putAll(nodeSettings());
        all.forEach((k, v) -> conf.append(k).append(" = ").append(v).append('\n'));
        Files.writeString(dataDir().resolve("postgresql.conf"), conf.toString());
        Files.writeString(dataDir().resolve("pg_hba.conf"), String.join("\n",
                "# written by the test harness: the socket trusts whoever can reach it; TCP needs a password",
                "local all all trust",
                "local replication all trust",
                "host all all 127.0.0.1/32 scram-sha-256",
                "host replication " + REPLICATION_USER + " 127.0.0.1/32 scram-sha-256", ""));
    }

    /**
     * Makes this data directory a standby of {@code upstream}: {@code postgresql.auto.conf} holds only
     * {@code primary_conninfo} (as the replication user) and {@code primary_slot_name}; {@code standby.signal}.
     */
    public void writeStandbyConfig(PgServer upstream, String slot) throws IOException {
        Files.writeString(dataDir().resolve("postgresql.auto.conf"), standbySettings(upstream, slot));
        Files.writeString(dataDir().resolve("standby.signal"), "");
    }

    String standbySettings(PgServer upstream, String slot) {
        return "# written by the test harness\n"
                + "primary_conninfo = '" + upstream.conninfo(REPLICATION_USER) + " application_name=" + name + "'\n"
                + "primary_slot_name = '" + slot + "'\n";
    }

    // ---- binaries ----------------------------------------------------------------------------------------------

    /** Runs a server binary (under {@code unshare -U} when root), with the cluster's password in the environment. */
    public PgInstall.Result run(String binary, String... args) {
        return install.run(scratch, binary, List.of(args), Map.of("PGPASSWORD", password), COMMAND_TIMEOUT);
    }

    void initdb() throws IOException {
        Path pwfile = Files.createTempFile(scratch, "pw", ".txt");
        try {
            Files.writeString(pwfile, password + "\n");
            run("initdb", "-D", dataDir().toString(), "-U", SUPERUSER, "--pwfile=" + pwfile, "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
                    .ok("initdb " + name);
        } finally {
            Files.deleteIfExists(pwfile);
        }
        writeConfig();
    }

    /** Starts the server ({@code pg_ctl start -w}) and waits until it accepts connections. */
    public void start() throws IOException {
        startWith(List.of());
    }

    private void startWith(List<String> postgresOptions) throws IOException {
        for (int attempt = 1; ; attempt++) {
            List<String> args = new ArrayList<>(List.of("-D", dataDir().toString(), "-l", logFile().toString(), "-w",
                    "-t", "60"));
            if (!postgresOptions.isEmpty()) {
                args.addAll(List.of("-o", String.join(" ", postgresOptions)));
            }
            args.add("start");
            long logSize = Files.exists(logFile()) ? Files.size(logFile()) : 0;
            PgInstall.Result r = run("pg_ctl", args.toArray(String[]::new));
            if (r.exitCode() == 0) {
                return;
            }
            String log = Files.exists(logFile()) ? Files.readString(logFile(), StandardCharsets.UTF_8) : "";
            log = log.substring((int) Math.min(logSize, log.length())); // this attempt's lines
            if (attempt < 3 && log.contains("could not bind") && postgresOptions.isEmpty()) {
                port = freePort(); // taken between the probe and the bind: another port
                writeConfig();
                continue;
            }
            throw new AssertionError("pg_ctl start of " + name + " failed (exit " + r.exitCode() + "): " + r.output()
                    + "\n--- server log (end) ---\n" + tail(log, 4000));
        }
    }

    /**
     * The fence candidate: (re)starts the server with no TCP listener ({@code listen_addresses=''}) and its socket only
     * in {@code privateSocketDir} (mode 0700), given on the command line so that no configuration file changes.
     * Every client session ends with the restart.
     */
    public void restartFenced(Path privateSocketDir) throws IOException {
        if (isRunning()) {
            stop();
        }
        Files.createDirectories(privateSocketDir);
        Files.setPosixFilePermissions(privateSocketDir, PosixFilePermissions.fromString("rwx------"));
        startWith(List.of("-c", "listen_addresses=''", "-c", "unix_socket_directories='" + privateSocketDir + "'"));
        fencedSocketDir = privateSocketDir;
    }

    /** Stops the server ({@code pg_ctl stop -m fast}: a clean shutdown, as pg_rewind requires). */
    public void stop() {
        run("pg_ctl", "-D", dataDir().toString(), "-m", "fast", "-w", "-t", "60", "stop").ok("pg_ctl stop " + name);
        fencedSocketDir = null;
    }

    /** Stops the server if it runs, {@code -m immediate}; quiet (for cleanup). */
    void stopQuietly() {
        if (Files.exists(dataDir().resolve("postmaster.pid"))) {
            PgInstall.Result r = run("pg_ctl", "-D", dataDir().toString(), "-m", "immediate", "-w", "-t", "30", "stop");
            if (r.exitCode() != 0) {
                killPostmaster();
            }
        }
    }

    private void killPostmaster() {
        try {
            String pid = Files.readAllLines(dataDir().resolve("postmaster.pid")).get(0).trim();
            ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
        } catch (IOException | RuntimeException ignored) {
            // nothing left to stop
        }
    }

    /**
     * Kills the server as a killed pod would: SIGKILL to the postmaster, then to every process whose working
     * directory is the data directory (each child of the postmaster has it, so a backend it forked while being
     * killed is found too), then waits until none of them exists any more, not even as a zombie waiting for init.
     * What is left is a data directory not shut down, with a stale {@code postmaster.pid}. Linux only ({@code /proc}).
     *
     * <p>The postmaster's pid is the first line of {@code postmaster.pid}. Under {@code unshare -U} (the harness
     * runs as root) the server sits in a user namespace of its own but in this machine's pid namespace, so that
     * pid is a pid of this machine: checked here (its command line names the data directory).
     *
     * @return the postmaster's pid
     */
    public long kill() throws IOException {
        long pid = Long.parseLong(Files.readAllLines(dataDir().resolve("postmaster.pid")).get(0).trim());
        String cmdline = Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
        if (!cmdline.contains(dataDir().toString())) {
            throw new AssertionError("pid " + pid + " of " + name + "'s postmaster.pid runs '" + cmdline
                    + "', not a postmaster of " + dataDir());
        }
        Path data = dataDir().toRealPath();
        List<Long> killed = new ArrayList<>();
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        killed.add(pid);
        for (int round = 0; round < 3; round++) {
            for (ProcessHandle p : ProcessHandle.allProcesses().toList()) {
                if (data.equals(cwd(p.pid()))) {
                    p.destroyForcibly();
                    killed.add(p.pid());
                }
            }
        }
        PgCluster.await(name + "'s killed processes " + killed + " gone", () -> killed.stream()
                .noneMatch(p -> Files.exists(Path.of("/proc", Long.toString(p)))));
        return pid;
    }

    private static Path cwd(long pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "cwd"));
        } catch (IOException | UnsupportedOperationException e) {
            return null; // gone, a zombie, or not ours to read
        }
    }

    /** Whether a postmaster runs on this data directory ({@code pg_ctl status}). */
    public boolean isRunning() {
        return run("pg_ctl", "-D", dataDir().toString(), "status").exitCode() == 0;
    }

    /** Promotes this standby ({@code pg_ctl promote -w}: returns once it accepts writes on a new timeline). */
    public void promote() {
        run("pg_ctl", "-D", dataDir().toString(), "-w", "-t", "60", "promote").ok("pg_ctl promote " + name);
    }

    /** {@code pg_controldata} of the data directory, as its "label: value" lines. */
    public Map<String, String> controlData() {
        String out = run("pg_controldata", "-D", dataDir().toString()).ok("pg_controldata " + name).output();
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                m.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
        }
        return m;
    }

    /**
     * Runs {@code pg_rewind} on this (stopped) data directory against a running {@code source} (as its superuser,
     * over TCP); {@code --dry-run} changes nothing. Returns its output whatever its exit code.
     */
    public PgInstall.Result rewind(PgServer source, boolean dryRun) {
        List<String> args = new ArrayList<>(List.of("--target-pgdata=" + dataDir(),
                "--source-server=" + source.conninfo(SUPERUSER), "--progress"));
        if (dryRun) {
            args.add("--dry-run");
        }
        return run("pg_rewind", args.toArray(String[]::new));
    }

    // ---- SQL -----------------------------------------------------------------------------------------------------

    /** A new connection as the superuser over loopback TCP. */
    public Connection connect() throws SQLException {
        return connect(SUPERUSER);
    }

    /** A new connection as {@code user} (with the cluster's password) over loopback TCP. */
    public Connection connect(String user) throws SQLException {
        Properties p = baseProperties(user);
        p.setProperty("password", password);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", p);
    }

    /**
     * A new superuser connection through the Unix socket in {@code socketDir} ({@link UnixSocketFactory}): how an
     * agent beside the server reaches it, also while it is fenced.
     */
    public Connection connectThroughSocket(Path socketDir) throws SQLException {
        Properties p = baseProperties(SUPERUSER);
        p.setProperty("socketFactory", UnixSocketFactory.class.getName());
        p.setProperty("socketFactoryArg", socketDir.resolve(".s.PGSQL." + port).toString());
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + port + "/postgres", p);
    }

    /** A superuser connection the way the agent would make it: through the fenced socket when fenced, else TCP. */
    public Connection connectAsAgent() throws SQLException {
        return fencedSocketDir != null ? connectThroughSocket(fencedSocketDir) : connectThroughSocket(socketDir());
    }

    /** The private socket directory while fenced by {@link #restartFenced}, else null. */
    public Path fencedSocketDir() {
        return fencedSocketDir;
    }

    private static Properties baseProperties(String user) {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("loginTimeout", "20");
        p.setProperty("ApplicationName", "dbrollback-test");
        return p;
    }

    /** Runs statements, each in its own transaction (autocommit). */
    public void execute(String... sql) throws SQLException {
        try (Connection c = connectAsAgent(); Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    /** The first column of the first row of a query, as text (null for SQL NULL or no row). */
    public String queryString(String sql) throws SQLException {
        try (Connection c = connectAsAgent(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /** A query returning one {@code pg_lsn}. */
    public PgLsn queryLsn(String sql) throws SQLException {
        String s = queryString(sql);
        if (s == null) {
            throw new AssertionError(sql + " returned no LSN on " + name);
        }
        return PgLsn.parse(s);
    }

    /** Every row of a table as its text form ({@code t::text}), sorted: to compare two servers' contents. */
    public List<String> tableRows(String table) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Connection c = connectAsAgent(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT t::text FROM " + table + " t ORDER BY 1")) {
            while (rs.next()) {
                rows.add(rs.getString(1));
            }
        }
        return rows;
    }

    /** The end of the server log, for failure messages. */
    public String logTail() {
        try {
            return tail(Files.readString(logFile(), StandardCharsets.UTF_8), 4000);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static String tail(String s, int chars) {
        return s.length() <= chars ? s : "..." + s.substring(s.length() - chars);
    }

    @Override
    public String toString() {
        return name + "(port " + port + ")";
    }
}
