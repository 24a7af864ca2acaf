package io.dbrollback.operator;

import static io.dbrollback.testing.RollbackChecks.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TestStreams;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.testing.IntegrationTest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * No stall without a reason: scripted agents on loopback gRPC servers that stop sending, stop taking
 * messages or never answer, and others that are slow but keep moving. A stream that stops is
 * cancelled after the progress timeout (the agent sees the cancellation) and fails the attempt as
 * {@code AgentStalled}, long before the overall stream deadline; a stream slower in total than the
 * progress timeout but faster per message runs to its end; a unary call that never answers fails
 * with DEADLINE_EXCEEDED after its own configured deadline; and the tail is read one message at a
 * time.
 */
@IntegrationTest
class AgentStallTest {

    private static final Duration PROGRESS = Duration.ofMillis(600);
    /** Far beyond every wait here: reaching it would mean the progress timeout did not act. */
    private static final Duration STREAM = Duration.ofSeconds(60);
    /** How long a stalled call may take at most: the progress timeout plus slack for a loaded machine. */
    private static final Duration STALL_BOUND = PROGRESS.plusSeconds(5);
    /** Slow but moving: one message every STEP, four of them within the progress timeout. */
    private static final long STEP_MILLIS = 150;
    private static final AgentClients.Deadlines DEADLINES = new AgentClients.Deadlines(Duration.ofSeconds(10),
            Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ofSeconds(10),
            Duration.ofSeconds(10), PROGRESS, STREAM);
    private static final String INCIDENT = "5f0c1d2e-0000-4000-8000-00000000abcd";

    private final List<AutoCloseable> open = new ArrayList<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void close() throws Exception {
        timer.shutdownNow();
        Collections.reverse(open);
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    private AgentClients clients(AgentClients.Deadlines deadlines, ClientInterceptor... interceptors) {
        AgentClients c = new AgentClients(List.of(interceptors), deadlines);
        open.add(c);
        return c;
    }

    private String serve(RollbackAgentGrpc.RollbackAgentImplBase agent) {
        LoopbackAgent a = LoopbackAgent.start(agent);
        open.add(a);
        return a.address();
    }

    /**
     * A scripted agent whose GetTimeline answers: {@link #warm} makes one call first, so that the
     * connection and the first call's class loading are not inside a measured (sub-second) wait.
     */
    private static class ScriptedAgent extends RollbackAgentGrpc.RollbackAgentImplBase {
        @Override
        public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
            out.onNext(Timeline.getDefaultInstance());
            out.onCompleted();
        }
    }

    /** {@code clients} connected to {@code address}, a call made. */
    private static AgentClients warm(AgentClients clients, String address) {
        AgentClients.Deadlines.within(clients.stub(address, null), Duration.ofSeconds(30))
                .getTimeline(GetTimelineRequest.getDefaultInstance());
        return clients;
    }

    private GrpcRollbackTransport transport(AgentClients clients, String address) {
        return new GrpcRollbackTransport("orders-0", clients, null, Map.of("orders-0", address), null, e -> { },
                Clock.systemUTC());
    }

    private static AgentRollbackFileStore store(AgentClients clients, String address, int chunk) {
        return new AgentRollbackFileStore(clients, null, Map.of("db-0", address), Term.of(5), chunk, null);
    }

    private static List<TailRecord> records(long afterLsn, int n, int valueBytes) {
        List<TailRecord> out = new ArrayList<>();
        Instant t = Instant.parse("2026-03-01T10:00:00Z");
        for (int i = 1; i <= n; i++) {
            out.add(TailRecord.insert(afterLsn + i, 4, "tx" + i, t.plusMillis(i), Bytes.utf8("key-" + i),
                    Bytes.utf8("v".repeat(valueBytes))));
        }
        return out;
    }

    private static TailMessage chunk(List<TailRecord> records) {
        TailChunk.Builder c = TailChunk.newBuilder().setCrc32C(AgentProtos.crc32c(records));
        records.forEach(r -> c.addRecords(AgentProtos.toProto(r)));
        return TailMessage.newBuilder().setChunk(c).build();
    }

    private static TailMessage trailer(List<TailRecord> all) {
        TailDigest d = new TailDigest();
        all.forEach(d::add);
        return TailMessage.newBuilder().setTrailer(TailTrailer.newBuilder().setRecordCount(d.records())
                .setBytes(d.bytes()).setSha256(d.finish())).build();
    }

