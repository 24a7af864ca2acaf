package io.dbrollback.cli;

import io.dbrollback.model.Operation;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The commands on a rollback file: inspect, verify, replay. */
final class FileCommands {

    private FileCommands() {
    }

    /** The record filters of inspect. */
    static final class FilterOptions {
        @Option(names = "--key", description = "Only records of this key (as shown: text, or col=value,... for "
                + "PostgreSQL).")
        String key;

        @Option(names = "--table", description = "Only records of this table (PostgreSQL): table or schema.table.")
        String table;

        @Option(names = "--op", description = "Only these operations: INSERT, UPDATE, DELETE, UNCAPTURED "
                + "(comma-separated).")
        String op;

        @Option(names = "--json", description = "JSON lines: the file's summary, then one line per record.")
        boolean json;

        Inspector.Filters filters(CommandLine cl) {
            try {
                Set<Operation> ops = Inspector.Filters.ops(op);
                return new Inspector.Filters(key, table, ops);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(cl, "--op takes INSERT, UPDATE, DELETE or UNCAPTURED");
            }
        }
    }

    static void checkSha(CommandLine cl, String sha256) {
        if (sha256 != null && !sha256.matches("[0-9a-fA-F]{64}")) {
            throw new CommandLine.ParameterException(cl, "--sha256 takes 64 hex digits");
        }
    }

    static Path existing(CommandLine cl, Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CommandLine.ParameterException(cl, "no such file: " + file);
        }
        return file;
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Show a rollback file: header, range, digest checks, then its records.")
    static final class Inspect implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE", description = "The rollback file (<incident>-plan<N>.rollback.jsonl).")
        Path file;

        @Option(names = "--sha256", paramLabel = "HEX", description = "The SHA-256 the whole file must have "
                + "(status.rollbackFile.sha256).")
        String sha256;

        @CommandLine.Mixin
        FilterOptions filter = new FilterOptions();

        @Override
        public Integer call() throws IOException {
            checkSha(spec.commandLine(), sha256);
            Inspector.Filters f = filter.filters(spec.commandLine());
            PrintWriter out = spec.commandLine().getOut();
            int rc = Inspector.inspect(existing(spec.commandLine(), file), sha256, f, filter.json, out);
            out.flush();
            return rc;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check a rollback file as the operator does; exit 0 when good, 1 when not (why on "
                    + "stderr), 2 for a usage error.")
    static final class Verify implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE")
        Path file;

        @Option(names = "--sha256", paramLabel = "HEX", description = "The SHA-256 the whole file must have.")
        String sha256;

        @Override
        public Integer call() throws IOException {
            checkSha(spec.commandLine(), sha256);
            RollbackFileReader.Result r = RollbackFileReader.read(existing(spec.commandLine(), file), sha256,
                    RollbackFileReader.NONE);
            if (r.ok()) {
                spec.commandLine().getOut().println(file + ": verified: " + r.records() + " records, " + r.bytes()
                        + " bytes, sha256 " + r.sha256() + ", tail " + r.tailSha256());
                return 0;
            }
            PrintWriter err = spec.commandLine().getErr();
            err.println(file + ": NOT verified: " + r.problems().get(0));
            r.problems().stream().skip(1).forEach(p -> err.println("  also: " + p));
            return 1;
        }
    }

    /** Options shared by {@code replay FILE} and the plugin's {@code replay NAME}. */
    static final class ReplayOptions {
        @Option(names = "--primary", paramLabel = "HOST:PORT", description = "The current primary's client API "
                + "(a reference node).")
        String primary;

        @Option(names = "--postgres", paramLabel = "JDBC_URL", description = "The current primary, a PostgreSQL "
                + "server (user and password from the URL or PGUSER/PGPASSWORD).")
        String postgres;

        @Option(names = "--report", paramLabel = "PATH", description = "Where the JSON report goes (default with "
                + "--apply: <file>.replay-<timestamp>.json next to the file).")
        Path report;

        @Option(names = "--stop-after", hidden = true, defaultValue = "0",
                description = "Tests only: halt the process after N applied groups, as a crash would.")
        long stopAfter;
    }

    /** Runs a replay of a file already verified against {@code expectedSha256} (null: none known). */
    static int replay(CommandLine cl, Path file, String expectedSha256, ReplayOptions o, boolean apply, Clock clock)
            throws IOException {
        if ((o.primary == null) == (o.postgres == null)) {
            throw new CommandLine.ParameterException(cl, "name the current primary: --primary HOST:PORT (a "
                    + "reference node) or --postgres JDBC_URL");
        }
        RollbackFileReader.Result check = RollbackFileReader.read(file, expectedSha256, RollbackFileReader.NONE);
        if (!check.ok()) {
            cl.getErr().println(file + ": NOT verified, nothing replayed: " + check.problems().get(0));
            return 1;
        }
        Path report = o.report;
        if (report == null && apply) {
            String stamp = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS'Z'").withZone(ZoneOffset.UTC)
                    .format(clock.instant());
            report = file.resolveSibling(file.getFileName() + ".replay-" + stamp + ".json");
        }
        PrintWriter out = cl.getOut();
        out.println((apply ? "Replaying " : "Dry run (nothing is changed) of ") + file + ": " + check.records()
                + " records, verified (sha256 " + check.sha256() + ")");
        ReplayTarget target;
        try {
            target = o.primary != null ? new NodeTarget(o.primary)
                    : new PostgresTarget(o.postgres, System.getenv());
        } catch (SQLException e) {
            throw new IOException("cannot connect to " + o.postgres + ": " + e.getMessage(), e);
        }
        Replayer.Summary s;
        try (target) {
            s = new Replayer(target, new Replayer.Options(apply, o.stopAfter, report,
                    o.primary != null ? o.primary : "postgres"), out, clock).run(file, check);
        }
        out.println();
        out.println((apply ? "applied " + s.count(Replayer.Outcome.APPLIED)
                : "would apply " + s.count(Replayer.Outcome.WOULD_APPLY))
                + ", already applied " + s.count(Replayer.Outcome.ALREADY_APPLIED)
                + ", conflicting " + s.count(Replayer.Outcome.CONFLICT)
                + ", skipped (dependent) " + s.count(Replayer.Outcome.SKIPPED_DEPENDENT)
                + ", needs a person (uncaptured) " + s.count(Replayer.Outcome.NEEDS_PERSON));
        if (s.report() != null) {
            out.println("report: " + s.report());
        }
        out.flush();
        return s.anyLeft() ? 3 : 0;
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = "Re-apply the saved writes to the current primary where nothing changed them since the "
                    + "fork; report the conflicts. Dry run unless --apply.")
    static final class Replay implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "FILE")
        Path file;

        @Option(names = "--dry-run", description = "Change nothing; show what would be applied (the default).")
        boolean dryRun;

        @Option(names = "--apply", description = "Apply the writes that do not conflict, in LSN order.")
        boolean apply;

        @Option(names = "--sha256", paramLabel = "HEX", description = "The SHA-256 the whole file must have.")
        String sha256;

        @CommandLine.Mixin
        ReplayOptions options = new ReplayOptions();

        @Override
        public Integer call() throws IOException {
            if (dryRun && apply) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--dry-run and --apply exclude each other");
            }
            checkSha(spec.commandLine(), sha256);
            return replay(spec.commandLine(), existing(spec.commandLine(), file), sha256, options, apply,
                    Clock.systemUTC());
        }
    }
}
