package io.dbrollback.testing;

import io.dbrollback.testing.ExecDispatcher.ExecRecord;
import io.dbrollback.testing.ExecDispatcher.Fault;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.dsl.ExecListener;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.Arrays;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static io.dbrollback.testing.RollbackChecks.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exec emulation against the real fabric8 client, no Quarkus. */
@IntegrationTest
class ExecDispatcherTest {

    private static final String NS = "test";
    private static final String CONTAINER = "db";
    private static final String VOLUME = "/var/lib/db";
    /** Writes stdin (exactly $2 bytes) to $1/f under a 077 umask and prints its sha256. */
    private static final String STORE_SCRIPT =
            "umask 077; mkdir -p \"$1\"; head -c \"$2\" > \"$1/f\"; sha256sum \"$1/f\"";
    private static final AtomicInteger PODS = new AtomicInteger();

    private static MockApiServer api;
    private static NamespacedKubernetesClient client;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterAll
    static void stop() {
        if (api != null) {
            api.close();
        }
    }

    /** A fresh pod (own name, own local root) per test, so tests never share faults or logs. */
    private String newPod(Path root) {
        String pod = "db-" + PODS.incrementAndGet();
        api.createExecPod(NS, pod, CONTAINER, root, VOLUME);
        return pod;
    }

    private ExecWatch exec(String pod, String... argv) {
        return client.pods().inNamespace(NS).withName(pod).inContainer(CONTAINER)
                .redirectingInput().redirectingOutput().redirectingError()
                .exec(argv);
    }

