package io.dbrollback.testing;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.coordinator.ForkPoint;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.node.NodeClient;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.awaitility.Awaitility;

/**
 * What a user checks after a rollback of {@link DbCluster#failover()}: the status, the file, the node,
 * the Events; and, for the crash matrix, the evidence that each fault struck where it claims (the
 * tail the node had, every rollback file ever seen).
 */
public final class RollbackChecks {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every phase of a rollback that completed with a tail, in order. */
    public static final List<String> ALL_PHASES = List.of("Planned", "Fenced", "TailPersisted", "Verified",
            "Recovering", "Recovered", "EventEmitted", "Rejoined", "Completed");

    private RollbackChecks() {
    }

    public static ReplicaSetRollback get(KubernetesClient client, String ns, String name) {
        return client.resources(ReplicaSetRollback.class).inNamespace(ns).withName(name).get();
    }

    /** Waits for {@code phase}; an unexpected end (Failed, Aborted) fails at once with its message. */
    public static ReplicaSetRollbackStatus awaitPhase(KubernetesClient client, String ns, String name, String phase) {
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
    public static ReplicaSetRollbackStatus awaitWaiting(KubernetesClient client, String ns, String name,
            String waiting) {
        await().alias(name + " waiting for " + waiting).atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(100)).until(() -> {
                    ReplicaSetRollback r = get(client, ns, name);
                    return r != null && r.getStatus() != null && waiting.equals(r.getStatus().getWaiting());
                });
        return get(client, ns, name).getStatus();
    }

    public static List<Event> events(KubernetesClient client, String ns, String name) {
        return client.v1().events().inNamespace(ns).list().getItems().stream()
                .filter(e -> name.equals(e.getInvolvedObject().getName())).toList();
    }

    public static List<Event> events(KubernetesClient client, String ns, String name, String reason) {
        return events(client, ns, name).stream().filter(e -> reason.equals(e.getReason())).toList();
    }

