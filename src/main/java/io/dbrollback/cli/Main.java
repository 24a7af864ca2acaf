package io.dbrollback.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code dbrollback}: what to do with the saved writes of a rollback (docs/rollback-file.md, "The
 * dbrollback tool"). Run as {@code kubectl-dbrollback} (the same file, on PATH, as {@code kubectl
 * dbrollback ...}) its {@code inspect} and {@code replay} take a ReplicaSetRollback's name instead of a file.
 * Exit status: 0 good, 1 a check failed or an error, 2 a usage error, 3 replay left records for a person.
 * Plain picocli: the tool starts neither Quarkus nor the operator.
 */
public final class Main {

    /** The system property the shell stub sets to the name it was run as ({@code $0}). */
    public static final String INVOKED_AS = "dbrollback.invokedAs";

    private Main() {
    }

    public static void main(String[] args) {
        // fabric8 logs through SLF4J; the tool has no logging backend and wants none of its noise.
        System.setProperty("slf4j.provider", "org.slf4j.helpers.NOP_FallbackServiceProvider");
        System.setProperty("slf4j.internal.verbosity", "ERROR");
        System.exit(run(System.getProperty(INVOKED_AS, "dbrollback"), args));
    }

    /** Runs the tool as {@code invokedAs} would; returns the exit status. */
    public static int run(String invokedAs, String... args) {
        return commandLine(invokedAs, new PrintWriter(System.out, true), new PrintWriter(System.err, true))
                .execute(args);
    }

    /** Whether the name the tool was run as makes it the kubectl plugin. */
    public static boolean plugin(String invokedAs) {
        Path name = Path.of(invokedAs).getFileName();
        return name != null && name.toString().startsWith("kubectl-");
    }

    static CommandLine commandLine(String invokedAs, PrintWriter out, PrintWriter err) {
        boolean plugin = plugin(invokedAs);
        CommandLine cl = new CommandLine(new Root());
        cl.setCommandName(plugin ? "kubectl dbrollback" : "dbrollback");
        cl.addSubcommand("inspect", plugin ? new KubeCommands.Inspect() : new FileCommands.Inspect());
        cl.addSubcommand("verify", new FileCommands.Verify());
        cl.addSubcommand("replay", plugin ? new KubeCommands.Replay() : new FileCommands.Replay());
        cl.addSubcommand("status", new KubeCommands.Status());
        cl.addSubcommand("approve", new KubeCommands.Approve());
        cl.addSubcommand("pause", new KubeCommands.Pause());
        cl.addSubcommand("resume", new KubeCommands.Resume());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("dbrollback: " + describe(e));
            if (System.getenv("DBROLLBACK_DEBUG") != null) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cl;
    }

    /** An error and its causes, each message once: what a user can act on, without a stack trace. */
    static String describe(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (b.indexOf(m) < 0) {
                b.append(b.length() == 0 ? "" : ": ").append(m);
            }
        }
        return b.toString();
    }

    /** The command itself: a subcommand is required. */
    @Command(name = "dbrollback", mixinStandardHelpOptions = true, version = "dbrollback 0.1.0",
            description = "Inspect, verify and replay the saved writes of a rollback (its rollback file).",
            subcommandsRepeatable = false)
    static final class Root implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
        }
    }
}
