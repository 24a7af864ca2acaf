package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.node.NodeProcess;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The published conformance command ({@code java -jar target/...-conformance.jar}, built by
 * {@code mvn package}) against reference nodes running as their own processes, diverged as
 * {@link ReferenceNodeConformanceTest} diverges its in-process cluster, and given only their
 * addresses: exit 0 with its PASS lines; and against an agent that breaks one rule (a proxy that puts
 * an empty chunk before every divergent tail), exit 1 with the FAIL line naming that rule.
 */
class ConformanceMainIT {

    /** The jar {@code mvn package} builds (failsafe passes its path). */
    private static final Path JAR = Path.of(System.getProperty("conformance.jar",
            "target/rollback-operator-0.1.0-SNAPSHOT-conformance.jar"));

    @TempDir
    Path dir;

    /** The command's output and exit code. */
    private record Result(int exit, List<String> lines) {
        String text() {
            return String.join("\n", lines);
        }

        List<String> starting(String prefix) {
            return lines.stream().filter(l -> l.startsWith(prefix)).toList();
        }
    }

    @Test
    void theReferenceNodePassesThePublishedCommand() throws Exception {
        assertTrue(Files.isRegularFile(JAR), JAR + " is built by mvn package");
        try (Diverged c = Diverged.start(dir.resolve("good"))) {
            long started = System.nanoTime();
            Result r = run(c.address("node-a"), c.address("node-b"), "--former-primary-name", "node-a",
                    "--new-primary-name", "node-b");
            System.out.println("conformance command against the reference node took "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms:\n" + r.text());
            assertEquals(0, r.exit, r.text());
            assertEquals(List.of(), r.starting("FAIL"), r.text());
            for (String check : List.of(
                    "PASS GetTimeline: both timelines well formed, the fork found",
                    "PASS GetTimeline: node is the name of the pod dialled",
                    "PASS Fence: the live primary under its own term is LIVE_PRIMARY",
                    "PASS ReadDivergentTail: dense, ordered, bounded non-empty chunks, CRC32C, the trailer recomputed",
                    "PASS RejoinAsReplica: before the recover is LOG_DIVERGED, the node stays fenced",
                    "PASS WriteRollbackFile: written, read back, found again",
                    "PASS QuarantineRollbackFile: completes a cut rename",
                    "PASS RecoverToLsn: to the fork once, incident, target and file SHA-256 recorded",
                    "PASS RecoverToLsn: a retry with other parameters is RECOVER_CONFLICT",
                    "PASS RejoinAsReplica: catches up with the new primary, the histories agree",
                    "PASS RecoverToLsn: a late retry after the rejoin removes nothing",
                    "PASS SummarizeTail (optional): what ReadDivergentTail streams for the same range",
                    "PASS SummarizeTail (optional): range errors as ReadDivergentTail's",
                    "PASS StoreRollbackCopy (optional): stored, read back, found again, never replaced",
                    "PASS StoreRollbackCopy (optional): malformed calls are INVALID_REQUEST or TRANSFER_MISMATCH")) {
                assertTrue(r.lines.contains(check), "missing '" + check + "' in:\n" + r.text());
            }
            // nothing is skipped in silence: every skip says why
            for (String skipped : r.starting("SKIPPED")) {
                assertTrue(skipped.matches("SKIPPED [^:]+: .+"), skipped);
            }
            assertTrue(r.lines.contains("SKIPPED RecoverToLsn: the data is the data at the fork: needs database-side"
                    + " knowledge (the writes, the data): run AgentConformanceSuite with a fixture of your database"),
                    r.text());
            String summary = r.lines.get(r.lines.size() - 1);
            assertTrue(summary.matches("SUMMARY [0-9]+ passed, 0 failed, [0-9]+ skipped"), summary);
            Timeline after = c.timeline("node-a");
            assertEquals(Role.ROLE_REPLICA, after.getRole(), "the run left node-a rejoined");
        }
    }

    @Test
    void anAgentThatSendsAnEmptyChunkFailsTheNamedRule() throws Exception {
        try (Diverged c = Diverged.start(dir.resolve("broken"));
                EmptyChunkAgent broken = new EmptyChunkAgent(c.address("node-a"))) {
            Result r = run(broken.address(), c.address("node-b"));
            assertEquals(1, r.exit, r.text());
            List<String> failed = r.starting("FAIL");
            assertTrue(failed.stream().anyMatch(l -> l.startsWith("FAIL ReadDivergentTail: dense, ordered, bounded"
                    + " non-empty chunks, CRC32C, the trailer recomputed: ") && l.contains("chunk with zero records")),
                    r.text());
            assertTrue(r.lines.contains("PASS Fence: adopts the term, detaches, answers the timeline after "
                    + "it, idempotent"),
                    "the rules the proxy does not break still pass:\n" + r.text());
            assertTrue(r.lines.contains("SKIPPED WriteRollbackFile: written, read back, found again: the agent does not"
                    + " offer the rollback file RPCs (UNIMPLEMENTED): exec mode only"), r.text());
            assertTrue(r.lines.contains("SKIPPED GetTimeline: node is the name of the pod dialled: no"
                    + " --former-primary-name and --new-primary-name given"), r.text());
            assertTrue(r.lines.get(r.lines.size() - 1)
                    .matches("SUMMARY [0-9]+ passed, [1-9][0-9]* failed, [0-9]+ skipped"),
                    r.text());
        }
    }

    @Test
    void aUsageErrorExitsTwo() throws Exception {
        Result r = run("127.0.0.1:1", null);
        assertEquals(2, r.exit, r.text());
        assertTrue(r.text().contains("--new-primary is required"), r.text());
    }

    /** {@code java -jar JAR} against the given addresses (the new primary's is also the replication address). */
    private Result run(String formerPrimary, String newPrimary, String... more) throws IOException,
            InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", JAR.toString(), "--former-primary", formerPrimary));
        if (newPrimary != null) {
            cmd.addAll(List.of("--new-primary", newPrimary, "--replication-address", newPrimary));
        }
        cmd.addAll(List.of(more));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the command ended");
        List<String> lines = new ArrayList<>(List.of(new String(out, StandardCharsets.UTF_8).split("\\R")));
        return new Result(p.exitValue(), lines);
    }

