package io.dbrollback.testing;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.CustomResourceAware;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.Resetable;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A mock API server dispatcher that answers {@code pods/exec} the way a kubelet would, by running the
 * requested argv as a local process; every other request goes to the wrapped dispatcher (normally a
 * CRUD-mode {@link KubernetesMixedDispatcher}).
 *
 * <p>Per pod, {@link #registerPod} names a local directory that stands in for the pod's data volume and the
 * volume's mount path inside the container (e.g. {@code /var/lib/db}). Every argv element that equals the
 * mount path or starts with mount path + "/" is rewritten to the local directory; nothing else is touched
 * (in particular paths inside a {@code sh -c} script are not rewritten: pass them as positional arguments).
 * The argv is run as given, never through a shell added here, with the local directory as working
 * directory and this JVM's environment.
 *
 * <p>Wire protocol (v4.channel.k8s.io, the only one fabric8 7.5.2 asks for): binary frames, first byte the
 * channel. Channel 0 frames feed the process's stdin, stdout and stderr go out on channels 1 and 2 in
 * chunks of {@link #OUTPUT_CHUNK} bytes, and when the process has exited and both outputs are drained a
 * channel 3 Status follows (Success, or Failure/NonZeroExitCode with an ExitCode cause), then a close.
 * The v4 protocol has no stdin EOF: closing the client's stdin sends nothing, so the command itself must
 * know how much to read ({@code head -c N}).
 *
 * <p>Fault switches ({@link #injectNext}) act on the next exec into a pod, one fault per exec, in order.
 * {@link #holdNext} holds a matching exec before its command runs (a window for a test to act in);
 * {@link #killExecs} kills a pod's running execs, as a restart of its container would.
 * Every exec that reaches a registered pod is logged ({@link #execLog}) with the argv exactly as requested.
 */
public final class ExecDispatcher extends Dispatcher implements Resetable, CustomResourceAware {

    /**
     * Largest websocket frame the mock server accepts from the client (Vert.x default 65536 minus 1 channel byte): keep
     * each stdin write at or under this.
     */
    public static final int MAX_STDIN_WRITE = 65535;
    /** Size of the stdout/stderr chunks sent to the client; each frame is this plus the channel byte. */
    public static final int OUTPUT_CHUNK = 32 * 1024;

    private static final Pattern EXEC_PATH =
            Pattern.compile("^/api/v1/namespaces/([^/?]+)/pods/([^/?]+)/exec(?:\\?(.*))?$");
    private static final byte[] STDIN_EOF = new byte[0];
    private static final KubernetesSerialization JSON = new KubernetesSerialization();

    private final Dispatcher delegate;
    private final Map<PodKey, Volume> volumes = new ConcurrentHashMap<>();
    private final Map<PodKey, Deque<Fault>> faults = new ConcurrentHashMap<>();
    private final List<ExecRecord> log = new CopyOnWriteArrayList<>();
    private final Set<Session> active = ConcurrentHashMap.newKeySet();
    private final List<Hold> holds = new CopyOnWriteArrayList<>();
    private final ExecutorService threads;
    private volatile boolean forbidden;
    private final AtomicInteger forbiddenRequests = new AtomicInteger();

    public ExecDispatcher(Dispatcher delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        AtomicInteger n = new AtomicInteger();
        this.threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "mock-exec-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    // ------------------------------------------------------------------ registry

    /**
     * Lets execs into {@code namespace/pod} run locally, with {@code localRoot} standing in for the volume
     * mounted at {@code volumePath} in the container. The directory is created if missing. Replaces an
     * earlier registration of the same pod.
     */
    public Path registerPod(String namespace, String pod, Path localRoot, String volumePath) {
        Objects.requireNonNull(localRoot, "localRoot");
        String mount = normalizeMount(volumePath);
        try {
            Files.createDirectories(localRoot);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + localRoot, e);
        }
        Path root = localRoot.toAbsolutePath().normalize();
        volumes.put(new PodKey(namespace, pod), new Volume(root, mount));
        return root;
    }

    public void unregisterPod(String namespace, String pod) {
        volumes.remove(new PodKey(namespace, pod));
    }

    /** The local directory registered for the pod, or null. */
    public Path localRoot(String namespace, String pod) {
        Volume v = volumes.get(new PodKey(namespace, pod));
        return v == null ? null : v.root;
    }

    // ------------------------------------------------------------------ faults

    /** Queues a fault for the next exec into the pod (faults queue up: one per exec, in order). */
    public void injectNext(String namespace, String pod, Fault fault) {
        Objects.requireNonNull(fault, "fault");
        Deque<Fault> q = faults.computeIfAbsent(new PodKey(namespace, pod), k -> new ArrayDeque<>());
        synchronized (q) {
            q.addLast(fault);
        }
    }

    /**
     * Next exec: runs, forwards at most {@code bytes} of stdout, then closes the websocket without a status and kills
     * the process.
     */
    public void cutNextStdoutAfter(String namespace, String pod, long bytes) {
        injectNext(namespace, pod, Fault.cutStdoutAfter(bytes));
    }

    /**
     * Next exec: runs to completion but no status is ever sent and the websocket stays open (the client's exitCode()
     * never completes).
     */
    public void omitNextExitStatus(String namespace, String pod) {
        injectNext(namespace, pod, Fault.noExitStatus());
    }

    /**
     * Next exec: runs to completion, then the websocket is closed without a status (the client's exitCode() completes
     * with null).
     */
    public void closeNextWithoutExitStatus(String namespace, String pod) {
        injectNext(namespace, pod, Fault.closeWithoutExitStatus());
    }

    /** Next exec: the command is NOT run; {@code stderr} is sent on channel 2 and the exit code is {@code exitCode}. */
    public void failNext(String namespace, String pod, int exitCode, String stderr) {
        injectNext(namespace, pod, Fault.exit(exitCode, stderr));
    }

    /** Faults still queued for the pod (not yet consumed by an exec). */
    public int pendingFaults(String namespace, String pod) {
        Deque<Fault> q = faults.get(new PodKey(namespace, pod));
        if (q == null) {
            return 0;
        }
        synchronized (q) {
            return q.size();
        }
    }

    /**
     * Holds the next exec into the pod whose argv (as requested) matches: it is accepted and logged,
     * then waits, before its command runs, until {@link Hold#release()} or until it is killed
     * ({@link #killExecs}, client gone). A window for a test to act while a command is in flight.
     */
    public Hold holdNext(String namespace, String pod, Predicate<List<String>> argv) {
        Hold h = new Hold(new PodKey(namespace, pod), argv);
        holds.add(h);
        return h;
    }

    /**
     * Kills every exec running into the pod, as a container restart does: its process is killed and
     * its websocket closed without an exit status. Returns how many were killed.
     */
    public int killExecs(String namespace, String pod) {
        PodKey key = new PodKey(namespace, pod);
        int n = 0;
        for (Session s : active) {
            if (s.record.namespace().equals(key.namespace()) && s.record.pod().equals(key.pod())) {
                s.kill();
                n++;
            }
        }
        return n;
    }

    private Hold takeHold(PodKey key, List<String> argv) {
        for (Hold h : holds) {
            if (h.pod.equals(key) && h.argv.test(argv) && holds.remove(h)) {
                return h;
            }
        }
        return null;
    }

    public void clearFaults() {
        faults.clear();
    }

    private Fault pollFault(PodKey key) {
        Deque<Fault> q = faults.get(key);
        if (q == null) {
            return null;
        }
        synchronized (q) {
            return q.pollFirst();
        }
    }

    // ------------------------------------------------------------------ log

    /** Every exec that reached a registered pod, oldest first. */
    public List<ExecRecord> execLog() {
        return List.copyOf(log);
    }

    /** The execs into one pod, oldest first. */
    public List<ExecRecord> execLog(String namespace, String pod) {
        List<ExecRecord> out = new ArrayList<>();
        for (ExecRecord r : log) {
            if (r.namespace().equals(namespace) && r.pod().equals(pod)) {
                out.add(r);
            }
        }
        return Collections.unmodifiableList(out);
    }

    public void clearExecLog() {
        log.clear();
    }

    /** Execs whose local process (or fault handling) is still running. */
    public int activeExecs() {
        return active.size();
    }

    /** Waits until no exec is running; false on timeout. */
    public boolean awaitNoActiveExecs(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!active.isEmpty()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(10);
        }
        return true;
    }

    /** Kills running execs and forgets faults, holds and the exec log; keeps the pod registrations. */
    public void resetExecs() {
        for (Session s : active) {
            s.kill();
        }
        holds.forEach(Hold::release);
        holds.clear();
        clearFaults();
        clearExecLog();
    }

    // ------------------------------------------------------------------ Dispatcher

    @Override
    public MockResponse dispatch(RecordedRequest request) {
        if (request.method() == HttpMethod.GET && request.getPath() != null) {
            Matcher m = EXEC_PATH.matcher(request.getPath());
            if (m.matches()) {
                return exec(m.group(1), m.group(2), m.group(3));
            }
        }
        return delegate.dispatch(request);
    }

    @Override
    public void shutdown() {
        for (Session s : active) {
            s.kill();
        }
        threads.shutdownNow();
        delegate.shutdown();
    }

    @Override
    public void reset() {
        resetExecs();
        if (delegate instanceof Resetable) {
            ((Resetable) delegate).reset();
        }
    }

    @Override
    public void expectCustomResource(CustomResourceDefinitionContext rdc) {
        if (!(delegate instanceof CustomResourceAware)) {
            throw new UnsupportedOperationException("delegate is not CustomResourceAware");
        }
        ((CustomResourceAware) delegate).expectCustomResource(rdc);
    }

    /**
     * Answers every pods/exec request with 403 Forbidden, as an API server does for a ServiceAccount
     * without the pods/exec permission; nothing runs. The refusals are counted.
     */
    public void forbidExec(boolean forbid) {
        this.forbidden = forbid;
    }

    /** How many pods/exec requests were answered 403 since the server started. */
    public int forbiddenExecRequests() {
        return forbiddenRequests.get();
    }

    private MockResponse exec(String rawNamespace, String rawPod, String rawQuery) {
        if (forbidden) {
            forbiddenRequests.incrementAndGet();
            Status status = new StatusBuilder().withNewMetadata().endMetadata().withStatus("Failure")
                    .withMessage("pods \"" + decode(rawPod) + "\" is forbidden: User \"system:serviceaccount:"
                            + "rollback-operator:rollback-operator\" cannot create resource \"pods/exec\" in API group"
                            + " \"\" in the namespace \"" + decode(rawNamespace) + "\"")
                    .withReason("Forbidden").withCode(403).build();
            return new MockResponse().setResponseCode(403).addHeader("Content-Type", "application/json")
                    .setBody(JSON.asJson(status));
        }
        // A real API server answers 404 for a pod it does not have, before any upgrade.
        MockResponse podResponse = delegate.dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.GET,
                "/api/v1/namespaces/" + rawNamespace + "/pods/" + rawPod, Headers.builder().build(), new Buffer()));
        if (podResponse.code() != 200) {
            return podResponse;
        }
        String namespace = decode(rawNamespace);
        String podName = decode(rawPod);
        Pod pod = JSON.unmarshal(podResponse.getBody().readUtf8(), Pod.class);

        List<String> command = new ArrayList<>();
        String container = null;
        boolean stdin = false;
        boolean stdout = false;
        boolean stderr = false;
        boolean tty = false;
        if (rawQuery != null && !rawQuery.isEmpty()) {
            for (String pair : rawQuery.split("&")) {
                int eq = pair.indexOf('=');
                String k = decode(eq < 0 ? pair : pair.substring(0, eq));
                String v = eq < 0 ? "" : decode(pair.substring(eq + 1));
                switch (k) {
                    case "command": command.add(v); break;
                    case "container": container = v; break;
                    case "stdin": stdin = Boolean.parseBoolean(v); break;
                    case "stdout": stdout = Boolean.parseBoolean(v); break;
                    case "stderr": stderr = Boolean.parseBoolean(v); break;
                    case "tty": tty = Boolean.parseBoolean(v); break;
                    default: break;
                }
            }
        }
        if (command.isEmpty()) {
            return badRequest("you must specify at least 1 command");
        }
        if (!stdin && !stdout && !stderr) {
            return badRequest("you must specify at least one of stdin, stdout, stderr");
        }
        if (tty) {
            return badRequest("ExecDispatcher does not emulate tty=true");
        }
        List<String> containers = new ArrayList<>();
        if (pod.getSpec() != null && pod.getSpec().getContainers() != null) {
            for (Container c : pod.getSpec().getContainers()) {
                containers.add(c.getName());
            }
        }
        if (container == null || container.isEmpty()) {
            if (containers.isEmpty()) {
                return badRequest("pod " + podName + " has no containers");
            }
            container = containers.get(0);
        } else if (!containers.contains(container)) {
            return badRequest("container " + container + " is not valid for pod " + podName);
        }

        PodKey key = new PodKey(namespace, podName);
        Volume volume = volumes.get(key);
        List<String> localArgv = volume == null ? null : rewrite(command, volume.mount, volume.root);
        Fault fault = volume == null ? null : pollFault(key);
        ExecRecord record = new ExecRecord(namespace, podName, container, command, localArgv, fault);
        log.add(record);
        Session session = new Session(record, volume, stdin, stdout, stderr);
        session.hold = volume == null ? null : takeHold(key, command);
        return new MockResponse().withWebSocketUpgrade(session);
    }

    private static MockResponse badRequest(String message) {
        Status status = new StatusBuilder().withNewMetadata().endMetadata()
                .withStatus("Failure").withMessage(message).withReason("BadRequest").withCode(400).build();
        return new MockResponse().setResponseCode(400)
                .addHeader("Content-Type", "application/json")
                .setBody(JSON.asJson(status));
    }

    // ------------------------------------------------------------------ helpers

    /**
     * The argv the local process gets: each element equal to {@code mount} or starting with {@code mount + "/"}
     * has that prefix replaced by {@code root}; every other element is unchanged.
     */
    public static List<String> rewrite(List<String> argv, String mount, Path root) {
        String m = normalizeMount(mount);
        String r = root.toString();
        List<String> out = new ArrayList<>(argv.size());
        for (String a : argv) {
            if (a.equals(m)) {
                out.add(r);
            } else if (a.startsWith(m + "/")) {
                out.add(r + a.substring(m.length()));
            } else {
                out.add(a);
            }
        }
        return Collections.unmodifiableList(out);
    }

    /** The channel 3 Status a kubelet sends for an exit code. */
    public static String exitStatusJson(int exitCode) {
        Status status = exitCode == 0
                ? new StatusBuilder().withNewMetadata().endMetadata().withStatus("Success").build()
                : new StatusBuilder().withNewMetadata().endMetadata()
                        .withStatus("Failure")
                        .withMessage("command terminated with non-zero exit code: exit status " + exitCode)
                        .withReason("NonZeroExitCode")
                        .withNewDetails().addNewCause().withReason("ExitCode").withMessage(Integer.toString(exitCode))
                        .endCause().endDetails()
                        .build();
        return JSON.asJson(status);
    }

    private static String internalErrorJson(String message) {
        return JSON.asJson(new StatusBuilder().withNewMetadata().endMetadata()
                .withStatus("Failure").withMessage(message).withReason("InternalError").build());
    }

    private static String normalizeMount(String volumePath) {
        Objects.requireNonNull(volumePath, "volumePath");
        String m = volumePath;
        while (m.length() > 1 && m.endsWith("/")) {
            m = m.substring(0, m.length() - 1);
        }
        if (!m.startsWith("/") || m.equals("/")) {
            throw new IllegalArgumentException("volume path must be absolute and not /: " + volumePath);
        }
        return m;
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private record PodKey(String namespace, String pod) {
        PodKey {
            Objects.requireNonNull(namespace, "namespace");
            Objects.requireNonNull(pod, "pod");
        }
    }

    private record Volume(Path root, String mount) {
    }

    // ------------------------------------------------------------------ public types

    /** One injected misbehaviour for one exec. */
    public static final class Fault {
        public enum Kind {
            /** Forward at most N stdout bytes, then close without a status and kill the process. */
            CUT_STDOUT,
            /** Run to completion, send no status, keep the websocket open (client's exitCode() stays incomplete). */
            NO_EXIT_STATUS,
            /** Run to completion, then close without a status (client's exitCode() completes with null). */
            CLOSE_WITHOUT_EXIT_STATUS,
            /** Do not run the command; send the stderr text and the exit code. */
            EXIT_WITHOUT_RUNNING,
            /**
             * Run the command (its side effects happen), then report the given stderr text and exit code instead of its
             * own.
             */
            RUN_THEN_EXIT
        }

        private final Kind kind;
        private final long cutAfter;
        private final int exitCode;
        private final String stderr;

        private Fault(Kind kind, long cutAfter, int exitCode, String stderr) {
            this.kind = kind;
            this.cutAfter = cutAfter;
            this.exitCode = exitCode;
            this.stderr = stderr == null ? "" : stderr;
        }

        public static Fault cutStdoutAfter(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("bytes < 0");
            }
            return new Fault(Kind.CUT_STDOUT, bytes, 0, null);
        }

        public static Fault noExitStatus() {
            return new Fault(Kind.NO_EXIT_STATUS, -1, 0, null);
        }

        public static Fault closeWithoutExitStatus() {
            return new Fault(Kind.CLOSE_WITHOUT_EXIT_STATUS, -1, 0, null);
        }

        public static Fault exit(int exitCode, String stderr) {
            return new Fault(Kind.EXIT_WITHOUT_RUNNING, -1, exitCode, stderr);
        }

        public static Fault runThenExit(int exitCode, String stderr) {
            return new Fault(Kind.RUN_THEN_EXIT, -1, exitCode, stderr);
        }

        public Kind kind() {
            return kind;
        }

        public long cutAfter() {
            return cutAfter;
        }

        public int exitCode() {
            return exitCode;
        }

        public String stderr() {
            return stderr;
        }

        @Override
        public String toString() {
            switch (kind) {
                case CUT_STDOUT: return "CUT_STDOUT(" + cutAfter + ")";
                case EXIT_WITHOUT_RUNNING:
                case RUN_THEN_EXIT: return kind + "(" + exitCode + ")";
                default: return kind.toString();
            }
        }
    }

    /** A hold on one exec, from {@link #holdNext}. */
    public static final class Hold {
        private final PodKey pod;
        private final Predicate<List<String>> argv;
        private final CompletableFuture<ExecRecord> held = new CompletableFuture<>();
        private final CompletableFuture<Void> released = new CompletableFuture<>();

        private Hold(PodKey pod, Predicate<List<String>> argv) {
            this.pod = pod;
            this.argv = argv;
        }

        /** Whether a matching exec is waiting (or was, and was released or killed since). */
        public boolean isHeld() {
            return held.isDone();
        }

        /** The held exec, once there is one. */
        public CompletableFuture<ExecRecord> held() {
            return held;
        }

        /** Lets the held exec run (or a future one run at once). */
        public void release() {
            released.complete(null);
        }
    }

    /** What one exec asked for and what happened. */
    public static final class ExecRecord {
        private final String namespace;
        private final String pod;
        private final String container;
        private final List<String> argv;
        private final List<String> localArgv;
        private final Fault fault;
        private final AtomicLong stdinBytes = new AtomicLong();
        private final AtomicLong stdoutBytes = new AtomicLong();
        private final AtomicLong stderrBytes = new AtomicLong();
        private final CompletableFuture<Integer> processExit = new CompletableFuture<>();
        private final CompletableFuture<Void> finished = new CompletableFuture<>();

        ExecRecord(String namespace, String pod, String container, List<String> argv, List<String> localArgv,
                Fault fault) {
            this.namespace = namespace;
            this.pod = pod;
            this.container = container;
            this.argv = List.copyOf(argv);
            this.localArgv = localArgv;
            this.fault = fault;
        }

        public String namespace() {
            return namespace;
        }

        public String pod() {
            return pod;
        }

        public String container() {
            return container;
        }

        /** The argv exactly as the client sent it. */
        public List<String> argv() {
            return argv;
        }

        /** The argv after the volume path rewrite; null if the pod had no registered local root (nothing ran). */
        public List<String> localArgv() {
            return localArgv;
        }

        /** The fault applied to this exec, or null. */
        public Fault fault() {
            return fault;
        }

        /** Bytes received on channel 0 (stdin). */
        public long stdinBytes() {
            return stdinBytes.get();
        }

        /** Bytes sent on channel 1 (after any cut). */
        public long stdoutBytes() {
            return stdoutBytes.get();
        }

        /** Bytes sent on channel 2. */
        public long stderrBytes() {
            return stderrBytes.get();
        }

        /**
         * The local process's own exit value (137 or similar if killed), or null if nothing was run
         * (fault {@link Fault.Kind#EXIT_WITHOUT_RUNNING}, unregistered pod, or the program could not be started).
         */
        public CompletableFuture<Integer> processExit() {
            return processExit;
        }

        /**
         * Completes when the server is done with the exec: the process has ended and whatever the fault allows has been
         * sent.
         */
        public CompletableFuture<Void> finished() {
            return finished;
        }

        @Override
        public String toString() {
            return namespace + "/" + pod + "[" + container + "] " + argv + (fault == null ? "" : " fault=" + fault);
        }
    }

    // ------------------------------------------------------------------ one exec

    private final class Session extends WebSocketListener {
        private final ExecRecord record;
        private final Volume volume;
        private final boolean stdinOn;
        private final boolean stdoutOn;
        private final boolean stderrOn;
        private final Fault fault;
        private final LinkedBlockingQueue<byte[]> stdinQueue = new LinkedBlockingQueue<>();
        private final AtomicBoolean stdinBroken = new AtomicBoolean();
        private final Object sendLock = new Object();
        private volatile WebSocket ws;
        private volatile Process process;
        private volatile boolean clientGone;
        private boolean closedByUs; // guarded by sendLock
        private volatile boolean cut;
        private volatile Hold hold;

        Session(ExecRecord record, Volume volume, boolean stdinOn, boolean stdoutOn, boolean stderrOn) {
            this.record = record;
            this.volume = volume;
            this.stdinOn = stdinOn;
            this.stdoutOn = stdoutOn;
            this.stderrOn = stderrOn;
            this.fault = record.fault();
        }

        @Override
        public void onOpen(WebSocket webSocket, Response response) {
            this.ws = webSocket;
            active.add(this);
            try {
                threads.execute(this::run);
            } catch (RuntimeException rejected) { // dispatcher shut down
                active.remove(this);
                close(1011, "shutting down");
                record.processExit.complete(null);
                record.finished.complete(null);
            }
        }

        @Override
        public void onMessage(WebSocket webSocket, byte[] bytes) {
            if (bytes.length < 2 || bytes[0] != 0) {
                return; // empty frames, resize (channel 4) and anything else are ignored
            }
            record.stdinBytes.addAndGet(bytes.length - 1L);
            if (stdinOn && !stdinBroken.get()) {
                stdinQueue.offer(Arrays.copyOfRange(bytes, 1, bytes.length));
            }
        }

        @Override
        public void onMessage(WebSocket webSocket, String text) {
            onMessage(webSocket, text.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public void onClosing(WebSocket webSocket, int code, String reason) {
            clientGone();
        }

        @Override
        public void onClosed(WebSocket webSocket, int code, String reason) {
            clientGone();
        }

        @Override
        public void onFailure(WebSocket webSocket, Throwable error, Response response) {
            clientGone();
        }

        /**
         * The client closed or the connection broke: stop sending, end stdin and kill the process (as the tests'
         * stand-in for a lost exec).
         */
        private void clientGone() {
            clientGone = true;
            stdinQueue.offer(STDIN_EOF);
            Process p = process;
            if (p != null && p.isAlive()) {
                destroy(p);
            }
        }

        void kill() {
            clientGone();
            close(1001, "mock API server shutting down");
            Hold h = hold;
            if (h != null) {
                h.released.complete(null);
            }
        }

        private void run() {
            try {
                if (volume == null) {
                    send(2, ("ExecDispatcher: no local root registered for pod " + record.namespace() + "/"
                            + record.pod() + " (call registerPod first)\n").getBytes(StandardCharsets.UTF_8));
                    sendStatus(internalErrorJson("no local root registered for pod " + record.pod()));
                    record.processExit.complete(null);
                    close(1000, "");
                    return;
                }
                if (fault != null && fault.kind() == Fault.Kind.EXIT_WITHOUT_RUNNING) {
                    record.processExit.complete(null);
                    if (stderrOn && !fault.stderr().isEmpty()) {
                        send(2, fault.stderr().getBytes(StandardCharsets.UTF_8));
                    }
                    sendStatus(exitStatusJson(fault.exitCode()));
                    close(1000, "");
                    return;
                }
                Hold h = hold;
                if (h != null) {
                    h.held.complete(record);
                    try {
                        h.released.get();
                    } catch (ExecutionException impossible) {
                        throw new IllegalStateException(impossible);
                    }
                    if (clientGone) {
                        return; // killed while held: no command, no status
                    }
                }
                Process p;
                try {
                    p = new ProcessBuilder(record.localArgv()).directory(volume.root.toFile()).start();
                } catch (IOException e) {
                    record.processExit.complete(null);
                    String msg = "exec failed: unable to start container process: " + e.getMessage();
                    send(2, (msg + "\n").getBytes(StandardCharsets.UTF_8));
                    sendStatus(internalErrorJson(msg));
                    close(1000, "");
                    return;
                }
                process = p;
                if (clientGone) {
                    destroy(p);
                }
                Future<?> stdinPump;
                if (stdinOn) {
                    stdinPump = threads.submit(() -> pumpStdin(p.getOutputStream()));
                } else {
                    closeQuietly(p.getOutputStream());
                    stdinPump = CompletableFuture.completedFuture(null);
                }
                Future<?> errPump = threads.submit(() -> pump(p.getErrorStream(), 2, stderrOn, -1));
                long cutAfter = fault != null && fault.kind() == Fault.Kind.CUT_STDOUT ? fault.cutAfter() : -1;
                pump(p.getInputStream(), 1, stdoutOn, cutAfter);
                waitQuietly(errPump);
                int code = p.waitFor();
                stdinQueue.offer(STDIN_EOF);
                waitQuietly(stdinPump);
                record.processExit.complete(code);
                if (cut || clientGone) {
                    return;
                }
                if (cutAfter >= 0) { // output ended before the cut point: still no status
                    close(1000, "");
                    return;
                }
                if (fault != null) {
                    switch (fault.kind()) {
                        case NO_EXIT_STATUS:
                            return; // leave the websocket open; the client must give up on its own
                        case CLOSE_WITHOUT_EXIT_STATUS:
                            close(1000, "");
                            return;
                        case RUN_THEN_EXIT:
                            if (stderrOn && !fault.stderr().isEmpty()) {
                                send(2, fault.stderr().getBytes(StandardCharsets.UTF_8));
                            }
                            code = fault.exitCode();
                            break;
                        default:
                            break;
                    }
                }
                sendStatus(exitStatusJson(code));
                close(1000, "");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                Process p = process;
                if (p != null) {
                    destroy(p);
                }
                close(1011, "interrupted");
            } catch (RejectedExecutionException shuttingDown) {
                Process p = process;
                if (p != null) {
                    destroy(p);
                }
                close(1001, "mock API server shutting down");
            } catch (RuntimeException e) {
                close(1011, String.valueOf(e.getMessage()));
                throw e;
            } finally {
                record.processExit.complete(null); // no-op if already completed
                record.finished.complete(null);
                active.remove(this);
            }
        }

        private void pumpStdin(OutputStream os) {
            try {
                while (true) {
                    byte[] b = stdinQueue.take();
                    if (b == STDIN_EOF) {
                        break;
                    }
                    os.write(b);
                    os.flush();
                }
            } catch (IOException e) {
                // the process closed its stdin (e.g. head -c N has read enough) or died: drop the rest
                stdinBroken.set(true);
                stdinQueue.clear();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                closeQuietly(os);
            }
        }

        private void pump(InputStream in, int channel, boolean forward, long limit) {
            byte[] buf = new byte[OUTPUT_CHUNK];
            long sent = 0;
            try (in) {
                int n;
                while ((n = in.read(buf)) != -1) {
                    if (!forward || cut || clientGone) {
                        continue; // drain so the process never blocks on a full pipe
                    }
                    int len = n;
                    if (limit >= 0 && sent + len >= limit) {
                        len = (int) (limit - sent);
                        send(channel, Arrays.copyOf(buf, len));
                        sent += len;
                        cutNow();
                        continue;
                    }
                    send(channel, Arrays.copyOf(buf, len));
                    sent += len;
                }
            } catch (IOException e) {
                // the process was killed; nothing more to forward
            }
        }

        private void cutNow() {
            cut = true;
            close(1000, "");
            stdinQueue.offer(STDIN_EOF);
            Process p = process;
            if (p != null) {
                destroy(p);
            }
        }

        private void send(int channel, byte[] data) {
            if (data.length == 0) {
                return;
            }
            byte[] frame = new byte[data.length + 1];
            frame[0] = (byte) channel;
            System.arraycopy(data, 0, frame, 1, data.length);
            synchronized (sendLock) {
                if (closedByUs || clientGone) {
                    return;
                }
                ws.send(frame);
            }
            if (channel == 1) {
                record.stdoutBytes.addAndGet(data.length);
            } else if (channel == 2) {
                record.stderrBytes.addAndGet(data.length);
            }
        }

        private void sendStatus(String json) {
            send(3, json.getBytes(StandardCharsets.UTF_8));
        }

        private void close(int code, String reason) {
            synchronized (sendLock) {
                if (closedByUs || ws == null) {
                    return;
                }
                closedByUs = true;
                ws.close(code, reason);
            }
        }
    }

    private static void destroy(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    private static void closeQuietly(OutputStream os) {
        try {
            os.close();
        } catch (IOException ignored) {
            // already closed by the process
        }
    }

    private static void waitQuietly(Future<?> f) throws InterruptedException {
        try {
            f.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // a pump failing or hanging must not keep the status from going out
        }
    }
}
