package io.dbrollback.node;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A reference node running as its own JVM, as {@code ReplicaNodeMain} documents. */
public final class NodeProcess implements AutoCloseable {

    public final Process process;
    public final String address;
    private final BlockingQueue<String> lines;
    private final List<String> seen;
    private final List<String> all = new ArrayList<>();

    private NodeProcess(Process process, String address, BlockingQueue<String> lines, List<String> seen) {
        this.process = process;
        this.address = address;
        this.lines = lines;
        this.seen = seen;
    }

    public static NodeProcess start(String name, Path dataDir, Map<String, String> env) throws IOException,
            InterruptedException {
        return start(name, dataDir, 0, env, List.of());
    }

    /** @param extraArgs more command-line arguments, such as the TLS flags */
    public static NodeProcess start(String name, Path dataDir, Map<String, String> env, List<String> extraArgs)
            throws IOException, InterruptedException {
        return start(name, dataDir, 0, env, extraArgs);
    }

    /**
     * Starts a node and waits for its {@code LISTENING} line (60 s at most).
     *
     * @param port 0 for an ephemeral port; a fixed port is retried for a few seconds while still bound
     * @param extraArgs more {@code ReplicaNodeMain} arguments, e.g. {@code --clock-start}
     */
    public static NodeProcess start(String name, Path dataDir, int port, Map<String, String> env,
            List<String> extraArgs) throws IOException, InterruptedException {
        AssertionError last = null;
        for (int attempt = 0; attempt < (port == 0 ? 1 : 20); attempt++) {
            try {
                return startOnce(name, dataDir, port, env, extraArgs);
            } catch (AssertionError notStarted) {
                last = notStarted; // the port of a killed process may take a moment to be free again
                Thread.sleep(250);
            }
        }
        throw last;
    }

    private static NodeProcess startOnce(String name, Path dataDir, int port, Map<String, String> env,
            List<String> extraArgs) throws IOException, InterruptedException {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaBin, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), ReplicaNodeMain.class.getName(), "--name", name,
                "--data-dir", dataDir.toString(), "--cluster-size", "3", "--port", Integer.toString(port)));
        cmd.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    seen.add(line);
                    q.add(line);
                }
            } catch (IOException ignored) {
                // the process died; the test sees it through waitFor
            }
        }, "node-output-" + name);
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String line = q.poll(100, TimeUnit.MILLISECONDS);
            if (line != null && line.startsWith("LISTENING ")) {
                return new NodeProcess(p, line.substring("LISTENING ".length()).trim(), q, seen);
            }
            if (line == null && !p.isAlive() && q.isEmpty()) {
                reader.join(1000);
                if (q.isEmpty()) {
                    break;
                }
            }
        }
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError("node " + name + " did not start; output: " + seen);
    }

    /** Waits for a line starting with {@code prefix}. */
    public String awaitLine(String prefix) throws InterruptedException {
        String line;
        while ((line = lines.poll(60, TimeUnit.SECONDS)) != null) {
            all.add(line);
            if (line.startsWith(prefix)) {
                return line;
            }
        }
        throw new AssertionError("no line " + prefix + " from the node; saw " + all);
    }

    /** Whether the node printed a line starting with {@code prefix} so far (does not wait). */
    public boolean printed(String prefix) {
        synchronized (seen) {
            return seen.stream().anyMatch(l -> l.startsWith(prefix));
        }
    }

    /** The port the node listens on. */
    public int port() {
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    /** SIGKILL: no shutdown hook, no flush. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }
}
