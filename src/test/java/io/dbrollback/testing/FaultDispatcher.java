package io.dbrollback.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.CustomResourceAware;
import io.fabric8.kubernetes.client.server.mock.Resetable;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * API server faults in front of the mock API server (F9 of the fault list): the outermost dispatcher
 * of a {@link MockApiServer}, it passes every request on unless a rule says otherwise.
 *
 * <ul>
 *   <li>{@link #refuseNext}: the next N requests matching (method, path, optional body predicate) are
 *       answered with an error Status (500 InternalError, 409 Conflict, ...) and never reach the
 *       server: nothing is applied.</li>
 *   <li>{@link #applyThenFailNext}: the request is applied by the server, but the client gets the error
 *       (a timeout or a lost answer after the write committed: the outcome is unknown to the client).</li>
 *   <li>{@link #goneOnNextWatch}: the next N watch requests on a path are answered HTTP 410 Gone instead
 *       of being upgraded.</li>
 *   <li>{@link #expireWatches}: every open watch on a path receives an {@code ERROR} event with a 410
 *       Status ("too old resource version", as a real API server sends when its watch cache has moved
 *       on) and is closed: informers must list again.</li>
 *   <li>{@link #holdWatchEvents} / {@link #releaseWatchEvents}: watch events on a path are held back,
 *       optionally after the first one matching a predicate, so that informer caches lag behind the
 *       server (a stale cache), until released.</li>
 *   <li>{@link #sendUnreadableWatchEvent}: every open watch on a path receives an event the client
 *       cannot read; fabric8 does not retry that error, so an informer stops for good.</li>
 * </ul>
 *
 * It also holds status writes to the API server's optimistic concurrency, which the CRUD mock skips: a
 * {@code PUT .../status} whose {@code metadata.resourceVersion} is not the stored one is refused with
 * 409 Conflict, as a real API server does (the mock replaces the status whatever the version). Writes
 * are handled one at a time, so that this check and the write are one step.
 *
 * <p>Paths are regular expressions matched against the whole request path without its query string,
 * e.g. {@code /apis/dbrollback.io/v1alpha1/namespaces/ns/replicasetrollbacks/rb/status}. Every request
 * is logged ({@link #log()}) with the code it got, so that tests can show a fault was actually served.
 */
public final class FaultDispatcher extends Dispatcher implements Resetable, CustomResourceAware {

    private final Dispatcher delegate;
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<Hold> holds = new CopyOnWriteArrayList<>();
    private final Set<WatchTap> watches = ConcurrentHashMap.newKeySet();
    /** The last {@link #LOG_LIMIT} requests (a long-running sandbox must not grow without bound). */
    private final Deque<Exchange> log = new ArrayDeque<>();
    static final int LOG_LIMIT = 100_000;

    public FaultDispatcher(Dispatcher delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    // ------------------------------------------------------------------ rules

    /** What a rule does to a request it matches. */
    public enum Mode {
        /** Answer with the error; the server never sees the request. */
        REFUSE,
        /** Let the server apply the request, then answer with the error instead of its answer. */
        APPLY_THEN_FAIL,
        /** Answer a watch request with the error instead of upgrading it. */
        WATCH_REFUSED
    }

    /**
     * One fault rule: the requests it matches, its answer and how many it has left. {@link #served()}
     * and {@link #bodies()} show what it did.
     */
    public static final class Rule {
        private final Mode mode;
        private final HttpMethod method;
        private final Pattern path;
        private final Predicate<String> body;
        private final int code;
        private final AtomicInteger remaining;
        private final AtomicInteger served = new AtomicInteger();
        private final List<String> bodies = new CopyOnWriteArrayList<>();

        Rule(Mode mode, HttpMethod method, String path, Predicate<String> body, int code, int times) {
            if (times < 1) {
                throw new IllegalArgumentException("times must be at least 1");
            }
            this.mode = mode;
            this.method = method;
            this.path = Pattern.compile(path);
            this.body = body;
            this.code = code;
            this.remaining = new AtomicInteger(times);
        }

        boolean matches(HttpMethod m, String p, boolean watch, String requestBody) {
            if ((mode == Mode.WATCH_REFUSED) != watch) {
                return false;
            }
            return (method == null || method == m) && path.matcher(p).matches()
                    && (body == null || body.test(requestBody));
        }

        /** Takes one use of the rule; false when it is used up. */
        boolean take() {
            return remaining.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0;
        }

        /** How many requests this rule answered. */
        public int served() {
            return served.get();
        }

        /** How many more requests it will answer. */
        public int remaining() {
            return remaining.get();
        }

        /** The bodies of the requests it answered, in order. */
        public List<String> bodies() {
            return List.copyOf(bodies);
        }

        public int code() {
            return code;
        }

        @Override
        public String toString() {
            return mode + " " + (method == null ? "*" : method) + " " + path + " -> " + code + " (served " + served
                    + ", remaining " + remaining + ")";
        }
    }

    /**
     * The next {@code times} requests matching {@code method} (null: any) and {@code path} are answered
     * with {@code code} and never reach the server.
     */
    public Rule refuseNext(int times, HttpMethod method, String path, int code) {
        return add(new Rule(Mode.REFUSE, method, path, null, code, times));
    }

    /** As {@link #refuseNext(int, HttpMethod, String, int)}, for requests whose body also matches. */
    public Rule refuseNext(int times, HttpMethod method, String path, Predicate<String> body, int code) {
        return add(new Rule(Mode.REFUSE, method, path, body, code, times));
    }

    /**
     * The next {@code times} matching requests are applied by the server, and then answered with
     * {@code code}: the client cannot tell whether its write happened.
     */
    public Rule applyThenFailNext(int times, HttpMethod method, String path, Predicate<String> body, int code) {
        return add(new Rule(Mode.APPLY_THEN_FAIL, method, path, body, code, times));
    }

    /** The next {@code times} watch requests on {@code path} are answered HTTP 410 Gone, not upgraded. */
    public Rule goneOnNextWatch(int times, String path) {
        return add(new Rule(Mode.WATCH_REFUSED, HttpMethod.GET, path, null, 410, times));
    }

    private Rule add(Rule r) {
        rules.add(r);
        return r;
    }

    /** Drops every rule and hold (held events are dropped too); the log is kept. */
    public void clear() {
        rules.clear();
        holds.clear();
        for (WatchTap t : watches) {
            t.dropHeld();
        }
    }

    // ------------------------------------------------------------------ watches

    /**
     * Ends every open watch on {@code path} the way a real API server does when the watch's resource
     * version is too old: an {@code ERROR} event carrying a 410 Status, then the end of the stream.
     * Events held for those watches are lost, as they would be. Returns how many watches were ended.
     */
    public int expireWatches(String path) {
        Pattern p = Pattern.compile(path);
        int n = 0;
        for (WatchTap t : watches) {
            if (p.matcher(t.path).matches() && t.expire()) {
                n++;
            }
        }
        return n;
    }

    /** A watch event whose object is not an object: fabric8 cannot read it, and does not retry. */
    public static final String UNREADABLE_WATCH_EVENT =
            "{\"type\":\"ADDED\",\"object\":\"not an object (injected fault)\"}";

    /**
     * Sends {@link #UNREADABLE_WATCH_EVENT} on every open watch on {@code path}, ahead of any held
     * events: fabric8 ends the watch with an error it does not retry, and an informer on that watch
     * stops for good. Returns how many watches it was sent on.
     */
    public int sendUnreadableWatchEvent(String path) {
        Pattern p = Pattern.compile(path);
        int n = 0;
        for (WatchTap t : watches) {
            if (p.matcher(t.path).matches() && t.sendRaw(UNREADABLE_WATCH_EVENT)) {
                n++;
            }
        }
        return n;
    }

    /** How many watches on {@code path} are open now. */
    public int openWatches(String path) {
        Pattern p = Pattern.compile(path);
        return (int) watches.stream().filter(t -> p.matcher(t.path).matches() && t.isOpen()).count();
    }

    /** Holds back every event of the watches on {@code path} (open now or opened later) until released. */
    public void holdWatchEvents(String path) {
        holdWatchEventsAfter(path, null);
    }

    /**
     * Lets watch events on {@code path} through until one whose JSON matches {@code last} (inclusive),
     * then holds back the following ones until {@link #releaseWatchEvents}: an informer's cache stays at
     * that event while the server moves on. A null predicate holds from the next event on.
     */
    public void holdWatchEventsAfter(String path, Predicate<String> last) {
        hold(new Hold(Pattern.compile(path), last, null));
    }

    /**
     * Lets watch events on {@code path} through until one whose JSON matches {@code first}, and holds
     * back that one and the following ones until {@link #releaseWatchEvents}: the informer never sees
     * the change {@code first} describes, nor anything after it.
     */
    public void holdWatchEventsFrom(String path, Predicate<String> first) {
        hold(new Hold(Pattern.compile(path), null, first));
    }

    private void hold(Hold h) {
        holds.add(h);
        for (WatchTap t : watches) {
            if (h.path.matcher(t.path).matches()) {
                t.hold(h);
            }
        }
    }

    /** Ends the holds on {@code path} and delivers what was held, in order; returns how many events. */
    public int releaseWatchEvents(String path) {
        Pattern p = Pattern.compile(path);
        holds.removeIf(h -> h.path.pattern().equals(p.pattern()));
        int n = 0;
        for (WatchTap t : watches) {
            if (p.matcher(t.path).matches()) {
                n += t.release();
            }
        }
        return n;
    }

    /** How many events are held back now for watches on {@code path}. */
    public int heldEvents(String path) {
        Pattern p = Pattern.compile(path);
        return watches.stream().filter(t -> p.matcher(t.path).matches()).mapToInt(WatchTap::held).sum();
    }

    private static final class Hold {
        final Pattern path;
        final Predicate<String> last;
        final Predicate<String> first;

        Hold(Pattern path, Predicate<String> last, Predicate<String> first) {
            this.path = path;
            this.last = last;
            this.first = first;
        }
    }

    // ------------------------------------------------------------------ log

    /** One request and the code it was answered with ({@code 101} for an upgraded watch). */
    public record Exchange(HttpMethod method, String path, boolean watch, int code, boolean injected) {
    }

    /** Every request so far, in arrival order. */
    public List<Exchange> log() {
        synchronized (log) {
            return List.copyOf(log);
        }
    }

    private void record(Exchange e) {
        synchronized (log) {
            if (log.size() == LOG_LIMIT) {
                log.removeFirst();
            }
            log.addLast(e);
        }
    }

    /** How many logged requests match: method (null: any), path, watch or not (null: either), code (null: any). */
    public long count(HttpMethod method, String path, Boolean watch, Integer code) {
        Pattern p = Pattern.compile(path);
        return log().stream().filter(e -> (method == null || e.method == method) && p.matcher(e.path).matches()
                && (watch == null || e.watch == watch) && (code == null || e.code == code)).count();
    }

    public void clearLog() {
        synchronized (log) {
            log.clear();
        }
    }

    // ------------------------------------------------------------------ Dispatcher

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Object writes = new Object();

    @Override
    public MockResponse dispatch(RecordedRequest request) {
        if (request.method() == HttpMethod.GET) {
            return handle(request);
        }
        synchronized (writes) {
            return handle(request);
        }
    }

    private MockResponse handle(RecordedRequest request) {
        String full = request.getPath() == null ? "" : request.getPath();
        int q = full.indexOf('?');
        String path = q < 0 ? full : full.substring(0, q);
        String query = q < 0 ? "" : full.substring(q + 1);
        boolean watch = request.method() == HttpMethod.GET && isWatch(query);
        // getBytes() leaves the body in place for the server
        String body = request.getBody() == null ? ""
                : new String(request.getBody().getBytes(), StandardCharsets.UTF_8);
        for (Rule r : rules) {
            if (r.matches(request.method(), path, watch, body) && r.take()) {
                r.served.incrementAndGet();
                r.bodies.add(body);
                if (r.mode == Mode.APPLY_THEN_FAIL) {
                    forward(request, path, body);
                }
                record(new Exchange(request.method(), path, watch, r.code, true));
                return status(r.code, "injected fault: " + r.mode + " " + request.method() + " " + path);
            }
        }
        MockResponse response = forward(request, path, body);
        if (watch && response.getWebSocketListener() != null) {
            WatchTap tap = new WatchTap(path, response.getWebSocketListener());
            for (Hold h : holds) {
                if (h.path.matcher(path).matches()) {
                    tap.hold(h);
                }
            }
            watches.add(tap);
            response.withWebSocketUpgrade(tap);
            record(new Exchange(request.method(), path, true, 101, false));
        } else {
            record(new Exchange(request.method(), path, watch, response.code(), false));
        }
        return response;
    }

    /** To the server, after the resource version check of a status write. */
    private MockResponse forward(RecordedRequest request, String path, String body) {
        if (request.method() == HttpMethod.PUT && path.endsWith("/status")) {
            MockResponse stale = staleStatusWrite(request, path, body);
            if (stale != null) {
                return stale;
            }
        }
        return delegate.dispatch(request);
    }

    /** A 409 answer when the write names a resource version the object no longer has, else null. */
    private MockResponse staleStatusWrite(RecordedRequest request, String path, String body) {
        String expected;
        try {
            expected = JSON.readTree(body).path("metadata").path("resourceVersion").asText("");
        } catch (IOException e) {
            return null; // the server answers a malformed body itself
        }
        if (expected.isEmpty()) {
            return null; // an unconditional write
        }
        String object = path.substring(0, path.length() - "/status".length());
        MockResponse current = delegate.dispatch(new RecordedRequest(request.getHttpVersion(), HttpMethod.GET, object,
                request.getHeaders(), new Buffer()));
        if (current.code() != 200 || current.getBody() == null) {
            return null;
        }
        try {
            JsonNode stored = JSON.readTree(current.getBody().getBytes());
            if (expected.equals(stored.path("metadata").path("resourceVersion").asText())) {
                return null;
            }
            String plural = object.split("/")[object.split("/").length - 2];
            return status(409, "Operation cannot be fulfilled on " + plural + " \""
                    + stored.path("metadata").path("name").asText() + "\": the object has been modified; please apply "
                    + "your changes to the latest version and try again");
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean isWatch(String query) {
        for (String pair : query.split("&")) {
            if (pair.equals("watch=true") || pair.equals("watch=1")) {
                return true;
            }
        }
        return false;
    }

    /** An error answer as the API server sends it: a v1 Status with the code's usual reason. */
    static MockResponse status(int code, String message) {
        String reason = switch (code) {
            case 409 -> "Conflict";
            case 410 -> "Expired";
            case 429 -> "TooManyRequests";
            case 500 -> "InternalError";
            case 503 -> "ServiceUnavailable";
            case 504 -> "Timeout";
            default -> "Unknown";
        };
        return new MockResponse().setResponseCode(code).setHeader("Content-Type", "application/json")
                .setBody(statusJson(code, reason, message));
    }

    static String statusJson(int code, String reason, String message) {
        return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\""
                + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\",\"reason\":\"" + reason + "\",\"code\":"
                + code + "}";
    }

    @Override
    public void shutdown() {
        delegate.shutdown();
    }

    @Override
    public void reset() {
        clear();
        clearLog();
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

    // ------------------------------------------------------------------ one watch

    /**
     * Sits between the CRUD mock's watch listener and the client's websocket: the mock sends its events
     * through {@link Tapped}, which can hold them back; {@link #expire()} ends the watch with a 410.
     */
    private final class WatchTap extends WebSocketListener {
        final String path;
        private final WebSocketListener inner;
        private final Deque<String> held = new ArrayDeque<>();
        private WebSocket socket;
        private Hold hold;
        private boolean holding;
        private boolean ended;

        WatchTap(String path, WebSocketListener inner) {
            this.path = path;
            this.inner = inner;
        }

        synchronized boolean isOpen() {
            return socket != null && !ended;
        }

        synchronized int held() {
            return held.size();
        }

        synchronized void hold(Hold h) {
            hold = h;
            holding = h.last == null && h.first == null;
        }

        synchronized int release() {
            hold = null;
            holding = false;
            int n = 0;
            while (!held.isEmpty()) {
                String m = held.poll();
                if (socket != null && !ended) {
                    socket.send(m);
                    n++;
                }
            }
            return n;
        }

        synchronized void dropHeld() {
            held.clear();
            hold = null;
            holding = false;
        }

        synchronized boolean sendRaw(String text) {
            return socket != null && !ended && socket.send(text);
        }

        synchronized boolean expire() {
            if (socket == null || ended) {
                return false;
            }
            ended = true;
            held.clear();
            socket.send("{\"type\":\"ERROR\",\"object\":" + statusJson(410, "Expired",
                    "too old resource version (injected fault)") + "}");
            socket.close(1000, "watch expired");
            return true;
        }

        /** Called by the mock's listener, on its own thread, for every event. */
        synchronized boolean send(String text) {
            if (ended || socket == null) {
                return false;
            }
            if (holding || hold != null && hold.first != null && hold.first.test(text)) {
                holding = true;
                held.add(text);
                return true;
            }
            boolean sent = socket.send(text);
            if (hold != null && hold.last != null && hold.last.test(text)) {
                holding = true;
            }
            return sent;
        }

        @Override
        public void onBeforeAccept(WebSocket webSocket, Response response) {
            inner.onBeforeAccept(webSocket, response);
        }

        @Override
        public void onOpen(WebSocket webSocket, Response response) {
            synchronized (this) {
                socket = webSocket;
            }
            inner.onOpen(new Tapped(webSocket), response);
        }

        @Override
        public void onMessage(WebSocket webSocket, String text) {
            inner.onMessage(webSocket, text);
        }

        @Override
        public void onMessage(WebSocket webSocket, byte[] bytes) {
            inner.onMessage(webSocket, bytes);
        }

        @Override
        public void onClosing(WebSocket webSocket, int code, String reason) {
            end();
            inner.onClosing(webSocket, code, reason);
        }

        @Override
        public void onClosed(WebSocket webSocket, int code, String reason) {
            end();
            watches.remove(this);
            inner.onClosed(webSocket, code, reason);
        }

        @Override
        public void onFailure(WebSocket webSocket, Throwable error, Response response) {
            end();
            watches.remove(this);
            inner.onFailure(webSocket, error, response);
        }

        private synchronized void end() {
            ended = true;
            held.clear();
        }

        /** The socket the mock's listener writes to. */
        private final class Tapped implements WebSocket {
            private final WebSocket raw;

            Tapped(WebSocket raw) {
                this.raw = raw;
            }

            @Override
            public RecordedRequest request() {
                return raw.request();
            }

            @Override
            public boolean send(String text) {
                return WatchTap.this.send(text);
            }

            @Override
            public boolean send(byte[] bytes) {
                return WatchTap.this.send(new String(bytes, StandardCharsets.UTF_8));
            }

            @Override
            public boolean close(int code, String reason) {
                return raw.close(code, reason);
            }
        }
    }

    /** For diagnostics: the rules and what they served. */
    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        for (Rule r : rules) {
            parts.add(r.toString());
        }
        return "FaultDispatcher" + parts;
    }
}