    /** Three reference nodes as processes, diverged: node-a the former primary, node-b the new one. */
    private static final class Diverged implements AutoCloseable {
        private final Map<String, NodeProcess> processes = new LinkedHashMap<>();
        private ReferenceNodeConformanceTest.ReferenceCluster cluster;

        static Diverged start(Path root) throws Exception {
            Diverged d = new Diverged();
            try {
                Map<String, String> addresses = new LinkedHashMap<>();
                for (String name : List.of("node-a", "node-b", "node-c")) {
                    NodeProcess p = NodeProcess.start(name, root.resolve(name), Map.of());
                    d.processes.put(name, p);
                    addresses.put(name, p.address);
                }
                d.cluster = new ReferenceNodeConformanceTest.ReferenceCluster(addresses);
                d.cluster.diverge();
                return d;
            } catch (Exception | Error e) {
                d.close();
                throw e;
            }
        }

        String address(String name) {
            return processes.get(name).address;
        }

        Timeline timeline(String name) {
            ManagedChannel ch = NettyChannelBuilder.forTarget(address(name)).usePlaintext().build();
            try {
                return RollbackAgentGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .getTimeline(GetTimelineRequest.getDefaultInstance());
            } finally {
                ch.shutdownNow();
            }
        }

        @Override
        public void close() throws Exception {
            if (cluster != null) {
                cluster.close();
            }
            for (NodeProcess p : processes.values()) {
                p.close();
            }
        }
    }

    /**
     * An agent that breaks one rule: it forwards every call to a real agent, but puts a chunk with zero
     * records before every divergent tail it streams (an agent MUST NOT send one). The file RPCs it does
     * not offer (UNIMPLEMENTED).
     */
    private static final class EmptyChunkAgent extends RollbackAgentGrpc.RollbackAgentImplBase
            implements AutoCloseable {
        private final ManagedChannel upstream;
        private final RollbackAgentGrpc.RollbackAgentBlockingStub real;
        private final Server server;

        EmptyChunkAgent(String realAgent) throws IOException {
            upstream = NettyChannelBuilder.forTarget(realAgent).usePlaintext().build();
            real = RollbackAgentGrpc.newBlockingStub(upstream);
            server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(this).build()
                    .start();
        }

        String address() {
            return "127.0.0.1:" + server.getPort();
        }

        private static <T> void forward(StreamObserver<T> out, Supplier<T> call) {
            T answer;
            try {
                answer = call.get();
            } catch (StatusRuntimeException e) {
                out.onError(e); // status and trailers (the ErrorInfo) as the real agent sent them
                return;
            }
            out.onNext(answer);
            out.onCompleted();
        }

        private RollbackAgentGrpc.RollbackAgentBlockingStub real() {
            return real.withDeadlineAfter(20, TimeUnit.SECONDS);
        }

        @Override
        public void getTimeline(GetTimelineRequest request, StreamObserver<Timeline> out) {
            forward(out, () -> real().getTimeline(request));
        }

        @Override
        public void fence(FenceRequest request, StreamObserver<FenceResponse> out) {
            forward(out, () -> real().fence(request));
        }

        @Override
        public void recoverToLsn(RecoverToLsnRequest request, StreamObserver<RecoverToLsnResponse> out) {
            forward(out, () -> real().recoverToLsn(request));
        }

        @Override
        public void rejoinAsReplica(RejoinAsReplicaRequest request, StreamObserver<RejoinAsReplicaResponse> out) {
            forward(out, () -> real().rejoinAsReplica(request));
        }

        @Override
        public void readDivergentTail(ReadDivergentTailRequest request, StreamObserver<TailMessage> out) {
            try {
                Iterator<TailMessage> it = real().readDivergentTail(request);
                boolean first = true;
                while (it.hasNext()) {
                    TailMessage m = it.next();
                    if (first) {
                        out.onNext(TailMessage.newBuilder().setChunk(TailChunk.newBuilder().setCrc32C(0)).build());
                        first = false;
                    }
                    out.onNext(m);
                }
                out.onCompleted();
            } catch (StatusRuntimeException e) {
                out.onError(e);
            }
        }

        @Override
        public void close() throws InterruptedException {
            server.shutdownNow();
            upstream.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