    private static List<Long> lsns(List<TailRecord> records) {
        return records.stream().map(r -> r.lsn().value()).toList();
    }

    private static RollbackFileHeader header(int n) {
        return new RollbackFileHeader(INCIDENT, 1, "db/orders-leader", "db-0", Lsn.of(100), Lsn.of(100 + n),
                Term.of(4), Term.of(5), "db-1", n, Instant.parse("2026-03-01T10:05:00Z"));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs {@code call}, expecting it to fail; the failure and how long it took. */
    private static Timed<TransportException> timedFailure(Runnable call) {
        long started = System.nanoTime();
        TransportException e = assertThrows(TransportException.class, call::run);
        return new Timed<>(e, Duration.ofNanos(System.nanoTime() - started));
    }

    private static <T> Timed<T> timed(Supplier<T> call) {
        long started = System.nanoTime();
        T result = call.get();
        return new Timed<>(result, Duration.ofNanos(System.nanoTime() - started));
    }

    private record Timed<T>(T value, Duration took) {
    }

    /** A stall: AgentStalled with this message, after the progress timeout and long before the stream deadline. */
    private static void assertStalled(Timed<TransportException> t, String message, boolean outcomeUnknown) {
        TransportException e = t.value();
        assertEquals("AgentStalled", e.code(), e.getMessage());
        assertEquals(message, e.getMessage());
        assertEquals(outcomeUnknown, e.outcomeUnknown(), e.getMessage());
        assertTrue(t.took().compareTo(PROGRESS) >= 0, "waited the progress timeout: " + t.took());
        assertTrue(t.took().compareTo(STALL_BOUND) < 0, "not the stream deadline: " + t.took());
        System.out.printf("%s after %d ms%n", message, t.took().toMillis());
    }

    /** Marks the call's cancellation as the agent sees it. */
    private static void onCancel(StreamObserver<?> out, CountDownLatch cancelled) {
        ((ServerCallStreamObserver<?>) out).setOnCancelHandler(cancelled::countDown);
    }

    // ---- ReadDivergentTail ----

    @Test
    void aTailThatSendsOneChunkAndThenNothingIsCancelledAsStalled() throws Exception {
        CountDownLatch cancelled = new CountDownLatch(1);
        List<TailRecord> first = records(100, 5, 10);
        String address = serve(new ScriptedAgent() {
            @Override
            public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
                onCancel(out, cancelled);
                out.onNext(chunk(first)); // and then nothing: the call stays open
            }
        });
        List<TailRecord> got = new ArrayList<>();
        try (TailStream tail = transport(warm(clients(DEADLINES), address), address)
                .readDivergentTail("orders-0", Lsn.of(100),
                Lsn.of(120))) {
            Timed<TransportException> t = timedFailure(() -> tail.forEachRemaining(got::add));
            assertStalled(t, "ReadDivergentTail from orders-0 sent nothing for 600 ms; cancelled", false);
            assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the agent saw the call cancelled (before the close)");
        }
        assertEquals(lsns(first), lsns(got), "the chunk that came was handed out");
    }