    /**
     * The Events of {@code reason}, once there is one: a transition's Event is written right after the
     * status write that records it, so a test that saw the status may look a moment too early.
     */
    public static List<Event> awaitEvent(KubernetesClient client, String ns, String name, String reason) {
        await().alias("Event " + reason).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> !events(client, ns, name, reason).isEmpty());
        return events(client, ns, name, reason);
    }

    /** As kubectl edit does: retried when the operator wrote the resource in between (409). */
    public static void edit(KubernetesClient client, String ns, String name, UnaryOperator<ReplicaSetRollback> change) {
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

    /** The names of the files in orders-0's rollback directory. */
    public static List<String> rollbackDirectory(DbCluster db) throws IOException {
        Path dir = db.volume(0).resolve("rollback");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The local path of the rollback file the status names. */
    public static Path fileOf(DbCluster db, ReplicaSetRollbackStatus s) {
        return db.volume(0).resolve(s.getRollbackFile().getPath().substring(DbCluster.VOLUME.length() + 1));
    }

    /**
     * The rollback of orders-0 completed exactly once: one rollback-id bump, one rollback file (no
     * quarantined one) whose bytes have the recorded digest, a complete status record (plan, tail, file,
     * rollback ids, the time of every phase, Ready), one loud NodeRolledBack Event naming the digest,
     * and orders-0 converged on orders-1.
     */
    public static ReplicaSetRollbackStatus assertCompletedOnce(KubernetesClient client, DbCluster db, String name)
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

    

    /** The divergent tail the former primary holds before the rollback, read by the test over the agent protocol. */
    public record ExpectedTail(long forkLsn, long lastLsn, List<TailRecord> records, String sha256) {

        public static ExpectedTail read(NodeClient former, NodeClient leader) {
            Timeline t = former.timeline();
            ForkPoint.Result fork = ForkPoint.compute(AgentProtos.fromProto(t),
                    AgentProtos.fromProto(leader.timeline()));
            assertTrue(fork instanceof ForkPoint.Found, "the failover made a fork: " + fork);
            long from = ((ForkPoint.Found) fork).lsn().value();
            Iterator<TailMessage> stream = former.agent.withDeadlineAfter(30, TimeUnit.SECONDS).readDivergentTail(
                    ReadDivergentTailRequest.newBuilder().setFromExclusive(from).setToInclusive(t.getLastLsn())
                            .build());
            List<TailRecord> records = new ArrayList<>();
            String trailer = null;
            while (stream.hasNext()) {
                TailMessage m = stream.next();
                if (m.hasTrailer()) {
                    trailer = m.getTrailer().getSha256();
                } else {
                    m.getChunk().getRecordsList().forEach(r -> records.add(AgentProtos.fromProto(r)));
                }
            }
            String sha = digest(records);
            assertEquals(trailer, sha, "the node's trailer and the test agree on the tail digest");
            assertTrue(!records.isEmpty(), "the failover left a divergent tail");
            return new ExpectedTail(from, t.getLastLsn(), List.copyOf(records), sha);
        }
    }

    public static String digest(List<TailRecord> records) {
        TailDigest d = new TailDigest();
        records.forEach(d::add);
        return d.finish();
    }

    /** The SHA-256 of the file's bytes, in lowercase hex. */
    public static String sha256(Path file) {
        try {
            return sha256(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The SHA-256 of {@code bytes}, in lowercase hex. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Every rollback file (and quarantined file) ever seen in the target's rollback directory, with
     * its SHA-256: none may change or disappear. Temporary files of unfinished attempts do not count.
     */
    public static final class FileLedger {
        private final Path dir;
        private final Map<String, String> seen = new TreeMap<>();
        private final List<String> violations = new ArrayList<>();

        public FileLedger(Path dir) {
            this.dir = dir;
        }

        public Map<String, String> finalFiles() {
            Map<String, String> now = new TreeMap<>();
            if (!Files.isDirectory(dir)) {
                return now;
            }
            try (Stream<Path> files = Files.list(dir)) {
                files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                        .forEach(f -> now.put(f.getFileName().toString(), sha256(f)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return now;
        }

        /** Temporary files of attempts, name to size. */
        public Map<String, Long> temporaryFiles() {
            Map<String, Long> now = new TreeMap<>();
            if (!Files.isDirectory(dir)) {
                return now;
            }
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    if (f.getFileName().toString().startsWith(".") && f.getFileName().toString().endsWith(".tmp")) {
                        now.put(f.getFileName().toString(), Files.size(f));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return now;
        }

        public void snapshot() {
            Map<String, String> now = finalFiles();
            for (Map.Entry<String, String> e : seen.entrySet()) {
                String current = now.get(e.getKey());
                if (current == null) {
                    violations.add(e.getKey() + " was deleted");
                } else if (!current.equals(e.getValue())) {
                    violations.add(e.getKey() + " was overwritten");
                }
            }
            now.forEach(seen::putIfAbsent);
        }

        public void assertIntact() {
            snapshot();
            assertEquals(List.of(), violations, "no rollback file is ever overwritten or deleted");
        }
    }

    /**
     * The end every run must reach, whatever it went through: Completed; the file holds exactly the
     * divergent tail the node had (same digest), its bytes are the recorded ones; one rollback-id
     * bump; the former primary holds the new primary's data; the status is the full record; the loud
     * event names the file; no rollback file was overwritten or deleted.
     *
     * @param agentWrote the target's agent wrote the file (agent mode): the status names it by the
     *     path the agent answered, its rollback directory on the node's disk; else (exec mode) by its
     *     path in the pod's volume
     */
    public static void assertCompleted(KubernetesClient client, DbCluster db, ReplicaSetRollback r,
            ExpectedTail expected, FileLedger ledger, boolean agentWrote) throws IOException {
        ReplicaSetRollbackStatus s = r.getStatus();
        String uid = r.getMetadata().getUid();
        assertEquals("Completed", s.getPhase(),
                "phase; message: " + s.getMessage() + "; lastError: " + s.getLastError());
        assertEquals("Completed", s.getReason());
        assertEquals(uid, s.getIncidentId());

        // the durable record
        assertNotNull(s.getPlan(), "status.plan");
        assertEquals(1, s.getPlan().getNumber(), "one plan: nothing re-planned");
        assertEquals(expected.forkLsn(), s.getPlan().getForkLsn());
        assertEquals(expected.lastLsn(), s.getPlan().getLastLsn());
        assertEquals(expected.records().size(), s.getPlan().getExpectedRecords());
        assertEquals("orders-1", s.getPlan().getNewPrimary());
        assertEquals(2L, s.getPlan().getNewTerm());
        assertEquals(1L, s.getPlan().getOldTerm());
        assertNotNull(s.getTail(), "status.tail");
        assertEquals(expected.sha256(), s.getTail().getSha256(),
                "status.tail.sha256 is the digest of the tail the node had");
        assertEquals(expected.records().size(), s.getTail().getRecords());
        assertNotNull(s.getRollbackFile(), "status.rollbackFile");
        assertEquals("orders-0", s.getRollbackFile().getPod());
        String name = uid + "-plan1.rollback.jsonl";
        Path file = db.volume(0).resolve("rollback").resolve(name);
        assertEquals(agentWrote ? file.toAbsolutePath().normalize().toString() : DbCluster.VOLUME + "/rollback/" + name,
                s.getRollbackFile().getPath());
        assertEquals(expected.sha256(), s.getRollbackFile().getTailSha256());
        assertEquals(expected.records().size(), s.getRollbackFile().getRecords());
        List<String> steps = s.getSteps().stream().map(StepTime::getPhase).toList();
        assertTrue(steps.containsAll(ALL_PHASES), "every step has its time: " + steps);
        assertEquals(0L, s.getRollbackIdBefore(), "rollbackIdBefore");
        assertEquals(1L, s.getRollbackIdAfter(), "rollbackIdAfter: one bump");

        // the file on the target's volume: the recorded bytes, every divergent record, nothing else
        assertTrue(Files.isRegularFile(file), file + " exists");
        assertEquals(s.getRollbackFile().getSha256(), sha256(file), "the file's SHA-256 is the recorded one");
        assertEquals(s.getRollbackFile().getBytes(), Files.size(file), "the file's size is the recorded one");
        List<TailRecord> inFile = records(file);
        assertEquals(expected.records(), inFile, "the file holds every divergent record, in order");
        assertEquals(expected.sha256(), digest(inFile), "the file's records hash to the tail the node had");
        ledger.assertIntact();
        assertEquals(List.of(name), List.copyOf(ledger.finalFiles().keySet()),
                "one rollback file, nothing quarantined");

        // the former primary: one bump, back to the fork, then a replica holding the new primary's data
        NodeClient former = db.node(0);
        NodeClient primary = db.node(1);
        Awaitility.await("orders-0 converges to orders-1").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> former.timeline().getLastLsn() == primary.timeline().getLastLsn()
                        && former.data().equals(primary.data()));
        Timeline t = former.timeline();
        assertEquals(1, t.getRollbackId(), "exactly one rollback-id bump on the former primary");
        assertEquals(uid, t.getLastRecoveryIncident());
        assertEquals(expected.forkLsn(), t.getLastRecoveryTargetLsn());
        assertEquals(Role.ROLE_REPLICA, t.getRole());
        assertEquals(primary.address, t.getFollowing());
        assertEquals(primary.data(), former.data(), "the former primary's data equals the new primary's");

        // the loud event names the file and its digest
        List<Event> rolledBack = client.v1().events().inNamespace(db.namespace).list().getItems().stream()
                .filter(e -> "NodeRolledBack".equals(e.getReason()) && uid.equals(e.getInvolvedObject().getUid()))
                .toList();
        assertEquals(1, rolledBack.size(), "one NodeRolledBack event (repeats only raise its count)");
        assertTrue(rolledBack.get(0).getMessage().contains(s.getRollbackFile().getSha256()),
                "the event names the file's digest: " + rolledBack.get(0).getMessage());
    }

    /** The records of a rollback file, parsed from its JSON lines (the format of docs/rollback-file.md). */
    public static List<TailRecord> records(Path file) throws IOException {
        List<TailRecord> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        assertEquals("header", JSON.readTree(lines.get(0)).get("type").asText());
        assertEquals("trailer", JSON.readTree(lines.get(lines.size() - 1)).get("type").asText());
        for (String line : lines.subList(1, lines.size() - 1)) {
            JsonNode n = JSON.readTree(line);
            assertEquals("record", n.get("type").asText());
            out.add(new TailRecord(Lsn.of(n.get("lsn").asLong()), Term.of(n.get("term").asLong()), n.get("tx").asText(),
                    Instant.parse(n.get("commitTime").asText()), Operation.valueOf(n.get("op").asText()),
                    Bytes.fromBase64(n.get("key").asText()),
                    n.has("before") ? Bytes.fromBase64(n.get("before").asText())
                            : null, n.has("after") ? Bytes.fromBase64(n.get("after").asText()) : null));
        }
        JsonNode trailer = JSON.readTree(lines.get(lines.size() - 1));
        assertEquals(out.size(), trailer.get("records").asLong(), "the trailer counts the records");
        return out;
    }

}
