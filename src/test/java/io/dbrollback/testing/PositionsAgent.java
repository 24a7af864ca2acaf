package io.dbrollback.testing;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.LsnKind;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * An agent whose LSNs are positions (as a PostgreSQL agent's WAL LSNs are), made from a reference
 * node whose LSNs are record numbers: it serves the agent protocol on a port of its own with
 * {@code lsn_kind = LSN_KIND_POSITIONS}, translating every LSN between the two, and lets everything
 * else through to the node unchanged (the rollback file RPCs, replication, the client API).
 *
 * <p>The mapping, by {@link Shape}. {@link Shape#PAIRS} (the default): record {@code n} sits at
 * position {@code 16 * ceil(n / 2)}: records 2k-1 and 2k are one transaction, whose commit is at
 * position 16k; they share that position and the transaction id of record 2k-1, and positions leave
 * gaps. {@link Shape#POSTGRES_LIKE}: every record is a transaction of its own (an autocommit write),
 * at WAL-like positions with uneven gaps, and its key and images are JSON as a PostgreSQL agent's
 * are. Either way a term that begins at record {@code f} begins at the position of record
 * {@code f - 1} plus one (its switchpoint, just above the previous record, plus one), so the end of
 * a term and the fork come out as the position of the last shared record. {@link Shape#PAIRS} needs
 * every term of the node to begin at an odd record number (no transaction spans two terms), which
 * {@link DbCluster#failover()} and the conformance suite's reference cluster give. The log ends at
 * its last record's position. A position {@code p} of a request stands for the last record at or
 * below it.
 *
 * <p>What the node cannot know, the agent keeps: the last recover the node accepted, in positions
 * (the node records record numbers, and one record number stands for a whole range of positions),
 * so that a retry of it is compared position by position, as an agent of positions must. With a
 * state file it survives a restart of the agent; without one it lives as long as the agent.
 *
 * <p>ReadDivergentTail checks its range in positions, reads the node's whole range, and streams the
 * records above {@code resume_after} in chunks of at most three records (and the request's bound), so
 * that a transaction's records may span two chunks; the trailer always describes the whole range.
 *
 * <p>A {@link Flaw} makes it break one rule of positions on purpose, for the tests that show the
 * conformance suite catches it.
 */
public final class PositionsAgent implements AutoCloseable {

    /** A rule of positions the agent breaks on purpose. */
    public enum Flaw {
        /** A correct agent of positions. */
        NONE,
        /** A term's history entry begins at its switchpoint, not at the switchpoint + 1. */
        HISTORY_AT_SWITCHPOINT,
        /** Every tail streams its first two transactions the other way round (positions go back). */
        TRANSACTIONS_OUT_OF_ORDER,
        /**
         * Each record at the position of its own change, not at its transaction's commit: the first
         * record of a pair 8 below the second (as an agent that took a change's WAL LSN would).
         */
        CHANGE_POSITIONS,
        /** resume_after p streams the records at p again (at or above it, where above it is the rule). */
        RESUME_AT_THE_POSITION,
        /**
         * A recover's retry compared in the node's record numbers: another target position that
         * stands for the same record is taken for the same recover (already_done, not RECOVER_CONFLICT).
         */
        RECOVER_IN_RECORDS
    }

    /** How the node's records become transactions at positions, and what their keys and images look like. */
    public enum Shape {
        /**
         * Record n at position 16 * ceil(n / 2): records 2k-1 and 2k one transaction, committed at 16k;
         * keys and images the node's own bytes.
         */
        PAIRS,
        /**
         * As a PostgreSQL agent's records: every record a transaction of its own (an autocommit
         * write), record n at {@code 0x3000000 + 64n + 16 (n mod 3)} (a WAL LSN's magnitude, gaps of
         * 80, 80 and 32 positions); the key JSON naming schema, table and primary key
         * ({@link #jsonKey}), the images JSON rows with their columns' types ({@link #jsonRow}).
         */
        POSTGRES_LIKE
    }

    /** The RPCs that go to the node unchanged: no LSN in them. */
    private static final Set<String> UNCHANGED = Set.of("WriteRollbackFile", "ReadRollbackFile",
            "QuarantineRollbackFile");
    private static final int MAX_CHUNK = 3;

    /** The last recover the node accepted: in positions, and in the record numbers the node was sent. */
    private record Recover(String incident, long target, long expected, long nodeTarget, long nodeExpected) {
        String line() {
            return incident + " " + target + " " + expected + " " + nodeTarget + " " + nodeExpected + "\n";
        }

        static Recover parse(String line) {
            String[] f = line.trim().split(" ");
            return new Recover(f[0], Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                    Long.parseLong(f[4]));
        }
    }

    private final ManagedChannel channel;
    private final RollbackAgentGrpc.RollbackAgentBlockingStub node;
    private final Server server;
    private final Path stateFile;
    private final Flaw flaw;
    private final Shape shape;
    private volatile Recover recorded;
    private volatile boolean holdsNoTail;

    private PositionsAgent(String delegate, Path stateFile, Flaw flaw, Shape shape) throws IOException {
        this.stateFile = stateFile;
        this.flaw = flaw;
        this.shape = shape;
        if (stateFile != null && Files.exists(stateFile)) {
            recorded = Recover.parse(Files.readString(stateFile, StandardCharsets.UTF_8));
        }
        channel = NettyChannelBuilder.forTarget(delegate).usePlaintext().build();
        node = RollbackAgentGrpc.newBlockingStub(channel);
        // Only the RPCs that carry LSNs are served here; the rest fall through to the node.
        ServerServiceDefinition all = new Service().bindService();
        ServerServiceDefinition.Builder own = ServerServiceDefinition.builder(all.getServiceDescriptor().getName());
        for (ServerMethodDefinition<?, ?> m : all.getMethods()) {
            if (!UNCHANGED.contains(m.getMethodDescriptor().getBareMethodName())) {
                own.addMethod(m);
            }
        }
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(own.build())
                .fallbackHandlerRegistry(new GrpcPassthrough(channel)).build().start();
    }

    /** A positions agent on a port of its own in front of the reference node's agent at {@code address}. */
    public static PositionsAgent fronting(String address) throws IOException {
        return new PositionsAgent(address, null, Flaw.NONE, Shape.PAIRS);
    }

    /**
     * As {@link #fronting(String)}, of the given {@code shape}, keeping what it must remember in
     * {@code stateFile} (null: in memory), and breaking one rule when {@code flaw} says so.
     */
    public static PositionsAgent fronting(String address, Path stateFile, Flaw flaw, Shape shape) throws IOException {
        return new PositionsAgent(address, stateFile, flaw, shape);
    }

    /**
     * From now on ReadDivergentTail of a range with records in it is FAILED_PRECONDITION/RANGE_NOT_IN_LOG,
     * as a PostgreSQL agent answers on a promoted standby, which holds no logical slot to decode its log
     * from (a refusal the protocol allows, not a flaw).
     */
    public void holdNoTail() {
        holdsNoTail = true;
    }

    public int port() {
        return server.getPort();
    }

    /** host:port of this agent. */
    public String address() {
        return "127.0.0.1:" + port();
    }

    /** The position of record {@code n} in {@link Shape#PAIRS} (0 stays 0). */
    public static long position(long n) {
        return position(Shape.PAIRS, n);
    }

    /** The position of record {@code n} in {@code shape} (0 stays 0); it grows with {@code n}. */
    public static long position(Shape shape, long n) {
        if (n == 0) {
            return 0;
        }
        return switch (shape) {
            case PAIRS -> 16 * ((n + 1) / 2);
            case POSTGRES_LIKE -> 0x3000000L + 64 * n + 16 * (n % 3);
        };
    }

    /** The position of record {@code n}. */
    private long at(long n) {
        return position(shape, n);
    }

    /** The first position of a term whose first record is {@code first}: its switchpoint + 1. */
    private long firstPosition(long first) {
        return first <= 1 ? 1 : at(first - 1) + 1;
    }

    /** The last record at or below position {@code p}, at most {@code last}. */
    private long record(long p, long last) {
        long below = 0; // at(below) <= p
        long above = last + 1; // at(above) > p, or past the log
        while (above - below > 1) {
            long mid = (below + above) >>> 1;
            if (at(mid) <= p) {
                below = mid;
            } else {
                above = mid;
            }
        }
        return below;
    }

    /**
     * The transaction id of record {@code n}: in {@link Shape#PAIRS} the node's id of the
     * transaction's first record, 2k-1; otherwise the record's own.
     */
    private String transaction(String nodeTransactionId, long n) {
        String suffix = "-" + n;
        return shape == Shape.PAIRS && n % 2 == 0 && nodeTransactionId.endsWith(suffix)
                ? nodeTransactionId.substring(0, nodeTransactionId.length() - suffix.length()) + "-" + (n - 1)
                : nodeTransactionId;
    }

    /**
     * The key the PostgreSQL agent sends for the node's key {@code key}, in the form of its
     * {@code Wal2JsonRecords}: JSON naming the schema, the table and the primary key's columns with
     * their values (a table {@code public.kv} with the key column {@code k} and the value column
     * {@code v}).
     */
    public static ByteString jsonKey(ByteString key) {
        return ByteString.copyFromUtf8("{\"schema\":\"public\",\"table\":\"kv\",\"key\":{\"k\":\"" + value(key)
                + "\"}}");
    }

    /**
     * The image the PostgreSQL agent sends for the row of {@code key} holding {@code value}: its
     * columns in order, each with its name, its type and its value.
     */
    public static ByteString jsonRow(ByteString key, ByteString value) {
        return ByteString.copyFromUtf8("[" + column("k", key) + "," + column("v", value) + "]");
    }

    /** A column as wal2json writes it: text when the bytes are plain printable ASCII, bytea in hex otherwise. */
    private static String column(String name, ByteString value) {
        return "{\"name\":\"" + name + "\",\"type\":\"" + (text(value) ? "text" : "bytea") + "\",\"value\":\""
                + value(value) + "\"}";
    }

    private static boolean text(ByteString value) {
        return value.toStringUtf8().chars().allMatch(c -> c >= 0x20 && c < 0x7f && c != '"' && c != '\\');
    }

    /** A column's value inside a JSON string: as it is when text, PostgreSQL's bytea hex ({@code \x...}) otherwise. */
    private static String value(ByteString value) {
        return text(value) ? value.toStringUtf8() : "\\\\x" + HexFormat.of().formatHex(value.toByteArray());
    }

    private RollbackAgentGrpc.RollbackAgentBlockingStub node() {
        return node.withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    /** The node's timeline in positions. */
    private Timeline positions(Timeline t) {
        Recover r = recorded;
        Timeline.Builder b = t.toBuilder().setLsnKind(LsnKind.LSN_KIND_POSITIONS).setLastLsn(at(t.getLastLsn()))
                .setCommitLsn(at(t.getCommitLsn()))
                .setLastRecoveryTargetLsn(r != null && r.incident.equals(t.getLastRecoveryIncident()) ? r.target
                        : at(t.getLastRecoveryTargetLsn()))
                .clearHistory();
        for (TermHistoryEntry e : t.getHistoryList()) {
            long first = flaw == Flaw.HISTORY_AT_SWITCHPOINT && e.getFirstLsn() > 1 ? at(e.getFirstLsn() - 1)
                    : firstPosition(e.getFirstLsn());
            b.addHistory(e.toBuilder().setFirstLsn(first));
        }
        return b.build();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        channel.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
        channel.awaitTermination(5, TimeUnit.SECONDS);
    }

    private final class Service extends RollbackAgentGrpc.RollbackAgentImplBase {

        private <T> void unary(StreamObserver<T> out, Supplier<T> body) {
            try {
                out.onNext(body.get());
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                out.onError(e);
            }
        }

        private Timeline nodeTimeline() {
            return node().getTimeline(GetTimelineRequest.getDefaultInstance());
        }

        @Override
        public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
            unary(out, () -> positions(node().getTimeline(request)));
        }

        @Override
        public void fence(FenceRequest request, StreamObserver<FenceResponse> out) {
            unary(out, () -> {
                FenceResponse r = node().fence(request);
                return r.toBuilder().setTimeline(positions(r.getTimeline())).build();
            });
        }

        @Override
        public void rejoinAsReplica(RejoinAsReplicaRequest request, StreamObserver<RejoinAsReplicaResponse> out) {
            unary(out, () -> {
                RejoinAsReplicaResponse r = node().rejoinAsReplica(request);
                return r.toBuilder().setTimeline(positions(r.getTimeline())).build();
            });
        }

        /**
         * The node checks everything, in its order, on record numbers chosen so that it decides as an
         * agent of positions must: a retry of the recorded recover is compared in positions; an
         * expected last LSN that is not the log's end is sent as one that is not the node's last record;
         * a target above the expected last LSN stays above it.
         */
        @Override
        public void recoverToLsn(RecoverToLsnRequest request, StreamObserver<RecoverToLsnResponse> out) {
            unary(out, () -> {
                Timeline t = nodeTimeline();
                long last = t.getLastLsn();
                long end = at(last);
                long target = request.getTargetLsn();
                long expected = request.getExpectedLastLsn();
                Recover r = recorded;
                long nodeTarget;
                long nodeExpected;
                if (r != null && r.incident.equals(request.getIncidentId())
                        && r.incident.equals(t.getLastRecoveryIncident())) {
                    nodeTarget = r.nodeTarget;
                    boolean sameTarget = flaw == Flaw.RECOVER_IN_RECORDS
                            ? record(target, r.nodeExpected) == r.nodeTarget
                            : target == r.target;
                    nodeExpected = sameTarget && expected == r.expected ? r.nodeExpected : r.nodeExpected + 1;
                } else {
                    nodeTarget = record(target, last);
                    nodeExpected = expected == end ? last : expected < end ? record(expected, last) : last + 1;
                }
                if (target > expected) {
                    nodeTarget = nodeExpected + 1;
                }
                RecoverToLsnResponse answer = node().recoverToLsn(request.toBuilder().setTargetLsn(nodeTarget)
                        .setExpectedLastLsn(nodeExpected).build());
                if (!answer.getAlreadyDone()) {
                    remember(new Recover(request.getIncidentId(), target, expected, nodeTarget, nodeExpected));
                }
                return answer.toBuilder().setLastLsn(at(answer.getLastLsn())).build();
            });
        }

        private void remember(Recover r) {
            recorded = r;
            if (stateFile == null) {
                return;
            }
            try {
                Path tmp = stateFile.resolveSibling(stateFile.getFileName() + ".tmp");
                Files.writeString(tmp, r.line(), StandardCharsets.UTF_8);
                Files.move(tmp, stateFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The node's record as this agent sends it: at its position, in its transaction, in this shape's form. */
        private io.dbrollback.agent.v1.TailRecord translate(io.dbrollback.agent.v1.TailRecord r) {
            long n = r.getLsn();
            long lsn = flaw == Flaw.CHANGE_POSITIONS && shape == Shape.PAIRS && n % 2 == 1 ? at(n) - 8 : at(n);
            io.dbrollback.agent.v1.TailRecord.Builder b = r.toBuilder().setLsn(lsn)
                    .setTransactionId(transaction(r.getTransactionId(), n));
            if (shape == Shape.POSTGRES_LIKE) {
                b.setKey(jsonKey(r.getKey()));
                if (r.hasBefore()) {
                    b.setBefore(jsonRow(r.getKey(), r.getBefore()));
                }
                if (r.hasAfter()) {
                    b.setAfter(jsonRow(r.getKey(), r.getAfter()));
                }
            }
            return b.build();
        }

        @Override
        public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
            long from = request.getFromExclusive();
            long to = request.getToInclusive();
            long resume = request.getResumeAfter();
            if (to < from || resume > to || (resume != 0 && resume < from)) {
                out.onError(AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST, "range ("
                        + from + ", " + to + "] resumed after " + resume + " is reversed, or resume_after is neither 0"
                        + " nor within [from_exclusive, to_inclusive]"));
                return;
            }
            List<TailRecord> records = new ArrayList<>();
            try {
                long last = nodeTimeline().getLastLsn();
                if (to > at(last)) {
                    out.onError(AgentErrors.error(Status.Code.OUT_OF_RANGE, ErrorReason.RANGE_NOT_IN_LOG,
                            "position " + to + " is above the end of the log, " + at(last)));
                    return;
                }
                if (holdsNoTail && record(from, last) < record(to, last)) {
                    out.onError(AgentErrors.error(Status.Code.FAILED_PRECONDITION, ErrorReason.RANGE_NOT_IN_LOG,
                            "no slot holds position " + from + " any more"));
                    return;
                }
                Iterator<TailMessage> it = node().readDivergentTail(ReadDivergentTailRequest.newBuilder()
                        .setFromExclusive(record(from, last)).setToInclusive(record(to, last)).build());
                while (it.hasNext()) {
                    for (io.dbrollback.agent.v1.TailRecord r : it.next().getChunk().getRecordsList()) {
                        records.add(AgentProtos.fromProto(translate(r)));
                    }
                }
            } catch (StatusRuntimeException e) {
                out.onError(e);
                return;
            }
            if (flaw == Flaw.TRANSACTIONS_OUT_OF_ORDER) {
                swapFirstTwoTransactions(records);
            }
            int bound = request.getMaxRecordsPerChunk() == 0 ? MAX_CHUNK
                    : (int) Math.min(MAX_CHUNK, Integer.toUnsignedLong(request.getMaxRecordsPerChunk()));
            TailDigest digest = new TailDigest();
            List<TailRecord> sent = new ArrayList<>();
            for (TailRecord r : records) {
                digest.add(r); // the trailer describes the whole range, the skipped transactions too
                if (r.lsn().value() > resume || (flaw == Flaw.RESUME_AT_THE_POSITION && r.lsn().value() == resume)) {
                    sent.add(r);
                }
            }
            for (int i = 0; i < sent.size(); i += bound) {
                List<TailRecord> chunk = sent.subList(i, Math.min(sent.size(), i + bound));
                TailChunk.Builder c = TailChunk.newBuilder().setCrc32C(AgentProtos.crc32c(chunk));
                chunk.forEach(r -> c.addRecords(AgentProtos.toProto(r)));
                out.onNext(TailMessage.newBuilder().setChunk(c).build());
            }
            out.onNext(TailMessage.newBuilder().setTrailer(TailTrailer.newBuilder().setRecordCount(digest.records())
                    .setBytes(digest.bytes()).setSha256(digest.finish())).build());
            out.onCompleted();
        }
    }

    /** The records of the second transaction (position) before those of the first. */
    private static void swapFirstTwoTransactions(List<TailRecord> records) {
        int second = 0;
        while (second < records.size() && records.get(second).lsn().equals(records.get(0).lsn())) {
            second++;
        }
        int third = second;
        while (third < records.size() && records.get(third).lsn().equals(records.get(second).lsn())) {
            third++;
        }
        if (second < third) {
            List<TailRecord> swapped = new ArrayList<>(records.subList(second, third));
            swapped.addAll(records.subList(0, second));
            for (int i = 0; i < third; i++) {
                records.set(i, swapped.get(i));
            }
        }
    }
}
