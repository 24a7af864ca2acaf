package io.dbrollback.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.ForkPoint;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.testing.IntegrationTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three reference nodes on loopback: replication, a cut-off primary taking divergent writes, a
 * promotion, and the rollback driven by hand over the agent protocol.
 */
@IntegrationTest
class ThreeNodeFailoverTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private NodeClient node(String name) throws Exception {
        ReplicaNode n = ReplicaNode.start(ReplicaNode.Config.of(name, dir.resolve(name), 3));
        open.add(n);
        NodeClient c = new NodeClient(n.address());
        open.add(c);
        return c;
    }

    /**
     * The rejoin check passed, but the address followed later answers with a log that does not hold the
     * replica's (here another node took over the address, as a pod replaced with a restored volume
     * would): the replication stream meets DIVERGED, and the replica stops following and fences itself
     * rather than overwrite a record.
     */
    @Test
    void aReplicaWhosePrimaryNoLongerHoldsItsLogFencesItselfAndKeepsItsRecords() throws Exception {
        ReplicaNode primary = ReplicaNode.start(ReplicaNode.Config.of("p", dir.resolve("p"), 1));
        String address = primary.address();
        NodeClient x = node("x");
        try (NodeClient p = new NodeClient(address)) {
            p.promote(1);
            for (int i = 1; i <= 3; i++) {
                p.put("k" + i, "v" + i);
            }
            x.follow(p, 1, "bootstrap");
            x.await("replicated", t -> t.getLastLsn() == 3);
        }
        primary.close();
        Timeline before = x.timeline();
        Map<String, String> data = x.data();

        // Another log on the same address: LSN 3 is of term 2 there, of term 1 on x.
        ReplicaNode other = null;
        for (int attempt = 0; other == null; attempt++) {
            try {
                other = ReplicaNode.start(new ReplicaNode.Config("q", "127.0.0.1", Integer.parseInt(
                        address.substring(address.lastIndexOf(':') + 1)), dir.resolve("q"), 1, 0, 0, 0, null, null));
            } catch (IOException portNotFreeYet) {
                if (attempt == 20) {
                    throw portNotFreeYet;
                }
                Thread.sleep(250);
            }
        }
        open.add(other);
        try (NodeClient q = new NodeClient(address)) {
            q.promote(1);
            q.put("a", "1");
            q.put("b", "2");
            q.promote(2);
            q.put("c", "3");
        }

        Timeline after = x.await("x meets DIVERGED and fences itself", Timeline::getFenced);
        assertEquals(Role.ROLE_DETACHED, after.getRole(), "it stopped following");
        assertEquals("", after.getFollowing());
        assertEquals(before.getLastLsn(), after.getLastLsn(), "no record overwritten or removed");
        assertEquals(before.getHistoryList(), after.getHistoryList());
        assertEquals(data, x.data());
    }

    @Test
    void divergentTailIsReadExactlyAndTheFormerPrimaryConvergesAfterRecoverAndRejoin() throws Exception {
        NodeClient n0 = node("n0");
        NodeClient n1 = node("n1");
        NodeClient n2 = node("n2");
        n0.promote(1);
        n1.follow(n0, 1, "bootstrap");
        n2.follow(n0, 1, "bootstrap");
        for (int i = 0; i < 10; i++) {
            n0.put("k" + i, "v" + i);
        }
        for (NodeClient n : List.of(n1, n2)) {
            n.await("replicated", t -> t.getLastLsn() == 10);
        }
        n0.await("majority-committed", t -> t.getCommitLsn() == 10);

        // n0 is cut off and keeps taking writes nobody else sees.
        n0.isolate(true);
        n0.put("d1", "divergent-insert");
        n0.put("k1", "divergent-update");
        n0.delete("k2");
        n0.put("d1", "divergent-update-2");
        n0.put("d2", "divergent-insert-2");
        assertEquals(15, n0.timeline().getLastLsn());
        assertEquals(10, n1.timeline().getLastLsn());

        // n1 is elected with term 2 and takes more writes; n2 follows it.
        n1.promote(2);
        n2.follow(n1, 2, "failover");
        n1.put("k3", "after-failover");
        n1.put("k0", "after-failover-2");
        n1.put("n1only", "x");
        n2.await("follows n1", t -> t.getLastLsn() == 13);
        n0.isolate(false);

        // The fork point, from both timelines, as the operator computes it.
        Timeline before = n0.timeline();
        ForkPoint.Result fork = ForkPoint.compute(AgentProtos.fromProto(before), n1.nodeTimeline());
        assertEquals(new ForkPoint.Found(Lsn.of(10), Term.of(1)), fork);

        Timeline fenced = n0.fence(2, "inc-1");
        assertTrue(fenced.getFenced());
        assertEquals(2, fenced.getCurrentTerm());
        assertEquals(Role.ROLE_DETACHED, fenced.getRole());

        List<TailRecord> tail = new ArrayList<>();
        TailDigest digest = new TailDigest();
        Iterator<TailMessage> stream = n0.agent.readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(10).setToInclusive(15).setMaxRecordsPerChunk(2).build());
        TailTrailer trailer = null;
        int chunks = 0;
        while (stream.hasNext()) {
            TailMessage m = stream.next();
            assertNull(trailer, "nothing after the trailer");
            if (m.hasTrailer()) {
                trailer = m.getTrailer();
                continue;
            }
            chunks++;
            List<TailRecord> records = new ArrayList<>();
            m.getChunk().getRecordsList().forEach(r -> records.add(AgentProtos.fromProto(r)));
            assertEquals(m.getChunk().getCrc32C(), AgentProtos.crc32c(records), "chunk CRC32C");
            records.forEach(digest::add);
            tail.addAll(records);
        }
        assertEquals(3, chunks);
        assertEquals(5, trailer.getRecordCount());
        assertEquals(digest.bytes(), trailer.getBytes());
        assertEquals(digest.finish(), trailer.getSha256());
        assertEquals(List.of(Operation.INSERT, Operation.UPDATE, Operation.DELETE, Operation.UPDATE, Operation.INSERT),
                tail.stream().map(TailRecord::operation).toList());
        assertEquals(List.of(11L, 12L, 13L, 14L, 15L), tail.stream().map(r -> r.lsn().value()).toList());
        assertEquals(Bytes.utf8("v1"), tail.get(1).before(), "the update keeps its pre-image");
        assertEquals(Bytes.utf8("v2"), tail.get(2).before(), "the delete keeps its pre-image");
        assertEquals(Bytes.utf8("divergent-insert"), tail.get(3).before());
        assertTrue(tail.stream().allMatch(r -> r.term().value() == 1));

        RecoverToLsnResponse recovered = n0.agent.recoverToLsn(RecoverToLsnRequest.newBuilder().setTargetLsn(10)
                .setExpectedLastLsn(15).setTerm(2).setIncidentId("inc-1").setExpectedRollbackFileSha256("f".repeat(64))
                .build());
        assertEquals(before.getRollbackId() + 1, recovered.getRollbackId(), "rollback id rose by one");
        assertEquals(10, recovered.getLastLsn());
        assertFalse(recovered.getAlreadyDone());
        assertEquals("inc-1", n0.timeline().getLastRecoveryIncident());

        n0.follow(n1, 2, "inc-1");
        n0.await("caught up with n1", t -> t.getLastLsn() == 13);
        assertEquals(n1.data(), n0.data(), "n0's data equals n1's");
        assertEquals(n1.data(), n2.data());
        Timeline after = n0.timeline();
        assertEquals(before.getRollbackId() + 1, after.getRollbackId(), "exactly one bump");
        assertEquals(Role.ROLE_REPLICA, after.getRole());
        assertFalse(after.getFenced());
        assertInstanceOf(ForkPoint.Found.class, ForkPoint.compute(AgentProtos.fromProto(after), n1.nodeTimeline()));
    }
}
