package io.dbrollback.postgres;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's hands on its PostgreSQL server: the server binaries (argv arrays, never a shell of ours;
 * under {@code unshare -U} when the agent runs as root), connections over its Unix socket (the
 * ordinary one, or the fence's private one) and over TCP to the peers, and the timeline history files
 * of its data directory.
 */
final class PgServerControl {

    /** A binary's exit code and output. */
    record Result(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    private static final Logger LOG = Logger.getLogger(PgServerControl.class.getName());

    private static final Pattern HISTORY_FILE = Pattern.compile("([0-9A-F]{8})\\.history");

    private final PgAgentConfig config;
    private final Path scratch;

    PgServerControl(PgAgentConfig config) throws IOException {
        this.config = config;
        this.scratch = Files.createDirectories(config.stateDir().resolve("scratch"));
    }

    Path logFile() {
        return config.stateDir().resolve("postgresql.log");
    }

    /** Runs a server binary to its end; its output goes through a file (a server it starts keeps no pipe of ours). */
    Result run(String binary, List<String> args, Duration timeout) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (config.userNamespace()) {
            cmd.addAll(List.of("unshare", "-U"));
        }
        cmd.add(config.binDir().resolve(binary).toString());
        cmd.addAll(args);
        Path out = Files.createTempFile(scratch, binary, ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().put("LC_ALL", "C");
            if (config.passfile() != null) {
                pb.environment().put("PGPASSFILE", config.passfile().toString());
            }
            pb.environment().remove("PGPASSWORD");
            Process p = pb.start();
            boolean done;
            try {
                done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException(binary + " interrupted");
            }
            if (!done) {
                p.destroyForcibly();
                throw new IOException(binary + " did not end within " + timeout.toSeconds() + " s");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * Whether a postmaster runs on the data directory: {@code pg_ctl status} says so, and the pid in
     * {@code postmaster.pid} is not {@linkplain #lockFileOfNoServer certainly some other process}. pg_ctl only asks
     * whether that pid is alive: after a killed pod the file is stale, and in the restarted pod's new pid namespace
     * its pid may be anyone's (the agent's own threads included).
     */
    boolean running() throws IOException {
        return run("pg_ctl", List.of("-D", config.dataDir().toString(), "status"),
                Duration.ofSeconds(30)).exitCode() == 0
                && !lockFileOfNoServer();
    }

    private Path lockFile() {
        return config.dataDir().resolve("postmaster.pid");
    }

    /**
     * Whether the server is certainly not running, without starting a process: no {@code postmaster.pid},
     * or one that names no server of this data directory ({@link #lockFileOfNoServer}). For the agent's
     * watch every maintenance period; {@link #running()} decides before anything is changed.
     */
    boolean certainlyDown() {
        return !Files.exists(lockFile()) || lockFileOfNoServer();
    }

    /**
     * Whether {@code postmaster.pid} names a process that is certainly no server of this data directory: gone, a
     * zombie, or one whose working directory is elsewhere (a postmaster, and a single-user backend, whose pid the
     * file holds negated, always work in their data directory). False when {@code /proc} cannot tell (no procfs, or
     * the process is not ours to look at): then pg_ctl's answer stands.
     */
    boolean lockFileOfNoServer() {
        long pid;
        try {
            pid = Math.abs(Long.parseLong(Files.readAllLines(lockFile(), StandardCharsets.UTF_8).get(0).strip()));
        } catch (IOException | RuntimeException e) {
            return false;
        }
        Path proc = Path.of("/proc");
        if (!Files.isDirectory(proc.resolve("self"))) {
            return false;
        }
        Path cwd;
        try {
            cwd = Files.readSymbolicLink(proc.resolve(Long.toString(pid)).resolve("cwd"));
        } catch (NoSuchFileException e) {
            return true; // no such process, or a zombie (its cwd is gone with it)
        } catch (IOException | RuntimeException e) {
            return false;
        }
        try {
            return !cwd.equals(config.dataDir().toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Removes a {@code postmaster.pid} of no server ({@link #lockFileOfNoServer}) before a start: PostgreSQL removes
     * a lock file whose pid is dead by itself, but refuses to start ("lock file already exists") for as long as a
     * live process holds that pid. (Were a server of this data directory running after all, its shared memory
     * would still stop a second one: PostgreSQL checks that too.)
     */
    private void removeLockFileOfNoServer() throws IOException {
        if (Files.exists(lockFile()) && lockFileOfNoServer()) {
            String pid = Files.readAllLines(lockFile(), StandardCharsets.UTF_8).stream().findFirst().orElse("").strip();
            LOG.warning(config.nodeName() + ": removing the stale postmaster.pid (pid " + pid
                    + " is no server of the data directory)");
            Files.delete(lockFile());
        }
    }

    /**
     * Starts the server and waits until it accepts connections. Fenced: no TCP listener and the socket
     * only in the private directory (mode 0700), given on the command line so that no configuration
     * file changes and no one else's restart keeps the fence by accident.
     */
    void start(boolean fenced) throws IOException {
        removeLockFileOfNoServer();
        List<String> args = new ArrayList<>(List.of("-D", config.dataDir().toString(), "-l", logFile().toString(),
                "-w", "-t", "300"));
        if (fenced) {
            Files.createDirectories(config.fenceSocketDir());
            Files.setPosixFilePermissions(config.fenceSocketDir(), PosixFilePermissions.fromString("rwx------"));
            args.addAll(List.of("-o", "-c listen_addresses='' -c unix_socket_directories='" + config.fenceSocketDir()
                    + "'"));
        }
        args.add("start");
        Result r = run("pg_ctl", args, Duration.ofSeconds(330));
        if (!r.ok()) {
            throw new IOException("pg_ctl start" + (fenced ? " (fenced)" : "") + " failed (exit " + r.exitCode() + "): "
                    + r.output().strip() + "; server log: " + logTail());
        }
    }

    /** Stops the server cleanly ({@code -m fast}: sessions end, a shutdown checkpoint), as pg_rewind needs. */
    void stop() throws IOException {
        if (!running()) {
            return;
        }
        Result r = run("pg_ctl", List.of("-D", config.dataDir().toString(), "-m", "fast", "-w", "-t", "300", "stop"),
                Duration.ofSeconds(330));
        if (!r.ok() && running()) {
            throw new IOException("pg_ctl stop failed (exit " + r.exitCode() + "): " + r.output().strip());
        }
    }

    String logTail() {
        try {
            String s = Files.exists(logFile()) ? Files.readString(logFile(), StandardCharsets.UTF_8) : "";
            return s.length() <= 1500 ? s : s.substring(s.length() - 1500);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /** A connection as the superuser through the server's socket: the private one when {@code fenced}. */
    Connection connect(boolean fenced) throws SQLException {
        Path dir = fenced ? config.fenceSocketDir() : config.socketDir();
        Properties p = new Properties();
        p.setProperty("user", config.superuser());
        p.setProperty("socketFactory", UnixSocketFactory.class.getName());
        p.setProperty("socketFactoryArg", dir.resolve(".s.PGSQL." + config.pgPort()).toString());
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "600");
        p.setProperty("ApplicationName", "dbrollback-agent");
        p.setProperty("sslmode", "disable");
        return DriverManager.getConnection("jdbc:postgresql://localhost:" + config.pgPort() + "/" + config.database(),
                p);
    }

    /** A connection to a peer over TCP as {@code user}, with the password from the passfile. */
    Connection connectPeer(PgAgentConfig.HostPort peer, String user) throws SQLException, IOException {
        Properties p = new Properties();
        p.setProperty("user", user);
        String password = password(peer, user);
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("connectTimeout", "5");
        p.setProperty("socketTimeout", "60");
        p.setProperty("ApplicationName", "dbrollback-agent-" + config.nodeName());
        p.setProperty("sslmode", "prefer");
        String host = peer.host().contains(":") ? "[" + peer.host() + "]" : peer.host();
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + peer.port() + "/postgres", p);
    }

    /** The password of {@code user} on {@code peer} in the passfile (libpq's format and matching rules), or null. */
    String password(PgAgentConfig.HostPort peer, String user) throws IOException {
        if (config.passfile() == null || !Files.exists(config.passfile())) {
            return null;
        }
        for (String line : Files.readAllLines(config.passfile(), StandardCharsets.UTF_8)) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            List<String> f = passfileFields(line);
            if (f.size() == 5 && matches(f.get(0), peer.host()) && matches(f.get(1), Integer.toString(peer.port()))
                    && matches(f.get(3), user)) {
                return f.get(4);
            }
        }
        return null;
    }

    private static boolean matches(String field, String value) {
        return field.equals("*") || field.equals(value);
    }

    static List<String> passfileFields(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '\\' && i + 1 < line.length()) {
                cur.append(line.charAt(++i));
            } else if (c == ':' && fields.size() < 4) {
                fields.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        fields.add(cur.toString());
        return fields;
    }

    // ---- timelines ---------------------------------------------------------------------------------

    /**
     * The node's timeline as its data directory says: the highest {@code NNNNNNNN.history} in
     * {@code pg_wal}, or 1 when there is none (a cluster that was never promoted).
     */
    int timeline() throws IOException {
        int tli = 1;
        Path wal = config.dataDir().resolve("pg_wal");
        if (!Files.isDirectory(wal)) {
            return tli;
        }
        try (var files = Files.list(wal)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Matcher m = HISTORY_FILE.matcher(f.getFileName().toString());
                if (m.matches()) {
                    tli = Math.max(tli, Integer.parseInt(m.group(1), 16));
                }
            }
        }
        return tli;
    }

    /** The history file of {@code tli} in this data directory ("" for timeline 1, which has none). */
    String historyFile(int tli) throws IOException {
        if (tli == 1) {
            return "";
        }
        Path f = config.dataDir().resolve("pg_wal").resolve(String.format("%08X.history", tli));
        return Files.readString(f, StandardCharsets.UTF_8);
    }

    /**
     * The switchpoints of a history file: the timeline each ancestor ended at, in order
     * ({@code parent timeline -> the LSN where it ended}).
     */
    static Map<Integer, Long> switchpoints(String historyFile) {
        Map<Integer, Long> points = new TreeMap<>();
        for (String line : historyFile.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String[] f = l.split("\\s+");
            if (f.length < 2) {
                throw new IllegalArgumentException("not a timeline history line: " + l);
            }
            points.put(Integer.parseInt(f[0]), PgLsn.parse(f[1]).value());
        }
        return points;
    }
}
