package io.dbrollback.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.operator.TestOperator;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The packaged {@code dbrollback} on the file of a real rollback (the operator, three reference nodes,
 * DbCluster's failover: five divergent writes on orders-0, LSNs 11..15), replayed against the new primary
 * orders-1 on which two of the file's keys changed after the fork: k1 (updated by LSN 12) and d2
 * (inserted by LSN 15).
 */
class ReplayNodeIT {

    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;
    private DbCluster db;

    @BeforeEach
    void start() throws Exception {
        api = MockApiServer.start();
        client = api.client();
        db = new DbCluster(api, client, "replay");
        db.failover();
        operator = TestOperator.against(client).start();
    }

    @AfterEach
    void stop() {
        if (operator != null) {
            operator.stop();
        }
        if (db != null) {
            db.close();
        }
        api.close();
    }

    /** The rollback completes; its file; then k1 and d2 change on orders-1, the primary. */
    private Path rollBackAndChangeTwoKeys() throws Exception {
        client.resources(ReplicaSetRollback.class).inNamespace("replay").resource(db.rollback("rb")).create();
        ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, "replay", "rb", "Completed");
        Path file = RollbackChecks.fileOf(db, s);
        Path copy = Files.createTempDirectory("replay").resolve(file.getFileName());
        Files.copy(file, copy);
        db.node(1).put("k1", "changed-after-fork");
        db.node(1).put("d2", "taken-after-fork");
        return copy;
    }

    private static List<String> outcomes(Path report) throws Exception {
        List<String> out = new ArrayList<>();
        for (JsonNode r : RollbackFileReader.JSON.readTree(report.toFile()).get("records")) {
            out.add(r.get("lsn").asLong() + ":" + r.get("op").asText() + ":" + r.get("key").asText() + ":"
                    + r.get("outcome").asText());
        }
        return out;
    }

    private static List<Path> reports(Path file) throws Exception {
        try (Stream<Path> s = Files.list(file.getParent())) {
            return s.filter(p -> p.getFileName().toString().startsWith(file.getFileName() + ".replay-")).sorted()
                    .toList();
        }
    }

    /** What a replay left beside the file besides its reports: its index directory must be gone. */
    private static List<String> hidden(Path file) throws Exception {
        try (Stream<Path> s = Files.list(file.getParent())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList();
        }
    }

    @Test
    void dryRunThenApplyThenApplyAgain() throws Exception {
        Path file = rollBackAndChangeTwoKeys();
        byte[] fileBytes = Files.readAllBytes(file);
        String primary = db.address(1);
        Map<String, String> before = db.node(1).data();

        CliProcess.Result dry = CliProcess.tool("replay", file.toString(), "--primary", primary, "--dry-run",
                "--report", file.resolveSibling("dry.json").toString());
        assertEquals(3, dry.exit(), dry.toString());
        assertEquals(before, db.node(1).data(), "a dry run changes nothing");
        assertEquals(List.of("11:INSERT:d1:wouldApply", "12:UPDATE:k1:conflict", "13:DELETE:k2:wouldApply",
                "14:UPDATE:d1:wouldApply", "15:INSERT:d2:conflict"), outcomes(file.resolveSibling("dry.json")));
        assertTrue(dry.out().contains("would apply 3, already applied 0, conflicting 2, skipped (dependent) 0"),
                dry.out());

        CliProcess.Result apply = CliProcess.tool("replay", file.toString(), "--primary", primary, "--apply");
        assertEquals(3, apply.exit(), apply.toString());
        List<Path> reports = reports(file);
        assertEquals(1, reports.size(), "the report is written next to the file");
        assertEquals(List.of("11:INSERT:d1:applied", "12:UPDATE:k1:conflict", "13:DELETE:k2:applied",
                "14:UPDATE:d1:applied", "15:INSERT:d2:conflict"), outcomes(reports.get(0)));
        JsonNode records = RollbackFileReader.JSON.readTree(reports.get(0).toFile()).get("records");
        assertEquals("v1", records.get(1).get("expected").asText());
        assertEquals("changed-after-fork", records.get(1).get("current").asText());
        assertEquals("(absent)", records.get(4).get("expected").asText());
        assertEquals("taken-after-fork", records.get(4).get("current").asText());
        Map<String, String> applied = db.node(1).data();
        assertEquals("divergent-update-2", applied.get("d1"));
        assertEquals(null, applied.get("k2"));
        assertEquals("changed-after-fork", applied.get("k1"));
        assertEquals("taken-after-fork", applied.get("d2"));
        long lastLsn = db.node(1).timeline().getLastLsn();

        CliProcess.Result again = CliProcess.tool("replay", file.toString(), "--primary", primary, "--apply",
                "--report", file.resolveSibling("again.json").toString());
        assertEquals(3, again.exit(), again.toString());
        assertEquals(List.of("11:INSERT:d1:alreadyApplied", "12:UPDATE:k1:conflict", "13:DELETE:k2:alreadyApplied",
                "14:UPDATE:d1:alreadyApplied", "15:INSERT:d2:conflict"), outcomes(file.resolveSibling("again.json")));
        assertEquals(applied, db.node(1).data(), "the second run changes nothing");
        assertEquals(lastLsn, db.node(1).timeline().getLastLsn(), "and writes nothing");
        assertArrayEquals(fileBytes, Files.readAllBytes(file), "the rollback file is untouched");
        assertEquals(List.of(), hidden(file), "the replays' index directories are removed");
    }

    @Test
    void aRunThatCrashesIsFinishedByTheNextOne() throws Exception {
        Path file = rollBackAndChangeTwoKeys();
        String primary = db.address(1);
        // halts the process after two applied records (LSNs 11 and 13), as a crash would
        CliProcess.Result crash = CliProcess.tool("replay", file.toString(), "--primary", primary, "--apply",
                "--report", file.resolveSibling("crash.json").toString(), "--stop-after", "2");
        assertEquals(75, crash.exit(), crash.toString());
        assertEquals("divergent-insert", db.node(1).data().get("d1"));
        assertEquals(null, db.node(1).data().get("k2"));
        assertEquals(List.of(), hidden(file), "the halted run left no index directory behind");

        CliProcess.Result rerun = CliProcess.tool("replay", file.toString(), "--primary", primary, "--apply",
                "--report", file.resolveSibling("rerun.json").toString());
        assertEquals(3, rerun.exit(), rerun.toString());
        assertEquals(List.of("11:INSERT:d1:alreadyApplied", "12:UPDATE:k1:conflict", "13:DELETE:k2:alreadyApplied",
                "14:UPDATE:d1:applied", "15:INSERT:d2:conflict"), outcomes(file.resolveSibling("rerun.json")));
        assertEquals("divergent-update-2", db.node(1).data().get("d1"));
    }
}
