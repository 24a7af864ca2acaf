package io.dbrollback.operator;

import static io.dbrollback.testing.RollbackChecks.sha256;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.Plan;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TestStreams;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.RollbackFileName;
import io.dbrollback.model.TailRecord;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.InjectMockApiServer;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.WithMockApiServer;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real operator configured with {@code dbrollback.rollback-file.writer=agent}, against the mock
 * API server with every pods/exec request refused (403, as RBAC without pods/exec answers) and three
 * reference nodes: the agent writes the rollback file, the rollback completes with the digest the
 * exec mode gives, and the fault cases fail closed or are retried.
 */
@QuarkusTest
@WithMockApiServer
@TestProfile(AgentWriterOperatorTest.AgentWriter.class)
@IntegrationTest
class AgentWriterOperatorTest {

    /** The agent-writes-the-file mode. */
    public static final class AgentWriter implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("dbrollback.rollback-file.writer", "agent");
        }
    }

    @Inject
    KubernetesClient client;

    @InjectMockApiServer
    MockApiServer api;

    @TempDir
    Path tmp;

    @BeforeEach
    void forbidPodExec() {
        api.exec().forbidExec(true);
    }

    @AfterEach
    void neverTriedPodExec() {
        assertEquals(0, api.exec().forbiddenExecRequests(), "the operator never asked for pods/exec");
        assertTrue(api.exec().execLog().isEmpty(), "no exec ran");
    }

    private ReplicaSetRollback get(String ns, String name) {
        return RollbackChecks.get(client, ns, name);
    }

    private ReplicaSetRollbackStatus awaitPhase(String ns, String name, String phase) {
        return RollbackChecks.awaitPhase(client, ns, name, phase);
    }

    private List<Event> events(String ns, String name) {
        return RollbackChecks.events(client, ns, name);
    }

    private ReplicaSetRollback create(DbCluster db, ReplicaSetRollback r) {
        return client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(r).create();
    }

    /** As kubectl annotate does: retried when the operator wrote the resource in between (409). */
    private void annotate(String ns, String name, String key, String value) {
        RollbackChecks.edit(client, ns, name, r -> {
            r.getMetadata().getAnnotations().put(key, value);
            return r;
        });
    }

    /** The divergent tail of orders-0 as its agent serves it, read before the rollback. */
    private static List<TailRecord> tailOf(DbCluster db, long from, long to) {
        List<TailRecord> out = new ArrayList<>();
        try (AgentClients clients = new AgentClients();
                TailStream s = new GrpcTailStream(clients.asyncStub(db.replicaNode(0).address(), null), "orders-0",
                        from,
                        to, clients.deadlines())) {
            s.forEachRemaining(out::add);
        }
        return out;
    }

    /** The rollback file's header exactly as the coordinator builds it from the recorded plan. */
    private static RollbackFileHeader header(ReplicaSetRollback r) {
        Checkpoint cp = StatusMapper.fromStatus(r.getStatus());
        Plan plan = cp.plan();
        return new RollbackFileHeader(cp.incidentId(), plan.number(), IncidentSpecs.from(r).cluster(),
                r.getSpec().getTargetPod(), plan.forkLsn(), plan.targetLastLsn(), plan.oldTerm(), plan.newTerm(),
                plan.newPrimary(), plan.expectedRecords(), plan.plannedAt());
    }

    private static List<String> listing(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void assertNothingRemoved(DbCluster db) {
        var t = db.node(0).timeline();
        assertEquals(0, t.getRollbackId(), "no rollback-id bump");
        assertEquals(15, t.getLastLsn(), "nothing removed from orders-0");
    }

    @Test
    void withoutPodExecTheAgentWritesTheFileAndTheRollbackCompletes() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "agent-happy")) {
            db.failover();
            List<TailRecord> tail = tailOf(db, 10, 15);
            assertEquals(5, tail.size());
            ReplicaSetRollback created = create(db, db.rollback("rb"));
            ReplicaSetRollbackStatus s = awaitPhase("agent-happy", "rb", "Completed");
            assertEquals(0L, s.getRollbackIdBefore());
            assertEquals(1L, s.getRollbackIdAfter());
            assertEquals(1, db.node(0).timeline().getRollbackId(), "exactly one bump");

            // The agent wrote the file in its own rollback directory and reported its own path.
            Path dir = db.volume(0).resolve("rollback");
            Path file = dir.resolve(RollbackFileName.of(created.getMetadata().getUid(), 1));
            assertEquals(file.toString(), s.getRollbackFile().getPath());
            assertEquals(List.of(file.getFileName().toString()), listing(dir), "one file, no temporary file left");
            byte[] bytes = Files.readAllBytes(file);
            assertEquals(sha256(bytes), s.getRollbackFile().getSha256());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));

            // The exec mode, run for real on the same plan and tail, gives the same bytes and digest.
            Path execRoot = tmp.resolve("exec");
            PersistResult viaExec = new ExecRollbackFileStore(new LocalPodExec(execRoot, DbCluster.VOLUME))
                    .in(DbCluster.CONTAINER, DbCluster.VOLUME + "/rollback")
                    .persist("orders-0", header(get("agent-happy", "rb")), TestStreams.of(tail));
            RollbackFile execFile = assertInstanceOf(PersistResult.Persisted.class, viaExec).file();
            assertEquals(execFile.sha256(), s.getRollbackFile().getSha256(), "the same digest as the exec mode");
            assertArrayEquals(Files.readAllBytes(execRoot.resolve("rollback").resolve(file.getFileName())), bytes);
            assertEquals(s.getTail().getSha256(), execFile.tailSha256());

            db.node(0).await("caught up", t -> t.getLastLsn() == 13);
            assertEquals(db.node(1).data(), db.node(0).data());
            RollbackChecks.awaitEvent(client, "agent-happy", "rb", "RollbackCompleted");
            Set<String> reasons = events("agent-happy", "rb").stream().map(Event::getReason)
                    .collect(Collectors.toSet());
            assertTrue(reasons.containsAll(Set.of("TailPersisted", "RollbackFileVerified", "NodeRolledBack",
                    "RollbackCompleted")), reasons.toString());
        }
    }

    @Test
    void aFullDiskOnTheNodeFailsClosedWithNothingRemoved() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "agent-nospace")) {
            db.failover();
            db.replicaNode(0).rollbackFileFaults().noSpaceAfter(100);
            create(db, db.rollback("rb"));
            ReplicaSetRollbackStatus s = awaitPhase("agent-nospace", "rb", "Failed");
            assertEquals("PersistFailed", s.getReason());
            assertTrue(s.getMessage().contains("NO_SPACE"), s.getMessage());
            assertNothingRemoved(db);
            assertEquals(List.of(), listing(db.volume(0).resolve("rollback")), "no file, no temporary file");
            assertTrue(RollbackChecks.awaitEvent(client, "agent-nospace", "rb", "RollbackFailed").stream()
                    .allMatch(e -> e.getType().equals("Warning")));
        }
    }

    @Test
    void aWriteCutMidStreamIsRetriedAndOnlyTheWholeFileIsTrusted() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "agent-cut")) {
            db.failover();
            db.replicaNode(0).rollbackFileFaults().cutAfter(200);
            create(db, db.rollback("rb"));
            ReplicaSetRollbackStatus s = awaitPhase("agent-cut", "rb", "Completed");
            assertEquals(1, db.node(0).timeline().getRollbackId(), "one bump");
            Path dir = db.volume(0).resolve("rollback");
            Path file = Path.of(s.getRollbackFile().getPath());
            assertEquals(List.of(file.getFileName().toString()), listing(dir), "the whole file only");
            assertEquals(sha256(Files.readAllBytes(file)), s.getRollbackFile().getSha256());
            assertEquals(5L, s.getRollbackFile().getRecords());
            List<String> failures = events("agent-cut", "rb").stream().filter(e -> e.getReason().equals("StepFailed"))
                    .map(Event::getMessage).toList();
            assertTrue(failures.stream().anyMatch(m -> m.contains("UNAVAILABLE") && m.contains("outcome unknown")),
                    failures.toString());
        }
    }

    @Test
    void anExistingFileWithOtherBytesIsNeverOverwritten() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "agent-exists")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getMetadata().setAnnotations(new HashMap<>(Map.of(ReplicaSetRollback.PAUSE_ANNOTATION, "true")));
            String uid = create(db, r).getMetadata().getUid();
            Path dir = db.volume(0).resolve("rollback");
            Files.createDirectories(dir);
            Path file = dir.resolve(RollbackFileName.of(uid, 1));
            byte[] other = "{\"type\":\"header\",\"note\":\"someone else's file\"}\n".getBytes();
            Files.write(file, other);
            annotate("agent-exists", "rb", ReplicaSetRollback.PAUSE_ANNOTATION, "false");
            ReplicaSetRollbackStatus s = awaitPhase("agent-exists", "rb", "Failed");
            assertEquals("PersistFailed", s.getReason());
            assertTrue(s.getMessage().contains("CONFLICT"), s.getMessage());
            assertArrayEquals(other, Files.readAllBytes(file), "never overwritten");
            assertEquals(List.of(file.getFileName().toString()), listing(dir));
            assertNothingRemoved(db);
        }
    }

    @Test
    void aNewTermReplansToANewFileAndAWriteUnderTheOldTermIsRefused() throws Exception {
        try (DbCluster db = new DbCluster(api, client, "agent-term")) {
            db.failover();
            ReplicaSetRollback r = db.rollback("rb");
            r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
            create(db, r);
            ReplicaSetRollbackStatus first = awaitPhase("agent-term", "rb", "AwaitingApproval");
            RollbackFileHeader plan1 = header(get("agent-term", "rb"));
            // orders-2 (which has all of orders-1's log) is elected in term 3.
            db.node(2).promote(3);
            db.setLease("orders-2", 3);
            db.node(1).follow(db.node(2), 3, "failover-2");
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                ReplicaSetRollbackStatus s = get("agent-term", "rb").getStatus();
                return s.getPlan().getNumber() == 2 && "AwaitingApproval".equals(s.getPhase());
            });
            ReplicaSetRollbackStatus second = get("agent-term", "rb").getStatus();
            assertEquals(3L, second.getPlan().getNewTerm());
            assertEquals(3, db.node(0).timeline().getCurrentTerm(), "orders-0 was fenced under term 3");
            assertEquals(first.getRollbackFile().getSha256(),
                    second.getSupersededPlans().get(0).getRollbackFile().getSha256(), "plan 1's file stays on record");
            Path dir = db.volume(0).resolve("rollback");
            assertEquals(2, listing(dir).size(), "one file per plan: " + listing(dir));

            // An operator instance still acting on plan 1 (term 2) writes again: the node refuses it.
            byte[] plan1Bytes = Files.readAllBytes(Path.of(first.getRollbackFile().getPath()));
            try (AgentClients clients = new AgentClients()) {
                AgentRollbackFileStore stale = new AgentRollbackFileStore(clients, null,
                        Map.of("orders-0", db.replicaNode(0).address()), plan1.newTerm());
                TransportException e = assertThrows(TransportException.class, () -> stale.persist("orders-0",
                        new RollbackFileHeader(plan1.incidentId(), 3, plan1.cluster(), plan1.node(), plan1.forkLsn(),
                                plan1.lastLsn(), plan1.oldTerm(), plan1.newTerm(), plan1.newPrimary(),
                                plan1.expectedRecords(), plan1.createdAt()), TestStreams.of(tailOf(db, 10, 15))));
                assertEquals("STALE_TERM", e.code());
            }
            assertEquals(2, listing(dir).size(), "the stale write published nothing: " + listing(dir));
            assertArrayEquals(plan1Bytes, Files.readAllBytes(Path.of(first.getRollbackFile().getPath())));

            annotate("agent-term", "rb", ReplicaSetRollback.APPROVE_ANNOTATION, second.getRollbackFile().getSha256());
            awaitPhase("agent-term", "rb", "Completed");
            assertEquals(1, db.node(0).timeline().getRollbackId(), "one bump, under plan 2");
        }
    }
}
