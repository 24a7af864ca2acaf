package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.ReadRollbackCopyRequest;
import io.dbrollback.agent.v1.ReadRollbackCopyResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.StoreRollbackCopyRequest;
import io.dbrollback.agent.v1.StoreRollbackCopyResponse;
import io.dbrollback.api.Condition;
import io.dbrollback.api.CopySpec;
import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.Operator;
import java.io.ByteArrayOutputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The off-node copy end to end: the real operator against the mock API server and three real reference
 * nodes (orders-0 diverged, orders-1 the new leader, orders-2 its follower). The copy goes to orders-2,
 * its bytes there are the rollback file's; a copy target that is down, full, or that reads back other
 * bytes holds the rollback before anything is removed (Wait) or lets it go on with a Warning (Proceed);
 * an operator that stopped before the copy leaves a clean resume (one copy, no temporary file).
 */
class RollbackCopyIT {

    private static final Duration FAST = Duration.ofMillis(50);

    private static Operator operator(KubernetesClient client, String name) {
        return TestOperator.against(client).instance(name).backoff(FAST, Duration.ofMillis(400)).start();
    }

    private static ReplicaSetRollback rollback(DbCluster db, CopySpec.OnFailure onFailure) {
        ReplicaSetRollback r = db.rollback("rb");
        CopySpec copy = new CopySpec();
        copy.setOnFailure(onFailure);
        r.getSpec().setCopy(copy);
        return r;
    }

    /** orders-N's copies of orders-0's files. */
    private static Path copies(DbCluster db, int n) {
        return db.volume(n).resolve("rollback").resolve("copies").resolve("orders-0");
    }