    @Test
    void aSlowTailWhoseEveryChunkComesInTimeIsReadToItsEnd() {
        AtomicBoolean cancelled = new AtomicBoolean();
        List<TailRecord> all = records(100, 36, 10);
        String address = serve(new ScriptedAgent() {
            @Override
            public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
                for (int i = 0; i < 12; i++) {
                    sleep(STEP_MILLIS);
                    out.onNext(chunk(all.subList(i * 3, i * 3 + 3)));
                }
                sleep(STEP_MILLIS);
                cancelled.set(((ServerCallStreamObserver<?>) out).isCancelled());
                out.onNext(trailer(all));
                out.onCompleted();
            }
        });
        GrpcRollbackTransport transport = transport(warm(clients(DEADLINES), address), address);
        Timed<List<TailRecord>> t = timed(() -> {
            List<TailRecord> got = new ArrayList<>();
            try (TailStream tail = transport.readDivergentTail("orders-0", Lsn.of(100), Lsn.of(136))) {
                tail.forEachRemaining(got::add);
            }
            return got;
        });
        assertEquals(lsns(all), lsns(t.value()), "the whole tail, trailer checked");
        assertTrue(t.took().compareTo(PROGRESS.multipliedBy(2)) > 0, "slower in total than the progress timeout: "
                + t.took());
        assertFalse(cancelled.get(), "not cancelled while the agent was sending");
        System.out.printf("slow tail: 13 messages one every %d ms, read in %d ms, not cancelled%n", STEP_MILLIS,
                t.took().toMillis());
    }

    /**
     * The agent sends as fast as flow control lets it and the reader is slower: gRPC never delivers
     * more than one message the reader has not taken, and asks for one message at a time.
     */
    @Test
    void theTailIsReadOneMessageAtATime() {
        int chunks = 300;
        int perChunk = 10;
        List<TailRecord> all = records(0, chunks * perChunk, 100);
        String address = serve(new ScriptedAgent() {
            @Override
            public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
                ServerCallStreamObserver<TailMessage> call = (ServerCallStreamObserver<TailMessage>) out;
                int[] next = {0};
                Runnable pump = () -> {
                    synchronized (next) {
                        while (next[0] <= chunks && call.isReady()) {
                            out.onNext(next[0] < chunks ? chunk(
                                    all.subList(next[0] * perChunk, (next[0] + 1) * perChunk))
                                    : trailer(all));
                            if (++next[0] > chunks) {
                                out.onCompleted();
                            }
                        }
                    }
                };
                call.setOnReadyHandler(pump);
                pump.run();
            }
        });
        FlowProbe probe = new FlowProbe();
        GrpcRollbackTransport transport = transport(warm(clients(DEADLINES, probe), address), address);
        int read = 0;
        int mostAhead = 0;
        try (TailStream tail = transport.readDivergentTail("orders-0", Lsn.of(0), Lsn.of(chunks * perChunk))) {
            while (tail.hasNext()) {
                tail.next();
                read++;
                int taken = (read + perChunk - 1) / perChunk;
                mostAhead = Math.max(mostAhead, probe.delivered.get() - taken);
                if (read % perChunk == 0) {
                    sleep(1); // a reader slower than the agent
                }
            }
        }
        assertEquals(chunks * perChunk, read);
        assertEquals(chunks + 1, probe.delivered.get(), "every chunk and the trailer");
        assertEquals(List.of(1), probe.requests.stream().distinct().toList(), "asked for one message at a time");
        assertTrue(mostAhead <= 1, "at most one message delivered beyond those taken: " + mostAhead);
        System.out.printf("tail of %d messages: at most %d delivered beyond those taken, %d requests of 1%n",
                chunks + 1, mostAhead, probe.requests.size());
    }

    /** Counts, on the operator's channel, the tail messages asked for and those delivered. */
    private static final class FlowProbe implements ClientInterceptor {
        final List<Integer> requests = new CopyOnWriteArrayList<>();
        final AtomicInteger delivered = new AtomicInteger();

        @Override
        public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
            if (!method.getBareMethodName().equals("ReadDivergentTail")) {
                return next.newCall(method, options);
            }
            return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                @Override
                public void start(Listener<A> listener, Metadata headers) {
                    super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                        @Override
                        public void onMessage(A message) {
                            delivered.incrementAndGet();
                            super.onMessage(message);
                        }
                    }, headers);
                }

                @Override
                public void request(int n) {
                    requests.add(n);
                    super.request(n);
                }
            };
        }
    }

    // ---- ReadRollbackFile ----

    private static RollbackFile fileOf(byte[] content) throws Exception {
        return new RollbackFile("/srv/rollback/" + RollbackFileName.of(INCIDENT, 1), sha256(content),
                "0".repeat(64), content.length, 3);
    }

    private static ReadRollbackFileResponse data(byte[] b, int from, int to) {
        return ReadRollbackFileResponse.newBuilder().setData(ByteString.copyFrom(b, from, to - from)).build();
    }

    @Test
    void aReadBackThatSendsOnePieceAndThenNothingIsCancelledAsStalled() throws Exception {
        CountDownLatch cancelled = new CountDownLatch(1);
        byte[] content = new byte[4000];
        String address = serve(new ScriptedAgent() {
            @Override
            public void readRollbackFile(ReadRollbackFileRequest request,
                    StreamObserver<ReadRollbackFileResponse> out) {
                onCancel(out, cancelled);
                out.onNext(data(content, 0, 1000)); // and then nothing
            }
        });
        RollbackFile file = fileOf(content);
        AgentRollbackFileStore store = store(warm(clients(DEADLINES), address), address, 1024);
        assertStalled(timedFailure(() -> store.verify("db-0", file, Instant.now())),
                "ReadRollbackFile from db-0 sent nothing for 600 ms; cancelled", false);
        assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the agent saw the call cancelled");
    }

    @Test
    void aSlowReadBackWhoseEveryPieceComesInTimeIsVerified() throws Exception {
        AtomicBoolean cancelled = new AtomicBoolean();
        byte[] content = new byte[12_000];
        new Random(7).nextBytes(content);
        String sha = sha256(content);
        String address = serve(new ScriptedAgent() {
            @Override
            public void readRollbackFile(ReadRollbackFileRequest request,
                    StreamObserver<ReadRollbackFileResponse> out) {
                for (int i = 0; i < 12; i++) {
                    sleep(STEP_MILLIS);
                    out.onNext(data(content, i * 1000, (i + 1) * 1000));
                }
                cancelled.set(((ServerCallStreamObserver<?>) out).isCancelled());
                out.onNext(ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                        .setSize(content.length).setSha256(sha)).build());
                out.onCompleted();
            }
        });
        RollbackFile file = fileOf(content);
        AgentRollbackFileStore store = store(warm(clients(DEADLINES), address), address, 1024);
        Timed<VerifyResult> t = timed(() -> store.verify("db-0", file, Instant.now()));
        VerifyResult.Read read = assertInstanceOf(VerifyResult.Read.class, t.value());
        assertEquals(sha, read.fileSha256());
        assertTrue(t.took().compareTo(PROGRESS.multipliedBy(2)) > 0, "slower in total than the progress timeout: "
                + t.took());
        assertFalse(cancelled.get(), "not cancelled while the agent was sending");
        System.out.printf("slow read-back: 13 messages one every %d ms, verified in %d ms, not cancelled%n",
                STEP_MILLIS, t.took().toMillis());
    }

    // ---- WriteRollbackFile ----

    /** A tail of about 1.3 MB: far more than the agent's receive window and gRPC's send buffer. */
    private static List<TailRecord> bigTail() {
        return records(100, 1200, 1000);
    }

    @Test
    void aWriteTheAgentStopsTakingIsCancelledAsStalled() throws Exception {
        CountDownLatch cancelled = new CountDownLatch(1);
        AtomicInteger taken = new AtomicInteger();
        String address = serve(writing(out -> {
            takingOnly(out, 2); // the begin and one data message; then the agent takes nothing more
            onCancel(out, cancelled);
            return new Discard(taken, null);
        }));
        AgentRollbackFileStore store = store(warm(clients(DEADLINES), address), address, 16 * 1024);
        List<TailRecord> tail = bigTail();
        assertStalled(timedFailure(() -> store.persist("db-0", header(tail.size()), TestStreams.of(tail))),
                "WriteRollbackFile to db-0 took nothing for 600 ms; cancelled", false);
        assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the agent saw the call cancelled");
        assertEquals(2, taken.get());
    }

    @Test
    void aWriteTheAgentNeverAnswersAfterTheWholeFileIsCancelledAsStalled() throws Exception {
        CountDownLatch cancelled = new CountDownLatch(1);
        CountDownLatch halfClosed = new CountDownLatch(1);
        AtomicInteger taken = new AtomicInteger();
        String address = serve(writing(out -> {
            onCancel(out, cancelled);
            return new Discard(taken, halfClosed); // takes everything, answers nothing
        }));
        AgentRollbackFileStore store = store(warm(clients(DEADLINES), address), address, 16 * 1024);
        List<TailRecord> tail = records(100, 20, 10);
        assertStalled(timedFailure(() -> store.persist("db-0", header(tail.size()), TestStreams.of(tail))),
                "WriteRollbackFile to db-0 answered nothing to the whole file for 600 ms; cancelled", true);
        assertTrue(halfClosed.await(0, TimeUnit.SECONDS), "the whole file was sent");
        assertTrue(cancelled.await(5, TimeUnit.SECONDS), "the agent saw the call cancelled");
        assertEquals(3, taken.get(), "begin, one data message, end");
    }

    /**
     * The agent takes one message every 40 ms, slower in total than the progress timeout. (Faster per
     * message than the reads above: what gRPC has handed to the transport when the file ends, up to
     * the agent's window and the send buffer, about six messages here, is taken without a sign the
     * operator can see, so that last part and the answer must come within one progress timeout.)
     */
    @Test
    void aSlowWriteWhoseEveryMessageIsTakenInTimeIsPersisted() throws Exception {
        AtomicBoolean cancelled = new AtomicBoolean();
        String name = RollbackFileName.of(INCIDENT, 1);
        AtomicInteger taken = new AtomicInteger();
        String address = serve(writing(out -> {
            ServerCallStreamObserver<WriteRollbackFileResponse> call = takingOnly(out, 1);
            call.setOnCancelHandler(() -> cancelled.set(true));
            MessageDigest sha = TailDigest.newSha256();
            long[] size = {0};
            return new StreamObserver<>() {
                @Override
                public void onNext(WriteRollbackFileRequest m) {
                    taken.incrementAndGet();
                    m.getData().asReadOnlyByteBufferList().forEach(sha::update);
                    size[0] += m.getData().size();
                    // a slow disk: the next message is taken 40 ms later
                    timer.schedule(() -> call.request(1), 40, TimeUnit.MILLISECONDS);
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                    out.onNext(WriteRollbackFileResponse.newBuilder().setPath("/srv/rollback/" + name)
                            .setSize(size[0]).setSha256(HexFormat.of().formatHex(sha.digest())).build());
                    out.onCompleted();
                }
            };
        }));
        AgentRollbackFileStore store = store(warm(clients(DEADLINES), address), address, 16 * 1024);
        List<TailRecord> tail = records(100, 450, 1000); // about 620 KB: 40 data messages
        Timed<PersistResult> t = timed(() -> store.persist("db-0", header(tail.size()), TestStreams.of(tail)));
        RollbackFile file = assertInstanceOf(PersistResult.Persisted.class, t.value(), String.valueOf(t.value()))
                .file();
        assertEquals("/srv/rollback/" + name, file.location());
        assertTrue(taken.get() > 30, "many messages: " + taken.get());
        assertTrue(t.took().compareTo(PROGRESS.multipliedBy(2)) > 0, "slower in total than the progress timeout: "
                + t.took());
        assertFalse(cancelled.get(), "never cancelled");
        System.out.printf("slow write: %d messages one every 40 ms, persisted in %d ms, not cancelled%n",
                taken.get(), t.took().toMillis());
    }

    /** A scripted agent whose WriteRollbackFile is {@code handler}. */
    private static ScriptedAgent writing(Function<StreamObserver<WriteRollbackFileResponse>,
            StreamObserver<WriteRollbackFileRequest>> handler) {
        return new ScriptedAgent() {
            @Override
            public StreamObserver<WriteRollbackFileRequest> writeRollbackFile(
                    StreamObserver<WriteRollbackFileResponse> out) {
                return handler.apply(out);
            }
        };
    }

    /** The agent's side of a write that takes {@code first} messages and then only those it asks for. */
    private static ServerCallStreamObserver<WriteRollbackFileResponse> takingOnly(
            StreamObserver<WriteRollbackFileResponse> out, int first) {
        ServerCallStreamObserver<WriteRollbackFileResponse> call =
                (ServerCallStreamObserver<WriteRollbackFileResponse>) out;
        call.disableAutoRequest();
        call.request(first);
        return call;
    }

    /** Takes the write's messages (counting them) and answers nothing. */
    private static final class Discard implements StreamObserver<WriteRollbackFileRequest> {
        private final AtomicInteger taken;
        private final CountDownLatch halfClosed;

        Discard(AtomicInteger taken, CountDownLatch halfClosed) {
            this.taken = taken;
            this.halfClosed = halfClosed;
        }

        @Override
        public void onNext(WriteRollbackFileRequest value) {
            taken.incrementAndGet();
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
            if (halfClosed != null) {
                halfClosed.countDown();
            }
        }
    }

    // ---- Unary calls ----

    /**
     * An agent that never answers a unary call: each call fails with DEADLINE_EXCEEDED after its own
     * configured deadline, which the agent sees on the call (deadlines 300 ms apart, each checked to
     * lie above the next smaller one).
     */
    @Test
    void aUnaryCallThatIsNeverAnsweredFailsAfterItsOwnDeadline() throws Exception {
        AgentClients.Deadlines deadlines = new AgentClients.Deadlines(Duration.ofMillis(300), Duration.ofMillis(600),
                Duration.ofMillis(900), Duration.ofMillis(1200), Duration.ofMillis(1500), Duration.ofMillis(1800),
                PROGRESS, STREAM);
        Map<String, Long> seen = new ConcurrentHashMap<>();
        byte[] other = "other bytes".getBytes(StandardCharsets.US_ASCII);
        String otherSha = sha256(other);
        // Every unary call is held unanswered, its deadline as the agent sees it noted; the read-back
        // answers with other bytes, so that verify goes on to quarantine.
        ServerInterceptor holdUnary = new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                    ServerCallHandler<Q, A> next) {
                if (!call.getMethodDescriptor().getType().equals(MethodDescriptor.MethodType.UNARY)) {
                    return next.startCall(call, headers);
                }
                seen.put(call.getMethodDescriptor().getBareMethodName(), Context.current().getDeadline()
                        .timeRemaining(TimeUnit.MILLISECONDS));
                return new ServerCall.Listener<>() {
                };
            }
        };
        LoopbackAgent agent = LoopbackAgent.start(ServerInterceptors.intercept(new RollbackAgentGrpc
                .RollbackAgentImplBase() {
            @Override
            public void readRollbackFile(ReadRollbackFileRequest request,
                    StreamObserver<ReadRollbackFileResponse> out) {
                out.onNext(data(other, 0, other.length));
                out.onNext(ReadRollbackFileResponse.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                        .setSize(other.length).setSha256(otherSha)).build());
                out.onCompleted();
            }
        }, holdUnary));
        open.add(agent);
        String address = agent.address();
        AgentClients clients = clients(deadlines);
        GrpcRollbackTransport transport = transport(clients, address);
        LeaderReader.Leader lease = new LeaderReader.Leader("orders-0", Term.of(1), "Lease orders-leader");
        ClusterObserver observer = new ClusterObserver(null, clients);

        Map<String, Timed<TransportException>> failed = new LinkedHashMap<>();
        failed.put("GetTimeline", timedFailure(() -> observer.observe(new ClusterObserver.Resolved("orders-0",
                Map.of("orders-0", address), lease, null))));
        failed.put("Fence", timedFailure(() -> transport.fence("orders-0", INCIDENT, Term.of(5))));
        failed.put("RecoverToLsn", timedFailure(() -> transport.recoverToLsn("orders-0", Lsn.of(100), Lsn.of(105),
                INCIDENT, Term.of(5), "0".repeat(64))));
        failed.put("RejoinAsReplica", timedFailure(() -> transport.rejoinAsReplica("orders-0", "10.0.0.2:7000",
                Term.of(5), INCIDENT)));
        Timed<VerifyResult> verified = timed(() -> store(clients, address, 1024).verify("db-0",
                new RollbackFile("/srv/rollback/" + RollbackFileName.of(INCIDENT, 1), "1".repeat(64), "0".repeat(64),
                        5, 1), Instant.ofEpochSecond(1234)));

        List<Duration> configured = List.of(deadlines.getTimeline(), deadlines.fence(), deadlines.recoverToLsn(),
                deadlines.rejoinAsReplica(), deadlines.quarantineRollbackFile());
        List<String> rpcs = List.of("GetTimeline", "Fence", "RecoverToLsn", "RejoinAsReplica",
                "QuarantineRollbackFile");
        for (int i = 0; i < rpcs.size(); i++) {
            String rpc = rpcs.get(i);
            long own = configured.get(i).toMillis();
            long below = i == 0 ? 0 : configured.get(i - 1).toMillis();
            Long remaining = seen.get(rpc);
            assertTrue(remaining != null && remaining <= own && remaining > below, rpc + ": the agent saw "
                    + remaining + " ms left, configured " + own + " ms");
            Duration took = i < 4 ? failed.get(rpc).took() : verified.took();
            assertTrue(took.toMillis() >= own && took.compareTo(configured.get(i).plusSeconds(5)) < 0,
                    rpc + " failed after " + took.toMillis() + " ms, configured " + own + " ms");
            if (i < 4) {
                TransportException e = failed.get(rpc).value();
                assertEquals("DEADLINE_EXCEEDED", e.code(), e.getMessage());
                assertTrue(e.getMessage().startsWith(rpc + " on orders-0: DEADLINE_EXCEEDED"), e.getMessage());
                assertEquals(!rpc.equals("GetTimeline"), e.outcomeUnknown(), "a mutating call's outcome is unknown");
            }
            System.out.printf("%s never answered: failed after %d ms (deadline %d ms, the agent saw %d ms)%n", rpc,
                    took.toMillis(), own, remaining);
        }
        VerifyResult.Mismatch m = assertInstanceOf(VerifyResult.Mismatch.class, verified.value());
        assertNull(m.quarantinedLocation(), "the quarantine did not answer: the file keeps its name, never trusted");
    }
}
