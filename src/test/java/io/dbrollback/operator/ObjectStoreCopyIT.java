package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.Condition;
import io.dbrollback.api.CopySpec;
import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.ObjectStoreSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.operator.s3.S3ProxyProcess;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The off-node copy to an S3-compatible object store, end to end: the real operator against the mock API
 * server, three real reference nodes (orders-0 diverged, orders-1 the new leader, orders-2 its follower)
 * and a real S3-compatible server (S3Proxy, in a child JVM on loopback, enforcing AWS signatures). The
 * credentials come from a Secret; the copy's bytes in the bucket are the rollback file's; a missing
 * Secret, one without a secret key, or wrong keys hold the rollback before anything is removed (Wait),
 * and a fixed Secret lets it go on; a missing bucket under Proceed goes on with one copy and says so.
 */
class ObjectStoreCopyIT {

    private static final String ID = "AKIACOPYITEXAMPLE000";
    private static final String SECRET = "object-store-copy-it-secret-0123456789";
    private static final String BUCKET = "dbrollback-copies";
    private static final String PREFIX = "prod/orders";
    private static final Duration FAST = Duration.ofMillis(50);

    private static S3ProxyProcess server;
    private static S3Client raw;

    @BeforeAll
    static void startServer() throws Exception {
        server = new S3ProxyProcess(ID, SECRET);
        raw = server.rawClient();
        raw.createBucket(b -> b.bucket(BUCKET));
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (raw != null) {
            raw.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private static Operator operator(KubernetesClient client, String name) {
        return TestOperator.against(client).instance(name).backoff(FAST, Duration.ofMillis(400)).start();
    }

    private static ReplicaSetRollback rollback(DbCluster db, String bucket, CopySpec.OnFailure onFailure) {
        ReplicaSetRollback r = db.rollback("rb");
        ObjectStoreSpec store = new ObjectStoreSpec();
        store.setEndpoint(server.endpoint());
        store.setBucket(bucket);
        store.setPrefix(PREFIX);
        store.setCredentialsSecret("s3-creds");
        CopySpec copy = new CopySpec();
        copy.setTarget(CopySpec.Target.ObjectStore);
        copy.setObjectStore(store);
        copy.setOnFailure(onFailure);
        r.getSpec().setCopy(copy);
        return r;
    }

    private static void putSecret(KubernetesClient client, DbCluster db, String secretAccessKey) {
        Base64.Encoder b64 = Base64.getEncoder();
        Secret s = new SecretBuilder().withNewMetadata().withName("s3-creds").withNamespace(db.namespace).endMetadata()
                .withData(Map.of("accessKeyId", b64.encodeToString(ID.getBytes(StandardCharsets.UTF_8)),
                        "secretAccessKey", b64.encodeToString(secretAccessKey.getBytes(StandardCharsets.UTF_8))))
                .build();
        client.secrets().inNamespace(db.namespace).resource(s).createOr(x -> x.update());
    }

    private static Condition condition(ReplicaSetRollbackStatus s, String type) {
        return s.getConditions().stream().filter(c -> c.getType().equals(type)).findFirst().orElse(null);
    }

    /** The objects of the bucket under this cluster's rollbacks. */
    private static List<String> keys(DbCluster db) {
        return raw.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix(PREFIX + "/" + db.namespace + "/")).contents()
                .stream().map(S3Object::key).sorted().toList();
    }

    /** No pod of the cluster holds a copy: the bucket does. */
    private static void assertNoAgentCopies(DbCluster db) {
        for (int n = 1; n <= 2; n++) {
            Path dir = db.volume(n).resolve("rollback").resolve("copies");
            assertFalse(Files.exists(dir.resolve("orders-0")) && dir.resolve("orders-0").toFile().list().length > 0,
                    "orders-" + n + " holds no copy");
        }
    }

    /** The verified copy of the status, checked against the bucket: the object's bytes are the file's. */
    private static CopyStatus assertCopyInBucket(DbCluster db, ReplicaSetRollbackStatus s) throws Exception {
        CopyStatus c = s.getCopies().stream().filter(x -> x.getVerifiedAt() != null).findFirst().orElseThrow();
        assertEquals("ObjectStore", c.getKind());
        assertEquals(server.endpoint() + "/" + BUCKET, c.getStore());
        assertNull(c.getPod());
        assertEquals(s.getRollbackFile().getSha256(), c.getSha256(), "the copy's digest is the verified file's");
        assertEquals(s.getRollbackFile().getBytes(), c.getBytes());
        String name = Path.of(s.getRollbackFile().getPath()).getFileName().toString();
        String key = PREFIX + "/" + db.namespace + "/rb/" + name;
        assertEquals("s3://" + BUCKET + "/" + key, c.getPath());
        assertEquals(List.of(key), keys(db), "exactly one object for the rollback");
        byte[] object = raw.getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asByteArray();
        assertArrayEquals(Files.readAllBytes(RollbackChecks.fileOf(db, s)), object,
                "the object's bytes are the rollback file's");
        return c;
    }

    @Test
    void theVerifiedFileIsCopiedToTheBucketBeforeAnythingIsRemoved() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "s3-ok");
            try (DbCluster db = new DbCluster(api, client, "s3-ok")) {
                db.failover();
                putSecret(client, db, SECRET);
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, BUCKET, CopySpec.OnFailure.Wait)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertEquals(1, s.getCopies().size());
                CopyStatus c = assertCopyInBucket(db, s);
                assertEquals("True", condition(s, "OffNodeCopy").getStatus());
                assertNoAgentCopies(db);
                Event copied = RollbackChecks.awaitEvent(client, db.namespace, "rb", "RollbackFileCopied").get(0);
                assertTrue(copied.getMessage().contains(c.getSha256()) && copied.getMessage().contains(c.getPath()),
                        copied.getMessage());
            } finally {
                operator.stop();
            }
        }
    }

    @Test
    void aMissingSecretOrWrongKeysHoldTheRollbackUntilTheSecretIsFixed() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "s3-secret");
            try (DbCluster db = new DbCluster(api, client, "s3-secret")) {
                db.failover();
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, BUCKET, CopySpec.OnFailure.Wait)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.awaitWaiting(client, db.namespace, "rb", "CopyNotVerified");
                assertEquals("Verified", s.getPhase());
                CopyStatus missing = s.getCopies().get(0);
                assertEquals("CredentialsSecretNotFound", missing.getFailure());
                assertEquals(server.endpoint() + "/" + BUCKET, missing.getStore());
                assertTrue(missing.getMessage().contains(db.namespace + "/s3-creds"), missing.getMessage());
                assertEquals("CopyNotVerified", condition(s, "OffNodeCopy").getReason());
                Event failed = RollbackChecks.awaitEvent(client, db.namespace, "rb", "RollbackCopyFailed").get(0);
                assertEquals("Warning", failed.getType());
                assertTrue(failed.getMessage().contains("CredentialsSecretNotFound"), failed.getMessage());
                assertEquals(0, db.node(0).timeline().getRollbackId(), "nothing removed while no copy verified");
                assertEquals(15, db.node(0).timeline().getLastLsn());

                Base64.Encoder b64 = Base64.getEncoder();
                client.secrets().inNamespace(db.namespace).resource(new SecretBuilder().withNewMetadata()
                        .withName("s3-creds").withNamespace(db.namespace).endMetadata().withData(Map.of("accessKeyId",
                                b64.encodeToString(ID.getBytes(StandardCharsets.UTF_8)))).build()).create();
                s = awaitFailure(client, db, "CredentialsSecretInvalid");
                assertTrue(s.getCopies().get(0).getMessage().contains("secretAccessKey"), s.getCopies().get(0)
                        .getMessage());
                assertFalse(s.getCopies().get(0).getMessage().contains(ID), "no value of the Secret is echoed");

                String wrong = "wrong-secret-key-never-echoed-0123456789";
                putSecret(client, db, wrong);
                s = awaitFailure(client, db, "ObjectStoreAccessDenied");
                String all = s.getCopies().get(0).getMessage() + " " + RollbackChecks.events(client, db.namespace, "rb")
                        .stream().map(Event::getMessage).toList();
                assertFalse(all.contains(wrong), "the secret key is never echoed: " + all);
                assertEquals(0, db.node(0).timeline().getRollbackId(), "still nothing removed");
                assertEquals(List.of(), keys(db), "nothing stored with keys the store refused");

                putSecret(client, db, SECRET);
                s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertEquals(1, s.getCopies().size(), "the verified copy replaced the failures at the same store");
                assertCopyInBucket(db, s);
            } finally {
                operator.stop();
            }
        }
    }

    private static ReplicaSetRollbackStatus awaitFailure(KubernetesClient client, DbCluster db, String failure)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        ReplicaSetRollbackStatus s = null;
        while (System.nanoTime() < deadline) {
            s = RollbackChecks.get(client, db.namespace, "rb").getStatus();
            if (s != null && s.getCopies() != null && !s.getCopies().isEmpty()
                    && failure.equals(s.getCopies().get(0).getFailure())) {
                return s;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no copy failed with " + failure + " within 60 s; status: "
                + (s == null ? null : s.getCopies()));
    }

    @Test
    void proceedGoesOnWithOneCopyWhenTheBucketIsMissingAndSaysSo() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            KubernetesClient client = api.client();
            Operator operator = operator(client, "s3-proceed");
            try (DbCluster db = new DbCluster(api, client, "s3-proceed")) {
                db.failover();
                putSecret(client, db, SECRET);
                client.resources(ReplicaSetRollback.class).inNamespace(db.namespace)
                        .resource(rollback(db, "no-such-bucket", CopySpec.OnFailure.Proceed)).create();
                ReplicaSetRollbackStatus s = RollbackChecks.assertCompletedOnce(client, db, "rb");
                assertEquals(1, s.getCopies().size());
                assertEquals("ObjectStoreNoSuchBucket", s.getCopies().get(0).getFailure());
                assertNull(s.getCopies().get(0).getSha256());
                assertEquals("OnlyOneCopy", condition(s, "OffNodeCopy").getReason());
                Event one = RollbackChecks.awaitEvent(client, db.namespace, "rb", "OnlyOneCopy").get(0);
                assertEquals("Warning", one.getType());
                assertTrue(one.getMessage().contains(s.getRollbackFile().getSha256()), one.getMessage());
                assertNoAgentCopies(db);
            } finally {
                operator.stop();
            }
        }
    }
}
