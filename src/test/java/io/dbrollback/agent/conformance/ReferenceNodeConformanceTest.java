package io.dbrollback.agent.conformance;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.node.ReplicaNode;
import io.dbrollback.node.v1.DumpRequest;
import io.dbrollback.node.v1.IsolateRequest;
import io.dbrollback.node.v1.KeyValue;
import io.dbrollback.node.v1.PromoteRequest;
import io.dbrollback.node.v1.ReplicaNodeGrpc;
import io.dbrollback.node.v1.WriteRequest;
import io.dbrollback.testing.IntegrationTest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent conformance suite against the reference replica node: three in-process nodes on loopback,
 * each with its own data directory, brought into a diverged state through the node's own API
 * (Promote, Write, Isolate) and the agent's RejoinAsReplica.
 *
 * <p>The story each test starts from: node-a is primary in term 1; node-b and node-c follow it and
 * acknowledge six writes (so they are committed); node-a is cut off and accepts seven more writes
 * (the divergent tail: inserts, updates, deletes); node-b is promoted in term 2, node-c follows it,
 * and node-b writes three more records; the partition heals, but nobody has told node-a yet.
 */
@IntegrationTest
class ReferenceNodeConformanceTest extends AgentConformanceSuite {

    @TempDir
    Path dataDirs;

