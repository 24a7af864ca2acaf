package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.ForkPoint;
import io.grpc.StatusRuntimeException;
import java.util.Iterator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL agent killed in the middle: while it streams a divergent tail (the stream breaks, the
 * next read after the restart gives the same trailer), and right after pg_rewind ran but before the
 * recover recorded it (the restart restores the WAL and control file it copied aside and runs pg_rewind
 * again; the node ends rewound, its rollback id raised once, and rejoins with the new primary's rows).
 */
class PgAgentCrashIT {

    private PgAgentCluster c;
    private PgServer former;
    private PgServer leader;
    private long fork;
    private Timeline fenced;

    @BeforeEach
    void diverge() throws Exception {
        c = PgAgentCluster.start(PgCluster.Options.defaults());
        former = c.pg().primary();
        former.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL");
        c.awaitSlot();
        former.execute("INSERT INTO kv SELECT 'k' || i, 'v' || i FROM generate_series(1, 100) i");
        c.pg().cutOff();
        former.execute("INSERT INTO kv SELECT 'new' || i, 'x' FROM generate_series(1, 20000) i",
                "UPDATE kv SET v = 'changed' WHERE k LIKE 'k1%'", "DELETE FROM kv WHERE k LIKE 'k2%'");
        leader = c.pg().failover().newPrimary();
        leader.execute("INSERT INTO kv VALUES ('on-new-primary', 'kept')");
        Timeline t0 = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        Timeline t1 = c.client(leader.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        fork = ((ForkPoint.Found) ForkPoint.compute(AgentProtos.fromProto(t0), AgentProtos.fromProto(t1))).lsn().value();
        fenced = c.client(former.name()).fence(FenceRequest.newBuilder().setTerm(2).setIncidentId("crash").build())
                .getTimeline();
    }

    @AfterEach
    void stop() {
        if (c != null) {
            c.close();
        }
    }

    private TailTrailer readWhole() {
        Iterator<TailMessage> it = c.client(former.name()).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(fork).setToInclusive(fenced.getLastLsn()).build());
        TailMessage last = null;
        while (it.hasNext()) {
            last = it.next();
        }
        assertTrue(last != null && last.hasTrailer());
        return last.getTrailer();
    }

    @Test
    void aCaptureCutByAKillIsReadWholeAfterTheRestart() throws Exception {
        TailTrailer before = readWhole();
        assertEquals(20000 + 12 + 11, before.getRecordCount(), "20,000 inserts, 12 updates (k1, k10..k19, k100), 11 deletes");
        Iterator<TailMessage> it = c.client(former.name()).readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(fork).setToInclusive(fenced.getLastLsn()).build());
        assertTrue(it.next().hasChunk(), "the stream has begun");
        c.agent(former.name()).crash();
        assertThrows(StatusRuntimeException.class, () -> {
            while (it.hasNext()) {
                it.next();
            }
        }, "the stream of the killed agent breaks; it never ends with a trailer");
        c.restartAgent(former.name());
        Timeline after = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertTrue(after.getFenced(), "the fence survives the restart");
        assertEquals(fenced.getLastLsn(), after.getLastLsn());
        assertEquals(before, readWhole(), "the same tail, to the digest");
    }

    @Test
    void aRecoverKilledAfterPgRewindResumesFromTheCopiesAndEndsOnce() throws Exception {
        String sha = "cd".repeat(32);
        RecoverToLsnRequest recover = RecoverToLsnRequest.newBuilder().setTargetLsn(fork).setTerm(2).setIncidentId("crash")
                .setExpectedRollbackFileSha256(sha).setExpectedLastLsn(fenced.getLastLsn()).build();
        c.agent(former.name()).onRewound(() -> {
            throw new IllegalStateException("killed right after pg_rewind");
        });
        assertThrows(StatusRuntimeException.class, () -> c.client(former.name()).recoverToLsn(recover));
        c.agent(former.name()).crash();
        // The restart finishes the recover before it serves: the copies back, pg_rewind again, a fenced standby.
        c.restartAgent(former.name());
        Timeline t = c.client(former.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
        assertEquals(1, t.getRollbackId(), "the rollback id rose once");
        assertEquals(fork, t.getLastLsn());
        assertEquals("crash", t.getLastRecoveryIncident());
        assertTrue(t.getFenced());
        RecoverToLsnResponse retry = c.client(former.name()).recoverToLsn(recover);
        assertTrue(retry.getAlreadyDone());
        assertEquals(1, retry.getRollbackId());
        assertFalse(java.nio.file.Files.exists(c.config(former.name()).stateDir().resolve("rewind-crash")),
                "the copies are gone once the recover is done");
        c.client(former.name()).rejoinAsReplica(RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(
                c.agentAddress(leader.name())).setTerm(2).setIncidentId("crash").build());
        PgCluster.await(former.name() + " holding the new primary's rows", () -> former.tableRows("kv")
                .equals(leader.tableRows("kv")));
        assertTrue(former.tableRows("kv").contains("(on-new-primary,kept)"));
    }
}
