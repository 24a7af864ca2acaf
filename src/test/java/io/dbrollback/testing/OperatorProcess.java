package io.dbrollback.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The packaged operator ({@code target/quarkus-app/quarkus-run.jar}, as {@code mvn package} builds
 * it) as its own JVM against a {@link MockApiServer}: its output goes to a log file, its health
 * endpoint on a free loopback port tells when it is ready, and a test can SIGKILL it or wait for it
 * to die at an armed crash point ({@code io.dbrollback.operator.CrashPoints}).
 */
public final class OperatorProcess implements AutoCloseable {

    /** The packaged operator. */
    public static final Path JAR = Path.of("target", "quarkus-app", "quarkus-run.jar");
    /**
     * Lean flags for a short-lived operator JVM on a small machine: client compiler only, serial GC,
     * the JDK's class-data archive.
     */
    public static final List<String> LEAN_JVM_FLAGS = List.of("-Xmx256m", "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC", "-Xshare:auto");

    private static final Pattern LISTENING = Pattern.compile(
            "Listening on: http://[^:]+:([0-9]+)");

    private final Process process;
    private final Path log;

    private OperatorProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /** The HTTP port (health, metrics) once the operator logged it, else 0. */
    public int httpPort() {
        try {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                Matcher m = LISTENING.matcher(line);
                if (m.find()) {
                    return Integer.parseInt(m.group(1));
                }
            }
        } catch (IOException | UncheckedIOException notYet) {
            // the log is being written
        }
        return 0;
    }

    /**
     * Starts the operator against {@code api} (does not wait for it to be ready).
     *
     * @param env extra environment, e.g. the crash hook
     * @param jvmFlags flags before {@code -jar}, e.g. {@link #LEAN_JVM_FLAGS}
     */
    public static OperatorProcess start(MockApiServer api, Path log, Map<String, String> env, List<String> jvmFlags) {
        if (!Files.exists(JAR)) {
            throw new IllegalStateException(JAR + " is missing: build the operator first (mvn package)");
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmFlags);
        api.clientProperties().forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        // port 0: the HTTP server takes a free port and logs it ("Listening on: http://0.0.0.0:PORT")
        cmd.addAll(List.of("-Dquarkus.http.port=0", "-Dquarkus.log.console.json.enabled=false",
                "-Dquarkus.operator-sdk.crd.apply=false", "-jar", JAR.toString()));
        try {
            Files.createDirectories(log.toAbsolutePath().getParent());
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().putAll(env);
            return new OperatorProcess(pb.start(), log);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the operator", e);
        }
    }

    /** Waits until the operator reports ready; fails if it dies first or is not ready in time. */
    public OperatorProcess awaitReady(Duration timeout) throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("the operator exited with " + process.exitValue() + " before it was ready; "
                        + "log " + log);
            }
            int port = httpPort();
            try {
                if (port > 0 && http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                        + "/q/health/ready")).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers
                        .ofString()).statusCode() == 200) {
                    return this;
                }
            } catch (IOException notYet) {
                // still starting
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the operator was not ready within " + timeout + "; log " + log);
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The exit status once it exited, else null. */
    public Integer exitStatus() {
        return process.isAlive() ? null : process.exitValue();
    }

    /** Waits for the process to end; its exit status, or null on timeout. */
    public Integer awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : null;
    }

    public Path log() {
        return log;
    }

    /** The lines of its output that start with {@code prefix}. */
    public List<String> linesStartingWith(String prefix) {
        try {
            return Files.readAllLines(log, StandardCharsets.UTF_8).stream().filter(l -> l.startsWith(prefix)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SIGKILL, and wait for it to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM (graceful), then SIGKILL after 10 s. */
    @Override
    public void close() throws InterruptedException {
        close(Duration.ofSeconds(10));
    }

    /** SIGTERM (graceful), then SIGKILL after {@code grace}. */
    public void close(Duration grace) throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                kill();
            }
        }
    }
}
