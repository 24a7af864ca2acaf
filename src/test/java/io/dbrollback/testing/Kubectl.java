package io.dbrollback.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real kubectl binary against a {@link MockApiServer} started with {@link MockApiServer#startForKubectl()}:
 * its own kubeconfig ({@code KUBECONFIG}) and its own discovery cache ({@code KUBECACHEDIR}, so that no cached
 * discovery of another server on the same port is ever used), output captured, a timeout on every call.
 *
 * <p>The binary is {@value #DEFAULT_PATH} (kubectl 1.32 on every machine of this project) unless the system
 * property {@value #PATH_PROPERTY} names another. A missing binary is an {@link AssertionError} saying so: a test
 * needing kubectl fails, it is never skipped.
 */
public final class Kubectl {

    public static final String DEFAULT_PATH = "/usr/bin/kubectl";
    public static final String PATH_PROPERTY = "kubectl.path";
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    /** One kubectl run. */
    public record Result(List<String> args, int exitCode, String stdout, String stderr, Duration took) {

        public boolean ok() {
            return exitCode == 0;
        }

        /** This result if kubectl exited 0, else an AssertionError with the command, exit code and both outputs. */
        public Result assertOk() {
            if (exitCode != 0) {
                throw new AssertionError("kubectl " + String.join(" ", args) + " exited " + exitCode + "\n" + this);
            }
            return this;
        }

        @Override
        public String toString() {
            return "--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr + "--- (" + took.toMillis() + " ms)";
        }
    }

    private final Path binary;
    private final Path kubeconfig;
    private final Path cacheDir;

    public Kubectl(Path kubeconfig, Path cacheDir) {
        this.binary = binary();
        this.kubeconfig = Objects.requireNonNull(kubeconfig, "kubeconfig");
        this.cacheDir = Objects.requireNonNull(cacheDir, "cacheDir");
    }

    /**
     * Writes {@code dir/kubeconfig} for the server with {@code namespace} as the context's namespace and uses
     * {@code dir/kube-cache} as discovery cache.
     */
    public static Kubectl against(MockApiServer server, Path dir, String namespace) {
        Path kubeconfig = server.writeKubeconfig(dir.resolve("kubeconfig"), namespace);
        return new Kubectl(kubeconfig, dir.resolve("kube-cache"));
    }

    /** The kubectl binary; an AssertionError with instructions when it is not there. */
    public static Path binary() {
        Path p = Path.of(System.getProperty(PATH_PROPERTY, DEFAULT_PATH));
        if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
            throw new AssertionError("kubectl is required by this test but " + p + " is not an executable file. "
                    + "Machines of this project have kubectl 1.32 at " + DEFAULT_PATH + "; where it is missing, "
                    + ".ci/run installs Debian's kubernetes-client, which puts one there; or point -D" + PATH_PROPERTY
                    + "=... at another binary.");
        }
        return p;
    }

    public Path kubeconfig() {
        return kubeconfig;
    }

    /** The environment kubectl runs with on top of this JVM's: {@code KUBECONFIG} and {@code KUBECACHEDIR}. */
    public Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("KUBECONFIG", kubeconfig.toAbsolutePath().toString());
        env.put("KUBECACHEDIR", cacheDir.toAbsolutePath().toString());
        return env;
    }

    public Result run(String... args) {
        return run(DEFAULT_TIMEOUT, args);
    }

    /** Runs kubectl with {@code args}; an AssertionError (with the output so far) when it outlives the timeout. */
    public Result run(Duration timeout, String... args) {
        List<String> command = new ArrayList<>();
        command.add(binary.toString());
        command.addAll(Arrays.asList(args));
        Path out = null;
        Path err = null;
        long start = System.nanoTime();
        try {
            out = Files.createTempFile("kubectl-", ".out");
            err = Files.createTempFile("kubectl-", ".err");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(environment());
            Process p = pb.start();
            boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
            Result r = new Result(List.of(args), done ? p.exitValue() : -1,
                    Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8), Duration.ofNanos(System.nanoTime() - start));
            if (!done) {
                throw new AssertionError("kubectl " + String.join(" ", args) + " did not finish within " + timeout
                        + "\n" + r);
            }
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
    }
}
