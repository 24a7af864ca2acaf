package io.dbrollback.crash;

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
import io.dbrollback.testing.DbCluster;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
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
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;

/** What every run of the crash matrix must end with, and the evidence that each fault struck where it claims. */
final class RollbackChecks {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> HAPPY_PATH = List.of("Planned", "Fenced", "TailPersisted", "Verified", "Recovering",
            "Recovered", "EventEmitted", "Rejoined", "Completed");

    private RollbackChecks() {
    }

    /** The divergent tail the former primary holds before the rollback, read by the test over the agent protocol. */
    record ExpectedTail(long forkLsn, long lastLsn, List<TailRecord> records, String sha256) {

        static ExpectedTail read(NodeClient former, NodeClient leader) {
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

    static String digest(List<TailRecord> records) {
        TailDigest d = new TailDigest();
        records.forEach(d::add);
        return d.finish();
    }

    static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Every rollback file (and quarantined file) ever seen in the target's rollback directory, with
     * its SHA-256: none may change or disappear. Temporary files of unfinished attempts do not count.
     */
    static final class FileLedger {
        private final Path dir;
        private final Map<String, String> seen = new TreeMap<>();
        private final List<String> violations = new ArrayList<>();

        FileLedger(Path dir) {
            this.dir = dir;
        }

        Map<String, String> finalFiles() {
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
        Map<String, Long> temporaryFiles() {
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

        void snapshot() {
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

        void assertIntact() {
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
    static void assertCompleted(KubernetesClient client, DbCluster db, ReplicaSetRollback r, ExpectedTail expected,
            FileLedger ledger, boolean agentWrote) throws IOException {
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
        assertTrue(steps.containsAll(HAPPY_PATH), "every step has its time: " + steps);
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
    static List<TailRecord> records(Path file) throws IOException {
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