    private static List<String> names(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static Condition condition(ReplicaSetRollbackStatus s, String type) {
        return s.getConditions().stream().filter(c -> c.getType().equals(type)).findFirst().orElse(null);
    }

    private static int deadPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The verified copy of the status, checked against the file: same digest, same bytes on the pod. */
    private static CopyStatus assertVerifiedCopy(DbCluster db, ReplicaSetRollbackStatus s, int pod) throws Exception {
        CopyStatus c = s.getCopies().stream().filter(x -> x.getVerifiedAt() != null).findFirst().orElseThrow();
        assertEquals("Agent", c.getKind());
        assertEquals("orders-" + pod, c.getPod());
        assertEquals(s.getRollbackFile().getSha256(), c.getSha256(), "the copy's digest is the verified file's");
        assertEquals(s.getRollbackFile().getBytes(), c.getBytes());
        assertNull(c.getFailure());
        String name = Path.of(s.getRollbackFile().getPath()).getFileName().toString();
        Path local = copies(db, pod).resolve(name);
        assertEquals(local.toString(), c.getPath(), "the path the agent reported");
        assertArrayEquals(Files.readAllBytes(RollbackChecks.fileOf(db, s)), Files.readAllBytes(local),
                "the copy's bytes are the rollback file's");
        assertEquals(List.of(name), names(copies(db, pod)), "exactly one copy, no temporary file");
        return c;
    }

    @Test
    void theVerifiedFileIsCopiedToTheLeadersFollowerBeforeAnythingIsRemoved() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "copy-ok");
            try (DbCluster db = new DbCluster(api, client, "copy-ok")) {
                db.failover();
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb"))
                        .create();
                ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertEquals(1, s.getCopies().size());
                CopyStatus c = assertVerifiedCopy(db, s, 2);
                assertEquals("True", condition(s, "OffNodeCopy").getStatus());
                assertEquals(List.of(), names(copies(db, 1)), "the leader holds no copy: its follower does");
                Event copied = RollbackChecks.awaitEvent(client, db.namespace, "rb", "RollbackFileCopied").get(0);
                assertTrue(copied.getMessage().contains(c.getSha256()), copied.getMessage());
                assertEquals(0, db.node(2).timeline().getRollbackId(), "a copy changes nothing on orders-2");
            } finally {
                operator.stop();
            }
        }
    }

    @Test
    void waitHoldsTheRollbackWhileTheCopyTargetIsDownAndGoesOnWhenItIsBack() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "copy-down");
            try (DbCluster db = new DbCluster(api, client, "copy-down")) {
                db.failover();
                db.pointAgentAt(2, deadPort());
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, CopySpec.OnFailure.Wait)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.awaitWaiting(client, db.namespace, "rb", "CopyNotVerified");
                assertEquals("Verified", s.getPhase());
                assertEquals("Unreachable", s.getCopies().get(0).getFailure());
                assertEquals("orders-2", s.getCopies().get(0).getPod());
                assertEquals("False", condition(s, "OffNodeCopy").getStatus());
                assertEquals("CopyNotVerified", condition(s, "OffNodeCopy").getReason());
                Event failed = RollbackChecks.awaitEvent(client, db.namespace, "rb", "RollbackCopyFailed").get(0);
                assertEquals("Warning", failed.getType());
                assertEquals(0, db.node(0).timeline().getRollbackId(), "nothing removed while no copy verified");
                assertEquals(15, db.node(0).timeline().getLastLsn());

                db.pointAgentAt(2, db.replicaNode(2).port());
                s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertVerifiedCopy(db, s, 2);
                assertEquals(1, s.getCopies().size(), "the verified copy replaced the failure of the same pod");
            } finally {
                operator.stop();
            }
        }
    }

    @Test
    void proceedGoesOnWithOneCopyAndSaysSo() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "copy-proceed");
            try (DbCluster db = new DbCluster(api, client, "copy-proceed")) {
                db.failover();
                db.pointAgentAt(2, deadPort());
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, CopySpec.OnFailure.Proceed)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertEquals(1, s.getCopies().size());
                assertEquals("Unreachable", s.getCopies().get(0).getFailure());
                assertNull(s.getCopies().get(0).getSha256());
                assertEquals("OnlyOneCopy", condition(s, "OffNodeCopy").getReason());
                Event one = RollbackChecks.awaitEvent(client, db.namespace, "rb", "OnlyOneCopy").get(0);
                assertEquals("Warning", one.getType());
                assertTrue(one.getMessage().contains(s.getRollbackFile().getSha256()), one.getMessage());
            } finally {
                operator.stop();
            }
        }
    }

    @Test
    void aFullDiskIsPassedOverForTheNextPodAndBothFullWaits() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "copy-full");
            try (DbCluster db = new DbCluster(api, client, "copy-full")) {
                db.failover();
                db.replicaNode(2).rollbackFileFaults().copyFreeSpace(10);
                db.replicaNode(1).rollbackFileFaults().copyFreeSpace(10);
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, CopySpec.OnFailure.Wait)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.awaitWaiting(client, db.namespace, "rb", "CopyNotVerified");
                assertEquals(List.of("NoSpace", "NoSpace"), s.getCopies().stream().map(CopyStatus::getFailure)
                        .toList());
                assertEquals(List.of("orders-2", "orders-1"), s.getCopies().stream().map(CopyStatus::getPod).toList(),
                        "the follower first, then the leader");
                assertTrue(s.getCopies().get(0).getMessage().contains("10 bytes free"), s.getCopies().get(0)
                        .getMessage());
                assertEquals(List.of(), names(copies(db, 2)), "a refused copy leaves no file");
                assertEquals(0, db.node(0).timeline().getRollbackId());

                db.replicaNode(1).rollbackFileFaults().copyFreeSpace(-1); // the leader's disk has room again
                s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertVerifiedCopy(db, s, 1);
                assertEquals("NoSpace", s.getCopies().stream().filter(c -> c.getPod().equals("orders-2")).findFirst()
                        .orElseThrow().getFailure(), "the full follower's failure stays recorded");
            } finally {
                operator.stop();
            }
        }
    }

    @Test
    void aCopyThatReadsBackOtherBytesIsNeverTakenForACopy() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "copy-liar");
            try (DbCluster db = new DbCluster(api, client, "copy-liar");
                    LyingCopies liar = new LyingCopies(db.address(2))) {
                db.failover();
                db.pointAgentAt(2, liar.port());
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, CopySpec.OnFailure.Wait)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.awaitWaiting(client, db.namespace, "rb", "CopyNotVerified");
                CopyStatus c = s.getCopies().get(0);
                assertEquals("DigestMismatch", c.getFailure());
                assertNull(c.getVerifiedAt());
                assertTrue(c.getMessage().contains(s.getRollbackFile().getSha256()), c.getMessage());
                assertEquals(0, db.node(0).timeline().getRollbackId(), "nothing removed on a lying copy");

                // The honest agent finds the copy the liar passed on (already_existed) and it verifies.
                db.pointAgentAt(2, db.replicaNode(2).port());
                s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertVerifiedCopy(db, s, 2);
            } finally {
                operator.stop();
            }
        }
    }

    @Test
    void anOperatorStoppedAroundTheCopyResumesToExactlyOneCopy() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            try (DbCluster db = new DbCluster(api, client, "copy-resume")) {
                db.failover();
                // The first operator may take four steps: plan, fence, persist, verify; then it stops.
                Operator first = TestOperator.against(client).instance("copy-resume-1").stepBudget(new Semaphore(4))
                        .backoff(FAST, Duration.ofMillis(400)).start();
                ReplicaSetRollbackStatus s;
                try {
                    client.resources(ReplicaSetRollback.class).inNamespace(db.namespace).resource(db.rollback("rb"))
                            .create();
                    s = RollbackChecks.awaitPhase(client, db.namespace, "rb", "Verified");
                } finally {
                    first.stop();
                }
                assertNull(s.getCopies(), "stopped before the copy step");
                String name = Path.of(s.getRollbackFile().getPath()).getFileName().toString();
                // What an operator killed in the middle of a copy leaves on orders-2: a temporary file of the
                // interrupted StoreRollbackCopy, and (killed after the agent published it) the copy itself.
                Path dir = copies(db, 2);
                Files.createDirectories(dir);
                Files.write(dir.resolve("." + name + ".0d8f64c2-5a41-4c8e-9d35-2b2f2f6f0c11.tmp"), new byte[] {1, 2});
                Files.copy(RollbackChecks.fileOf(db, s), dir.resolve(name));

                Operator second = operator(client, "copy-resume-2");
                try {
                    s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                } finally {
                    second.stop();
                }
                assertVerifiedCopy(db, s, 2); // exactly one copy, the leftover removed at begin
            }
        }
    }

    /**
     * A hostile agent in front of orders-2: it passes StoreRollbackCopy on to the real node, but streams a
     * copy back with its first byte changed (and an end message that matches what it sent).
     */
    private static final class LyingCopies extends RollbackAgentGrpc.RollbackAgentImplBase implements AutoCloseable {
        private final ManagedChannel real;
        private final Server server;

        LyingCopies(String realAddress) throws Exception {
            real = ManagedChannelBuilder.forTarget(realAddress).usePlaintext().build();
            server = ServerBuilder.forPort(0).addService(this).build().start();
        }

        int port() {
            return server.getPort();
        }

        @Override
        public StreamObserver<StoreRollbackCopyRequest> storeRollbackCopy(
                StreamObserver<StoreRollbackCopyResponse> out) {
            return RollbackAgentGrpc.newStub(real).storeRollbackCopy(out);
        }

        @Override
        public void readRollbackCopy(ReadRollbackCopyRequest request, StreamObserver<ReadRollbackCopyResponse> out) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try {
                RollbackAgentGrpc.newBlockingStub(real).readRollbackCopy(request).forEachRemaining(m -> {
                    if (m.hasData()) {
                        bytes.writeBytes(m.getData().toByteArray());
                    }
                });
            } catch (RuntimeException e) {
                out.onError(e);
                return;
            }
            byte[] b = bytes.toByteArray();
            if (b.length > 0) {
                b[0] ^= 1;
            }
            out.onNext(ReadRollbackCopyResponse.newBuilder().setData(ByteString.copyFrom(b)).build());
            out.onNext(ReadRollbackCopyResponse.newBuilder().setEnd(RollbackFileEnd.newBuilder().setSize(b.length)
                    .setSha256(RollbackChecks.sha256(b))).build());
            out.onCompleted();
        }

        @Override
        public void close() {
            server.shutdownNow();
            real.shutdownNow();
        }
    }
}
