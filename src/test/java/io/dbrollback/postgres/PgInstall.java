package io.dbrollback.postgres;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The PostgreSQL installation the tests run: its binaries folder, its version, and how to run a server binary
 * as the current user.
 *
 * <p>The folder is {@code $PG_BINDIR} when set, else what {@code pg_config --bindir} prints (Debian's
 * {@code pg_config} on PATH comes with the server packages and points at {@code /usr/lib/postgresql/<major>/bin}).
 * PostgreSQL refuses to run as root: when this process is root, every server binary runs under
 * {@code unshare -U}, in a user namespace of its own where it is an unmapped user, and its files stay owned by
 * root. A missing installation is a test failure that says how to install it, never a skip.
 */
public final class PgInstall {

    /** The server binaries the harness and the PostgreSQL agent's flow use. */
    public static final List<String> BINARIES = List.of("initdb", "pg_ctl", "postgres", "pg_basebackup", "pg_rewind",
            "pg_controldata", "pg_waldump", "pg_recvlogical");

    static final String HOW_TO_INSTALL = "Install PostgreSQL 15 with wal2json (Debian 12, as root; .ci/run does it): "
            + "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 postgresql-contrib "
            + "postgresql-15-wal2json. Or set PG_BINDIR to a folder holding " + String.join(", ", BINARIES) + ".";

    private static PgInstall found;

    private final Path bindir;
    private final boolean root;
    private final String version;
    private final int major;
    private final int minor;
    private final Set<String> settings;
    private final Path pkglibdir;

    private PgInstall(Path bindir, boolean root, String version, int major, int minor, Set<String> settings,
            Path pkglibdir) {
        this.bindir = bindir;
        this.root = root;
        this.version = version;
        this.major = major;
        this.minor = minor;
        this.settings = settings;
        this.pkglibdir = pkglibdir;
    }

    /** The installation, looked up once per JVM; an {@link AssertionError} saying how to install it when absent. */
    public static synchronized PgInstall find() {
        if (found == null) {
            found = lookUp();
        }
        return found;
    }

