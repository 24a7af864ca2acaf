package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.Timeline;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the reference node's and the PostgreSQL agent's images run, run on the build they copy (after
 * {@code mvn package}). There is no container engine here, so each entrypoint's command runs on
 * target/quarkus-app, every classpath folder of the image mapped back through the Dockerfile's COPY
 * instructions: the node serves the agent protocol without an SLF4J error, and the agent's main class
 * loads with its dependencies. Every COPY source exists in the build.
 */
class DockerfilesIT {

    private static final Pattern LISTENING = Pattern.compile("^LISTENING (\\S+):([0-9]+)$", Pattern.MULTILINE);

    @TempDir
    Path dir;

    @Test
    void everyCopySourceIsInTheBuild() throws IOException {
        for (Path f : Dockerfile.ALL) {
            for (Dockerfile.Copy c : Dockerfile.read(f).copies()) {
                for (String src : c.sources()) {
                    Path p = Path.of(src);
                    if (src.endsWith("/")) {
                        try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
                            assertTrue(s.iterator().hasNext(), f + ": COPY " + src + " is an empty folder");
                        } catch (IOException e) {
                            throw new AssertionError(f + ": COPY " + src + " is not in the build (mvn package)", e);
                        }
                    } else {
                        try (DirectoryStream<Path> s = Files.newDirectoryStream(p.getParent(),
                                p.getFileName().toString())) {
                            assertTrue(s.iterator().hasNext(), f + ": COPY " + src + " matches nothing in the build");
                        }
                    }
                }
            }
        }
        Dockerfile operator = Dockerfile.read(Dockerfile.OPERATOR);
        String runner = operator.source(operator.env().get("JAVA_APP_JAR")).orElseThrow();
        assertTrue(Files.isRegularFile(Path.of(runner)), runner);
    }

    @Test
    void theReferenceNodeImageServesTheAgentProtocol() throws Exception {
        Dockerfile d = Dockerfile.read(Dockerfile.REFERENCE_NODE);
        List<String> cmd = onTheBuild(d, d.entrypoint());
        cmd.addAll(d.cmd());
        // later flags win: a free loopback port and a temporary data folder instead of the image's
        cmd.addAll(List.of("--host", "127.0.0.1", "--port", "0", "--data-dir", dir.resolve("data").toString()));
        Path log = dir.resolve("node.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            Matcher m = awaitListening(p, log);
            String output = Files.readString(log, StandardCharsets.UTF_8);
            assertFalse(output.contains("SLF4J"), "no SLF4J error as the node starts:\n" + output);
            ManagedChannel ch = NettyChannelBuilder.forAddress(m.group(1), Integer.parseInt(m.group(2)))
                    .usePlaintext().build();
            try {
                Timeline t = RollbackAgentGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .getTimeline(GetTimelineRequest.getDefaultInstance());
                assertEquals(d.cmd().get(d.cmd().indexOf("--name") + 1), t.getNode(), "the image's default name");
            } finally {
                ch.shutdownNow();
            }
            assertTrue(Files.isDirectory(dir.resolve("data")), "the node keeps its log in --data-dir");
        } finally {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void thePostgresqlImageLoadsTheAgent() throws Exception {
        Dockerfile d = Dockerfile.read(Dockerfile.POSTGRESQL);
        List<String> entrypoint = d.entrypoint();
        assertEquals(List.of("tini", "--"), entrypoint.subList(0, 2), "the agent runs under tini");
        // tini only reaps; the agent's own command, with no flags: the usage and exit 2 show it loaded
        Process p = new ProcessBuilder(onTheBuild(d, entrypoint.subList(2, entrypoint.size())))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), output);
        assertTrue(output.contains("usage: PgAgentMain"), output);
        assertFalse(output.contains("SLF4J"), output);
    }

    /** {@code command} (java, -cp CLASSPATH, ...) with this JVM and the classpath mapped onto the build. */
    private static List<String> onTheBuild(Dockerfile d, List<String> command) {
        assertEquals("java", command.get(0), d.file() + " runs java from the PATH");
        List<String> out = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (int i = 1; i < command.size(); i++) {
            String a = command.get(i);
            if (i > 1 && command.get(i - 1).equals("-cp")) {
                List<String> entries = new ArrayList<>();
                for (String e : a.split(":")) {
                    String src = d.source(e).orElseThrow(() -> new AssertionError(e + " is copied by no COPY"));
                    Path folder = Path.of(src.substring(0, src.length() - 2));
                    assertTrue(Files.isDirectory(folder), folder + " is in the build (mvn package)");
                    entries.add(folder.toAbsolutePath() + File.separator + "*");
                }
                a = String.join(File.pathSeparator, entries);
            }
            out.add(a);
        }
        return out;
    }

    private static Matcher awaitListening(Process p, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String output = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher m = LISTENING.matcher(output);
            if (m.find()) {
                return m;
            }
            if (!p.isAlive()) {
                throw new AssertionError("the node ended (exit " + p.exitValue() + ") before it listened:\n" + output);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the node did not print LISTENING within 60 s:\n" + Files.readString(log));
    }
}
