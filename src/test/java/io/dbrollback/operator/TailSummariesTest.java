package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.CommitTime;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.SummarizeTailRequest;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailRecord;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.TailSummary;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator's SummarizeTail caller ({@link TailSummaries}) against a real reference node after a
 * failover, and against scripted agents on loopback gRPC servers: one that lacks the optional RPC (the
 * summary is unknown, not a failure), one whose answer breaks a rule, one that refuses, one that never
 * answers.
 */
@IntegrationTest
class TailSummariesTest {

    private static final String POD = "orders-0";

    private final List<AutoCloseable> open = new ArrayList<>();
    private AgentClients clients;

    @BeforeEach
    void clients() {
        clients = new AgentClients();
        open.add(clients);
    }

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    void theReferenceNodeSummarizesItsDivergentTailAsItsStreamHoldsIt() throws Exception {
        MockApiServer api = MockApiServer.start();
        open.add(api::close);
        DbCluster db = new DbCluster(api, api.client(), "summaries");
        open.add(db);
        db.failover(); // orders-0: ten committed records, then five divergent writes (10, 15]

        TailSummary s = new TailSummaries(clients).summarize(db.address(0), null, POD, Lsn.of(10), Lsn.of(15))
                .orElseThrow();

        List<TailRecord> records = new ArrayList<>();
        TailTrailer trailer = null;
        Iterator<TailMessage> it = db.node(0).agent.readDivergentTail(ReadDivergentTailRequest.newBuilder()
                .setFromExclusive(10).setToInclusive(15).build());
        while (it.hasNext()) {
            TailMessage m = it.next();
            if (m.hasTrailer()) {
                trailer = m.getTrailer();
            } else {
                records.addAll(m.getChunk().getRecordsList());
            }
        }
        assertEquals(5, s.records());
        assertEquals(trailer.getRecordCount(), s.records());
        assertEquals(trailer.getBytes(), s.bytes());
        assertEquals(commitTime(records.get(0)), s.firstCommit());
        assertEquals(commitTime(records.get(4)), s.lastCommit());
        assertTrue(s.firstCommit().isBefore(s.lastCommit()), s.toString());
        // d1 inserted then updated, k1 updated, k2 deleted, d2 inserted: no key holds '/', ':' or '.'
        assertEquals(List.of(new TailSummary.Touch("key d1", 2), new TailSummary.Touch("key d2", 1),
                new TailSummary.Touch("key k1", 1), new TailSummary.Touch("key k2", 1)), s.touches());
        assertFalse(s.touchesTruncated());

        TailSummary empty = new TailSummaries(clients).summarize(db.address(0), null, POD, Lsn.of(15), Lsn.of(15))
                .orElseThrow();
        assertEquals(new TailSummary(0, 0, null, null, List.of(), false), empty);

        TransportException beyond = assertThrows(TransportException.class, () -> new TailSummaries(clients)
                .summarize(db.address(0), null, POD, Lsn.of(10), Lsn.of(99)));
        assertEquals("RANGE_NOT_IN_LOG", beyond.code(), beyond.getMessage());
        assertTrue(beyond.getMessage().startsWith("SummarizeTail on orders-0: OUT_OF_RANGE"), beyond.getMessage());
        assertFalse(beyond.outcomeUnknown());
    }

    private static Instant commitTime(TailRecord r) {
        return Instant.ofEpochSecond(r.getCommitTimeSeconds(), r.getCommitTimeNanos());
    }

    private String agent(RollbackAgentGrpc.RollbackAgentImplBase service) {
        LoopbackAgent agent = LoopbackAgent.start(service);
        open.add(agent);
        return agent.address();
    }

    @Test
    void anAgentWithoutTheOptionalRpcLeavesTheSummaryUnknown() {
        String address = agent(new RollbackAgentGrpc.RollbackAgentImplBase() {
        });
        assertEquals(Optional.empty(), new TailSummaries(clients).summarize(address, null, POD, Lsn.of(10),
                Lsn.of(15)));
    }

    @Test
    void anInvalidAnswerIsATransportFailureNamingTheRuleAndNotTheValue() {
        String address = agent(new RollbackAgentGrpc.RollbackAgentImplBase() {
            @Override
            public void summarizeTail(SummarizeTailRequest request, StreamObserver<SummarizeTailResponse> out) {
                // no records, yet a commit time: a summary that cannot be
                out.onNext(SummarizeTailResponse.newBuilder().setFirstCommit(CommitTime.newBuilder().setSeconds(7))
                        .setLastCommit(CommitTime.newBuilder().setSeconds(7)).build());
                out.onCompleted();
            }
        });
        TransportException e = assertThrows(TransportException.class, () -> new TailSummaries(clients)
                .summarize(address, null, POD, Lsn.of(10), Lsn.of(15)));
        assertEquals(GrpcRollbackTransport.INVALID_ANSWER, e.code());
        assertEquals("SummarizeTail from orders-0 broke rule SummaryCommitTimes: first_commit and last_commit must be"
                + " present exactly when the summary counts records; the answer was not used", e.getMessage());
        assertFalse(e.outcomeUnknown());
    }

    @Test
    void aRefusalIsATransportFailureWithTheAgentsReason() {
        String address = agent(new RollbackAgentGrpc.RollbackAgentImplBase() {
            @Override
            public void summarizeTail(SummarizeTailRequest request, StreamObserver<SummarizeTailResponse> out) {
                out.onError(AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST,
                        "range (15, 10] is reversed"));
            }
        });
        TransportException e = assertThrows(TransportException.class, () -> new TailSummaries(clients)
                .summarize(address, null, POD, Lsn.of(15), Lsn.of(10)));
        assertEquals("INVALID_REQUEST", e.code());
        assertTrue(e.getMessage().startsWith("SummarizeTail on orders-0: INVALID_ARGUMENT"), e.getMessage());
        TransportException none = assertThrows(TransportException.class, () -> new TailSummaries(clients)
                .summarize(null, null, POD, Lsn.of(10), Lsn.of(15)));
        assertEquals("no agent address for pod orders-0", none.getMessage());
    }

    @Test
    void anAgentThatNeverAnswersFailsAfterTheSummaryDeadline() {
        String address = agent(new RollbackAgentGrpc.RollbackAgentImplBase() {
            @Override
            public void summarizeTail(SummarizeTailRequest request, StreamObserver<SummarizeTailResponse> out) {
                // never answers
            }
        });
        AgentClients.Deadlines d = AgentClients.Deadlines.DEFAULT;
        AgentClients shortDeadline = new AgentClients(List.of(), new AgentClients.Deadlines(d.getTimeline(),
                d.fence(), d.recoverToLsn(), d.rejoinAsReplica(), d.quarantineRollbackFile(), Duration.ofMillis(300),
                d.progressTimeout(), d.streamDeadline()));
        open.add(shortDeadline);
        long started = System.nanoTime();
        TransportException e = assertThrows(TransportException.class, () -> new TailSummaries(shortDeadline)
                .summarize(address, null, POD, Lsn.of(10), Lsn.of(15)));
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertEquals("DEADLINE_EXCEEDED", e.code(), e.getMessage());
        assertFalse(e.outcomeUnknown(), "SummarizeTail is read-only");
        assertTrue(took.compareTo(Duration.ofMillis(300)) >= 0 && took.compareTo(Duration.ofSeconds(5)) < 0,
                "failed after " + took.toMillis() + " ms");
    }
}