    @Test
    void forbiddenExecIsRefusedWith403AndRunsNothing() throws Exception {
        Path root = tmp.resolve("forbidden");
        String pod = newPod(root);
        int before = api.exec().forbiddenExecRequests();
        api.exec().forbidExec(true);
        try {
            Exception e = assertThrows(Exception.class, () -> {
                try (ExecWatch w = exec(pod, "sh", "-c", "touch \"$1/ran\"", "x", VOLUME)) {
                    w.exitCode().get(10, TimeUnit.SECONDS);
                }
            });
            // fabric8 wraps the failed upgrade; somewhere in the chain is the API server's 403
            boolean forbidden = false;
            StringBuilder chain = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                chain.append(t).append(" <- ");
                forbidden |= t instanceof KubernetesClientException k && k.getCode() == 403
                        || String.valueOf(t.getMessage()).contains("upgrade failure: 403");
            }
            assertTrue(forbidden, chain.toString());
        } finally {
            api.exec().forbidExec(false);
        }
        assertEquals(before + 1, api.exec().forbiddenExecRequests());
        assertFalse(Files.exists(root.resolve("ran")), "nothing ran");
        assertTrue(api.exec().execLog(NS, pod).isEmpty(), "a refused exec is not an exec");
    }

    @Test
    void argvRunsLocallyWithTheVolumePathRewritten() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        byte[] payload = "hello".getBytes(StandardCharsets.UTF_8);
        String[] argv = {"sh", "-c", STORE_SCRIPT, "x", VOLUME + "/rollback", "5"};

        Result r;
        try (ExecWatch w = exec(pod, argv)) {
            write(w, payload, ExecDispatcher.MAX_STDIN_WRITE);
            r = finish(w);
        }

        assertEquals(0, r.exitCode);
        Path stored = root.resolve("rollback/f");
        assertArrayEquals(payload, Files.readAllBytes(stored));
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(stored));
        // sha256sum prints "<hash>  <local path>": the hash is the payload's, the path the rewritten one
        assertEquals(sha256(payload) + "  " + stored + "\n", r.stdout());
        assertEquals("", r.stderr());

        List<ExecRecord> log = api.exec().execLog(NS, pod);
        assertEquals(1, log.size());
        ExecRecord rec = log.get(0);
        assertEquals(List.of(argv), rec.argv(), "the log keeps the argv exactly as sent");
        assertEquals(List.of("sh", "-c", STORE_SCRIPT, "x", root.toAbsolutePath() + "/rollback", "5"), rec.localArgv());
        assertEquals(CONTAINER, rec.container());
        assertEquals(5, rec.stdinBytes());
        assertEquals(0, rec.processExit().get(5, TimeUnit.SECONDS));
    }

    @Test
    void rewriteTouchesOnlyWholeElementsUnderTheMountPath() {
        Path root = Path.of("/tmp/r");
        assertEquals(List.of("/tmp/r", "/tmp/r/a/b", "/var/lib/dbx", "x/var/lib/db", "--dir=/var/lib/db/a",
                "echo /var/lib/db/a"),
                ExecDispatcher.rewrite(List.of("/var/lib/db", "/var/lib/db/a/b", "/var/lib/dbx", "x/var/lib/db",
                        "--dir=/var/lib/db/a", "echo /var/lib/db/a"), "/var/lib/db/", root));
    }

    @Test
    void nonZeroExitGivesTheExitCodeAndStderrArrives() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        Result r;
        try (ExecWatch w = exec(pod, "sh", "-c", "echo partial; echo 'no space left' >&2; exit 3")) {
            r = finish(w);
        }
        assertEquals(3, r.exitCode);
        assertEquals("partial\n", r.stdout());
        assertEquals("no space left\n", r.stderr());
    }

    @Test
    void failFaultReportsTheExitCodeAndStderrWithoutRunningTheCommand() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        api.exec().failNext(NS, pod, 7, "disk full\n");
        Result r;
        try (ExecWatch w = exec(pod, "touch", VOLUME + "/marker")) {
            r = finish(w);
        }
        assertEquals(7, r.exitCode);
        assertFalse(Files.exists(root.resolve("marker")), "the command must not have run");
        ExecRecord rec = api.exec().execLog(NS, pod).get(0);
        assertEquals(Fault.Kind.EXIT_WITHOUT_RUNNING, rec.fault().kind());
        // Sent on channel 2 before the status. Not asserted through the client's redirected stderr stream: once in
        // a CI run that stream ended empty although the frame comes first (fabric8's redirected streams, not the
        // operator's path, which writes stderr into a stream of its own under flow control, Fabric8PodExec).
        assertEquals("disk full\n".length(), rec.stderrBytes(), "the fault's stderr was sent");
        assertNull(rec.processExit().get(5, TimeUnit.SECONDS));

        // the fault was for one exec only: the next one runs
        try (ExecWatch w = exec(pod, "touch", VOLUME + "/marker")) {
            r = finish(w);
        }
        assertEquals(0, r.exitCode);
        assertTrue(Files.exists(root.resolve("marker")));
    }

    @Test
    void runThenExitFaultRunsTheCommandButReportsFailure() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        api.exec().injectNext(NS, pod, Fault.runThenExit(9, "killed\n"));
        Result r;
        try (ExecWatch w = exec(pod, "touch", VOLUME + "/marker")) {
            r = finish(w);
        }
        assertEquals(9, r.exitCode);
        assertEquals("killed\n", r.stderr());
        assertTrue(Files.exists(root.resolve("marker")), "the side effect happened");
    }

    @Test
    void noExitStatusLeavesTheExitCodeIncompleteSoTheClientNeedsATimeout() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        api.exec().omitNextExitStatus(NS, pod);
        ExecWatch w = exec(pod, "echo", "done");
        try {
            // stdout arrives, but the stream never ends and no status comes: bound every wait
            CompletableFuture<Integer> code = w.exitCode();
            ExecRecord rec = api.exec().execLog(NS, pod).get(0);
            assertEquals(0, rec.processExit().get(5, TimeUnit.SECONDS), "the command itself finished");
            assertThrows(TimeoutException.class, () -> code.get(300, TimeUnit.MILLISECONDS));
            // how the caller detects it: a bounded wait, and anything but a 0 (timeout, null, error) is a failure
            assertFalse(succeeded(w, Duration.ofMillis(200)));
        } finally {
            w.close();
        }
        // after the client gives up, the future completes with null (close without status)
        assertNull(w.exitCode().get(5, TimeUnit.SECONDS));
    }

    @Test
    void aHeldExecRunsOnlyOnceReleased() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        ExecDispatcher.Hold hold = api.exec().holdNext(NS, pod, argv -> argv.contains("held"));
        try (ExecWatch other = exec(pod, "echo", "not-held")) {
            assertEquals("not-held\n", finish(other).stdout(), "an exec that does not match runs at once");
        }
        assertFalse(hold.isHeld());
        Result r;
        try (ExecWatch w = exec(pod, "sh", "-c", "touch marker; echo done", "held")) {
            ExecRecord rec = hold.held().get(10, TimeUnit.SECONDS);
            assertEquals("held", rec.argv().get(3));
            assertThrows(TimeoutException.class, () -> w.exitCode().get(300, TimeUnit.MILLISECONDS));
            assertFalse(Files.exists(root.resolve("marker")), "nothing ran while held");
            hold.release();
            r = finish(w);
        }
        assertEquals(0, r.exitCode);
        assertEquals("done\n", r.stdout());
        assertTrue(Files.exists(root.resolve("marker")));
    }

    @Test
    void killExecsEndsAPodsExecsWithoutAStatusAsAContainerRestartWould() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        String otherPod = newPod(tmp.resolve("other"));
        ExecDispatcher.Hold hold = api.exec().holdNext(NS, pod, argv -> true);
        ExecDispatcher.Hold otherHold = api.exec().holdNext(NS, otherPod, argv -> true);
        try (ExecWatch w = exec(pod, "sh", "-c", "touch marker"); ExecWatch o = exec(otherPod, "echo", "kept")) {
            hold.held().get(10, TimeUnit.SECONDS);
            otherHold.held().get(10, TimeUnit.SECONDS);
            assertEquals(1, api.exec().killExecs(NS, pod));
            Result r = finish(w);
            assertNull(r.exitCode, "killed: no status, the outcome is unknown to the client");
            assertFalse(Files.exists(root.resolve("marker")), "the held command never ran");
            otherHold.release();
            assertEquals("kept\n", finish(o).stdout(), "another pod's exec is untouched");
        }
    }

    @Test
    void closeWithoutExitStatusCompletesTheExitCodeWithNull() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        api.exec().closeNextWithoutExitStatus(NS, pod);
        Result r;
        try (ExecWatch w = exec(pod, "echo", "done")) {
            r = finish(w);
        }
        assertNull(r.exitCode, "no status: fabric8 completes exitCode() with null, which callers must "
                + "treat as failure");
        assertEquals("done\n", r.stdout());
    }

    @Test
    void cutFaultTruncatesStdoutAndGivesNoStatus() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        byte[] big = new byte[300_000];
        new Random(1).nextBytes(big);
        Files.write(root.resolve("tail.bin"), big);
        api.exec().cutNextStdoutAfter(NS, pod, 100_000);
        Result r;
        try (ExecWatch w = exec(pod, "cat", VOLUME + "/tail.bin")) {
            r = finish(w);
        }
        assertNull(r.exitCode);
        assertEquals(100_000, r.out.length);
        assertArrayEquals(Arrays.copyOf(big, 100_000), r.out);
        ExecRecord rec = api.exec().execLog(NS, pod).get(0);
        assertEquals(100_000, rec.stdoutBytes());

        // without the fault the whole file comes back, in 32 KiB frames
        try (ExecWatch w = exec(pod, "cat", VOLUME + "/tail.bin")) {
            r = finish(w);
        }
        assertEquals(0, r.exitCode);
        assertArrayEquals(big, r.out);
    }

    @Test
    void execIntoAPodMissingFromTheStoreFails() {
        KubernetesClientException e = assertThrows(KubernetesClientException.class,
                () -> client.pods().inNamespace(NS).withName("no-such-pod").inContainer(CONTAINER)
                        .redirectingOutput().exec("true"));
        assertEquals(404, e.getCode());

        // the dispatcher answers 404 itself too (the client checks first, but a pod can vanish in between)
        ExecDispatcher dispatcher = api.exec();
        MockResponse resp = dispatcher.dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.GET,
                "/api/v1/namespaces/test/pods/no-such-pod/exec?command=true&container=db&stdout=true",
                Headers.builder().build(), new Buffer()));
        assertEquals(404, resp.code());
    }

    @Test
    void unknownContainerAndUnregisteredPodAreRejected() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        MockResponse resp = api.exec().dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.GET,
                "/api/v1/namespaces/test/pods/" + pod + "/exec?command=true&container=other&stdout=true",
                Headers.builder().build(), new Buffer()));
        assertEquals(400, resp.code());

        // a pod in the store without a local root: nothing runs, the exec fails with an explanation
        client.pods().inNamespace(NS).resource(MockApiServer.runningPod(NS, "unregistered", CONTAINER)).create();
        Result r;
        try (ExecWatch w = exec("unregistered", "true")) {
            r = finish(w);
        }
        assertEquals(-1, r.exitCode);
        assertTrue(r.stderr().contains("no local root registered"), r.stderr());
    }

    @Test
    void fiveMebibytesOfStdinArriveIntact() throws Exception {
        Path root = tmp.resolve("root");
        String pod = newPod(root);
        byte[] payload = new byte[5 * 1024 * 1024];
        new Random(42).nextBytes(payload);
        long t0 = System.nanoTime();
        Result r;
        try (ExecWatch w = exec(pod, "sh", "-c", STORE_SCRIPT, "x", VOLUME + "/rollback",
                Integer.toString(payload.length))) {
            write(w, payload, ExecDispatcher.MAX_STDIN_WRITE);
            r = finish(w);
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(0, r.exitCode);
        Path stored = root.resolve("rollback/f");
        assertEquals(sha256(payload) + "  " + stored + "\n", r.stdout());
        assertArrayEquals(payload, Files.readAllBytes(stored));
        assertEquals(payload.length, api.exec().execLog(NS, pod).get(0).stdinBytes());
        System.out.println("5 MiB through exec stdin in " + ms + " ms");
    }

    @Test
    void exitCodeArrivesOnEveryRun() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        long t0 = System.nanoTime();
        int runs = 30;
        for (int i = 0; i < runs; i++) {
            int expected = i % 3;
            try (ExecWatch w = exec(pod, "sh", "-c", "echo $1; exit $1", "x", Integer.toString(expected))) {
                Result r = finish(w);
                assertEquals(expected, r.exitCode, "run " + i);
                assertEquals(expected + "\n", r.stdout());
            }
        }
        System.out.println(runs + " execs in " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
        assertTrue(api.exec().awaitNoActiveExecs(Duration.ofSeconds(5)));
    }

    @Test
    void plainOutputWithoutStdin() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ExecWatch w = client.pods().inNamespace(NS).withName(pod).inContainer(CONTAINER)
                .writingOutput(out).exec("printf", "%s|", "a b", "$(id)", "'quoted'")) {
            assertEquals(0, w.exitCode().get(10, TimeUnit.SECONDS));
        }
        // argv travels as separate, URL-encoded query entries and is never re-parsed by a shell
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> out.toString(StandardCharsets.UTF_8).equals("a b|$(id)|'quoted'|"));
    }

    @Test
    void exitCodeWaitsUntilStdoutIsDrained() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        try (ExecWatch w = exec(pod, "head", "-c", "40000", "/dev/zero")) {
            // fabric8 stops taking frames once 32 KiB of redirected output sit unread: the status waits behind them
            assertThrows(TimeoutException.class, () -> w.exitCode().get(300, TimeUnit.MILLISECONDS));
            assertEquals(40000, readAll(w.getOutput()).length);
            assertEquals(0, w.exitCode().get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aStdinWriteOverTheFrameLimitBreaksTheExec() throws Exception {
        String pod = newPod(tmp.resolve("root"));
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        try (ExecWatch w = client.pods().inNamespace(NS).withName(pod).inContainer(CONTAINER)
                .redirectingInput().redirectingOutput().redirectingError()
                .usingListener(new ExecListener() {
                    @Override
                    public void onFailure(Throwable t, Response failureResponse) {
                        failure.complete(t); // also keeps fabric8 from logging the failure at ERROR
                    }

                    @Override
                    public void onClose(int code, String reason) {
                    }
                })
                .exec("head", "-c", "65536")) {
            w.getInput().write(new byte[ExecDispatcher.MAX_STDIN_WRITE + 1]); // one frame of 65537 bytes
            w.getInput().flush();
            ExecutionException e = assertThrows(ExecutionException.class, () -> w.exitCode().get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof IOException, String.valueOf(e.getCause()));
            assertTrue(failure.isDone());
        }
    }

    // ------------------------------------------------------------------ client-side helpers

    /** Writes stdin in writes of at most {@code maxWrite} bytes (the mock drops the connection on a bigger frame). */
    static void write(ExecWatch w, byte[] data, int maxWrite) throws IOException {
        OutputStream in = w.getInput();
        for (int off = 0; off < data.length; off += maxWrite) {
            in.write(data, off, Math.min(maxWrite, data.length - off));
        }
        in.flush(); // the client buffers 8 KiB; v4 has no EOF, so closing would not tell the process anything
    }

    /**
     * The caller's rule: success only for exit code 0 within the deadline; null (no status), timeout or error are
     * failures.
     */
    static boolean succeeded(ExecWatch w, Duration timeout) {
        try {
            Integer code = w.exitCode().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return code != null && code == 0;
        } catch (TimeoutException | ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    record Result(Integer exitCode, byte[] out, byte[] err) {
        String stdout() {
            return new String(out, StandardCharsets.UTF_8);
        }

        String stderr() {
            return new String(err, StandardCharsets.UTF_8);
        }
    }

    /**
     * Drains stdout and stderr (needed: the client stops reading frames, status included, once 32 KiB sit
     * unread) and returns the exit code (null when the server sent none).
     */
    static Result finish(ExecWatch w) throws Exception {
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(w.getError()));
        byte[] out = readAll(w.getOutput());
        Integer code = w.exitCode().get(20, TimeUnit.SECONDS);
        return new Result(code, out, err.get(20, TimeUnit.SECONDS));
    }

    /**
     * Reads to the end. fabric8's stream throws "process exited with a non-zero exit code" once the data is
     * consumed when the exit code is non-zero: that is the end of the stream here, the code comes from exitCode().
     */
    static byte[] readAll(InputStream in) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        byte[] b = new byte[16384];
        try {
            int n;
            while ((n = in.read(b)) != -1) {
                buf.write(b, 0, n);
            }
        } catch (IOException endedWithFailure) {
            // see above
        }
        return buf.toByteArray();
    }
}
