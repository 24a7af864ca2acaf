package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.Term;
import io.dbrollback.node.ReplicaNode;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.ScriptedAgent;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every step reads from the agents: the target's timeline, then the Lease holder's, each answer checked and
 * reported as a call of its own. A target that cannot be read fails the observation; a leader that cannot be
 * read, or answers against the protocol, is the observation's leader error while the target's timeline is still
 * used.
 */
@IntegrationTest
class ClusterObserverTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private ScriptedAgent target;
    private ScriptedAgent leader;
    private AgentClients clients;
    private ClusterObserver observer;

    @BeforeEach
    void start() throws Exception {
        target = ScriptedAgent.fronting(node("orders-0").address());
        leader = ScriptedAgent.fronting(node("orders-1").address());
        open.add(target);
        open.add(leader);
        clients = new AgentClients();
        open.add(clients);
        observer = new ClusterObserver(null, clients);
    }

    @AfterEach
    void close() throws Exception {
        Collections.reverse(open);
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    private ReplicaNode node(String name) throws Exception {
        ReplicaNode n = ReplicaNode.start(ReplicaNode.Config.of(name, dir.resolve(name), 3));
        open.add(n);
        return n;
    }

    private ClusterObserver.Resolved cluster() {
        return new ClusterObserver.Resolved("orders-0", Map.of("orders-0", "127.0.0.1:" + target.port(),
                "orders-1", "127.0.0.1:" + leader.port()), new LeaderReader.Leader("orders-1", Term.of(2), "Lease"),
                null);
    }

    /**
     * The leader is asked only once the target has answered: asked at once, the leader's answer could be
     * older than the target's, and a replica in sync would look ahead of the leader, diverged.
     */
    @Test
    void theLeaderIsReadAfterTheTargetAnswered() {
        CountDownLatch leaderAsked = new CountDownLatch(1);
        AtomicBoolean targetAnswered = new AtomicBoolean();
        AtomicBoolean leaderAfterTarget = new AtomicBoolean();
        leader.onTimeline(t -> {
            leaderAfterTarget.set(targetAnswered.get());
            leaderAsked.countDown();
            return t;
        });
        // The target gives a leader asked at the same time a second to arrive before it answers.
        target.onTimeline(t -> {
            try {
                leaderAsked.await(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            targetAnswered.set(true);
            return t;
        });
        ClusterObserver.Observed o = observer.observe(cluster());
        assertTrue(leaderAfterTarget.get(), "the leader's GetTimeline arrived after the target had answered");
        assertEquals("orders-0", o.observation().target().node());
        assertEquals("orders-1", o.observation().leader().node());
        assertEquals("orders-1", o.observation().leaseHolder());
        assertNull(o.leaderError());
        assertEquals(1, target.calls("GetTimeline"));
        assertEquals(1, leader.calls("GetTimeline"));
    }

    @Test
    void aLeaderThatCannotBeReadIsTheLeaderErrorAndTheTargetIsStillRead() throws Exception {
        ClusterObserver.Resolved r = cluster();
        leader.close();
        ClusterObserver.Observed o = observer.observe(r);
        assertEquals("orders-0", o.observation().target().node());
        assertNull(o.observation().leader());
        assertNotNull(o.leaderError());
        assertEquals("UNAVAILABLE", o.leaderError().code());
        assertTrue(o.leaderError().getMessage().startsWith("GetTimeline on orders-1: UNAVAILABLE"),
                o.leaderError().getMessage());
        assertEquals(o.leaderError(), o.observation().leaderError());
    }

    @Test
    void aLeaderAnswerAgainstTheProtocolIsNotUsed() {
        leader.onTimeline(t -> t.toBuilder().setNode("orders-2").build());
        ClusterObserver.Observed o = observer.observe(cluster());
        assertEquals("orders-0", o.observation().target().node());
        assertNull(o.observation().leader());
        assertEquals(GrpcRollbackTransport.INVALID_ANSWER, o.leaderError().code());
        assertTrue(o.leaderError().getMessage().contains("GetTimeline from orders-1 broke rule"),
                o.leaderError().getMessage());
    }

    @Test
    void aTargetThatCannotBeReadFailsTheObservationWhateverTheLeaderSays() {
        target.onTimeline(t -> {
            throw Status.FAILED_PRECONDITION.withDescription("not today").asRuntimeException();
        });
        TransportException e = assertThrows(TransportException.class, () -> observer.observe(cluster()));
        assertEquals("FAILED_PRECONDITION", e.code());
        assertTrue(e.getMessage().startsWith("GetTimeline on orders-0: FAILED_PRECONDITION: not today"),
                e.getMessage());
        target.onTimeline(t -> t.toBuilder().setNode("orders-9").build());
        TransportException invalid = assertThrows(TransportException.class, () -> observer.observe(cluster()));
        assertEquals(GrpcRollbackTransport.INVALID_ANSWER, invalid.code());
        assertTrue(invalid.getMessage().contains("GetTimeline from orders-0 broke rule"), invalid.getMessage());
    }

    @Test
    void theTargetAloneWhenItHoldsTheLease() {
        ClusterObserver.Resolved r = cluster();
        ClusterObserver.Observed o = observer.observe(new ClusterObserver.Resolved("orders-1", r.agentAddresses(),
                r.leader(), null));
        assertEquals("orders-1", o.observation().target().node());
        assertNull(o.observation().leader());
        assertNull(o.leaderError());
        assertEquals(1, leader.calls("GetTimeline"));
        assertEquals(0, target.calls("GetTimeline"));
    }
}