    private static PgInstall lookUp() {
        String override = System.getenv("PG_BINDIR");
        Path bindir;
        if (override != null && !override.isBlank()) {
            bindir = Path.of(override);
        } else {
            String printed = runPlain(List.of("pg_config", "--bindir"), "pg_config --bindir");
            bindir = Path.of(printed.trim());
        }
        List<String> missing = new ArrayList<>();
        for (String binary : BINARIES) {
            if (!Files.isExecutable(bindir.resolve(binary))) {
                missing.add(binary);
            }
        }
        if (!missing.isEmpty()) {
            throw new AssertionError("PostgreSQL binaries " + missing + " not found in " + bindir + ". "
                    + HOW_TO_INSTALL);
        }
        boolean root = isRoot();
        if (root) {
            String out = runPlain(List.of("unshare", "-U", "true"), "unshare -U true");
            if (!out.isBlank()) {
                throw new AssertionError("unshare -U printed " + out);
            }
        }
        List<String> prefix = root ? List.of("unshare", "-U") : List.of();
        List<String> versionCmd = new ArrayList<>(prefix);
        versionCmd.addAll(List.of(bindir.resolve("postgres").toString(), "--version"));
        String version = runPlain(versionCmd, "postgres --version").trim(); // postgres (PostgreSQL) 15.20 (Debian ...)
        Matcher m = Pattern.compile("PostgreSQL\\)? (\\d+)\\.(\\d+)").matcher(version);
        if (!m.find()) {
            throw new AssertionError("cannot read the version in '" + version + "'");
        }
        int major = Integer.parseInt(m.group(1));
        if (major < 15) {
            throw new AssertionError("PostgreSQL " + version + " in " + bindir + " is older than 15. "
                    + HOW_TO_INSTALL);
        }
        List<String> describe = new ArrayList<>(prefix);
        describe.addAll(List.of(bindir.resolve("postgres").toString(), "--describe-config"));
        Set<String> settings = new TreeSet<>();
        for (String line : runPlain(describe, "postgres --describe-config").split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                settings.add(line.substring(0, tab));
            }
        }
        Path pgConfig = bindir.resolve("pg_config");
        String pkglib = runPlain(List.of(Files.isExecutable(pgConfig) ? pgConfig.toString() : "pg_config",
                "--pkglibdir"),
                "pg_config --pkglibdir");
        return new PgInstall(bindir, root, version, major, Integer.parseInt(m.group(2)), settings,
                Path.of(pkglib.trim()));
    }

    private static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0"); // real, effective, saved, fs: the effective one
                }
            }
        } catch (IOException e) {
            // not Linux: fall through
        }
        return "root".equals(System.getProperty("user.name"));
    }

    /** Runs a command that is not a server binary (no unshare), for the lookup; fails saying how to install. */
    private static String runPlain(List<String> command, String what) {
        Result r;
        try {
            r = execute(command, null, Map.of(), Duration.ofSeconds(60));
        } catch (IOException e) {
            throw new AssertionError(what + " could not run (" + e.getMessage() + "). " + HOW_TO_INSTALL, e);
        }
        if (r.exitCode() != 0) {
            throw new AssertionError(what + " failed (exit " + r.exitCode() + "): " + r.output().trim() + ". "
                    + HOW_TO_INSTALL);
        }
        return r.output();
    }

    /**
     * Runs a command to its end, its output (stdout and stderr) through a file in {@code scratch} (null: the
     * system's temporary folder), never a pipe, since {@code pg_ctl start} leaves a server running that would hold a
     * pipe open.
     */
    private static Result execute(List<String> cmd, Path scratch, Map<String, String> env, Duration timeout)
            throws IOException {
        Path out = scratch == null ? Files.createTempFile("pg", ".out") : Files.createTempFile(scratch, "pg", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
            pb.environment().put("LC_ALL", "C");
            pb.environment().putAll(env);
            long t0 = System.nanoTime();
            Process p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", cmd) + " did not end in " + timeout + ": "
                        + Files.readString(out, StandardCharsets.UTF_8));
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(String.join(" ", cmd) + " interrupted", e);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** The binaries folder. */
    public Path bindir() {
        return bindir;
    }

    /** {@code postgres --version}, e.g. {@code postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)}. */
    public String version() {
        return version;
    }

    /** The major version, e.g. 15. */
    public int major() {
        return major;
    }

    /** Whether server binaries run under {@code unshare -U} (this process is root). */
    public boolean underUserNamespace() {
        return root;
    }

    /** The minor version, e.g. 20 for 15.20. */
    public int minor() {
        return minor;
    }

    /** Whether {@code postgres --describe-config} lists the setting (e.g. {@code output_plugin_libraries}, 15.19+). */
    public boolean hasSetting(String name) {
        return settings.contains(name);
    }

    /** Whether the wal2json output plugin is installed; an {@link AssertionError} saying how to install it if not. */
    public void requireWal2json() {
        if (!Files.exists(pkglibdir.resolve("wal2json.so"))) {
            throw new AssertionError("wal2json is not installed (no wal2json.so in " + pkglibdir + "). "
                    + HOW_TO_INSTALL);
        }
    }

    /** The command line running a server binary as this user: under {@code unshare -U} when root. */
    public List<String> command(String binary, List<String> args) {
        if (!BINARIES.contains(binary) && !binary.equals("pg_config")) {
            throw new IllegalArgumentException("not a server binary: " + binary);
        }
        List<String> cmd = new ArrayList<>();
        if (root) {
            cmd.addAll(List.of("unshare", "-U"));
        }
        cmd.add(bindir.resolve(binary).toString());
        cmd.addAll(args);
        return cmd;
    }

    /**
     * Runs a server binary to its end (output through a file in {@code scratch}).
     *
     * @return its exit code and output, whatever the exit code
     * @throws AssertionError when it cannot start or takes longer than {@code timeout}
     */
    public Result run(Path scratch, String binary, List<String> args, Map<String, String> env, Duration timeout) {
        List<String> cmd = command(binary, args);
        try {
            return execute(cmd, scratch, env, timeout);
        } catch (IOException e) {
            throw new AssertionError(String.join(" ", cmd) + " could not run: " + e.getMessage(), e);
        }
    }

    /** What a binary printed and how it ended. */
    public record Result(int exitCode, String output, long millis) {

        /** This result, or an {@link AssertionError} with the output when the exit code is not 0. */
        public Result ok(String what) {
            if (exitCode != 0) {
                throw new AssertionError(what + " failed (exit " + exitCode + "):\n" + output);
            }
            return this;
        }
    }
}
