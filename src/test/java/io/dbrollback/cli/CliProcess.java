package io.dbrollback.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the packaged tool, {@code target/dbrollback} (or the same bytes as {@code kubectl-dbrollback}), as
 * a user would: its own process, the test JVM's Java as JAVA_HOME. The *IT classes run after
 * {@code package}; the failsafe property {@code cli.file} names the plugin file.
 */
public final class CliProcess {

    /** One run: exit status and both outputs. */
    public record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout ---\n" + out + "--- stderr ---\n" + err;
        }
    }

    private CliProcess() {
    }

    /** The packaged plugin file, target/kubectl-dbrollback. */
    public static Path pluginFile() {
        Path p = Path.of(System.getProperty("cli.file", "target/kubectl-dbrollback"));
        if (!Files.isExecutable(p)) {
            throw new AssertionError(p + " is missing: the *IT tests run after `mvn package` builds it");
        }
        return p;
    }

    /** target/dbrollback. */
    public static Path toolFile() {
        return pluginFile().resolveSibling("dbrollback");
    }

    public static Result run(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
        Path out = Files.createTempFile("cli-", ".out");
        Path err = Files.createTempFile("cli-", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError(command + " did not finish within 180 s");
            }
            Result r = new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
            // in the test's output (target/failsafe-reports/*-output.txt): what a user would have seen
            System.out.println("$ " + String.join(" ", command) + "\n" + r);
            return r;
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** {@code dbrollback ARGS}. */
    public static Result tool(String... args) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>();
        c.add(toolFile().toAbsolutePath().toString());
        c.addAll(Arrays.asList(args));
        return run(c, Map.of());
    }
}
