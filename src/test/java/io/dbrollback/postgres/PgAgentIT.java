package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.LsnKind;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailRecord;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.coordinator.ForkPoint;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL agent on three real PostgreSQL 15 servers, driven over its gRPC protocol as the
 * operator drives it: a failover leaves the former primary with divergent transactions (inserts,
 * updates, deletes, one transaction that began before the cut and committed after it); the agent
 * reports timelines whose fork is the switchpoint, fences for real, streams every divergent change
 * with its old and new rows, rewinds with pg_rewind and rejoins the new primary.
 */
class PgAgentIT {

    private PgAgentCluster c;

    @BeforeEach
    void start() throws Exception {
        c = PgAgentCluster.start(PgCluster.Options.defaults());
    }

    @AfterEach
    void stop() {
        if (c != null) {
            c.close();
        }
    }

    static void sql(PgServer s, String... statements) throws SQLException {
        s.execute(statements);
    }

    @Test
    void aFailoverIsCapturedRewoundAndRejoined() throws Exception {
        PgServer p0 = c.pg().primary();
        sql(p0, "CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL",
                "CREATE TABLE acct (id int PRIMARY KEY, balance numeric(20,2))",
                "ALTER TABLE acct REPLICA IDENTITY FULL");
        c.awaitSlot();
        sql(p0, "INSERT INTO kv VALUES ('a', '1'), ('b', '2'), ('c', '3')", "INSERT INTO acct VALUES (1, 100.00)");
        // A transaction that writes before the cut and commits after it.
        Connection straddling = p0.connect();
        straddling.setAutoCommit(false);
        try (Statement s = straddling.createStatement()) {
            s.execute("INSERT INTO kv VALUES ('s', 'straddles')");
            s.execute("SELECT txid_current()");
        }
        c.pg().cutOff();
        sql(p0, "INSERT INTO kv VALUES ('d', '4')", "UPDATE kv SET v = '20' WHERE k = 'b'",
                "DELETE FROM kv WHERE k = 'c'",
                "UPDATE acct SET balance = 123456789012345678.99 WHERE id = 1");
        straddling.commit();
        straddling.close();
        PgCluster.Failover f = c.pg().failover();
        PgServer p1 = f.newPrimary();
        sql(p1, "INSERT INTO kv VALUES ('n', 'new primary')");

        RollbackAgentGrpc.RollbackAgentBlockingStub former = c.client(p0.name());
        RollbackAgentGrpc.RollbackAgentBlockingStub leader = c.client(p1.name());
        Timeline t0 = former.getTimeline(GetTimelineRequest.getDefaultInstance());
        Timeline t1 = leader.getTimeline(GetTimelineRequest.getDefaultInstance());
        assertEquals(LsnKind.LSN_KIND_POSITIONS, t0.getLsnKind());
        assertEquals(Role.ROLE_PRIMARY, t0.getRole());
        assertEquals(Role.ROLE_PRIMARY, t1.getRole());
        assertEquals(2, t1.getCurrentTerm());
        ForkPoint.Result fork = ForkPoint.compute(AgentProtos.fromProto(t0), AgentProtos.fromProto(t1));
        assertTrue(fork instanceof ForkPoint.Found, fork.toString());
        long forkLsn = ((ForkPoint.Found) fork).lsn().value();
        assertEquals(f.switchpoint().value(), forkLsn, "the fork is the switchpoint");

        // The fence: no client reaches the former primary any more.
        Timeline fenced = former.fence(FenceRequest.newBuilder().setTerm(2).setIncidentId("inc-1").build())
                .getTimeline();
        assertTrue(fenced.getFenced());
        assertEquals(Role.ROLE_DETACHED, fenced.getRole());
        assertThrows(SQLException.class, () -> p0.connect().close(), "a client cannot connect to the fenced node");
        assertEquals(fenced.getLastLsn(), former.getTimeline(GetTimelineRequest.getDefaultInstance()).getLastLsn(),
                "the fenced node's last LSN stays put");

        // The tail: every divergent change in commit order, with old and new rows.
        List<TailRecord> tail = new ArrayList<>();
        Iterator<TailMessage> it = former.readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(forkLsn).setToInclusive(fenced.getLastLsn()).build());
        TailMessage last = null;
        while (it.hasNext()) {
            last = it.next();
            if (last.hasChunk()) {
                tail.addAll(last.getChunk().getRecordsList());
            }
        }
        assertTrue(last != null && last.hasTrailer());
        assertEquals(tail.size(), last.getTrailer().getRecordCount());
        List<String> ops = tail.stream().map(r -> r.getOperation().name().substring(10) + " "
                + json(r.getKey()).path("key").toString()).toList();
        assertEquals(List.of("INSERT {\"k\":\"d\"}", "UPDATE {\"k\":\"b\"}", "DELETE {\"k\":\"c\"}",
                "UPDATE {\"id\":1}",
                "INSERT {\"k\":\"s\"}"), ops);
        assertEquals("[{\"name\":\"k\",\"type\":\"text\",\"value\":\"b\"},{\"name\":\"v\",\"type\":\"text\","
                + "\"value\":\"2\"}]",
                tail.get(1).getBefore().toStringUtf8());
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"balance\","
                + "\"type\":\"numeric(20,2)\",\"value\":123456789012345678.99}]",
                tail.get(3).getAfter().toStringUtf8());
        assertEquals("100.00", json(tail.get(3).getBefore()).get(1).get("value").decimalValue().toPlainString());
        for (int i = 1; i < tail.size(); i++) {
            assertTrue(tail.get(i).getLsn() >= tail.get(i - 1).getLsn(), "commit order");
            assertTrue(tail.get(i).getLsn() > forkLsn);
        }

        // The recover: pg_rewind, then a fenced standby holding the new primary's data.
        String sha = "ab".repeat(32);
        RecoverToLsnResponse r = former.recoverToLsn(RecoverToLsnRequest.newBuilder().setTargetLsn(forkLsn).setTerm(2)
                .setIncidentId("inc-1").setExpectedRollbackFileSha256(sha).setExpectedLastLsn(fenced.getLastLsn())
                .build());
        assertEquals(1, r.getRollbackId());
        assertFalse(r.getAlreadyDone());
        Timeline recovered = former.getTimeline(GetTimelineRequest.getDefaultInstance());
        assertEquals(forkLsn, recovered.getLastLsn());
        assertEquals("inc-1", recovered.getLastRecoveryIncident());
        assertEquals(sha, recovered.getLastRecoveryFileSha256());
        RecoverToLsnResponse again = former.recoverToLsn(RecoverToLsnRequest.newBuilder().setTargetLsn(forkLsn)
                .setTerm(2)
                .setIncidentId("inc-1").setExpectedRollbackFileSha256(sha).setExpectedLastLsn(fenced.getLastLsn())
                .build());
        assertTrue(again.getAlreadyDone());
        assertEquals(1, again.getRollbackId());

        // The rejoin: streaming from the new primary, the same rows everywhere.
        Timeline rejoined = former.rejoinAsReplica(RejoinAsReplicaRequest.newBuilder()
                .setPrimaryAddress(c.agentAddress(p1.name())).setTerm(2).setIncidentId("inc-1").build()).getTimeline();
        assertEquals(Role.ROLE_REPLICA, rejoined.getRole());
        assertFalse(rejoined.getFenced());
        sql(p1, "INSERT INTO kv VALUES ('after', 'rejoin')");
        PgCluster.await(p0.name() + " holding the new primary's rows",
                () -> p0.tableRows("kv").equals(p1.tableRows("kv")));
        assertTrue(p0.tableRows("kv").contains("(after,rejoin)"), p0.tableRows("kv").toString());
        assertFalse(p0.tableRows("kv").contains("(d,4)"), "the divergent insert is gone from the rejoined node");
        assertEquals(p1.tableRows("acct"), p0.tableRows("acct"));
        StatusRuntimeException stale = assertThrows(StatusRuntimeException.class, () -> former.fence(
                FenceRequest.newBuilder().setTerm(1).setIncidentId("inc-2").build()));
        assertEquals("STALE_TERM", AgentErrors.reason(stale).orElse(""));
    }

    private static JsonNode json(ByteString b) {
        return Wal2JsonRecords.parse(b.toString(StandardCharsets.UTF_8));
    }
}
