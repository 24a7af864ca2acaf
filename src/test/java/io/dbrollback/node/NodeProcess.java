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
final class NodeProcess implements AutoCloseable {

    final Process process;
    final String address;
    private final BlockingQueue<String> lines;
    private final List<String> all = new ArrayList<>();

    private NodeProcess(Process process, String address, BlockingQueue<String> lines) {
        this.process = process;
        this.address = address;
        this.lines = lines;
    }

    static NodeProcess start(String name, Path dataDir, Map<String, String> env) throws IOException, InterruptedException {
        return start(name, dataDir, env, List.of());
    }

    /** @param extraArgs more command-line arguments, such as the TLS flags */
    static NodeProcess start(String name, Path dataDir, Map<String, String> env, List<String> extraArgs)
            throws IOException, InterruptedException {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(javaBin, "-Xmx128m", "-cp", System.getProperty("java.class.path"),
                ReplicaNodeMain.class.getName(), "--name", name, "--data-dir", dataDir.toString(), "--cluster-size", "3"));
        command.addAll(extraArgs);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Process p = pb.start();
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
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
        String line;
        while ((line = q.poll(60, TimeUnit.SECONDS)) != null) {
            if (line.startsWith("LISTENING ")) {
                return new NodeProcess(p, line.substring("LISTENING ".length()).trim(), q);
            }
        }
        p.destroyForcibly();
        throw new AssertionError("node " + name + " did not start; output: " + seen);
    }

    /** Waits for a line starting with {@code prefix}. */
    String awaitLine(String prefix) throws InterruptedException {
        String line;
        while ((line = lines.poll(60, TimeUnit.SECONDS)) != null) {
            all.add(line);
            if (line.startsWith(prefix)) {
                return line;
            }
        }
        throw new AssertionError("no line " + prefix + " from the node; saw " + all);
    }

    /** SIGKILL: no shutdown hook, no flush. */
    void kill() throws InterruptedException {
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
