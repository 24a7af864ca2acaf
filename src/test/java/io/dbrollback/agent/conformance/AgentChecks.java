package io.dbrollback.agent.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.rpc.ErrorInfo;
import io.dbrollback.agent.conformance.AgentFixture.Node;
import io.dbrollback.agent.conformance.AgentFixture.Write;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.LsnKind;
import io.dbrollback.agent.v1.QuarantineRollbackFileRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.RollbackCopyBegin;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.agent.v1.SummarizeTailRequest;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.RollbackFileBegin;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.agent.v1.WriteRollbackFileRequest;
import io.dbrollback.agent.v1.WriteRollbackFileResponse;
import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.coordinator.ForkPoint;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.TailSummary;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Assumptions;
import org.opentest4j.TestAbortedException;

/**
 * The checks of the agent conformance suite, over gRPC only (and the fixture, for what only the
 * database knows). Shared by {@link AgentConformanceSuite}, which runs them on a fresh diverged cluster
 * per test, and {@link ConformanceMain}, which runs them in a safe order on one diverged cluster given
 * only the agents' addresses.
 *
 * <p>Each {@code check...} method states the state of the cluster it expects and the state it leaves.
 * A failed check throws an {@link AssertionError} naming the rule; a check that cannot run (an optional
 * fixture method, database-side knowledge the caller lacks) throws {@link TestAbortedException} with
 * the reason, which JUnit reports as skipped and {@link ConformanceMain} prints as {@code SKIPPED}.
 */
public class AgentChecks implements AutoCloseable {

    /** The ErrorInfo domain of every agent error. */
    public static final String ERROR_DOMAIN = "agent.dbrollback.io";

    static final Duration RPC_DEADLINE = Duration.ofSeconds(10);
    static final Duration CATCH_UP_TIMEOUT = Duration.ofSeconds(20);
    private static final int NODE_MAX_RECORDS_PER_CHUNK = 256;
    private static final int MAX_DATA = 1 << 20;
    private static final Set<Status.Code> PRECONDITION = Set.of(Status.Code.FAILED_PRECONDITION);
    private static final Set<Status.Code> INVALID = Set.of(Status.Code.INVALID_ARGUMENT);
    private static final Set<Status.Code> OUT_OF_RANGE = Set.of(Status.Code.OUT_OF_RANGE);
    private static final Set<Status.Code> NOT_FOUND = Set.of(Status.Code.NOT_FOUND);
    /** Incident ids that are not plain identifiers: upper case is refused, never lower-cased. */
    static final List<String> BAD_INCIDENT_IDS = List.of("Conformance-Upper", "CONFORMANCE", "-leading-dash",
            "under_score", "dotted.id", "x".repeat(64), "../escape", "a/b", "");

    private final AgentFixture cluster;
    private final Map<String, ManagedChannel> channels = new HashMap<>();
    /** The name each node's first timeline gave: every later timeline must give it again. */
    private final Map<Node, String> names = new HashMap<>();
    /** How each node's first timeline said it counts LSNs: every later timeline must say it again. */
    private final Map<Node, LsnKind> kinds = new HashMap<>();

    public AgentChecks(AgentFixture cluster) {
        this.cluster = cluster;
    }