    @Override
    protected AgentFixture newDivergedCluster() throws Exception {
        ReferenceCluster cluster = new ReferenceCluster(dataDirs);
        try {
            cluster.diverge();
            return cluster;
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
    }

    /**
     * Three reference nodes; node-a becomes the former primary, node-b the new one. In process (with
     * every optional fixture method), or nodes running elsewhere known by their addresses only.
     */
    static final class ReferenceCluster implements AgentFixture {

        private static final Duration WAIT = Duration.ofSeconds(20);
        private static final List<Write> BEFORE_FORK = List.of(
                Write.put("k1", "v1"), Write.put("k2", "v2"), Write.put("k3", "v3"), Write.put("k4", "v4"),
                Write.put("k2", "v2b"), Write.delete("k4"));
        private static final List<Write> DIVERGENT = List.of(
                Write.put("k5", "d5"),      // insert
                Write.put("k1", "d1"),      // update of a committed key
                Write.delete("k3"),         // delete of a committed key
                Write.put("k5", "d5b"),     // update of a divergent insert
                Write.put("k4", "d4"),      // insert of a key deleted before the fork
                Write.delete("k5"),         // delete of a divergent insert
                Write.put("k2", "d2"));     // update
        private static final List<Write> NEW_TERM = List.of(
                Write.put("k6", "n6"), Write.put("k1", "n1"), Write.delete("k2"));

        private final Path root;
        private final Map<String, ReplicaNode> nodes = new LinkedHashMap<>();
        private final Map<String, String> addresses = new LinkedHashMap<>();
        private final Map<String, ManagedChannel> channels = new HashMap<>();

        ReferenceCluster(Path root) throws Exception {
            this.root = root;
            for (String name : List.of("node-a", "node-b", "node-c")) {
                nodes.put(name, ReplicaNode.start(ReplicaNode.Config.of(name, root.resolve(name), 3)));
                addresses.put(name, nodes.get(name).address());
            }
        }

        /** node-a, node-b and node-c running elsewhere (their own processes), at {@code addresses}. */
        ReferenceCluster(Map<String, String> addresses) {
            this.root = null;
            this.addresses.putAll(addresses);
        }

        void diverge() throws Exception {
            node("node-a").promote(PromoteRequest.newBuilder().setTerm(1).build());
            follow("node-b", "node-a", 1);
            follow("node-c", "node-a", 1);
            for (Write w : BEFORE_FORK) {
                write("node-a", w);
            }
            long committed = BEFORE_FORK.size();
            await("node-a knows LSN " + committed + " committed", () -> timeline("node-a").getCommitLsn() == committed);
            await("node-b and node-c hold LSN " + committed, () -> timeline("node-b").getLastLsn() == committed
                    && timeline("node-c").getLastLsn() == committed);

            node("node-a").isolate(IsolateRequest.newBuilder().setIsolated(true).build());
            for (Write w : DIVERGENT) {
                write("node-a", w);
            }

            node("node-b").promote(PromoteRequest.newBuilder().setTerm(2).build());
            follow("node-c", "node-b", 2);
            for (Write w : NEW_TERM) {
                write("node-b", w);
            }
            long leaderLast = timeline("node-b").getLastLsn();
            await("node-c follows node-b to LSN " + leaderLast, () -> timeline("node-c").getLastLsn() == leaderLast);
            // the partition heals; node-a still believes it is primary in term 1
            node("node-a").isolate(IsolateRequest.newBuilder().setIsolated(false).build());
        }

        @Override
        public String agentAddress(Node node) {
            return addresses.get(name(node));
        }

        @Override
        public String replicationAddress(Node node) {
            return addresses.get(name(node));
        }

        @Override
        public Map<ByteString, ByteString> dataAtFork() {
            return AgentChecks.apply(Map.of(), BEFORE_FORK);
        }

        @Override
        public List<Write> divergentWrites() {
            return DIVERGENT;
        }

        @Override
        public Map<ByteString, ByteString> readData(Node node) {
            return dump(name(node));
        }

        @Override
        public void awaitFormerPrimaryCaughtUp(Duration timeout) throws Exception {
            await("node-a catches up with node-b",
                    () -> timeline("node-a").getLastLsn() == timeline("node-b").getLastLsn()
                    && dump("node-a").equals(dump("node-b")), timeout);
        }

        @Override
        public String nodeName(Node node) {
            return name(node);
        }

        @Override
        public void restartFormerPrimary() throws Exception {
            if (root == null) {
                throw new UnsupportedOperationException("the nodes run elsewhere");
            }
            ReplicaNode old = nodes.get("node-a");
            String address = old.address();
            old.halt(); // as a kill: the rollback file calls running now leave their temporary files
            ManagedChannel c = channels.remove(address);
            if (c != null) {
                c.shutdownNow();
            }
            nodes.put("node-a", ReplicaNode.start(ReplicaNode.Config.of("node-a", root.resolve("node-a"), 3)));
            addresses.put("node-a", nodes.get("node-a").address());
        }

        @Override
        public boolean tryClientWriteOnFormerPrimary(Write w) {
            try {
                write("node-a", w);
                return true;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION) {
                    return false;
                }
                throw e;
            }
        }

        @Override
        public Path localFile(Node node, String agentPath) {
            if (root == null) {
                throw new UnsupportedOperationException("the nodes run elsewhere");
            }
            return Path.of(agentPath); // the nodes run in this JVM
        }

        @Override
        public void limitCopySpace(Node node, long bytes) {
            if (root == null) {
                throw new UnsupportedOperationException("the nodes run elsewhere");
            }
            nodes.get(name(node)).rollbackFileFaults().copyFreeSpace(bytes);
        }

        @Override
        public void close() {
            channels.values().forEach(ManagedChannel::shutdownNow);
            channels.clear();
            for (ReplicaNode n : nodes.values()) {
                n.close();
            }
            nodes.clear();
        }

        /** host:port of the node {@code name} (its agent, replication and client API). */
        String address(String name) {
            return addresses.get(name);
        }

        // ---- helpers ---------------------------------------------------------------------------

        private static String name(Node node) {
            return node == Node.FORMER_PRIMARY ? "node-a" : "node-b";
        }

        private void follow(String replica, String primary, long term) {
            agent(replica).rejoinAsReplica(RejoinAsReplicaRequest.newBuilder()
                    .setPrimaryAddress(addresses.get(primary)).setTerm(term).setIncidentId("fixture-setup").build());
        }

        private void write(String name, Write w) {
            WriteRequest.Builder b = WriteRequest.newBuilder().setKey(w.key());
            if (w.isDelete()) {
                b.setDelete(true);
            } else {
                b.setValue(w.value());
            }
            node(name).write(b.build());
        }

        private Map<ByteString, ByteString> dump(String name) {
            Map<ByteString, ByteString> out = new HashMap<>();
            for (KeyValue kv : node(name).dump(DumpRequest.getDefaultInstance()).getEntriesList()) {
                out.put(kv.getKey(), kv.getValue());
            }
            return out;
        }

        private Timeline timeline(String name) {
            return agent(name).getTimeline(GetTimelineRequest.getDefaultInstance());
        }

        private ReplicaNodeGrpc.ReplicaNodeBlockingStub node(String name) {
            return ReplicaNodeGrpc.newBlockingStub(channel(name)).withDeadlineAfter(10, TimeUnit.SECONDS);
        }

        private RollbackAgentGrpc.RollbackAgentBlockingStub agent(String name) {
            return RollbackAgentGrpc.newBlockingStub(channel(name)).withDeadlineAfter(10, TimeUnit.SECONDS);
        }

        private ManagedChannel channel(String name) {
            return channels.computeIfAbsent(addresses.get(name),
                    a -> ManagedChannelBuilder.forTarget(a).usePlaintext().build());
        }

        private static void await(String what, BooleanSupplier condition) throws InterruptedException {
            await(what, condition, WAIT);
        }

        private static void await(String what, BooleanSupplier condition, Duration timeout)
                throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!condition.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting until " + what);
                }
                Thread.sleep(10);
            }
        }
    }
}
