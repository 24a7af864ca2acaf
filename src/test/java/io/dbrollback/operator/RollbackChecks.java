package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.testing.DbCluster;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** What a user checks after a rollback of {@link DbCluster#failover()}: the status, the file, the node, the Events. */
final class RollbackChecks {

    /** Every phase of a rollback that completed with a tail, in order. */
    static final List<String> ALL_PHASES = List.of("Planned", "Fenced", "TailPersisted", "Verified", "Recovering",
            "Recovered", "EventEmitted", "Rejoined", "Completed");

    private RollbackChecks() {
    }

    static ReplicaSetRollback get(KubernetesClient client, String ns, String name) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get();
    }

    /** Waits for {@code phase}; an unexpected end (Failed, Aborted) fails at once with its message. */
    static ReplicaSetRollbackStatus awaitPhase(KubernetesClient client, String ns, String name, String phase) {
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50)).until(() -> {
            ReplicaSetRollback r = get(client, ns, name);
            String now = r == null || r.getStatus() == null ? null : r.getStatus().getPhase();
            if (!phase.equals(now) && Set.of("Failed", "Aborted").contains(String.valueOf(now))) {
                throw new AssertionError("ended " + now + " (" + r.getStatus().getReason() + "): "
                        + r.getStatus().getMessage());
            }
            return phase.equals(now);
        });
        return get(client, ns, name).getStatus();
    }

    /** Waits until the rollback waits (or is blocked) for {@code waiting}. */
    static ReplicaSetRollbackStatus awaitWaiting(KubernetesClient client, String ns, String name, String waiting) {
        await().alias(name + " waiting for " + waiting).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100)).until(() -> {
                    ReplicaSetRollback r = get(client, ns, name);
                    return r != null && r.getStatus() != null && waiting.equals(r.getStatus().getWaiting());
                });
        return get(client, ns, name).getStatus();
    }

    static List<Event> events(KubernetesClient client, String ns, String name) {
        return client.v1().events().inNamespace(ns).list().getItems().stream()
                .filter(e -> name.equals(e.getInvolvedObject().getName())).toList();
    }

    static List<Event> events(KubernetesClient client, String ns, String name, String reason) {
        return events(client, ns, name).stream().filter(e -> reason.equals(e.getReason())).toList();
    }

    /**
     * The Events of {@code reason}, once there is one: a transition's Event is written right after the
     * status write that records it, so a test that saw the status may look a moment too early.
     */
    static List<Event> awaitEvent(KubernetesClient client, String ns, String name, String reason) {
        await().alias("Event " + reason).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> !events(client, ns, name, reason).isEmpty());
        return events(client, ns, name, reason);
    }

    /** As kubectl edit does: retried when the operator wrote the resource in between (409). */
    static void edit(KubernetesClient client, String ns, String name, UnaryOperator<ReplicaSetRollback> change) {
        for (int attempt = 1; ; attempt++) {
            try {
                client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).edit(change);
                return;
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409 || attempt == 20) {
                    throw e;
                }
            }
        }
    }

    static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The names of the files in orders-0's rollback directory. */
    static List<String> rollbackDirectory(DbCluster db) throws IOException {
        Path dir = db.volume(0).resolve("rollback");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The local path of the rollback file the status names. */
    static Path fileOf(DbCluster db, ReplicaSetRollbackStatus s) {
        return db.volume(0).resolve(s.getRollbackFile().getPath().substring(DbCluster.VOLUME.length() + 1));
    }

    /**
     * The rollback of orders-0 completed exactly once: one rollback-id bump, one rollback file (no
     * quarantined one) whose bytes have the recorded digest, a complete status record (plan, tail, file,
     * rollback ids, the time of every phase, Ready), one loud NodeRolledBack Event naming the digest,
     * and orders-0 converged on orders-1.
     */
    static ReplicaSetRollbackStatus assertCompletedOnce(KubernetesClient client, DbCluster db, String name)
            throws Exception {
        String ns = db.namespace;
        ReplicaSetRollbackStatus s = awaitPhase(client, ns, name, "Completed");
        assertEquals("Completed", s.getReason());
        // The plan of the standard failover: fork at 10, orders-0 at 15, five records, orders-1 in term 2.
        assertEquals(10L, s.getPlan().getForkLsn());
        assertEquals(15L, s.getPlan().getLastLsn());
        assertEquals(5L, s.getPlan().getExpectedRecords());
        assertEquals(2L, s.getPlan().getNewTerm());
        assertEquals("orders-1", s.getPlan().getNewPrimary());
        assertEquals(1, s.getPlan().getNumber(), "never planned again");
        assertEquals(5L, s.getTail().getRecords());
        assertNotNull(s.getTail().getSha256());
        assertEquals(5L, s.getRollbackFile().getRecords());
        assertEquals(s.getTail().getSha256(), s.getRollbackFile().getTailSha256());
        assertEquals(0L, s.getRollbackIdBefore());
        assertEquals(1L, s.getRollbackIdAfter(), "one rollback-id bump on record");
        List<String> stepped = s.getSteps().stream().map(StepTime::getPhase).toList();
        assertTrue(stepped.containsAll(ALL_PHASES), "the time of every phase is on record: " + stepped);
        assertTrue(s.getSteps().stream().allMatch(t -> t.getTime() != null), "every step has its time");
        assertEquals("True", s.getConditions().stream().filter(c -> c.getType().equals("Ready")).findFirst()
                .orElseThrow().getStatus());

        List<String> names = rollbackDirectory(db);
        String file = s.getRollbackFile().getPath().substring(s.getRollbackFile().getPath().lastIndexOf('/') + 1);
        assertEquals(List.of(file), names.stream().filter(n -> n.endsWith(".jsonl")).toList(),
                "one rollback file: " + names);
        assertTrue(names.stream().noneMatch(n -> n.contains("quarantined")), "nothing quarantined: " + names);
        assertEquals(s.getRollbackFile().getSha256(), sha256(fileOf(db, s)), "the file holds the recorded digest");

        assertEquals(1, db.node(0).timeline().getRollbackId(), "one recover on the node");
        db.node(0).await("caught up", t -> t.getLastLsn() == 13);
        assertEquals(db.node(1).data(), db.node(0).data(), "orders-0 converged on orders-1");

        List<Event> loud = events(client, ns, name, "NodeRolledBack");
        assertEquals(1, loud.size(), "one loud Event object");
        assertEquals("Warning", loud.get(0).getType());
        assertTrue(loud.get(0).getMessage().contains(s.getRollbackFile().getSha256()), loud.get(0).getMessage());
        // The end Event follows the status write that records the end.
        await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, name, "RollbackCompleted").isEmpty());
        Set<String> reasons = events(client, ns, name).stream().map(Event::getReason).collect(Collectors.toSet());
        assertTrue(!reasons.contains("RollbackFailed") && !reasons.contains("RollbackBlocked")
                && !reasons.contains("RollbackAborted"), reasons.toString());
        return s;
    }
}