    @Override
    public void close() throws InterruptedException {
        for (ManagedChannel c : channels.values()) {
            c.shutdownNow();
        }
        for (ManagedChannel c : channels.values()) {
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        channels.clear();
    }

    // ------------------------------------------------------------------------------------------
    // The plan: both timelines, the fork, the expected tail
    // ------------------------------------------------------------------------------------------

    /**
     * What the operator knows before acting, and (when the fixture knows it) what the tail must be.
     *
     * @param expected the expected tail records; null when the caller has no database-side knowledge
     */
    public record Plan(Timeline former, Timeline leader, ForkPoint.Result forkResult, long fork, long term,
            List<Expected> expected) {

        /** Whether the agents' LSNs are positions (docs/agent-protocol.md, "LSNs that are positions"). */
        public boolean positions() {
            return former.getLsnKind() == LsnKind.LSN_KIND_POSITIONS;
        }
    }

    /** One expected record: the fixture's write with the operation and pre-image it implies. */
    public record Expected(Write write, Operation operation, ByteString before) {
    }

    /**
     * Both timelines, checked, and the fork as the operator computes it (with LSNs that are positions,
     * checked against the new primary's records: {@link #checkForkIsTheSwitchpoint}). Read-only.
     */
    public Plan plan() throws Exception {
        Timeline former = timeline(Node.FORMER_PRIMARY);
        Timeline leader = timeline(Node.NEW_PRIMARY);
        assertEquals(former.getLsnKind(), leader.getLsnKind(), "both nodes count LSNs the same way (lsn_kind): the"
                + " operator never compares the histories of nodes that do not (HistoryInconsistent)");
        boolean positions = former.getLsnKind() == LsnKind.LSN_KIND_POSITIONS;
        ForkPoint.Result result = ForkPoint.compute(history(former), Lsn.of(former.getLastLsn()),
                history(leader), Lsn.of(leader.getLastLsn()));
        if (!(result instanceof ForkPoint.Found found)) {
            fail("the two histories are inconsistent: " + result + "\nformer primary: " + former + "\nnew primary: "
                    + leader);
            return null;
        }
        long fork = found.lsn().value();
        if (positions) {
            switchpoint(leader, fork); // before the commit LSN: a fork below the switchpoint says why
        }
        assertTrue(fork < former.getLastLsn(), "setup: the former primary holds records after the fork " + fork
                + " (its last LSN is " + former.getLastLsn() + ")");
        assertTrue(former.getCommitLsn() >= 1, "setup: the former primary knows at least one committed record");
        assertTrue(former.getCommitLsn() <= fork, "the former primary's commit LSN " + former.getCommitLsn()
                + " is not above the fork " + fork + " (the divergent writes were never committed)" + (positions
                        ? "; with positions, a term's history entry at its switchpoint rather than switchpoint + 1"
                                + " puts the fork one below the switchpoint" : ""));
        List<Expected> expected = null;
        List<Write> writes = known(cluster::divergentWrites);
        if (writes != null) {
            expected = expectedTail(cluster.dataAtFork(), writes);
            if (!positions) { // positions: the count is known only from the records (checkTailHoldsTheWrites)
                assertEquals(expected.size(), former.getLastLsn() - fork, "fixture: the former primary's last LSN "
                        + former.getLastLsn() + " minus the fork " + fork + " is the number of divergent writes");
            }
        }
        return new Plan(former, leader, result, fork, leader.getCurrentTerm(), expected);
    }

    /** What a fixture method answers, or null when the caller has no such knowledge. */
    private static <T> T known(Callable<T> fixtureMethod) throws Exception {
        try {
            return fixtureMethod.call();
        } catch (UnsupportedOperationException e) {
            return null;
        }
    }

    /** What a fixture method answers; the check is skipped, with the fixture's reason, when it cannot. */
    private static <T> T required(Callable<T> fixtureMethod) throws Exception {
        try {
            return fixtureMethod.call();
        } catch (UnsupportedOperationException e) {
            Assumptions.abort(e.getMessage());
            return null;
        }
    }

    private static List<Expected> expectedTail(Map<ByteString, ByteString> atFork, List<Write> writes) {
        assertFalse(writes.isEmpty(), "fixture: there are divergent writes");
        Map<ByteString, ByteString> state = new HashMap<>(atFork);
        List<Expected> out = new ArrayList<>();
        for (Write w : writes) {
            ByteString prev = state.get(w.key());
            if (w.isDelete()) {
                assertNotNull(prev, "fixture: divergent write '" + w + "' deletes a key that holds no value");
                out.add(new Expected(w, Operation.DELETE, prev));
                state.remove(w.key());
            } else {
                out.add(new Expected(w, prev == null ? Operation.INSERT : Operation.UPDATE, prev));
                state.put(w.key(), w.value());
            }
        }
        return out;
    }

    /** {@code data} with {@code writes} applied in order. */
    static Map<ByteString, ByteString> apply(Map<ByteString, ByteString> data, List<Write> writes) {
        Map<ByteString, ByteString> state = new HashMap<>(data);
        for (Write w : writes) {
            if (w.isDelete()) {
                state.remove(w.key());
            } else {
                state.put(w.key(), w.value());
            }
        }
        return state;
    }

    // ------------------------------------------------------------------------------------------
    // GetTimeline and the node's name
    // ------------------------------------------------------------------------------------------

    /** Before the fence: the shape of both timelines, the roles, a stable GetTimeline. Read-only. */
    public void checkTimelines(Plan p) throws Exception {
        assertFalse(p.former.getFenced(), "the former primary is not fenced before the suite fences it");
        assertEquals(Role.ROLE_PRIMARY, p.leader.getRole(), "the new primary reports ROLE_PRIMARY");
        assertFalse(p.leader.getFenced(), "the new primary is not fenced");
        assertTrue(p.term > p.former.getCurrentTerm(), "the new primary's term " + p.term
                + " is above the former primary's current term " + p.former.getCurrentTerm());
        assertTrue(p.leader.getLastLsn() >= p.fork, "the new primary's log reaches the fork");
        if (p.positions()) { // (fork, last] may span millions of positions: its two ends
            for (long lsn : new long[] {p.fork + 1, p.former.getLastLsn()}) {
                assertTrue(history(p.former).termAt(Lsn.of(lsn)).isPresent(), "the history covers position " + lsn);
            }
        } else {
            for (long lsn = p.fork + 1; lsn <= p.former.getLastLsn(); lsn++) {
                assertTrue(history(p.former).termAt(Lsn.of(lsn)).isPresent(), "the history covers LSN " + lsn);
            }
        }
        assertEquals(p.former, timeline(Node.FORMER_PRIMARY),
                "GetTimeline is read-only: a second call answers the same");
        assertNotEquals(p.former.getNode(), p.leader.getNode(), "two nodes give two names");
    }

    /** The fixture's promises (needs the fixture's knowledge), so that a failure elsewhere points at the agent. */
    public void checkFixturePromises(Plan p) throws Exception {
        required(cluster::divergentWrites);
        Set<Operation> kinds = new HashSet<>();
        p.expected.forEach(e -> kinds.add(e.operation));
        assertEquals(Set.of(Operation.INSERT, Operation.UPDATE, Operation.DELETE), kinds,
                "fixture: the divergent writes include an insert, an update and a delete");
        assertEquals(show(apply(cluster.dataAtFork(), cluster.divergentWrites())),
                show(cluster.readData(Node.FORMER_PRIMARY)),
                "fixture: the former primary holds the data at the fork with the divergent writes applied");
    }

    /** Each node names itself as the pod it runs in (the fixture's {@code nodeName}); read-only. */
    public void checkNodeNames() throws Exception {
        for (Node n : Node.values()) {
            String expected = required(() -> cluster.nodeName(n));
            assertEquals(expected, timeline(n).getNode(),
                    n + ": Timeline.node is the name of the pod the operator dialled");
        }
    }

    /**
     * LSNs that are positions, any state before the recover: the fork is the switchpoint. The new
     * primary's records above the fork, read from it, carry the terms its history gives their positions.
     * A term's history entry begins at its switchpoint + 1, above every record of the term before; an
     * entry at the switchpoint itself would put the fork one below it, and the last shared transaction
     * (committed at the switchpoint) above the fork, in the new term. Skipped for record numbers, and
     * when the new primary no longer holds the range (FAILED_PRECONDITION/RANGE_NOT_IN_LOG). Read-only.
     */
    public void checkForkIsTheSwitchpoint(Plan p) {
        if (!p.positions()) {
            Assumptions.abort("the agents' LSNs are record numbers (LSN_KIND_RECORDS): the switchpoint rule is one of"
                    + " LSNs that are positions");
        }
        StatusRuntimeException refused = switchpoint(p.leader, p.fork);
        if (refused != null) {
            Assumptions.abort("the new primary no longer holds (" + p.fork + ", " + p.leader.getLastLsn()
                    + "] to read its records above the fork: " + describe(refused));
        }
    }

    /**
     * {@link #checkForkIsTheSwitchpoint} on the new primary's {@code leader} timeline and the {@code fork}
     * computed from it; returns the refusal of a new primary that no longer holds the range (null when
     * it read and checked it).
     */
    private StatusRuntimeException switchpoint(Timeline leader, long fork) {
        TailStream s = readTail(Node.NEW_PRIMARY, fork, leader.getLastLsn(), 0, 0);
        if (s.error != null && s.messages.isEmpty() && s.error.getStatus().getCode() == Status.Code.FAILED_PRECONDITION
                && ErrorReason.RANGE_NOT_IN_LOG.name().equals(reason(s.error))) {
            return s.error;
        }
        Tail t = checked(Node.NEW_PRIMARY, tailName(Node.NEW_PRIMARY, fork, leader.getLastLsn(), 0, 0), s, fork,
                leader.getLastLsn(), 0, 0);
        TermHistory history = history(leader);
        for (io.dbrollback.agent.v1.TailRecord r : t.records) {
            Optional<Term> term = history.termAt(Lsn.of(r.getLsn()));
            assertEquals(term.map(Term::value).orElse(0L), r.getTerm(), "the new primary's record at position "
                    + r.getLsn() + " (transaction '" + r.getTransactionId() + "') is of term " + r.getTerm()
                    + " but its history gives " + term.map(x -> "term " + x.value()).orElse("no term")
                    + " there " + entries(leader) + ": a term's history entry begins at its switchpoint + 1, above"
                    + " every record of the term before, so that the fork (" + fork + ") is the switchpoint"
                    + " (LSNs that are positions)");
        }
        return null;
    }

    private static String entries(Timeline t) {
        StringBuilder b = new StringBuilder("(");
        for (TermHistoryEntry e : t.getHistoryList()) {
            b.append(b.length() > 1 ? ", " : "").append("term ").append(e.getTerm()).append(" from ")
                    .append(e.getFirstLsn());
        }
        return b.append(")").toString();
    }

    // ------------------------------------------------------------------------------------------
    // Fence
    // ------------------------------------------------------------------------------------------

    /** The Fence response: the timeline after the fence, of this node. */
    private Timeline fenced(Timeline t, long term) {
        assertTimeline(Node.FORMER_PRIMARY, "the Fence response's timeline", t);
        assertTrue(t.getFenced(), "the Fence response shows the node fenced");
        assertEquals(Role.ROLE_DETACHED, t.getRole(), "the Fence response shows ROLE_DETACHED");
        assertTrue(t.getCurrentTerm() >= term, "the Fence response shows current_term " + t.getCurrentTerm()
                + " at least the fence's term " + term);
        return t;
    }

    /**
     * Unfenced to fenced under the plan's term: the term adopted, nothing else changed, the response is
     * GetTimeline's; repeated (same and another incident) it answers the same.
     */
    public Timeline checkFence(Plan p) throws Exception {
        String incident = incident();
        Timeline fenced = fenced(agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident)).getTimeline(), p.term);
        assertEquals(p.term, fenced.getCurrentTerm(), "Fence adopts the higher term");
        assertFenceRemovedNothing(p, fenced);
        assertEquals(p.former.getCommitLsn(), fenced.getCommitLsn(), "Fence leaves the commit LSN");
        assertEquals(p.former.getHistoryList(), fenced.getHistoryList(),
                "Fence adds no history entry and removes none");
        assertEquals(p.former.getRollbackId(), fenced.getRollbackId(), "Fence does not bump the rollback id");
        assertEquals(p.former.getLastRecoveryIncident(), fenced.getLastRecoveryIncident(), "Fence records no recovery");
        assertEquals(fenced, timeline(Node.FORMER_PRIMARY),
                "the Fence response carries the timeline GetTimeline reports");
        assertEquals(fenced, agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident)).getTimeline(),
                "repeating Fence answers the same timeline");
        assertEquals(fenced, agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident())).getTimeline(),
                "Fence under the same term for another incident answers the same timeline");
        return fenced;
    }

    /**
     * The fence kept the whole log: the same last LSN as when the plan looked; for LSNs that are positions
     * at least that one, since a live server writes records of its own (PostgreSQL's running-transactions
     * record every 15 s) until the fence stops it taking writes.
     */
    private static void assertFenceRemovedNothing(Plan p, Timeline fenced) {
        if (p.positions()) {
            assertTrue(fenced.getLastLsn() >= p.former.getLastLsn(), "Fence removes nothing: last position "
                    + fenced.getLastLsn() + " is below " + p.former.getLastLsn() + ", where the plan looked");
        } else {
            assertEquals(p.former.getLastLsn(), fenced.getLastLsn(), "Fence removes nothing");
        }
    }

    /** Fenced to fenced under the next term (raises the term above the new primary's: a fresh cluster only). */
    public void checkHigherFenceAdopted(Plan p) {
        Timeline higher = fenced(agent(Node.FORMER_PRIMARY).fence(fence(p.term + 1, incident())).getTimeline(),
                p.term + 1);
        assertEquals(p.term + 1, higher.getCurrentTerm(), "a later Fence adopts its higher term too");
        assertFenceRemovedNothing(p, higher);
        assertEquals(p.former.getHistoryList(), higher.getHistoryList(), "Fence adds no history entry");
    }

    /** Any state: a Fence of the new primary under an older term is STALE_TERM and changes nothing. */
    public void checkStaleFenceOfTheNewPrimary(Plan p) {
        Timeline before = timeline(Node.NEW_PRIMARY);
        assertRefused("Fence of the new primary under term " + (p.term - 1), PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.NEW_PRIMARY).fence(fence(p.term - 1, incident())));
        assertLeaderUnchanged(before);
    }

    /**
     * Any state: the new primary, primary of the plan's term, refuses a Fence under that very term
     * (LIVE_PRIMARY), and the checks come in order: malformed, then the term, then LIVE_PRIMARY.
     */
    public void checkLivePrimaryFence(Plan p) {
        Timeline before = timeline(Node.NEW_PRIMARY);
        assertRefused("Fence of the new primary under its own term " + p.term, PRECONDITION, ErrorReason.LIVE_PRIMARY,
                () -> agent(Node.NEW_PRIMARY).fence(fence(p.term, incident())));
        assertRefused("Fence of the new primary under its own term with a malformed incident id (malformed first)",
                INVALID, ErrorReason.INVALID_REQUEST, () -> agent(Node.NEW_PRIMARY).fence(fence(p.term, "Not-Plain")));
        assertLeaderUnchanged(before);
    }

    private void assertLeaderUnchanged(Timeline before) {
        Timeline after = timeline(Node.NEW_PRIMARY);
        assertEquals(Role.ROLE_PRIMARY, after.getRole(), "the new primary is still primary");
        assertFalse(after.getFenced(), "the new primary is not fenced");
        assertEquals(before.getCurrentTerm(), after.getCurrentTerm(), "its term is unchanged");
        assertEquals(before.getRollbackId(), after.getRollbackId(), "its rollback id is unchanged");
        assertTrue(after.getLastLsn() >= before.getLastLsn(), "its log lost nothing");
    }

    /** Fenced under the plan's term: a Fence under an older term is STALE_TERM and changes nothing. */
    public void checkStaleFenceOfAFencedNode(Plan p) {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        assertRefused("Fence under term " + (p.term - 1) + " after term " + before.getCurrentTerm(), PRECONDITION,
                ErrorReason.STALE_TERM, () -> agent(Node.FORMER_PRIMARY).fence(fence(p.term - 1, incident())));
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "a stale Fence changes nothing");
    }

    /** Fenced: the fence, term, log and rollback id survive a restart (needs the fixture's restart). */
    public void checkFenceSurvivesRestart(Plan p, Timeline fenced) throws Exception {
        restartFormerPrimary();
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertTrue(after.getFenced(), "still fenced after a restart");
        assertEquals(fenced.getCurrentTerm(), after.getCurrentTerm(), "the adopted term survives a restart");
        assertEquals(fenced.getLastLsn(), after.getLastLsn(), "the log survives a restart");
        assertEquals(fenced.getHistoryList(), after.getHistoryList(), "the history survives a restart");
        assertEquals(fenced.getRollbackId(), after.getRollbackId(), "the rollback id survives a restart");
        assertRefused("Fence under a stale term after a restart", PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(p.term - 1, incident())));
    }

    /** Fenced: a client write is refused, nothing changes (needs the fixture's client write). */
    public void checkFencedNodeRefusesClientWrites(Plan p) throws Exception {
        Map<ByteString, ByteString> data = required(() -> cluster.readData(Node.FORMER_PRIMARY));
        Boolean accepted = required(() -> cluster.tryClientWriteOnFormerPrimary(
                Write.put("conformance-after-fence", "x")));
        assertFalse(accepted, "a fenced node accepted a client write");
        assertEquals(p.former.getLastLsn(), timeline(Node.FORMER_PRIMARY).getLastLsn(), "the log did not grow");
        assertEquals(show(data), show(cluster.readData(Node.FORMER_PRIMARY)), "the data did not change");
    }

    // ------------------------------------------------------------------------------------------
    // Incident ids and malformed requests
    // ------------------------------------------------------------------------------------------

    /**
     * Any state: every RPC that carries an incident id refuses one that is not a plain identifier
     * ({@code [a-z0-9][a-z0-9-]{0,62}}; upper case refused, not lower-cased) with INVALID_REQUEST before
     * the term: a higher term in such a call is not adopted. Changes nothing.
     */
    public void checkIncidentIdsArePlainIdentifiers(Plan p, boolean fileRpcs) throws Exception {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long higher = before.getCurrentTerm() + 1;
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        for (String bad : BAD_INCIDENT_IDS) {
            String id = "incident id '" + bad + "'";
            assertRefused("Fence with " + id, INVALID, ErrorReason.INVALID_REQUEST,
                    () -> agent(Node.FORMER_PRIMARY).fence(fence(higher, bad)));
            assertRefused("RecoverToLsn with " + id, INVALID, ErrorReason.INVALID_REQUEST,
                    () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, higher, bad, before.getLastLsn(),
                            sha256(new byte[0]))));
            assertRefused("RejoinAsReplica with " + id, INVALID, ErrorReason.INVALID_REQUEST,
                    () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, higher, bad)));
            if (fileRpcs) {
                byte[] bytes = fileBytes(100, 11);
                Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(bad, higher, 1, bytes, 100), true);
                assertNotNull(w.error, "WriteRollbackFile with " + id + " was accepted: " + w.response);
                assertError("WriteRollbackFile with " + id, INVALID, ErrorReason.INVALID_REQUEST, w.error);
                assertRefused("QuarantineRollbackFile with " + id, INVALID, ErrorReason.INVALID_REQUEST,
                        () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(bad, higher, 1, 1)));
                assertError("ReadRollbackFile with " + id, INVALID, ErrorReason.INVALID_REQUEST,
                        readFile(Node.FORMER_PRIMARY, bad, 1).error);
            }
        }
        assertEquals(before, timeline(Node.FORMER_PRIMARY),
                "a malformed incident id changes nothing, not even the term");
        // the rule admits a Kubernetes uid (a plain identifier of 36 characters) and 63 characters
        assertTrue(RollbackFileName.isIncidentId(UUID.randomUUID().toString()));
    }

    /** Any state: term 0, empty ids and addresses, a reversed read range: INVALID_REQUEST, nothing changed. */
    public void checkMalformedRequests(Plan p) throws Exception {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long last = before.getLastLsn();
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        String sha = sha256(new byte[0]);
        assertRefused("Fence with term 0", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(0, incident())));
        assertRefused("Fence with an empty incident id", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(p.term, "")));
        assertRefused("RecoverToLsn with an empty incident id", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, "", last, sha)));
        assertRefused("RecoverToLsn with term 0", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, 0, incident(), last, sha)));
        assertRefused("RejoinAsReplica with an empty primary address", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin("", p.term, incident())));
        assertRefused("RejoinAsReplica with an empty incident id", INVALID, ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, "")));
        TailStream reversed = readTail(last, p.fork, 0, 0);
        assertNotNull(reversed.error, "ReadDivergentTail(" + last + ", " + p.fork + "] (reversed) was not refused");
        assertError("ReadDivergentTail over a reversed range", INVALID, ErrorReason.INVALID_REQUEST, reversed.error);
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "malformed requests change nothing");
    }

    // ------------------------------------------------------------------------------------------
    // ReadDivergentTail
    // ------------------------------------------------------------------------------------------

    /**
     * Fenced: the tail over (fork, last] with chunk bounds 0, 1 and 2 and far above the cap: dense, in
     * order, within the bound (at most 256), no empty chunk, every CRC32C, one trailer that the records
     * recompute to, every record's term from the history. Read-only.
     */
    public Tail checkTailForm(Plan p) {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long last = p.former.getLastLsn();
        Tail small = checkedTail(p.fork, last, 0, 2);
        Tail whole = checkedTail(p.fork, last, 0, 0);
        Tail single = checkedTail(p.fork, last, 0, 1);
        assertEquals(whole.records, small.records, "the records do not depend on the chunk size");
        assertEquals(whole.records, single.records, "the records do not depend on the chunk size");
        assertEquals(whole.trailer, small.trailer, "the trailer does not depend on the chunk size");
        assertEquals(whole.trailer, single.trailer, "the trailer does not depend on the chunk size");
        assertTrue(small.chunkCount >= (whole.records.size() + 1) / 2, "max_records_per_chunk 2 was honoured");
        TermHistory history = history(p.former);
        for (io.dbrollback.agent.v1.TailRecord r : whole.records) {
            assertEquals(history.termAt(Lsn.of(r.getLsn())).orElseThrow().value(), r.getTerm(),
                    "record at LSN " + r.getLsn() + ": its term is the history's term at its LSN");
        }
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "ReadDivergentTail is read-only");
        return whole;
    }

    /**
     * The tail's records are the fixture's divergent writes with their pre-images, one record per write
     * and in the writes' order (needs the fixture). Keys and images are compared in the form the agent
     * must send them, {@link AgentFixture#recordKey} and {@link AgentFixture#recordImage} of the
     * fixture's own. With LSNs that are positions this is where the count is checked (the LSNs do not
     * give it), and nothing is assumed of the records' positions beyond the tail's form.
     */
    public void checkTailHoldsTheWrites(Plan p, Tail whole) throws Exception {
        required(cluster::divergentWrites);
        assertEquals(p.expected.size(), whole.records.size(), "one record per divergent write");
        for (int i = 0; i < p.expected.size(); i++) {
            io.dbrollback.agent.v1.TailRecord r = whole.records.get(i);
            Expected e = p.expected.get(i);
            ByteString key = e.write.key();
            String at = "record at LSN " + r.getLsn() + " (divergent write #" + (i + 1) + ": " + e.write + ")";
            assertEquals(e.operation, operation(r.getOperation()), at + ": operation");
            assertEquals(show(cluster.recordKey(key)), show(r.getKey()), at + ": key (AgentFixture.recordKey of the key"
                    + " written)");
            assertEquals(e.before == null, !r.hasBefore(), at + ": " + (e.before == null
                    ? "an insert has no before-image" : "an update or delete has a before-image"));
            if (e.before != null) {
                assertEquals(show(cluster.recordImage(key, e.before)), show(r.getBefore()), at + ": the before-image is"
                        + " the key's value before this write (AgentFixture.recordImage of it)");
            }
            assertEquals(e.write.isDelete(), !r.hasAfter(), at + ": a delete, and only a delete, has no after-image");
            if (!e.write.isDelete()) {
                assertEquals(show(cluster.recordImage(key, e.write.value())), show(r.getAfter()),
                        at + ": the after-image is the value written (AgentFixture.recordImage of it)");
            }
        }
    }

    /**
     * Fenced: resumed after any LSN of the range, the remaining records and the same trailer. With LSNs
     * that are positions: after each position the records have, after one between each two of them
     * (and below the first, above the last), and after last_lsn, the records above it (whole
     * transactions skipped) and the same trailer. Read-only.
     */
    public void checkTailResumes(Plan p) {
        long last = p.former.getLastLsn();
        Tail whole = checkedTail(p.fork, last, 0, 0);
        assertEquals(whole.records, checkedTail(p.fork, last, p.fork, 0).records,
                "resume_after = from_exclusive streams the whole range");
        if (p.positions()) {
            for (long after : resumePoints(p.fork, last, whole.records)) {
                Tail rest = checkedTail(p.fork, last, after, 2);
                assertEquals(whole.records.stream().filter(r -> r.getLsn() > after).toList(), rest.records,
                        "resume_after " + after + " streams the records above it (it skips whole transactions)");
                assertEquals(whole.trailer, rest.trailer, "resume_after " + after
                        + ": the trailer still describes the whole range");
            }
            return;
        }
        for (long after = p.fork + 1; after <= last; after++) {
            Tail rest = checkedTail(p.fork, last, after, 2);
            int skipped = (int) (after - p.fork);
            assertEquals(whole.records.subList(skipped, whole.records.size()), rest.records,
                    "resume_after " + after + " streams the records after it");
            assertEquals(whole.trailer, rest.trailer,
                    "resume_after " + after + ": the trailer still describes the whole range");
        }
    }

    /**
     * The positions to resume after in (fork, last]: each position the records have, one between each
     * two of them, one between the fork and the first, one between the last and last_lsn, and last_lsn.
     */
    private static List<Long> resumePoints(long fork, long last, List<io.dbrollback.agent.v1.TailRecord> records) {
        TreeSet<Long> points = new TreeSet<>();
        long below = fork;
        for (io.dbrollback.agent.v1.TailRecord r : records) {
            if (r.getLsn() - below >= 2) {
                points.add(below + (r.getLsn() - below) / 2);
            }
            points.add(r.getLsn());
            below = r.getLsn();
        }
        if (last - below >= 2) {
            points.add(below + (last - below) / 2);
        }
        points.add(last);
        return List.copyOf(points);
    }

    /**
     * Any state: 0 < resume_after < from_exclusive is INVALID_REQUEST before any message (with LSNs
     * that are positions, over (fork, last] with resume_after 1, half the fork and the fork - 1). Read-only.
     */
    public void checkResumeBelowTheRangeIsInvalid(Plan p) {
        long last = timeline(Node.FORMER_PRIMARY).getLastLsn();
        if (p.positions()) { // the fork may be millions of positions: three values below it
            for (long resume : new TreeSet<>(List.of(1L, p.fork / 2, p.fork - 1))) {
                if (resume > 0 && resume < p.fork) {
                    assertResumeBelowTheRangeIsInvalid(p.fork, last, resume);
                }
            }
            return;
        }
        long from = last - 1; // at least 3: a log holds a committed record and three divergent writes
        for (long resume = 1; resume < from; resume++) {
            assertResumeBelowTheRangeIsInvalid(from, last, resume);
        }
    }

    private void assertResumeBelowTheRangeIsInvalid(long from, long last, long resume) {
        TailStream s = readTail(from, last, resume, 0);
        String what = "ReadDivergentTail(" + from + ", " + last + "] resume_after " + resume;
        assertNotNull(s.error, what + " was not refused (0 < resume_after < from_exclusive)");
        assertTrue(s.messages.isEmpty(), what + ": refused before any message");
        assertError(what, INVALID, ErrorReason.INVALID_REQUEST, s.error);
    }

    /**
     * Any state: max_records_per_chunk above 256 is clamped, not refused (over the whole log; with LSNs
     * that are positions over (fork, last], which a node must hold, where (0, last] it may no longer).
     * Read-only.
     */
    public void checkChunkBoundIsClamped(Plan p) {
        long last = timeline(Node.FORMER_PRIMARY).getLastLsn();
        if (p.positions()) {
            Tail whole = checkedTail(p.fork, last, 0, 0);
            for (int bound : new int[] {257, 100_000, Integer.MAX_VALUE}) {
                Tail t = checkedTail(p.fork, last, 0, bound); // checkedTail holds every chunk to 256
                assertEquals(whole.records, t.records, "max_records_per_chunk " + bound + ": the whole range");
            }
            return;
        }
        for (int bound : new int[] {257, 100_000, Integer.MAX_VALUE}) {
            Tail t = checkedTail(0, last, 0, bound); // checkedTail holds every chunk to 256
            assertEquals(last, t.records.size(), "max_records_per_chunk " + bound + ": the whole log");
        }
    }

    /**
     * Any state: (last, last] is one trailer of 0 records, 0 bytes and the empty SHA-256. With LSNs that
     * are positions also every range of (fork, last] between the positions the records have (positions
     * leave gaps): no record, the same trailer. Read-only.
     */
    public void checkEmptyRange(Plan p) {
        long last = timeline(Node.FORMER_PRIMARY).getLastLsn();
        assertNoRecords(last, last, "an empty range");
        if (p.positions() && p.fork < last) {
            long below = p.fork;
            for (io.dbrollback.agent.v1.TailRecord r : checkedTail(p.fork, last, 0, 0).records) {
                if (r.getLsn() - 1 > below) {
                    assertNoRecords(below, r.getLsn() - 1, "a range between two records' positions");
                }
                below = r.getLsn();
            }
            if (last > below) {
                assertNoRecords(below, last, "the range above the last record's position");
            }
        }
    }

    private void assertNoRecords(long from, long to, String what) {
        Tail empty = checkedTail(from, to, 0, 0);
        assertTrue(empty.records.isEmpty(), "no records in (" + from + ", " + to + "], " + what);
        assertEquals(TailTrailer.newBuilder().setRecordCount(0).setBytes(0).setSha256(TailDigest.emptySha256()).build(),
                empty.trailer, "the trailer of " + what + " (" + from + ", " + to
                        + "]: 0 records, 0 bytes, the empty SHA-256");
    }

    /**
     * Any state: a range whose to_inclusive is above last_lsn, empty or not, is
     * OUT_OF_RANGE/RANGE_NOT_IN_LOG before any message. Read-only.
     */
    public void checkRangeBeyondTheLog(Plan p) {
        long last = timeline(Node.FORMER_PRIMARY).getLastLsn();
        for (long[] range : new long[][] {{p.fork, last + 1}, {last + 1, last + 3}, {last + 1, last + 1},
                {last + 5, last + 5}}) {
            assertRangeNotInLog(range[0], range[1], last);
        }
    }

    private void assertRangeNotInLog(long from, long to, long last) {
        TailStream s = readTail(from, to, 0, 0);
        String what = "ReadDivergentTail(" + from + ", " + to + "] on a log ending at " + last;
        assertNotNull(s.error, what + " streamed " + s.messages.size() + " messages and no error");
        assertTrue(s.messages.isEmpty(), what + ": the error comes before any record (" + s.messages.size()
                + " messages first)");
        assertError(what, OUT_OF_RANGE, ErrorReason.RANGE_NOT_IN_LOG, s.error);
    }

    // ------------------------------------------------------------------------------------------
    // SummarizeTail (optional)
    // ------------------------------------------------------------------------------------------

    /**
     * Why the SummarizeTail checks are skipped for an agent that answers UNIMPLEMENTED: the RPC is
     * optional, and such an agent is conformant, but its summary is unknown to the operator.
     */
    public static final String SUMMARY_NOT_IMPLEMENTED = "optional RPC not implemented: SummarizeTail answered"
            + " UNIMPLEMENTED (allowed; the operator reports the tail's summary as unknown)";

    /** The former primary's SummarizeTail of (from, to], or the check skipped when the agent lacks the RPC. */
    private SummarizeTailResponse summarize(long from, long to) {
        try {
            return agent(Node.FORMER_PRIMARY).summarizeTail(SummarizeTailRequest.newBuilder().setFromExclusive(from)
                    .setToInclusive(to).build());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
                Assumptions.abort(SUMMARY_NOT_IMPLEMENTED);
            }
            throw e;
        }
    }

    /**
     * Any state (the suite fences first): SummarizeTail of (fork, last], of the range after the tail's
     * first record, and of the empty range (last, last] is what ReadDivergentTail streams for the same
     * range: record_count and bytes those of the trailer, first_commit and last_commit the earliest and
     * the latest commit time of the records (absent without records), touches an answer the operator
     * takes (at most 20, sorted, counts adding up). Skipped, saying so, when the agent answers
     * UNIMPLEMENTED. Read-only.
     */
    public void checkSummaryIsTheTails(Plan p) {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long last = p.former.getLastLsn();
        summarize(last, last); // UNIMPLEMENTED: skipped here, before anything else
        Tail whole = checkedTail(p.fork, last, 0, 0);
        assertSummaryIsTheTail(p.fork, last, whole);
        if (!whole.records.isEmpty() && whole.records.get(0).getLsn() < last) {
            long from = whole.records.get(0).getLsn();
            assertSummaryIsTheTail(from, last, checkedTail(from, last, 0, 0));
        }
        assertSummaryIsTheTail(last, last, checkedTail(last, last, 0, 0));
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "SummarizeTail is read-only");
    }

    private void assertSummaryIsTheTail(long from, long to, Tail tail) {
        String what = "SummarizeTail(" + from + ", " + to + "]";
        SummarizeTailResponse answer = summarize(from, to);
        TailSummary s;
        try {
            s = AgentAnswers.summary(answer, timeline(Node.FORMER_PRIMARY).getNode(), from, to);
        } catch (AgentAnswers.InvalidAnswer e) {
            fail(what + " broke rule " + e.rule() + ": " + e.explanation() + " (docs/agent-protocol.md,"
                    + " \"SummarizeTail\")");
            return;
        }
        assertEquals(tail.trailer.getRecordCount(), s.records(), what + ": record_count is the record_count of"
                + " ReadDivergentTail's trailer for the range");
        assertEquals(tail.trailer.getBytes(), s.bytes(), what + ": bytes are the bytes of ReadDivergentTail's"
                + " trailer for the range (the canonical encodings' lengths)");
        Instant first = null;
        Instant last = null;
        for (io.dbrollback.agent.v1.TailRecord r : tail.records) {
            Instant t = Instant.ofEpochSecond(r.getCommitTimeSeconds(), r.getCommitTimeNanos());
            first = first == null || t.isBefore(first) ? t : first;
            last = last == null || t.isAfter(last) ? t : last;
        }
        assertEquals(first, s.firstCommit(), what + ": first_commit is the earliest commit time of the records"
                + " ReadDivergentTail streams (absent for none)");
        assertEquals(last, s.lastCommit(), what + ": last_commit is the latest commit time of the records"
                + " ReadDivergentTail streams (absent for none)");
    }

    /**
     * Any state: SummarizeTail of a reversed range and of ranges above last_lsn (empty ones included) is
     * refused as ReadDivergentTail refuses them: INVALID_ARGUMENT/INVALID_REQUEST,
     * OUT_OF_RANGE/RANGE_NOT_IN_LOG. Skipped, saying so, when the agent answers UNIMPLEMENTED. Read-only.
     */
    public void checkSummaryRangeErrors(Plan p) {
        long last = timeline(Node.FORMER_PRIMARY).getLastLsn();
        summarize(last, last); // UNIMPLEMENTED: skipped here
        assertSummaryRefusedAsTheTail(last, p.fork, INVALID, ErrorReason.INVALID_REQUEST, "a reversed range");
        for (long[] range : new long[][] {{p.fork, last + 1}, {last + 1, last + 3}, {last + 1, last + 1},
                {last + 5, last + 5}}) {
            assertSummaryRefusedAsTheTail(range[0], range[1], OUT_OF_RANGE, ErrorReason.RANGE_NOT_IN_LOG,
                    "on a log ending at " + last);
        }
    }

    private void assertSummaryRefusedAsTheTail(long from, long to, Set<Status.Code> codes, ErrorReason reason,
            String why) {
        String what = "SummarizeTail(" + from + ", " + to + "], " + why;
        StatusRuntimeException tail = readTail(from, to, 0, 0).error;
        assertError("ReadDivergentTail(" + from + ", " + to + "], " + why, codes, reason, tail);
        assertRefused(what, codes, reason, () -> summarize(from, to));
        try {
            summarize(from, to);
        } catch (StatusRuntimeException e) {
            assertEquals(tail.getStatus().getCode(), e.getStatus().getCode(), what + ": the code of ReadDivergentTail's"
                    + " refusal of the same range");
            assertEquals(reason(tail), reason(e), what + ": the reason of ReadDivergentTail's refusal of the same"
                    + " range");
        }
    }

    // ------------------------------------------------------------------------------------------
    // RecoverToLsn refusals
    // ------------------------------------------------------------------------------------------

    /** Unfenced: NOT_FENCED, nothing changed. */
    public void checkRecoverRefusedWhenNotFenced(Plan p) throws Exception {
        Snapshot before = snapshot();
        assertRefused("RecoverToLsn on an unfenced node", PRECONDITION, ErrorReason.NOT_FENCED,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, incident(), p.former.getLastLsn(),
                        sha256(new byte[1]))));
        Snapshot after = snapshot();
        assertFalse(after.timeline.getFenced(), "a refused recover does not fence");
        assertNoRecoverSideEffect(before, after);
    }

    /** Fenced: expected_last_lsn one below or above last_lsn is LOG_CHANGED, nothing changed. */
    public void checkRecoverRefusedWhenTheLogChanged(Plan p) throws Exception {
        Snapshot before = snapshot();
        long last = before.timeline.getLastLsn();
        for (long expected : new long[] {last - 1, last + 1}) {
            assertRefused("RecoverToLsn expecting last LSN " + expected + " on a log ending at " + last, PRECONDITION,
                    ErrorReason.LOG_CHANGED, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term,
                            incident(), expected, sha256(new byte[2]))));
        }
        assertUnchanged(before);
    }

    /** Fenced: target_lsn = commit_lsn - 1 is BELOW_COMMIT, nothing changed. */
    public void checkRecoverRefusedBelowCommit(Plan p) throws Exception {
        Snapshot before = snapshot();
        long target = p.former.getCommitLsn() - 1;
        assertRefused("RecoverToLsn to " + target + " below commit LSN " + p.former.getCommitLsn(), PRECONDITION,
                ErrorReason.BELOW_COMMIT, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(target, p.term,
                        incident(), before.timeline.getLastLsn(), sha256(new byte[3]))));
        assertUnchanged(before);
    }

    /**
     * Fenced under a term above {@code staleTerm}: a recover under {@code staleTerm} is STALE_TERM, nothing changed.
     */
    public void checkRecoverRefusedWithAStaleTerm(Plan p, long staleTerm) throws Exception {
        Snapshot before = snapshot();
        assertRefused("RecoverToLsn under term " + staleTerm + " after term " + before.timeline.getCurrentTerm(),
                PRECONDITION, ErrorReason.STALE_TERM, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork,
                        staleTerm, incident(), before.timeline.getLastLsn(), sha256(new byte[4]))));
        assertUnchanged(before);
    }

    /**
     * Any state: target_lsn above expected_last_lsn, and an expected_rollback_file_sha256 that is not
     * 64 lower-case hex digits (it is required), are INVALID_REQUEST, before the term; nothing changed.
     */
    public void checkMalformedRecoverRequests(Plan p) throws Exception {
        Snapshot before = snapshot();
        long last = before.timeline.getLastLsn();
        long higher = before.timeline.getCurrentTerm() + 1;
        assertRefused("RecoverToLsn to " + (last + 1) + " expecting last LSN " + last, INVALID,
                ErrorReason.INVALID_REQUEST,
                () -> agent(Node.FORMER_PRIMARY)
                        .recoverToLsn(recover(last + 1, higher, incident(), last, sha256(new byte[5]))));
        String good = sha256(new byte[6]);
        for (String bad : List.of("", good.toUpperCase(Locale.ROOT), good.substring(1), good + "0",
                "g" + good.substring(1), "sha256:" + good)) {
            assertRefused("RecoverToLsn with expected_rollback_file_sha256 '" + bad + "'", INVALID,
                    ErrorReason.INVALID_REQUEST, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, higher,
                            incident(), last, bad)));
        }
        assertUnchanged(before);
    }

    /**
     * The order of RecoverToLsn's checks, where two would refuse: INVALID_REQUEST before STALE_TERM
     * before NOT_FENCED; (fenced) LOG_CHANGED before BELOW_COMMIT. Nothing changed.
     */
    public void checkRecoverChecksInOrder(Plan p) throws Exception {
        Snapshot before = snapshot();
        long last = before.timeline.getLastLsn();
        long stale = before.timeline.getCurrentTerm() - 1;
        if (stale >= 1) {
            assertRefused("RecoverToLsn with a stale term and no file SHA-256 (malformed first)", INVALID,
                    ErrorReason.INVALID_REQUEST, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, stale,
                            incident(), last, "")));
            assertRefused("RecoverToLsn with a stale term on a node that "
                    + (before.timeline.getFenced() ? "is" : "is not")
                    + " fenced (the term first)", PRECONDITION, ErrorReason.STALE_TERM,
                    () -> agent(Node.FORMER_PRIMARY)
                            .recoverToLsn(recover(Math.max(0, p.former.getCommitLsn() - 1), stale, incident(), last + 1,
                            sha256(new byte[7]))));
        }
        if (before.timeline.getFenced()) {
            assertRefused("RecoverToLsn below the commit LSN expecting another last LSN (LOG_CHANGED first)",
                    PRECONDITION, ErrorReason.LOG_CHANGED, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(
                            Math.max(0, p.former.getCommitLsn() - 1), before.timeline.getCurrentTerm(), incident(),
                            last + 1, sha256(new byte[8]))));
        } else {
            assertRefused("RecoverToLsn on an unfenced node expecting another last LSN (NOT_FENCED first)",
                    PRECONDITION, ErrorReason.NOT_FENCED, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(
                            Math.max(0, p.former.getCommitLsn() - 1), p.term, incident(), last + 1,
                            sha256(new byte[8]))));
            // the plan's term was adopted by that refusal (the one change a refused call may make)
        }
        Snapshot after = snapshot();
        assertNoRecoverSideEffect(before, after);
    }

    // ------------------------------------------------------------------------------------------
    // RecoverToLsn
    // ------------------------------------------------------------------------------------------

    /** A recover the suite made: the request (for retries) and the answer. */
    public record Recovered(RecoverToLsnRequest request, RecoverToLsnResponse response) {
    }

    /**
     * Fenced under the plan's term: reads and checks the whole tail, formats a rollback file of it and
     * writes it with WriteRollbackFile when the agent offers it (its SHA-256 is what the recover sends, as
     * the operator does), then recovers to the fork. Leaves the node recovered, still fenced.
     */
    public Recovered recoverToTheFork(Plan p, String incident) throws Exception {
        Tail tail = checkedTail(p.fork, p.former.getLastLsn(), 0, 0);
        byte[] file = rollbackFile(incident, tail);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, file, 64 * 1024), true);
        if (w.error != null && w.error.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
            fail("WriteRollbackFile of the rollback file before the recover failed: " + describe(w.error), w.error);
        }
        RecoverToLsnRequest request = recover(p.fork, p.term, incident, p.former.getLastLsn(), sha256(file));
        RecoverToLsnResponse response = agent(Node.FORMER_PRIMARY).recoverToLsn(request);
        assertWireNumbers("RecoverToLsn response", response);
        assertFalse(response.getAlreadyDone(), "the first recover of an incident is not already_done");
        assertEquals(p.former.getRollbackId() + 1, response.getRollbackId(),
                "the recover answers the rollback id plus one");
        assertEquals(p.fork, response.getLastLsn(), "the recover answers last LSN = target");
        return new Recovered(request, response);
    }

    /** Fence under the plan's term, then {@link #recoverToTheFork}. */
    public Recovered fenceAndRecover(Plan p, String incident) throws Exception {
        fenced(agent(Node.FORMER_PRIMARY).fence(fence(p.term, incident)).getTimeline(), p.term);
        return recoverToTheFork(p, incident);
    }

    /**
     * A rollback file of the tail as the suite formats it (a header line, then one line per record with
     * its canonical encoding in hex): the bytes whose SHA-256 the recover names. Never the tail digest.
     */
    private static byte[] rollbackFile(String incident, Tail tail) {
        StringBuilder b = new StringBuilder("{\"conformance\":\"rollback file\",\"incident\":\"" + incident + "\"}\n");
        for (io.dbrollback.agent.v1.TailRecord r : tail.records) {
            b.append("{\"lsn\":").append(r.getLsn()).append(",\"canonical\":\"")
                    .append(HexFormat.of().formatHex(CanonicalEncoding.toBytes(toModel(r)))).append("\"}\n");
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Recovered: the timeline after it (last LSN = fork, rollback id + 1, incident, target and file
     * SHA-256 recorded, fenced, commit LSN kept, a prefix of the new primary's log); the removed range
     * is OUT_OF_RANGE.
     */
    public Timeline checkRecovered(Plan p, Recovered r) {
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(p.fork, after.getLastLsn(), "the last LSN is the fork");
        assertEquals(p.former.getRollbackId() + 1, after.getRollbackId(), "the rollback id rose by one");
        assertEquals(r.request.getIncidentId(), after.getLastRecoveryIncident(), "the incident is recorded");
        assertEquals(p.fork, after.getLastRecoveryTargetLsn(), "the target is recorded");
        assertEquals(r.request.getExpectedRollbackFileSha256(), after.getLastRecoveryFileSha256(),
                "GetTimeline reports the recorded rollback file SHA-256 (last_recovery_file_sha256)");
        assertTrue(after.getFenced(), "still fenced after the recover (until RejoinAsReplica)");
        assertEquals(Role.ROLE_DETACHED, after.getRole(), "detached after the recover (until RejoinAsReplica)");
        assertEquals(p.term, after.getCurrentTerm(), "the term is unchanged");
        assertEquals(p.former.getCommitLsn(), after.getCommitLsn(), "the commit LSN is never rolled back");
        ForkPoint.Result again = ForkPoint.compute(history(after), Lsn.of(after.getLastLsn()),
                history(p.leader), Lsn.of(p.leader.getLastLsn()));
        assertEquals(new ForkPoint.Found(Lsn.of(p.fork), ((ForkPoint.Found) p.forkResult).commonTerm()), again,
                "after the recover the former primary's log is a prefix of the new primary's");
        assertRangeNotInLog(p.fork, p.former.getLastLsn(), p.fork);
        assertEquals(0, checkedTail(p.fork, p.fork, 0, 0).trailer.getRecordCount(), "nothing above the fork");
        return after;
    }

    /** Recovered: the data is the data at the fork (needs the fixture). */
    public void checkDataAtTheFork() throws Exception {
        Map<ByteString, ByteString> atFork = required(cluster::dataAtFork);
        assertEquals(show(atFork), show(cluster.readData(Node.FORMER_PRIMARY)),
                "the data is the data at the fork: every divergent write undone");
    }

    /**
     * Recovered: the history after the recover describes the shorter log and nothing else: no entry the
     * node did not have before (RecoverToLsn, like Fence, adds none), none beginning above the new last
     * LSN, the same term for every LSN up to it.
     */
    public void checkHistoryAfterTheRecover(Plan p) {
        Timeline after = timeline(Node.FORMER_PRIMARY);
        TermHistory before = history(p.former);
        TermHistory now = history(after);
        for (TermHistoryEntry e : after.getHistoryList()) {
            assertTrue(p.former.getHistoryList().contains(e), "the recover added the history entry " + e.getTerm()
                    + "@" + e.getFirstLsn() + ": Fence and RecoverToLsn add none (" + after.getHistoryList() + ")");
            if (after.getLastLsn() > 0) {
                assertTrue(e.getFirstLsn() <= after.getLastLsn(), "no entry begins above the new last LSN "
                        + after.getLastLsn() + ": " + after.getHistoryList());
            }
        }
        if (p.positions()) { // the terms change only where an entry begins: compare there, and at both ends
            TreeSet<Long> at = new TreeSet<>(List.of(1L, after.getLastLsn()));
            for (TermHistoryEntry e : p.former.getHistoryList()) {
                at.addAll(List.of(e.getFirstLsn() - 1, e.getFirstLsn()));
            }
            for (TermHistoryEntry e : after.getHistoryList()) {
                at.addAll(List.of(e.getFirstLsn() - 1, e.getFirstLsn()));
            }
            for (long lsn : at.subSet(1L, true, Math.max(1L, after.getLastLsn()), after.getLastLsn() >= 1)) {
                assertEquals(before.termAt(Lsn.of(lsn)), now.termAt(Lsn.of(lsn)),
                        "the term of position " + lsn + " is kept");
            }
            return;
        }
        for (long lsn = 1; lsn <= after.getLastLsn(); lsn++) {
            assertEquals(before.termAt(Lsn.of(lsn)), now.termAt(Lsn.of(lsn)), "the term of LSN " + lsn + " is kept");
        }
    }

    /** Recovered: a retry answers the recorded outcome, already_done, and changes nothing. */
    public void checkRecoverRetry(Plan p, Recovered r) throws Exception {
        Timeline after = timeline(Node.FORMER_PRIMARY);
        Map<ByteString, ByteString> data = known(() -> cluster.readData(Node.FORMER_PRIMARY));
        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request);
        assertTrue(retry.getAlreadyDone(), "a retry of the same incident answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(), "a retry answers the same rollback id");
        assertEquals(p.fork, retry.getLastLsn(), "a retry answers the same last LSN");
        assertEquals(after, timeline(Node.FORMER_PRIMARY), "a retry changes nothing (no second bump)");
        if (data != null) {
            assertEquals(show(data), show(cluster.readData(Node.FORMER_PRIMARY)), "a retry changes no data");
        }
    }

    /**
     * Recovered: a retry of the recorded incident with another target_lsn, expected_last_lsn or file
     * SHA-256 is RECOVER_CONFLICT and changes nothing.
     */
    public void checkRecoverConflicts(Plan p, Recovered r) {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        RecoverToLsnRequest q = r.request;
        Map<String, RecoverToLsnRequest> others = new LinkedHashMap<>();
        others.put("another target_lsn", q.toBuilder().setTargetLsn(q.getTargetLsn() + 1).build());
        others.put("another expected_last_lsn", q.toBuilder().setExpectedLastLsn(q.getExpectedLastLsn() + 1).build());
        others.put("another expected_rollback_file_sha256", q.toBuilder()
                .setExpectedRollbackFileSha256(sha256(
                        q.getExpectedRollbackFileSha256().getBytes(StandardCharsets.UTF_8)))
                .build());
        others.forEach((what, request) -> assertRefused("a retry of the recovered incident with " + what,
                PRECONDITION, ErrorReason.RECOVER_CONFLICT, () -> agent(Node.FORMER_PRIMARY).recoverToLsn(request)));
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "a conflicting retry changes nothing");
    }

    /** Recovered: the same retry under a higher term adopts it and answers already_done (a fresh cluster only). */
    public void checkRecoverRetryUnderAHigherTerm(Plan p, Recovered r) {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request.toBuilder()
                .setTerm(r.request.getTerm() + 1).build());
        assertTrue(retry.getAlreadyDone(), "a retry under a higher term answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(), "the recorded rollback id");
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(r.request.getTerm() + 1, after.getCurrentTerm(), "the higher term is adopted");
        assertEquals(before.toBuilder().setCurrentTerm(after.getCurrentTerm()).build(), after,
                "nothing else changed");
    }

    /**
     * Recovered (for one incident): a recover for another incident that expects the last LSN from
     * before is LOG_CHANGED (never INCIDENT_SUPERSEDED, which v1 reserves), nothing changed.
     */
    public void checkOvertakenRecoverIsLogChanged(Plan p) throws Exception {
        Snapshot before = snapshot();
        assertRefused("a recover for another incident expecting the last LSN " + p.former.getLastLsn()
                + " from before the recover", PRECONDITION, ErrorReason.LOG_CHANGED,
                () -> agent(Node.FORMER_PRIMARY).recoverToLsn(recover(p.fork, p.term, incident(),
                        p.former.getLastLsn(), sha256(new byte[9]))));
        assertUnchanged(before);
    }

    /**
     * Fenced, not recovered: a recover that removes nothing (target = expected = last LSN) is an
     * incident all the same: rollback id + 1, incident recorded, nothing removed; a retry is already_done.
     */
    public void checkRecoverThatRemovesNothing(Plan p) throws Exception {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        long last = before.getLastLsn();
        String incident = incident();
        RecoverToLsnRequest request = recover(last, before.getCurrentTerm(), incident, last, sha256(new byte[10]));
        RecoverToLsnResponse r = agent(Node.FORMER_PRIMARY).recoverToLsn(request);
        assertFalse(r.getAlreadyDone(), "a first recover is not already_done");
        assertEquals(before.getRollbackId() + 1, r.getRollbackId(),
                "the rollback id rises although nothing is removed");
        assertEquals(last, r.getLastLsn(), "nothing removed");
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(before.getRollbackId() + 1, after.getRollbackId(), "the rollback id rose by one");
        assertEquals(incident, after.getLastRecoveryIncident(), "the incident is recorded");
        assertEquals(last, after.getLastRecoveryTargetLsn(), "the target is recorded");
        assertEquals(before.getHistoryList(), after.getHistoryList(), "the history is unchanged");
        assertEquals(last, after.getLastLsn(), "the log is unchanged");
        assertTrue(agent(Node.FORMER_PRIMARY).recoverToLsn(request).getAlreadyDone(), "a retry is already_done");
        assertEquals(after, timeline(Node.FORMER_PRIMARY), "the retry changes nothing");
    }

    /** Recovered: the recover and its retry survive a restart (needs the fixture's restart). */
    public void checkRecoverSurvivesRestart(Recovered r) throws Exception {
        Timeline recovered = timeline(Node.FORMER_PRIMARY);
        restartFormerPrimary();
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(recovered.getLastLsn(), after.getLastLsn(), "last LSN after a restart");
        assertEquals(recovered.getRollbackId(), after.getRollbackId(), "rollback id after a restart");
        assertEquals(recovered.getLastRecoveryIncident(), after.getLastRecoveryIncident(), "incident after a restart");
        assertEquals(recovered.getLastRecoveryTargetLsn(), after.getLastRecoveryTargetLsn(), "target after a restart");
        assertEquals(recovered.getLastRecoveryFileSha256(), after.getLastRecoveryFileSha256(),
                "file SHA-256 after a restart");
        assertEquals(recovered.getCurrentTerm(), after.getCurrentTerm(), "term after a restart");
        assertEquals(recovered.getHistoryList(), after.getHistoryList(), "history after a restart");
        assertTrue(after.getFenced(), "still fenced after a restart");
        checkDataAtTheFork();
        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request);
        assertTrue(retry.getAlreadyDone(), "a retry after a restart answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(),
                "a retry after a restart answers the same rollback id");
    }

    // ------------------------------------------------------------------------------------------
    // RejoinAsReplica
    // ------------------------------------------------------------------------------------------

    /**
     * Recovered: RejoinAsReplica makes a replica following the given address, unfenced, same rollback
     * id, idempotent; its response's history has no entry without records. Leaves the node a replica.
     */
    public void checkRejoin(Plan p, String incident) {
        long rollbackId = timeline(Node.FORMER_PRIMARY).getRollbackId();
        List<TermHistoryEntry> before = timeline(Node.FORMER_PRIMARY).getHistoryList();
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        for (String when : List.of("RejoinAsReplica", "a repeated RejoinAsReplica")) {
            Timeline joined = agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(address, p.term, incident))
                    .getTimeline();
            assertTimeline(Node.FORMER_PRIMARY, when + " response", joined);
            assertEquals(Role.ROLE_REPLICA, joined.getRole(), when + ": a replica");
            assertEquals(address, joined.getFollowing(), when + ": following the given address");
            assertFalse(joined.getFenced(), when + ": the fence is lifted");
            assertEquals(p.term, joined.getCurrentTerm(), when + ": under the rejoin's term");
            assertEquals(rollbackId, joined.getRollbackId(), when + ": the rollback id is unchanged");
            for (TermHistoryEntry e : joined.getHistoryList()) {
                assertTrue(before.contains(e) || e.getFirstLsn() <= joined.getLastLsn(),
                        when + " added the history entry "
                        + e.getTerm() + "@" + e.getFirstLsn() + " with no record (last LSN " + joined.getLastLsn()
                        + "): RejoinAsReplica adds none");
            }
        }
    }

    /** Rejoined: waits until the former primary caught up (by its timeline), then histories and LSNs agree. */
    public void checkCaughtUp(Plan p) throws Exception {
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        if (known(() -> {
            cluster.awaitFormerPrimaryCaughtUp(CATCH_UP_TIMEOUT);
            return Boolean.TRUE;
        }) == null) {
            long deadline = System.nanoTime() + CATCH_UP_TIMEOUT.toNanos();
            while (timeline(Node.FORMER_PRIMARY).getLastLsn() != timeline(Node.NEW_PRIMARY).getLastLsn()) {
                assertTrue(System.nanoTime() < deadline,
                        "the former primary did not reach the new primary's last LSN in "
                        + CATCH_UP_TIMEOUT.toSeconds() + " s after the rejoin");
                Thread.sleep(50);
            }
        }
        Timeline follower = timeline(Node.FORMER_PRIMARY);
        Timeline leader = timeline(Node.NEW_PRIMARY);
        assertEquals(Role.ROLE_REPLICA, follower.getRole(), "still a replica after catch-up");
        assertEquals(address, follower.getFollowing(), "still following " + address);
        assertEquals(leader.getLastLsn(), follower.getLastLsn(), "caught up: same last LSN as the new primary");
        ForkPoint.Result shared = ForkPoint.compute(history(follower), Lsn.of(follower.getLastLsn()),
                history(leader), Lsn.of(leader.getLastLsn()));
        assertTrue(shared instanceof ForkPoint.Found f && f.lsn().value() == leader.getLastLsn(),
                "caught up: the two histories agree to the end; the fork point is " + shared + "\nformer primary: "
                        + follower + "\nnew primary: " + leader);
    }

    /** Caught up: the former primary's data is the new primary's (needs the fixture). */
    public void checkCaughtUpData() throws Exception {
        Map<ByteString, ByteString> leader = required(() -> cluster.readData(Node.NEW_PRIMARY));
        assertEquals(show(leader), show(cluster.readData(Node.FORMER_PRIMARY)),
                "caught up: the former primary's data is the new primary's");
    }

    /** Caught up: a late retry of the recover answers the recorded outcome and removes nothing. */
    public void checkLateRecoverRetry(Plan p, Recovered r) throws Exception {
        Timeline caughtUp = timeline(Node.FORMER_PRIMARY);
        Map<ByteString, ByteString> data = known(() -> cluster.readData(Node.FORMER_PRIMARY));
        RecoverToLsnResponse retry = agent(Node.FORMER_PRIMARY).recoverToLsn(r.request);
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(caughtUp.getLastLsn(), after.getLastLsn(), "a late retry removes nothing");
        assertEquals(caughtUp.getRollbackId(), after.getRollbackId(), "a late retry does not bump the rollback id");
        assertEquals(Role.ROLE_REPLICA, after.getRole(), "a late retry leaves the node a replica");
        assertFalse(after.getFenced(), "a late retry does not fence");
        if (data != null) {
            assertEquals(show(data), show(cluster.readData(Node.FORMER_PRIMARY)), "a late retry changes no data");
        }
        assertTrue(retry.getAlreadyDone(), "a late retry answers already_done");
        assertEquals(r.response.getRollbackId(), retry.getRollbackId(),
                "a late retry answers the recorded rollback id");
        assertEquals(p.fork, retry.getLastLsn(), "a late retry answers the recorded outcome: last_lsn = target_lsn "
                + p.fork + " (the log has since grown to " + after.getLastLsn() + ")");
    }

    /** Fenced: a stale RejoinAsReplica is STALE_TERM; the node stays fenced. */
    public void checkStaleRejoinOfAFencedNode(Plan p) {
        Timeline fenced = timeline(Node.FORMER_PRIMARY);
        assertRefused("RejoinAsReplica under term " + (p.term - 1) + " on a node fenced under "
                + fenced.getCurrentTerm(),
                PRECONDITION, ErrorReason.STALE_TERM, () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(
                        rejoin(cluster.replicationAddress(Node.NEW_PRIMARY), p.term - 1, incident())));
        assertEquals(fenced, timeline(Node.FORMER_PRIMARY), "a stale rejoin changes nothing: the node stays fenced");
    }

    /** A replica: a stale RejoinAsReplica is STALE_TERM; it keeps its primary and term. */
    public void checkStaleRejoinOfAReplica(Plan p) {
        String address = cluster.replicationAddress(Node.NEW_PRIMARY);
        assertRefused("RejoinAsReplica under term " + (p.term - 1) + " on a replica of term " + p.term, PRECONDITION,
                ErrorReason.STALE_TERM, () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(
                        rejoin("stale-primary.invalid:7000", p.term - 1, incident())));
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(Role.ROLE_REPLICA, after.getRole(), "still a replica");
        assertEquals(address, after.getFollowing(), "still following " + address);
        assertEquals(p.term, after.getCurrentTerm(), "term unchanged");
        assertFalse(after.getFenced(), "not fenced");
    }

    /**
     * Fenced, not recovered: RejoinAsReplica to the new primary, whose log does not hold the divergent
     * tail, is LOG_DIVERGED; the node stays fenced, its log and data unchanged, and the call's higher term is not
     * adopted.
     */
    public void checkRejoinOfADivergedNodeIsRefused(Plan p) throws Exception {
        Snapshot before = snapshot();
        assertRefused("RejoinAsReplica of the former primary before its recover", PRECONDITION,
                ErrorReason.LOG_DIVERGED,
                () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(cluster.replicationAddress(Node.NEW_PRIMARY),
                        p.term + 1, incident())));
        assertUnchanged(before); // the call's higher term included: a refused rejoin adopts nothing
        assertTrue(before.timeline.getFenced(), "the node was fenced, and stays fenced");
    }

    /**
     * Any state: RejoinAsReplica to a primary that cannot be reached is UNAVAILABLE and changes nothing, not even the
     * term (the call's is higher).
     */
    public void checkRejoinOfAnUnreachablePrimary(Plan p) throws Exception {
        Snapshot before = snapshot();
        String nowhere = "unreachable-primary.invalid:7000";
        assertRefused("RejoinAsReplica to " + nowhere + " (RFC 6761: never resolves)", Set.of(Status.Code.UNAVAILABLE),
                null, () -> agent(Node.FORMER_PRIMARY).rejoinAsReplica(rejoin(nowhere,
                        before.timeline.getCurrentTerm() + 1, incident())));
        assertUnchanged(before); // the call's higher term included: a refused rejoin adopts nothing
    }

    // ------------------------------------------------------------------------------------------
    // Rollback files
    // ------------------------------------------------------------------------------------------

    /** Whether the agent offers the file RPCs (a read of a file that does not exist is not UNIMPLEMENTED). */
    public boolean offersFileRpcs() {
        StatusRuntimeException e = readFile(Node.FORMER_PRIMARY, incident(), 1).error;
        return e == null || e.getStatus().getCode() != Status.Code.UNIMPLEMENTED;
    }

    /** Any state: written, read back, written again (already_existed), an empty plan 2; no timeline change. */
    public void checkFileWrittenAndReadBack(Plan p) throws Exception {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        String incident = incident();
        byte[] bytes = fileBytes(300_000, 1);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, before.getCurrentTerm(), 1, bytes, 64 * 1024),
                true);
        assertNull(w.error, "WriteRollbackFile failed: " + (w.error == null ? "" : describe(w.error)));
        assertEquals(bytes.length, w.response.getSize(), "the size the agent wrote");
        assertEquals(sha256(bytes), w.response.getSha256(), "the SHA-256 the agent computed");
        assertFalse(w.response.getAlreadyExisted(), "a new file");
        assertTrue(w.response.getPath().startsWith("/"), "an absolute path: " + w.response.getPath());
        assertTrue(w.response.getPath().endsWith("/" + incident + "-plan1.rollback.jsonl"),
                "named <incident>-plan<N>.rollback.jsonl: " + w.response.getPath());

        ReadBack r = readFile(Node.FORMER_PRIMARY, incident, 1);
        assertNull(r.error, "ReadRollbackFile failed: " + (r.error == null ? "" : describe(r.error)));
        assertArrayEquals(bytes, r.bytes, "ReadRollbackFile streams the bytes written");
        assertEquals(RollbackFileEnd.newBuilder().setSize(bytes.length).setSha256(sha256(bytes)).build(), r.end,
                "the end message: size and SHA-256 of what was read");
        ReadBack digest = readFile(Node.FORMER_PRIMARY, incident, 1, true);
        assertNull(digest.error, "ReadRollbackFile with digest_only failed: "
                + (digest.error == null ? "" : describe(digest.error)));
        assertTrue(digest.bytes.length == 0 || Arrays.equals(bytes, digest.bytes), "ReadRollbackFile with digest_only"
                + " sends no data (or, from an agent that predates the field, the whole file)");
        assertEquals(r.end, digest.end, "ReadRollbackFile with digest_only: the end message holds the size and"
                + " SHA-256 of the file on disk");

        Written again = writeFile(Node.FORMER_PRIMARY,
                fileMessages(incident, before.getCurrentTerm(), 1, bytes, 100_000), true);
        assertNull(again.error, "writing the same bytes again failed: "
                + (again.error == null ? "" : describe(again.error)));
        assertTrue(again.response.getAlreadyExisted(), "writing the same bytes again finds the file (already_existed)");
        assertEquals(w.response.getPath(), again.response.getPath(), "the same path");
        assertEquals(w.response.getSha256(), again.response.getSha256(), "the same SHA-256");

        Written plan2 = writeFile(Node.FORMER_PRIMARY,
                fileMessages(incident, before.getCurrentTerm(), 2, new byte[0], 1), true);
        assertNull(plan2.error, "an empty file for plan 2 failed: "
                + (plan2.error == null ? "" : describe(plan2.error)));
        assertTrue(plan2.response.getPath().endsWith("/" + incident + "-plan2.rollback.jsonl"),
                plan2.response.getPath());
        assertEquals(sha256(new byte[0]), plan2.response.getSha256(), "the SHA-256 of an empty file");
        assertArrayEquals(bytes, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "plan 1's file is untouched");
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "the file RPCs never touch the log or the fence");
    }

    /**
     * Any state: onto an existing name the agent takes the whole stream and decides at the half-close:
     * the same bytes are already_existed, other bytes FILE_EXISTS; the file keeps its bytes.
     */
    public void checkFileNeverReplaced(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] first = fileBytes(50_000, 2);
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, first, 1024), true).error);
        Written same = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, first, 1024), true);
        assertFalse(same.beforeHalfClose, "onto an existing name the agent answered before the half-close"
                + " (it must take the whole stream)");
        assertNull(same.error, "the same bytes onto the existing name: "
                + (same.error == null ? "" : describe(same.error)));
        assertTrue(same.response.getAlreadyExisted(), "the same bytes: already_existed");
        byte[] other = fileBytes(50_000, 3);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, other, 1024), true);
        assertFalse(w.beforeHalfClose, "onto an existing name the agent refused before the half-close: "
                + (w.error == null ? "" : describe(w.error))
                + " (it must take the whole stream and decide at the half-close)");
        assertNotNull(w.error, "other bytes under an existing name were accepted: " + w.response);
        assertError("WriteRollbackFile of other bytes under an existing name", Set.of(Status.Code.ALREADY_EXISTS),
                ErrorReason.FILE_EXISTS, w.error);
        assertArrayEquals(first, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "the file keeps its bytes");
    }

    /** Fenced under the plan's term: a write and a quarantine under an older term are STALE_TERM, nothing changed. */
    public void checkStaleFileCallsAreRefused(Plan p) throws Exception {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        String incident = incident();
        byte[] bytes = fileBytes(2_000, 4);
        Written stale = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term - 1, 1, bytes, 512), true);
        assertNotNull(stale.error, "a write under term " + (p.term - 1) + " after term " + p.term + " was accepted");
        assertError("WriteRollbackFile under a stale term", PRECONDITION, ErrorReason.STALE_TERM, stale.error);
        assertError("ReadRollbackFile after a refused write", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, p.term, 1, bytes, 512), true).error);
        assertRefused("QuarantineRollbackFile under a stale term", PRECONDITION, ErrorReason.STALE_TERM,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, p.term - 1, 1, 1000)));
        assertArrayEquals(bytes, readFile(Node.FORMER_PRIMARY, incident, 1).bytes,
                "a stale quarantine renames nothing");
        assertEquals(before, timeline(Node.FORMER_PRIMARY), "refused file calls change nothing");
    }

    /**
     * Fenced: a write under a higher term is accepted and adopts it, log and fence unchanged (a fresh cluster only).
     */
    public void checkFileWriteAdoptsAHigherTerm(Plan p) throws Exception {
        Timeline before = timeline(Node.FORMER_PRIMARY);
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident(), before.getCurrentTerm() + 1, 2,
                fileBytes(2_000, 4), 512), true).error, "a write under a higher term is accepted");
        Timeline after = timeline(Node.FORMER_PRIMARY);
        assertEquals(before.getCurrentTerm() + 1, after.getCurrentTerm(), "WriteRollbackFile adopts a higher term");
        assertEquals(before.getLastLsn(), after.getLastLsn(), "and removes nothing");
        assertEquals(before.getFenced(), after.getFenced(), "and leaves the fence as it was");
    }

    /**
     * Fenced: a write whose term goes stale while its bytes stream (a Fence under a higher term arrives)
     * is STALE_TERM at the half-close and publishes nothing (raises the term: a fresh cluster only).
     */
    public void checkStaleTermAtTheLinkPublishesNothing(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        List<WriteRollbackFileRequest> all = fileMessages(incident, term, 1, fileBytes(20_000, 12), 1024);
        Written w = writeFile(Node.FORMER_PRIMARY, all, true, all.size() - 1,
                () -> agent(Node.FORMER_PRIMARY).fence(fence(term + 1, incident())));
        assertNotNull(w.error, "a write whose term went stale before its end was published: " + w.response);
        assertError("WriteRollbackFile whose term went stale before the half-close", PRECONDITION,
                ErrorReason.STALE_TERM, w.error);
        assertError("ReadRollbackFile after it", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        assertNoTemporaryFiles(incident, List.of());
    }

    /** Any state: malformed calls are INVALID_REQUEST (a wrong end TRANSFER_MISMATCH) and publish nothing. */
    public void checkMalformedFileCalls(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] bytes = fileBytes(3_000, 5);
        WriteRollbackFileRequest data = WriteRollbackFileRequest.newBuilder().setData(ByteString.copyFrom(bytes))
                .build();
        WriteRollbackFileRequest end = WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder()
                .setSize(bytes.length).setSha256(sha256(bytes))).build();
        Map<String, List<WriteRollbackFileRequest>> invalid = new LinkedHashMap<>();
        invalid.put("term 0", List.of(begin(incident, 0, 1), data, end));
        invalid.put("an empty incident id", List.of(begin("", term, 1), data, end));
        invalid.put("plan 0", List.of(begin(incident, term, 0), data, end));
        invalid.put("data before begin", List.of(data, begin(incident, term, 1), end));
        invalid.put("two begin messages", List.of(begin(incident, term, 1), begin(incident, term, 1), data, end));
        invalid.put("no end message", List.of(begin(incident, term, 1), data));
        invalid.put("data after the end message", List.of(begin(incident, term, 1),
                WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(0)
                        .setSha256(sha256(new byte[0]))).build(), data));
        for (String escape : List.of("../escape", "a/b", "..", ".", "/etc/passwd", "x\u0000y", "UPPER/../x")) {
            invalid.put("incident id " + escape, List.of(begin(escape, term, 1), data, end));
        }
        for (Map.Entry<String, List<WriteRollbackFileRequest>> c : invalid.entrySet()) {
            Written w = writeFile(Node.FORMER_PRIMARY, c.getValue(), true);
            assertNotNull(w.error, "WriteRollbackFile with " + c.getKey() + " was accepted: " + w.response);
            assertError("WriteRollbackFile with " + c.getKey(), INVALID, ErrorReason.INVALID_REQUEST, w.error);
        }
        Map<String, RollbackFileEnd> wrongEnd = Map.of(
                "a size one short", RollbackFileEnd.newBuilder().setSize(bytes.length - 1).setSha256(sha256(bytes))
                        .build(),
                "another SHA-256", RollbackFileEnd.newBuilder().setSize(bytes.length).setSha256(sha256(new byte[1]))
                        .build());
        for (Map.Entry<String, RollbackFileEnd> c : wrongEnd.entrySet()) {
            Written w = writeFile(Node.FORMER_PRIMARY, List.of(begin(incident, term, 1), data,
                    WriteRollbackFileRequest.newBuilder().setEnd(c.getValue()).build()), true);
            assertNotNull(w.error, "WriteRollbackFile whose end message announces " + c.getKey() + " was accepted");
            assertError("WriteRollbackFile whose end message announces " + c.getKey(), Set.of(Status.Code.ABORTED),
                    ErrorReason.TRANSFER_MISMATCH, w.error);
        }
        assertError("ReadRollbackFile after refused writes", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
    }

    /**
     * Any state: a data message above 1 MiB is INVALID_REQUEST and publishes nothing; exactly 1 MiB is
     * accepted.
     */
    public void checkDataMessagesAtMostOneMebibyte(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] big = fileBytes(MAX_DATA + 1, 13);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, big, big.length), true);
        assertNotNull(w.error, "a data message of " + big.length + " bytes (above 1 MiB) was accepted");
        assertError("WriteRollbackFile with a data message of 1 MiB + 1 byte", INVALID, ErrorReason.INVALID_REQUEST,
                w.error);
        assertError("ReadRollbackFile after it", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        byte[] exact = Arrays.copyOf(big, MAX_DATA);
        Written ok = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, exact, exact.length), true);
        assertNull(ok.error, "a data message of exactly 1 MiB: " + (ok.error == null ? "" : describe(ok.error)));
        assertEquals(sha256(exact), ok.response.getSha256());
    }

    /** Any state: a write cancelled halfway publishes nothing; a complete write afterwards is a new file. */
    public void checkAbandonedWritePublishesNothing(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] bytes = fileBytes(200_000, 6);
        List<WriteRollbackFileRequest> all = fileMessages(incident, term, 1, bytes, 16 * 1024);
        Written cut = writeFile(Node.FORMER_PRIMARY, all.subList(0, all.size() / 2), false);
        assertNull(cut.response, "a cancelled write has no answer");
        assertError("ReadRollbackFile after a cancelled write", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        Written w = writeFile(Node.FORMER_PRIMARY, all, true);
        assertNull(w.error, "a complete write after a cancelled one failed: "
                + (w.error == null ? "" : describe(w.error)));
        assertFalse(w.response.getAlreadyExisted(), "nothing of the cancelled write was published");
        assertArrayEquals(bytes, readFile(Node.FORMER_PRIMARY, incident, 1).bytes);
    }

    /** Any state: rename to {@code <name>.quarantined-<stamp>}, idempotent, never replacing; FILE_NOT_FOUND. */
    public void checkQuarantine(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] bytes = fileBytes(4_000, 7);
        String path = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, bytes, 1024),
                true).response.getPath();
        String quarantined = agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 1, 1000))
                .getQuarantinedPath();
        assertEquals(path + ".quarantined-1000", quarantined, "renamed to <name>.quarantined-<stamp>");
        assertError("ReadRollbackFile after the quarantine", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        assertEquals(quarantined, agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 1, 1000))
                .getQuarantinedPath(), "a repeated quarantine answers the same name");

        byte[] next = fileBytes(4_000, 8);
        Written w = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, next, 1024), true);
        assertNull(w.error);
        assertFalse(w.response.getAlreadyExisted(), "after the quarantine the name is free");
        assertRefused("QuarantineRollbackFile onto a quarantined name holding other bytes",
                Set.of(Status.Code.ALREADY_EXISTS), ErrorReason.FILE_EXISTS,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 1, 1000)));
        assertArrayEquals(next, readFile(Node.FORMER_PRIMARY, incident, 1).bytes, "nothing was renamed");
        assertRefused("QuarantineRollbackFile of a file never written", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                () -> agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 7, 1000)));
        assertQuarantinedBytes(quarantined, bytes);
    }

    /**
     * Any state: with the file and its quarantined name both present with the same bytes (a quarantine
     * cut between its link and its unlink), a quarantine completes: it answers the quarantined name and
     * the file's name is gone.
     */
    public void checkQuarantineCompletesAnInterruptedRename(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] bytes = fileBytes(3_000, 14);
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, bytes, 1024), true).error);
        String quarantined = agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 1, 2000))
                .getQuarantinedPath();
        Written again = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 1, bytes, 1024), true);
        assertNull(again.error, "the same bytes under the freed name: "
                + (again.error == null ? "" : describe(again.error)));
        assertEquals(quarantined, agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 1, 2000))
                .getQuarantinedPath(), "both names holding the same bytes: the quarantine completes with its name");
        assertError("ReadRollbackFile after the completed quarantine", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readFile(Node.FORMER_PRIMARY, incident, 1).error);
        assertQuarantinedBytes(quarantined, bytes);
    }

    /** The quarantined file keeps its bytes, where the test can see the agent's files (not over the protocol). */
    private void assertQuarantinedBytes(String quarantined, byte[] bytes) throws Exception {
        Path local = known(() -> cluster.localFile(Node.FORMER_PRIMARY, quarantined));
        if (local != null) {
            assertArrayEquals(bytes, Files.readAllBytes(local), "the quarantined file keeps its bytes");
        }
    }

    /** Any state: mode 0600 in a 0700 directory, no temporary file left of a cancelled call (needs localFile). */
    public void checkFileIsPrivate(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] bytes = fileBytes(10_000, 9);
        List<WriteRollbackFileRequest> all = fileMessages(incident, term, 1, bytes, 1024);
        writeFile(Node.FORMER_PRIMARY, all.subList(0, 3), false);
        String path = writeFile(Node.FORMER_PRIMARY, all, true).response.getPath();
        Path local = required(() -> cluster.localFile(Node.FORMER_PRIMARY, path));
        assertArrayEquals(bytes, Files.readAllBytes(local), "the bytes on disk");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local)),
                "file mode 0600");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local.getParent())),
                "directory mode 0700");
        assertNoTemporaryFiles(incident, List.of(local.getFileName().toString()));
    }

    /**
     * Any state: every write that ends without publishing (cancelled, malformed, TRANSFER_MISMATCH, a
     * data message above 1 MiB) leaves no file of its own in the directory (needs localFile).
     */
    public void checkFailedWritesLeaveNoTemporaryFile(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        byte[] bytes = fileBytes(40_000, 15);
        List<WriteRollbackFileRequest> all = fileMessages(incident, term, 1, bytes, 1024);
        String dirProbe = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 9, new byte[0], 1), true)
                .response.getPath();
        required(() -> cluster.localFile(Node.FORMER_PRIMARY, dirProbe));
        List<String> published = List.of(Path.of(dirProbe).getFileName().toString());
        writeFile(Node.FORMER_PRIMARY, all.subList(0, all.size() / 2), false);
        assertNoTemporaryFiles(incident, published);
        List<WriteRollbackFileRequest> wrongEnd = new ArrayList<>(all.subList(0, all.size() - 1));
        wrongEnd.add(WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(1)
                .setSha256(sha256(new byte[1]))).build());
        assertNotNull(writeFile(Node.FORMER_PRIMARY, wrongEnd, true).error);
        assertNoTemporaryFiles(incident, published);
        assertNotNull(writeFile(Node.FORMER_PRIMARY, all.subList(0, all.size() - 1), true).error, "no end message");
        assertNoTemporaryFiles(incident, published);
        List<WriteRollbackFileRequest> twoBegins = new ArrayList<>(all.subList(0, 5));
        twoBegins.add(begin(incident, term, 1));
        assertNotNull(writeFile(Node.FORMER_PRIMARY, twoBegins, true).error, "two begin messages");
        assertNoTemporaryFiles(incident, published);
        byte[] big = fileBytes(MAX_DATA + 1, 16);
        List<WriteRollbackFileRequest> tooBig = new ArrayList<>(all.subList(0, 5));
        tooBig.add(WriteRollbackFileRequest.newBuilder().setData(ByteString.copyFrom(big)).build());
        assertNotNull(writeFile(Node.FORMER_PRIMARY, tooBig, true).error, "a data message above 1 MiB");
        assertNoTemporaryFiles(incident, published);
    }

    /**
     * Any state: temporary files that a call left when its agent died (no running call holds them) are
     * removed at the next begin for the incident; published and quarantined files stay (needs localFile
     * and the fixture's restart, which must leave the files a killed process leaves).
     */
    public void checkLeftoversRemovedAtBegin(Plan p) throws Exception {
        long term = timeline(Node.FORMER_PRIMARY).getCurrentTerm();
        String incident = incident();
        String published = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 3, fileBytes(500, 17), 100),
                true)
                .response.getPath();
        Path dir = required(() -> cluster.localFile(Node.FORMER_PRIMARY, published)).getParent();
        assertNull(writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 4, fileBytes(500, 18), 100),
                true).error);
        String quarantined = agent(Node.FORMER_PRIMARY).quarantineRollbackFile(quarantine(incident, term, 4, 5))
                .getQuarantinedPath();
        Set<String> kept = Set.of(Path.of(published).getFileName().toString(),
                Path.of(quarantined).getFileName().toString());

        List<WriteRollbackFileRequest> all = fileMessages(incident, term, 1, fileBytes(100_000, 19), 1024);
        CallInFlight running = startWrite(Node.FORMER_PRIMARY, all.subList(0, all.size() / 2), true);
        List<String> inFlight = awaitOtherFiles(dir, incident, kept);
        try {
            restartFormerPrimary();
        } finally {
            running.detach(); // only now: a client that cancels first would have the agent clean up
        }
        List<String> left = otherFiles(dir, incident, kept);
        if (left.isEmpty()) {
            Assumptions.abort("the restart left no temporary file of the call in flight (" + inFlight
                    + " were removed on the way down), so there is no leftover for a begin to remove");
        }
        Written next = writeFile(Node.FORMER_PRIMARY, fileMessages(incident, term, 2, fileBytes(500, 20), 100), true);
        assertNull(next.error, "a write after the restart: " + (next.error == null ? "" : describe(next.error)));
        List<String> afterBegin = otherFiles(dir, incident, kept);
        afterBegin.remove(Path.of(next.response.getPath()).getFileName().toString());
        assertEquals(List.of(), afterBegin, "the leftovers " + left + " of the call cut by the restart are removed at"
                + " the next begin for the incident");
        for (String k : kept) {
            assertTrue(Files.exists(dir.resolve(k)), "a published or quarantined file is never removed: " + k);
        }
    }

    /** The incident's files in {@code dir} other than {@code kept}, waiting (10 s at most) until there are some. */
    private static List<String> awaitOtherFiles(Path dir, String incident, Set<String> kept) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> found = otherFiles(dir, incident, kept);
        while (found.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
            found = otherFiles(dir, incident, kept);
        }
        return found;
    }

    private static List<String> otherFiles(Path dir, String incident, Set<String> kept) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return new ArrayList<>(s.map(f -> f.getFileName().toString()).filter(n -> n.contains(incident)
                    && !kept.contains(n)).sorted().toList());
        }
    }

    /** No file of {@code incident} in the rollback directory but {@code published} (10 s to settle). */
    private void assertNoTemporaryFiles(String incident, List<String> published) throws Exception {
        String probe = writeFile(Node.FORMER_PRIMARY, fileMessages(incident(), timeline(Node.FORMER_PRIMARY)
                .getCurrentTerm(), 1, new byte[0], 1), true).response.getPath();
        Path dir = known(() -> cluster.localFile(Node.FORMER_PRIMARY, probe));
        if (dir == null) {
            return; // checked only where the test can see the directory (the callers require it first)
        }
        dir = dir.getParent();
        Set<String> kept = new TreeSet<>(published);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> left = otherFiles(dir, incident, kept);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
            left = otherFiles(dir, incident, kept);
        }
        assertEquals(List.of(), left, "a call that published nothing left no file of its own (incident " + incident
                + ")");
    }

    // ------------------------------------------------------------------------------------------
    // Off-node copies (optional): StoreRollbackCopy, ReadRollbackCopy
    // ------------------------------------------------------------------------------------------

    /** Why the copy checks are skipped for an agent that answers UNIMPLEMENTED. */
    public static final String COPIES_NOT_IMPLEMENTED = "optional RPCs not implemented: ReadRollbackCopy answered"
            + " UNIMPLEMENTED (allowed; the operator then keeps the off-node copy on another pod)";

    /** The pod name a copy in the suite says it comes from: the former primary's, as the operator sends it. */
    private String copySource() throws Exception {
        String name = known(() -> cluster.nodeName(Node.FORMER_PRIMARY));
        return name != null ? name : timeline(Node.FORMER_PRIMARY).getNode();
    }

    /** Skips the calling check when the new primary's agent does not offer the copy RPCs. */
    private void requireCopyRpcs() throws Exception {
        StatusRuntimeException e = readCopy(Node.NEW_PRIMARY, "conformance-probe", incident(), 1).error;
        if (e != null && e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
            Assumptions.abort(COPIES_NOT_IMPLEMENTED);
        }
    }

    /**
     * Any state: a copy of the former primary's file stored on the new primary under
     * copies/&lt;source&gt;/&lt;incident&gt;-plan&lt;N&gt;.rollback.jsonl, its size and SHA-256 answered, read back
     * byte for byte, found again (already_existed), never replaced by other bytes; a copy that does not
     * exist is NOT_FOUND/FILE_NOT_FOUND; the storing node's timeline (term, log, fence) does not change.
     * Skipped, saying so, when the agent answers UNIMPLEMENTED.
     */
    public void checkCopyStoredAndReadBack(Plan p) throws Exception {
        requireCopyRpcs();
        Timeline before = timeline(Node.NEW_PRIMARY);
        String source = copySource();
        String incident = incident();
        byte[] bytes = fileBytes(300_000, 31);
        Stored s = storeCopy(Node.NEW_PRIMARY, copyMessages(source, incident, 1, bytes, 64 * 1024), true);
        assertNull(s.error, "StoreRollbackCopy failed: " + (s.error == null ? "" : describe(s.error)));
        assertEquals(bytes.length, s.response.getSize(), "the size the agent wrote");
        assertEquals(sha256(bytes), s.response.getSha256(), "the SHA-256 the agent computed");
        assertFalse(s.response.getAlreadyExisted(), "a new copy");
        assertTrue(s.response.getPath().startsWith("/"), "an absolute path: " + s.response.getPath());
        assertTrue(s.response.getPath().endsWith("/copies/" + source + "/" + incident + "-plan1.rollback.jsonl"),
                "named copies/<source>/<incident>-plan<N>.rollback.jsonl: " + s.response.getPath());

        ReadBack r = readCopy(Node.NEW_PRIMARY, source, incident, 1);
        assertNull(r.error, "ReadRollbackCopy failed: " + (r.error == null ? "" : describe(r.error)));
        assertArrayEquals(bytes, r.bytes, "ReadRollbackCopy streams the bytes stored");
        assertEquals(RollbackFileEnd.newBuilder().setSize(bytes.length).setSha256(sha256(bytes)).build(), r.end,
                "the end message: size and SHA-256 of what was read");

        Stored again = storeCopy(Node.NEW_PRIMARY, copyMessages(source, incident, 1, bytes, 100_000), true);
        assertNull(again.error, "storing the same bytes again failed: "
                + (again.error == null ? "" : describe(again.error)));
        assertTrue(again.response.getAlreadyExisted(), "storing the same bytes again finds the copy (already_existed)");
        assertEquals(s.response.getPath(), again.response.getPath(), "the same path");

        Stored other = storeCopy(Node.NEW_PRIMARY, copyMessages(source, incident, 1, fileBytes(300_000, 32), 64 * 1024),
                true);
        assertNotNull(other.error, "other bytes under an existing copy's name were accepted: " + other.response);
        assertError("StoreRollbackCopy of other bytes under an existing name", Set.of(Status.Code.ALREADY_EXISTS),
                ErrorReason.FILE_EXISTS, other.error);
        assertArrayEquals(bytes, readCopy(Node.NEW_PRIMARY, source, incident, 1).bytes, "the copy keeps its bytes");

        assertError("ReadRollbackCopy of a copy that does not exist", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readCopy(Node.NEW_PRIMARY, source, incident, 2).error);
        assertError("ReadRollbackCopy from another source", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readCopy(Node.NEW_PRIMARY, source + "-other", incident, 1).error);
        assertError("ReadRollbackFile of a copy's name (a copy is not the node's own rollback file)", NOT_FOUND,
                ErrorReason.FILE_NOT_FOUND, readFile(Node.NEW_PRIMARY, incident, 1).error);
        assertEquals(before, timeline(Node.NEW_PRIMARY), "a copy changes neither the term, the log nor the fence");
    }

    /**
     * Any state: malformed StoreRollbackCopy calls (a source that is not a pod name, an incident that is
     * not a plain identifier, plan 0, a SHA-256 that is not 64 lower-case hex digits, a data message above
     * 1 MiB, no begin or no end) are INVALID_ARGUMENT/INVALID_REQUEST; bytes that are not those announced
     * (at begin or at end) are ABORTED/TRANSFER_MISMATCH. Nothing is published, no temporary file is left
     * (where the suite can see the directory), the timeline does not change. Skipped when UNIMPLEMENTED.
     */
    public void checkMalformedCopyCalls(Plan p) throws Exception {
        requireCopyRpcs();
        Timeline before = timeline(Node.NEW_PRIMARY);
        String source = copySource();
        String incident = incident();
        byte[] bytes = fileBytes(20_000, 33);
        String sha = sha256(bytes);
        for (String bad : List.of("", "..", ".", "../escape", "a/b", "Upper", "-lead", "trail-", "x".repeat(64),
                "dotted.name")) {
            assertCopyRefused("source_node '" + bad + "'", INVALID, ErrorReason.INVALID_REQUEST,
                    copyMessages(bad, incident, 1, bytes, 4096));
            assertError("ReadRollbackCopy with source_node '" + bad + "'", INVALID, ErrorReason.INVALID_REQUEST,
                    readCopy(Node.NEW_PRIMARY, bad, incident, 1).error);
        }
        for (String bad : BAD_INCIDENT_IDS) {
            assertCopyRefused("incident_id '" + bad + "'", INVALID, ErrorReason.INVALID_REQUEST,
                    copyMessages(source, bad, 1, bytes, 4096));
        }
        assertCopyRefused("plan_number 0", INVALID, ErrorReason.INVALID_REQUEST,
                copyMessages(source, incident, 0, bytes, 4096));
        List<StoreRollbackCopyRequest> upperSha = new ArrayList<>(copyMessages(source, incident, 1, bytes, 4096));
        upperSha.set(0, copyBegin(source, incident, 1, bytes.length, sha.toUpperCase(Locale.ROOT)));
        assertCopyRefused("an upper-case sha256", INVALID, ErrorReason.INVALID_REQUEST, upperSha);
        List<StoreRollbackCopyRequest> all = copyMessages(source, incident, 1, bytes, 4096);
        assertCopyRefused("no begin message", INVALID, ErrorReason.INVALID_REQUEST, all.subList(1, all.size()));
        assertCopyRefused("no end message", INVALID, ErrorReason.INVALID_REQUEST, all.subList(0, all.size() - 1));
        List<StoreRollbackCopyRequest> tooBig = new ArrayList<>(all.subList(0, 1));
        tooBig.add(StoreRollbackCopyRequest.newBuilder().setData(ByteString.copyFrom(fileBytes(MAX_DATA + 1, 34)))
                .build());
        assertCopyRefused("a data message above 1 MiB", INVALID, ErrorReason.INVALID_REQUEST, tooBig);
        List<StoreRollbackCopyRequest> wrongBegin = new ArrayList<>(all);
        wrongBegin.set(0, copyBegin(source, incident, 1, bytes.length, sha256(new byte[1])));
        assertCopyRefused("bytes whose SHA-256 is not begin's", Set.of(Status.Code.ABORTED),
                ErrorReason.TRANSFER_MISMATCH, wrongBegin);
        List<StoreRollbackCopyRequest> wrongEnd = new ArrayList<>(all.subList(0, all.size() - 1));
        wrongEnd.add(StoreRollbackCopyRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(1)
                .setSha256(sha256(new byte[1]))).build());
        assertCopyRefused("an end message that is not what was sent", Set.of(Status.Code.ABORTED),
                ErrorReason.TRANSFER_MISMATCH, wrongEnd);
        List<StoreRollbackCopyRequest> shortOne = new ArrayList<>(all);
        shortOne.set(0, copyBegin(source, incident, 1, bytes.length + 1, sha));
        assertCopyRefused("fewer bytes than begin announced", Set.of(Status.Code.ABORTED),
                ErrorReason.TRANSFER_MISMATCH, shortOne);
        assertError("ReadRollbackCopy after refused stores", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readCopy(Node.NEW_PRIMARY, source, incident, 1).error);
        assertNoTemporaryCopies(source, incident);
        assertEquals(before, timeline(Node.NEW_PRIMARY), "refused copies change nothing");
    }

    private void assertCopyRefused(String what, Set<Status.Code> codes, ErrorReason reason,
            List<StoreRollbackCopyRequest> messages) throws Exception {
        Stored s = storeCopy(Node.NEW_PRIMARY, messages, true);
        assertNotNull(s.error, "StoreRollbackCopy with " + what + " was accepted: " + s.response);
        assertError("StoreRollbackCopy with " + what, codes, reason, s.error);
    }

    /**
     * Any state: a copy larger than the free space of the storing node's disk is refused at begin with
     * RESOURCE_EXHAUSTED/NO_SPACE, saying so; nothing is published, no temporary file is left; once the
     * disk has room the same copy is stored (needs {@link AgentFixture#limitCopySpace}).
     */
    public void checkCopyNeedsFreeSpace(Plan p) throws Exception {
        requireCopyRpcs();
        String source = copySource();
        String incident = incident();
        byte[] bytes = fileBytes(50_000, 35);
        required(() -> {
            cluster.limitCopySpace(Node.NEW_PRIMARY, bytes.length - 1);
            return true;
        });
        Stored full;
        try {
            full = storeCopy(Node.NEW_PRIMARY, copyMessages(source, incident, 1, bytes, 4096), true);
        } finally {
            cluster.limitCopySpace(Node.NEW_PRIMARY, -1);
        }
        assertNotNull(full.error, "a copy larger than the free space was accepted: " + full.response);
        assertError("StoreRollbackCopy onto a full disk", Set.of(Status.Code.RESOURCE_EXHAUSTED),
                ErrorReason.NO_SPACE, full.error);
        assertError("ReadRollbackCopy after a full disk refused it", NOT_FOUND, ErrorReason.FILE_NOT_FOUND,
                readCopy(Node.NEW_PRIMARY, source, incident, 1).error);
        assertNoTemporaryCopies(source, incident);
        Stored s = storeCopy(Node.NEW_PRIMARY, copyMessages(source, incident, 1, bytes, 4096), true);
        assertNull(s.error, "the same copy once there is room: " + (s.error == null ? "" : describe(s.error)));
    }

    /**
     * Any state: a stored copy is mode 0600 in directories of mode 0700, and a store cancelled in the
     * middle leaves no file of its own (needs localFile). Skipped when UNIMPLEMENTED.
     */
    public void checkCopyIsPrivateAndCancelledStoresLeaveNothing(Plan p) throws Exception {
        requireCopyRpcs();
        String source = copySource();
        String incident = incident();
        byte[] bytes = fileBytes(40_000, 36);
        List<StoreRollbackCopyRequest> all = copyMessages(source, incident, 1, bytes, 1024);
        storeCopy(Node.NEW_PRIMARY, all.subList(0, all.size() / 2), false);
        assertNoTemporaryCopies(source, incident);
        String path = storeCopy(Node.NEW_PRIMARY, all, true).response.getPath();
        Path local = required(() -> cluster.localFile(Node.NEW_PRIMARY, path));
        assertArrayEquals(bytes, Files.readAllBytes(local), "the bytes on disk");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local)),
                "copy mode 0600");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(local.getParent())),
                "the source's copies directory mode 0700");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                local.getParent().getParent())), "the copies directory mode 0700");
        assertNoTemporaryCopies(source, incident);
    }

    /** No file of {@code incident} in the source's copies directory but its published copies (10 s to settle). */
    private void assertNoTemporaryCopies(String source, String incident) throws Exception {
        String probeIncident = incident();
        Stored probe = storeCopy(Node.NEW_PRIMARY, copyMessages(source, probeIncident, 1, new byte[0], 1), true);
        assertNull(probe.error, "an empty copy: " + (probe.error == null ? "" : describe(probe.error)));
        Path dir = known(() -> cluster.localFile(Node.NEW_PRIMARY, probe.response.getPath()));
        if (dir == null) {
            return;
        }
        Path copies = dir.getParent();
        Set<String> published = new TreeSet<>();
        for (int plan = 1; plan <= 2; plan++) {
            if (Files.exists(copies.resolve(incident + "-plan" + plan + ".rollback.jsonl"))) {
                published.add(incident + "-plan" + plan + ".rollback.jsonl");
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<String> left = otherFiles(copies, incident, published);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
            left = otherFiles(copies, incident, published);
        }
        assertEquals(List.of(), left, "a store that published nothing left no file of its own (incident " + incident
                + ")");
    }

    /** What a StoreRollbackCopy call ended with: the answer or the error (both null when cancelled). */
    record Stored(StoreRollbackCopyResponse response, StatusRuntimeException error) {
    }

    static StoreRollbackCopyRequest copyBegin(String source, String incident, int plan, long size, String sha) {
        return StoreRollbackCopyRequest.newBuilder().setBegin(RollbackCopyBegin.newBuilder().setSourceNode(source)
                .setIncidentId(incident).setPlanNumber(plan).setSize(size).setSha256(sha)).build();
    }

    /** begin (with the bytes' size and SHA-256), the bytes in data messages of {@code chunk} bytes, end. */
    static List<StoreRollbackCopyRequest> copyMessages(String source, String incident, int plan, byte[] bytes,
            int chunk) {
        List<StoreRollbackCopyRequest> m = new ArrayList<>();
        m.add(copyBegin(source, incident, plan, bytes.length, sha256(bytes)));
        for (int off = 0; off < bytes.length; off += chunk) {
            m.add(StoreRollbackCopyRequest.newBuilder().setData(ByteString.copyFrom(bytes, off,
                    Math.min(chunk, bytes.length - off))).build());
        }
        m.add(StoreRollbackCopyRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(bytes.length)
                .setSha256(sha256(bytes))).build());
        return m;
    }

    /** Sends {@code messages} on one StoreRollbackCopy call, half-closes ({@code complete}) or cancels it. */
    Stored storeCopy(Node node, List<StoreRollbackCopyRequest> messages, boolean complete) throws Exception {
        CompletableFuture<Stored> ended = new CompletableFuture<>();
        AtomicReference<StoreRollbackCopyResponse> answer = new AtomicReference<>();
        ClientCallStreamObserver<StoreRollbackCopyRequest> call =
                (ClientCallStreamObserver<StoreRollbackCopyRequest>) agentAsync(node)
                        .withDeadlineAfter(RPC_DEADLINE.toMillis() * 3, TimeUnit.MILLISECONDS)
                        .storeRollbackCopy(new StreamObserver<>() {
                            @Override
                            public void onNext(StoreRollbackCopyResponse value) {
                                answer.set(value);
                            }

                            @Override
                            public void onError(Throwable t) {
                                ended.complete(new Stored(null, t instanceof StatusRuntimeException e ? e
                                        : Status.fromThrowable(t).asRuntimeException()));
                            }

                            @Override
                            public void onCompleted() {
                                ended.complete(new Stored(answer.get(), null));
                            }
                        });
        for (StoreRollbackCopyRequest m : messages) {
            if (ended.isDone()) {
                break;
            }
            call.onNext(m);
        }
        if (!complete) {
            // a round trip on the same channel: the agent has taken what was sent before it answers this
            agent(node).getTimeline(GetTimelineRequest.getDefaultInstance());
            call.onError(Status.CANCELLED.withDescription("the conformance suite abandons this copy")
                    .asRuntimeException());
            try {
                ended.get(RPC_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // a cancelled call may end without telling us more
            }
            return new Stored(null, null);
        }
        if (!ended.isDone()) {
            call.onCompleted();
        }
        return ended.get(RPC_DEADLINE.toMillis() * 3, TimeUnit.MILLISECONDS);
    }

    ReadBack readCopy(Node node, String source, String incident, int plan) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RollbackFileEnd end = null;
        try {
            Iterator<ReadRollbackCopyResponse> it = agent(node).withDeadlineAfter(RPC_DEADLINE.toMillis() * 3,
                    TimeUnit.MILLISECONDS).readRollbackCopy(ReadRollbackCopyRequest.newBuilder()
                            .setSourceNode(source).setIncidentId(incident).setPlanNumber(plan).build());
            while (it.hasNext()) {
                ReadRollbackCopyResponse m = it.next();
                assertTrue(end == null, "ReadRollbackCopy: nothing follows the end message");
                assertWireNumbers("ReadRollbackCopy", m);
                if (m.hasEnd()) {
                    end = m.getEnd();
                } else {
                    assertTrue(m.getData().size() <= MAX_DATA, "ReadRollbackCopy: data messages of at most 1 MiB");
                    m.getData().writeTo(out);
                }
            }
        } catch (StatusRuntimeException e) {
            return new ReadBack(null, null, e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertNotNull(end, "ReadRollbackCopy ended without its end message");
        return new ReadBack(out.toByteArray(), end, null);
    }

    // ------------------------------------------------------------------------------------------
    // Timelines
    // ------------------------------------------------------------------------------------------

    /** A timeline of {@code node}, checked: shape, wire numbers, and the node's name. */
    public Timeline timeline(Node node) {
        Timeline t = agent(node).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertTimeline(node, "GetTimeline of the " + (node == Node.FORMER_PRIMARY ? "former" : "new") + " primary", t);
        return t;
    }

    /**
     * Every timeline an agent answers (GetTimeline, Fence, RejoinAsReplica): well formed, every number
     * below 2^63, and naming the same node every time.
     */
    private void assertTimeline(Node node, String who, Timeline t) {
        assertWireNumbers(who, t);
        assertTimelineShape(who, t);
        String first = names.putIfAbsent(node, t.getNode());
        if (first != null) {
            assertEquals(first, t.getNode(), who + ": node names the node the call was made to (it gave "
                    + first + " before)");
        }
        LsnKind kind = kinds.putIfAbsent(node, t.getLsnKind());
        if (kind != null) {
            assertEquals(kind, t.getLsnKind(), who + ": a node counts its LSNs one way in every timeline (lsn_kind"
                    + " was " + kind + " before)");
        }
    }

    /** Whether {@code node}'s LSNs are positions, as its timelines say. */
    private boolean positions(Node node) {
        LsnKind kind = kinds.get(node);
        return (kind != null ? kind : timeline(node).getLsnKind()) == LsnKind.LSN_KIND_POSITIONS;
    }

    private static void assertTimelineShape(String who, Timeline t) {
        assertEquals("v1", t.getProtocolVersion(), who + ": protocol_version");
        assertTrue(t.getLsnKind() == LsnKind.LSN_KIND_RECORDS || t.getLsnKind() == LsnKind.LSN_KIND_POSITIONS,
                who + ": lsn_kind is LSN_KIND_RECORDS or LSN_KIND_POSITIONS, got " + t.getLsnKindValue());
        assertFalse(t.getNode().isEmpty(), who + ": node name");
        assertTrue(t.getRole() == Role.ROLE_PRIMARY || t.getRole() == Role.ROLE_REPLICA
                || t.getRole() == Role.ROLE_DETACHED,
                who + ": role is PRIMARY, REPLICA or DETACHED, got " + t.getRole());
        assertTrue(t.getCurrentTerm() >= 1, who + ": current_term is at least 1");
        assertTrue(t.getCommitLsn() <= t.getLastLsn(), who + ": commit_lsn " + t.getCommitLsn()
                + " is not above last_lsn " + t.getLastLsn());
        List<TermHistoryEntry> h = t.getHistoryList();
        if (t.getLastLsn() > 0) {
            assertFalse(h.isEmpty(), who + ": a non-empty log has a term history");
        }
        if (!h.isEmpty()) {
            assertEquals(1, h.get(0).getFirstLsn(), who + ": the history starts at LSN 1: " + h);
        }
        for (int i = 1; i < h.size(); i++) {
            assertTrue(h.get(i).getTerm() > h.get(i - 1).getTerm(), who + ": terms strictly increase: " + h);
            assertTrue(h.get(i).getFirstLsn() >= h.get(i - 1).getFirstLsn(), who + ": first LSNs never decrease: " + h);
        }
        if (!h.isEmpty()) {
            assertTrue(h.get(h.size() - 1).getTerm() <= t.getCurrentTerm(),
                    who + ": no history term above current_term "
                    + t.getCurrentTerm() + ": " + h);
            assertTrue(h.get(h.size() - 1).getFirstLsn() <= t.getLastLsn() + 1, who + ": no history entry begins above "
                    + "last_lsn + 1: " + h);
        }
        if (t.getRole() == Role.ROLE_REPLICA) {
            assertFalse(t.getFollowing().isEmpty(), who + ": a replica names the primary it follows");
        }
        if (t.getFenced()) {
            assertEquals(Role.ROLE_DETACHED, t.getRole(), who + ": a fenced node is detached");
        }
        String sha = t.getLastRecoveryFileSha256();
        assertTrue(sha.isEmpty() || sha.matches("[0-9a-f]{64}"), who + ": last_recovery_file_sha256 is empty or 64"
                + " lower-case hex digits: " + sha);
        history(t); // converts: the model's own checks agree
    }

    /** Every uint64 in {@code m} (nested messages included) is below 2^63: the operator refuses larger ones. */
    static void assertWireNumbers(String who, Message m) {
        for (Map.Entry<FieldDescriptor, Object> f : m.getAllFields().entrySet()) {
            FieldDescriptor d = f.getKey();
            List<?> values = d.isRepeated() ? (List<?>) f.getValue() : List.of(f.getValue());
            for (Object v : values) {
                if (d.getType() == FieldDescriptor.Type.UINT64 || d.getType() == FieldDescriptor.Type.FIXED64) {
                    assertTrue((Long) v >= 0, who + ": " + d.getName() + " is " + Long.toUnsignedString((Long) v)
                            + ", not below 2^63 (every uint64 an agent sends must be)");
                } else if (v instanceof Message nested) {
                    assertWireNumbers(who, nested);
                }
            }
        }
    }

    private static TermHistory history(Timeline t) {
        List<TermHistory.Entry> entries = new ArrayList<>();
        for (TermHistoryEntry e : t.getHistoryList()) {
            entries.add(new TermHistory.Entry(Term.of(e.getTerm()), Lsn.of(e.getFirstLsn())));
        }
        return new TermHistory(entries);
    }

    // ------------------------------------------------------------------------------------------
    // The tail stream
    // ------------------------------------------------------------------------------------------

    /** What a tail stream delivered: its messages, then the error that ended it, if any. */
    record TailStream(List<TailMessage> messages, StatusRuntimeException error) {
    }

    /** A checked tail: its records in order, its trailer, and how many chunks carried them. */
    public record Tail(List<io.dbrollback.agent.v1.TailRecord> records, TailTrailer trailer, int chunkCount) {
    }

    TailStream readTail(long from, long to, long resumeAfter, int maxPerChunk) {
        return readTail(Node.FORMER_PRIMARY, from, to, resumeAfter, maxPerChunk);
    }

    private TailStream readTail(Node node, long from, long to, long resumeAfter, int maxPerChunk) {
        List<TailMessage> messages = new ArrayList<>();
        try {
            Iterator<TailMessage> it = agent(node).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                    .setFromExclusive(from).setToInclusive(to).setResumeAfter(resumeAfter)
                    .setMaxRecordsPerChunk(maxPerChunk).build());
            while (it.hasNext()) {
                messages.add(it.next());
            }
            return new TailStream(messages, null);
        } catch (StatusRuntimeException e) {
            return new TailStream(messages, e);
        }
    }

    /**
     * Reads (from, to] after resumeAfter from the former primary and checks the stream's form: chunks
     * of at least one and at most the bound (256 at most) records, each with the CRC32C of its records'
     * canonical encodings; exactly one trailer, last; every number below 2^63. With record numbers the
     * records are consecutive, from the first LSN after max(from, resumeAfter) to {@code to}. With
     * positions they lie in (max(from, resumeAfter), to], their positions never go back (commit order),
     * the records of one transaction share its position and follow each other, and the records at one
     * position are one transaction's. When the stream is the whole range, the trailer must equal what
     * the records recompute to.
     */
    Tail checkedTail(long from, long to, long resumeAfter, int maxPerChunk) {
        TailStream s = readTail(from, to, resumeAfter, maxPerChunk);
        return checked(Node.FORMER_PRIMARY, tailName(Node.FORMER_PRIMARY, from, to, resumeAfter, maxPerChunk), s, from,
                to, resumeAfter, maxPerChunk);
    }

    private static String tailName(Node node, long from, long to, long resumeAfter, int maxPerChunk) {
        return (node == Node.NEW_PRIMARY ? "the new primary's " : "") + "ReadDivergentTail(" + from + ", " + to
                + "] resume_after " + resumeAfter + " max_records_per_chunk " + Integer.toUnsignedString(maxPerChunk);
    }

    /** {@link #checkedTail} of the stream {@code s} that {@code node} answered. */
    private Tail checked(Node node, String what, TailStream s, long from, long to, long resumeAfter, int maxPerChunk) {
        if (s.error != null) {
            fail(what + " failed after " + s.messages.size() + " messages: " + describe(s.error), s.error);
        }
        boolean positions = positions(node);
        List<io.dbrollback.agent.v1.TailRecord> records = new ArrayList<>();
        TailTrailer trailer = null;
        int chunks = 0;
        long next = Math.max(from, resumeAfter) + 1;
        Transactions transactions = new Transactions(what, from, to, resumeAfter);
        int bound = maxPerChunk == 0 || Integer.compareUnsigned(maxPerChunk, NODE_MAX_RECORDS_PER_CHUNK) > 0
                ? NODE_MAX_RECORDS_PER_CHUNK : maxPerChunk;
        for (int i = 0; i < s.messages.size(); i++) {
            TailMessage m = s.messages.get(i);
            assertWireNumbers(what + ", message " + i, m);
            switch (m.getBodyCase()) {
                case CHUNK -> {
                    assertTrue(trailer == null, what + ": a chunk after the trailer (message " + i + ")");
                    TailChunk c = m.getChunk();
                    chunks++;
                    assertTrue(c.getRecordsCount() >= 1, what + ": message " + i + " is a chunk with zero records"
                            + " (an agent never sends an empty chunk)");
                    assertTrue(c.getRecordsCount() <= bound, what + ": a chunk of " + c.getRecordsCount()
                            + " records exceeds " + bound);
                    CRC32C crc = new CRC32C();
                    for (io.dbrollback.agent.v1.TailRecord r : c.getRecordsList()) {
                        if (positions) {
                            transactions.add(r);
                        } else {
                            assertEquals(next, r.getLsn(), what + ": records are dense and in LSN order");
                            next++;
                        }
                        CanonicalEncoding.encode(toModel(r), crc::update);
                        records.add(r);
                    }
                    assertEquals(crc.getValue(), Integer.toUnsignedLong(c.getCrc32C()),
                            what + ": chunk " + chunks + " (LSN " + c.getRecords(0).getLsn() + " to "
                                    + c.getRecords(c.getRecordsCount() - 1).getLsn()
                                    + "): crc32c is the CRC32C of its records' canonical encodings");
                }
                case TRAILER -> {
                    assertTrue(trailer == null, what + ": a second trailer (message " + i + ")");
                    trailer = m.getTrailer();
                }
                default -> fail(what + ": message " + i + " is neither a chunk nor a trailer");
            }
        }
        assertNotNull(trailer, what + ": the stream ended without a trailer");
        if (!positions) { // positions: the range may hold fewer records than to - from, or none
            assertTrue(next <= to + 1, what + ": no record above to_inclusive " + to + " (the last was " + (next - 1)
                    + ")");
            assertEquals(to + 1, next, what + ": the records reach to_inclusive " + to);
        }
        if (resumeAfter <= from) {
            TailDigest d = new TailDigest();
            records.forEach(r -> d.add(toModel(r)));
            assertEquals(d.records(), trailer.getRecordCount(), what + ": trailer record_count");
            assertEquals(d.bytes(), trailer.getBytes(), what + ": trailer bytes (sum of canonical encoding lengths)");
            assertEquals(d.finish(), trailer.getSha256(),
                    what + ": trailer sha256 (SHA-256 of the canonical encodings)");
        }
        return new Tail(records, trailer, chunks);
    }

    /**
     * The order of a tail whose LSNs are positions, record by record: each in (max(from, resumeAfter),
     * to], no position below the one before (commit order), a transaction's records at one position and
     * consecutive, one transaction per position.
     */
    private static final class Transactions {
        private final String what;
        private final long floor;
        private final long to;
        private final boolean resumed;
        private final Map<String, Long> positions = new HashMap<>();
        private long previous;
        private String previousTransaction;

        Transactions(String what, long from, long to, long resumeAfter) {
            this.what = what;
            this.floor = Math.max(from, resumeAfter);
            this.to = to;
            this.resumed = resumeAfter > from;
            this.previous = floor;
        }

        void add(io.dbrollback.agent.v1.TailRecord r) {
            long lsn = r.getLsn();
            String tx = r.getTransactionId();
            String at = what + ": the record at position " + lsn + " (transaction '" + tx + "')";
            assertTrue(lsn > floor, at + " is not above " + (resumed ? "resume_after " + floor + " (resuming skips"
                    + " whole transactions: every record at or below it)" : "from_exclusive " + floor));
            assertTrue(lsn <= to, at + " is above to_inclusive " + to);
            assertTrue(lsn >= previous, at + " follows one at position " + previous + ": positions never go back,"
                    + " the records come in commit order");
            Long first = positions.putIfAbsent(tx, lsn);
            assertTrue(first == null || first == lsn && tx.equals(previousTransaction), at + ": the records of one"
                    + " transaction share its commit position and follow each other (it came at position " + first
                    + " before)");
            assertTrue(lsn != previous || previousTransaction == null || tx.equals(previousTransaction), at
                    + " shares its position with transaction '" + previousTransaction + "': a position is one"
                    + " transaction's commit");
            previous = lsn;
            previousTransaction = tx;
        }
    }

    /** The model record a wire record stands for; asserts the wire record is well formed first. */
    private static TailRecord toModel(io.dbrollback.agent.v1.TailRecord r) {
        String at = "record at LSN " + r.getLsn();
        Operation op = operation(r.getOperation());
        assertEquals(op != Operation.INSERT, r.hasBefore(), at + ": a before-image exactly for updates and deletes");
        assertEquals(op != Operation.DELETE, r.hasAfter(), at + ": an after-image exactly for inserts and updates");
        int nanos = r.getCommitTimeNanos();
        assertTrue(nanos >= 0 && nanos < 1_000_000_000, at + ": commit_time_nanos " + Integer.toUnsignedString(nanos)
                + " is below 10^9");
        return new TailRecord(Lsn.of(r.getLsn()), Term.of(r.getTerm()), r.getTransactionId(),
                Instant.ofEpochSecond(r.getCommitTimeSeconds(), nanos), op, Bytes.of(r.getKey().toByteArray()),
                r.hasBefore() ? Bytes.of(r.getBefore().toByteArray()) : null,
                r.hasAfter() ? Bytes.of(r.getAfter().toByteArray()) : null);
    }

    private static Operation operation(io.dbrollback.agent.v1.Operation op) {
        return switch (op) {
            case OPERATION_INSERT -> Operation.INSERT;
            case OPERATION_UPDATE -> Operation.UPDATE;
            case OPERATION_DELETE -> Operation.DELETE;
            default -> fail("operation " + op + " is not insert, update or delete");
        };
    }

    // ------------------------------------------------------------------------------------------
    // Requests
    // ------------------------------------------------------------------------------------------

    private void restartFormerPrimary() throws Exception {
        required(() -> {
            cluster.restartFormerPrimary();
            return Boolean.TRUE;
        });
    }

    static FenceRequest fence(long term, String incident) {
        return FenceRequest.newBuilder().setTerm(term).setIncidentId(incident).build();
    }

    static RecoverToLsnRequest recover(long target, long term, String incident, long expectedLast, String fileSha256) {
        return RecoverToLsnRequest.newBuilder().setTargetLsn(target).setTerm(term).setIncidentId(incident)
                .setExpectedLastLsn(expectedLast).setExpectedRollbackFileSha256(fileSha256).build();
    }

    static RejoinAsReplicaRequest rejoin(String address, long term, String incident) {
        return RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(address).setTerm(term).setIncidentId(incident)
                .build();
    }

    /** A fresh incident id: a plain identifier, as a Kubernetes uid is. */
    public static String incident() {
        return "conformance-" + UUID.randomUUID().toString().substring(0, 8);
    }

    // ------------------------------------------------------------------------------------------
    // Side effects
    // ------------------------------------------------------------------------------------------

    private record Snapshot(Timeline timeline, Map<ByteString, ByteString> data) {
    }

    /** The former primary's timeline, and its data when the fixture can read it. */
    private Snapshot snapshot() throws Exception {
        return new Snapshot(timeline(Node.FORMER_PRIMARY), known(() -> cluster.readData(Node.FORMER_PRIMARY)));
    }

    private void assertUnchanged(Snapshot before) throws Exception {
        Snapshot after = snapshot();
        assertEquals(before.timeline, after.timeline, "a refused call changes nothing");
        assertNoRecoverSideEffect(before, after);
    }

    private static void assertNoRecoverSideEffect(Snapshot before, Snapshot after) {
        assertEquals(before.timeline.getRollbackId(), after.timeline.getRollbackId(),
                "a refused call does not bump the rollback id");
        assertEquals(before.timeline.getLastLsn(), after.timeline.getLastLsn(), "a refused call removes nothing");
        assertEquals(before.timeline.getLastRecoveryIncident(), after.timeline.getLastRecoveryIncident(),
                "a refused call records no incident");
        assertEquals(before.timeline.getFenced(), after.timeline.getFenced(),
                "a refused call leaves the fence as it was");
        if (before.data != null) {
            assertEquals(show(before.data), show(after.data), "a refused call changes no data");
        }
    }

    // ------------------------------------------------------------------------------------------
    // Rollback file calls
    // ------------------------------------------------------------------------------------------

    /**
     * What a WriteRollbackFile call ended with: the answer or the error (both null when cancelled), and
     * whether the agent ended the call before the client half-closed.
     */
    record Written(WriteRollbackFileResponse response, StatusRuntimeException error, boolean beforeHalfClose) {
    }

    /** What a ReadRollbackFile call streamed: the bytes, the end message, or the error. */
    record ReadBack(byte[] bytes, RollbackFileEnd end, StatusRuntimeException error) {
    }

    /** Deterministic bytes of a test file, with a line structure like a rollback file's. */
    static byte[] fileBytes(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        for (int i = 99; i < size; i += 100) {
            b[i] = '\n';
        }
        return b;
    }

    static String sha256(byte[] b) {
        MessageDigest d = TailDigest.newSha256();
        return HexFormat.of().formatHex(d.digest(b));
    }

    static WriteRollbackFileRequest begin(String incident, long term, int plan) {
        return WriteRollbackFileRequest.newBuilder().setBegin(RollbackFileBegin.newBuilder().setIncidentId(incident)
                .setTerm(term).setPlanNumber(plan)).build();
    }

    /** begin, the bytes in data messages of {@code chunk} bytes (and one empty one), end. */
    static List<WriteRollbackFileRequest> fileMessages(String incident, long term, int plan, byte[] bytes, int chunk) {
        List<WriteRollbackFileRequest> m = new ArrayList<>();
        m.add(begin(incident, term, plan));
        m.add(WriteRollbackFileRequest.newBuilder().setData(ByteString.EMPTY).build());
        for (int off = 0; off < bytes.length; off += chunk) {
            m.add(WriteRollbackFileRequest.newBuilder().setData(ByteString.copyFrom(bytes, off,
                    Math.min(chunk, bytes.length - off))).build());
        }
        m.add(WriteRollbackFileRequest.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(bytes.length)
                .setSha256(sha256(bytes))).build());
        return m;
    }

    static QuarantineRollbackFileRequest quarantine(String incident, long term, int plan, long stamp) {
        return QuarantineRollbackFileRequest.newBuilder().setIncidentId(incident).setTerm(term).setPlanNumber(plan)
                .setStamp(stamp).build();
    }

    /** A WriteRollbackFile call the suite holds open: its messages sent, neither half-closed nor cancelled. */
    final class CallInFlight {
        private final ClientCallStreamObserver<WriteRollbackFileRequest> call;
        private final CompletableFuture<Written> ended;
        private final AtomicReference<WriteRollbackFileResponse> answer;
        private final ManagedChannel channel;

        private CallInFlight(ClientCallStreamObserver<WriteRollbackFileRequest> call,
                CompletableFuture<Written> ended, AtomicReference<WriteRollbackFileResponse> answer,
                ManagedChannel channel) {
            this.call = call;
            this.ended = ended;
            this.answer = answer;
            this.channel = channel;
        }

        /** Half-closes the call (or cancels it) and waits for how it ended. */
        Written finish(boolean complete) throws Exception {
            if (!complete) {
                call.onError(Status.CANCELLED.withDescription("the conformance suite abandons this write")
                        .asRuntimeException());
                try {
                    ended.get(RPC_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
                } catch (TimeoutException | ExecutionException e) {
                    // a cancelled call may end without telling us more
                }
                return new Written(null, null, false);
            }
            boolean early = ended.isDone();
            if (!early) {
                call.onCompleted();
            }
            Written w = ended.get(RPC_DEADLINE.toMillis() * 3, TimeUnit.MILLISECONDS);
            return new Written(w.response, w.error, early);
        }

        /** Leaves the call to its agent, as a client that vanished would (for a restart to cut it). */
        void detach() {
            if (channel != null) {
                channel.shutdownNow();
            }
        }
    }

    /** Opens a WriteRollbackFile call and sends {@code messages} (stopping if the agent ends the call). */
    CallInFlight startWrite(Node node, List<WriteRollbackFileRequest> messages) {
        return startWrite(node, messages, false);
    }

    private CallInFlight startWrite(Node node, List<WriteRollbackFileRequest> messages, boolean ownChannel) {
        CompletableFuture<Written> ended = new CompletableFuture<>();
        AtomicReference<WriteRollbackFileResponse> answer = new AtomicReference<>();
        ManagedChannel own = ownChannel ? ManagedChannelBuilder.forTarget(cluster.agentAddress(node)).usePlaintext()
                .build()
                : null;
        RollbackAgentGrpc.RollbackAgentStub stub = (own != null ? RollbackAgentGrpc.newStub(own) : agentAsync(node))
                .withDeadlineAfter(RPC_DEADLINE.toMillis() * 3, TimeUnit.MILLISECONDS);
        ClientCallStreamObserver<WriteRollbackFileRequest> call =
                (ClientCallStreamObserver<WriteRollbackFileRequest>) stub.writeRollbackFile(
                        new StreamObserver<>() {
                            @Override
                            public void onNext(WriteRollbackFileResponse value) {
                                answer.set(value);
                            }

                            @Override
                            public void onError(Throwable t) {
                                ended.complete(new Written(null, t instanceof StatusRuntimeException e ? e
                                        : Status.fromThrowable(t).asRuntimeException(), false));
                            }

                            @Override
                            public void onCompleted() {
                                ended.complete(new Written(answer.get(), null, false));
                            }
                        });
        for (WriteRollbackFileRequest m : messages) {
            if (ended.isDone()) {
                break; // the agent ended the call already
            }
            call.onNext(m);
        }
        return new CallInFlight(call, ended, answer, own);
    }

    /**
     * Sends {@code messages} on one WriteRollbackFile call, then half-closes it ({@code complete}) or
     * cancels it, and waits for how it ended.
     */
    Written writeFile(Node node, List<WriteRollbackFileRequest> messages, boolean complete) throws Exception {
        return startWrite(node, messages).finish(complete);
    }

    /** As {@link #writeFile}, running {@code between} after the first {@code sent} messages are through. */
    private Written writeFile(Node node, List<WriteRollbackFileRequest> messages, boolean complete, int sent,
            Runnable between) throws Exception {
        CallInFlight call = startWrite(node, messages.subList(0, sent));
        // a round trip on the same channel: the agent has taken what was sent before it answers this
        agent(node).getTimeline(GetTimelineRequest.getDefaultInstance());
        between.run();
        for (WriteRollbackFileRequest m : messages.subList(sent, messages.size())) {
            call.call.onNext(m);
        }
        return call.finish(complete);
    }

    ReadBack readFile(Node node, String incident, int plan) {
        return readFile(node, incident, plan, false);
    }

    ReadBack readFile(Node node, String incident, int plan, boolean digestOnly) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RollbackFileEnd end = null;
        try {
            Iterator<ReadRollbackFileResponse> it = agent(node).withDeadlineAfter(RPC_DEADLINE.toMillis() * 3,
                    TimeUnit.MILLISECONDS).readRollbackFile(ReadRollbackFileRequest.newBuilder()
                            .setIncidentId(incident).setPlanNumber(plan).setDigestOnly(digestOnly).build());
            while (it.hasNext()) {
                ReadRollbackFileResponse m = it.next();
                assertTrue(end == null, "ReadRollbackFile: nothing follows the end message");
                assertWireNumbers("ReadRollbackFile", m);
                if (m.hasEnd()) {
                    end = m.getEnd();
                } else {
                    assertTrue(m.getData().size() <= MAX_DATA, "ReadRollbackFile: data messages of at most 1 MiB");
                    m.getData().writeTo(out);
                }
            }
        } catch (StatusRuntimeException e) {
            return new ReadBack(null, null, e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertNotNull(end, "ReadRollbackFile ended without its end message");
        return new ReadBack(out.toByteArray(), end, null);
    }

    // ------------------------------------------------------------------------------------------
    // gRPC
    // ------------------------------------------------------------------------------------------

    private RollbackAgentGrpc.RollbackAgentStub agentAsync(Node node) {
        agent(node); // opens the channel
        return RollbackAgentGrpc.newStub(channels.get(cluster.agentAddress(node)));
    }

    RollbackAgentGrpc.RollbackAgentBlockingStub agent(Node node) {
        String address = cluster.agentAddress(node);
        ManagedChannel channel = channels.computeIfAbsent(address,
                a -> ManagedChannelBuilder.forTarget(a).usePlaintext().build());
        return RollbackAgentGrpc.newBlockingStub(channel)
                .withDeadlineAfter(RPC_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    }

    @FunctionalInterface
    interface Call {
        void run();
    }

    /** {@code call} fails with one of {@code codes} and (unless null) the ErrorInfo {@code reason}. */
    static void assertRefused(String what, Set<Status.Code> codes, ErrorReason reason, Call call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            assertError(what, codes, reason, e);
            return;
        }
        fail(what + " succeeded; expected " + codes + (reason == null ? "" : " with reason " + reason));
    }

    static void assertError(String what, Set<Status.Code> codes, ErrorReason reason, StatusRuntimeException e) {
        assertNotNull(e, what + " succeeded; expected " + codes + (reason == null ? "" : " with reason " + reason));
        assertTrue(codes.contains(e.getStatus().getCode()), what + ": expected " + codes
                + (reason == null ? "" : " with reason " + reason) + ", got " + describe(e));
        if (reason == null) {
            return;
        }
        ErrorInfo info = errorInfo(e);
        assertNotNull(info, what + ": the error carries no google.rpc.ErrorInfo detail: " + describe(e));
        assertEquals(ERROR_DOMAIN, info.getDomain(), what + ": ErrorInfo domain");
        assertEquals(reason.name(), info.getReason(), what + ": ErrorInfo reason (" + describe(e) + ")");
    }

    /** The ErrorInfo reason of {@code e}, or null. */
    private static String reason(Throwable e) {
        ErrorInfo info = errorInfo(e);
        return info == null ? null : info.getReason();
    }

    private static ErrorInfo errorInfo(Throwable e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        if (status == null) {
            return null;
        }
        for (Any detail : status.getDetailsList()) {
            if (detail.is(ErrorInfo.class)) {
                try {
                    return detail.unpack(ErrorInfo.class);
                } catch (InvalidProtocolBufferException bad) {
                    fail("an unreadable ErrorInfo detail", bad);
                }
            }
        }
        return null;
    }

    static String describe(StatusRuntimeException e) {
        ErrorInfo info = errorInfo(e);
        return e.getStatus().getCode() + " " + e.getStatus().getDescription()
                + (info == null ? " (no ErrorInfo)" : " (" + info.getDomain() + "/" + info.getReason() + ")");
    }

    // ------------------------------------------------------------------------------------------
    // Readable comparisons
    // ------------------------------------------------------------------------------------------

    /** A sorted, readable rendering of key/value data, so that a failed comparison shows the difference. */
    static String show(Map<ByteString, ByteString> data) {
        Map<String, String> sorted = new TreeMap<>();
        data.forEach((k, v) -> sorted.put(show(k), show(v)));
        return sorted.toString();
    }

    static String show(ByteString b) {
        if (b == null) {
            return "<absent>";
        }
        String text = b.toString(StandardCharsets.UTF_8);
        boolean printable = b.isValidUtf8() && text.codePoints().allMatch(c -> c >= 0x20 && c != 0x7f);
        return printable ? text : "0x" + HexFormat.of().formatHex(b.toByteArray());
    }
}
