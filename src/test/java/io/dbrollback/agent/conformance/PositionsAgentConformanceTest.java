package io.dbrollback.agent.conformance;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.conformance.ReferenceNodeConformanceTest.ReferenceCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.PositionsAgent;
import io.dbrollback.testing.PositionsAgent.Flaw;
import io.dbrollback.testing.PositionsAgent.Shape;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent conformance suite against agents whose LSNs are positions: the three reference nodes of
 * {@link ReferenceNodeConformanceTest}, diverged the same way, each behind a {@link PositionsAgent} of
 * {@link Shape#PAIRS} (two records to a transaction, sharing its commit position; gaps between
 * positions; the rollback file RPCs and the replication passed through to the node). The former
 * primary's seven divergent writes are four transactions at positions 64, 80, 96 and 112 above the
 * fork at 48, the switchpoint of the new primary's term 2, whose history entry begins at 49.
 * ({@link PostgresLikeConformanceTest} runs the checks against the other shape.)
 */
@IntegrationTest
class PositionsAgentConformanceTest extends AgentConformanceSuite {

    @TempDir
    Path dataDirs;

    @Override
    protected AgentFixture newDivergedCluster() throws Exception {
        return PositionsCluster.start(dataDirs, Flaw.NONE, Flaw.NONE, Shape.PAIRS);
    }

    /**
     * A diverged reference cluster whose agents are {@link PositionsAgent}s of one {@link Shape}: node-a
     * (the former primary) behind one with {@code formerFlaw}, node-b and node-c behind ones with
     * {@code othersFlaw}. The new primary's replication address is its positions agent, which passes
     * replication through. For {@link Shape#POSTGRES_LIKE} it says, through {@link #recordKey} and
     * {@link #recordImage}, that the records carry the keys and values as JSON.
     */
    static final class PositionsCluster implements AgentFixture {
        private final ReferenceCluster nodes;
        private final Path root;
        private final Flaw formerFlaw;
        private final Flaw othersFlaw;
        private final Shape shape;
        private final Map<String, PositionsAgent> agents = new LinkedHashMap<>();
        private final Map<String, String> bypassed = new LinkedHashMap<>();
        private boolean recordsAsWritten;

        private PositionsCluster(ReferenceCluster nodes, Path root, Flaw formerFlaw, Flaw othersFlaw, Shape shape) {
            this.nodes = nodes;
            this.root = root;
            this.formerFlaw = formerFlaw;
            this.othersFlaw = othersFlaw;
            this.shape = shape;
        }

        static PositionsCluster start(Path root, Flaw formerFlaw, Flaw othersFlaw, Shape shape) throws Exception {
            PositionsCluster c = new PositionsCluster(new ReferenceCluster(root), root, formerFlaw, othersFlaw, shape);
            try {
                c.nodes.diverge();
                for (String name : List.of("node-a", "node-b", "node-c")) {
                    c.front(name);
                }
                return c;
            } catch (Exception | Error e) {
                c.close();
                throw e;
            }
        }

        /** The positions agent of {@code name}, on the same state file after a restart. */
        private void front(String name) throws IOException {
            agents.put(name, PositionsAgent.fronting(nodes.address(name), root.resolve(name + ".positions"),
                    name.equals("node-a") ? formerFlaw : othersFlaw, shape));
        }

        /**
         * The new primary's agent refuses to read a range of its log: it holds no tail
         * ({@link PositionsAgent#holdNoTail}).
         */
        void newPrimaryHoldsNoTail() {
            agents.get(name(Node.NEW_PRIMARY)).holdNoTail();
        }

        /**
         * Leaves out {@link #recordKey} and {@link #recordImage}: the suite then expects the records to
         * carry the keys and values as they were written (a fixture that forgot its database's form).
         */
        void expectRecordsAsWritten() {
            recordsAsWritten = true;
        }

        /** Lets the suite reach {@code node}'s agent directly, with record numbers (a pair of kinds). */
        void bypass(Node node) {
            bypassed.put(name(node), nodes.address(name(node)));
        }

        private static String name(Node node) {
            return node == Node.FORMER_PRIMARY ? "node-a" : "node-b";
        }

        @Override
        public String agentAddress(Node node) {
            return bypassed.getOrDefault(name(node), agents.get(name(node)).address());
        }

        @Override
        public String replicationAddress(Node node) {
            return agents.get(name(node)).address();
        }

        @Override
        public Map<ByteString, ByteString> dataAtFork() {
            return nodes.dataAtFork();
        }

        @Override
        public List<Write> divergentWrites() {
            return nodes.divergentWrites();
        }

        @Override
        public ByteString recordKey(ByteString key) {
            return shape == Shape.POSTGRES_LIKE && !recordsAsWritten ? PositionsAgent.jsonKey(key) : key;
        }

        @Override
        public ByteString recordImage(ByteString key, ByteString value) {
            return shape == Shape.POSTGRES_LIKE && !recordsAsWritten ? PositionsAgent.jsonRow(key, value) : value;
        }

        @Override
        public Map<ByteString, ByteString> readData(Node node) {
            return nodes.readData(node);
        }

        @Override
        public void awaitFormerPrimaryCaughtUp(Duration timeout) throws Exception {
            nodes.awaitFormerPrimaryCaughtUp(timeout);
        }

        @Override
        public void restartFormerPrimary() throws Exception {
            nodes.restartFormerPrimary();
            agents.remove("node-a").close();
            front("node-a");
        }

        @Override
        public boolean tryClientWriteOnFormerPrimary(Write write) {
            return nodes.tryClientWriteOnFormerPrimary(write);
        }

        @Override
        public Path localFile(Node node, String agentPath) {
            return nodes.localFile(node, agentPath);
        }

        @Override
        public String nodeName(Node node) {
            return nodes.nodeName(node);
        }

        @Override
        public void close() throws Exception {
            for (PositionsAgent a : agents.values()) {
                a.close();
            }
            agents.clear();
            nodes.close();
        }
    }
}
