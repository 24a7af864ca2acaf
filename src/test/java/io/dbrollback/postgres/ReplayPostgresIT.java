package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.cli.CliProcess;
import io.dbrollback.testing.RollbackChecks;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The packaged {@code dbrollback replay --postgres} on the file of a real PostgreSQL rollback (three
 * PostgreSQL 15 servers with their agents, the operator), against the new primary on which rows the file
 * touches changed after the fork: one transaction per original transaction, guarded by the old rows; a
 * run cut short (the process halted after the first transaction) and a run after everything: what was
 * applied is reported as such and nothing is written twice.
 */
class ReplayPostgresIT extends PgOperatorCase {

    static final String NS = "pg-replay";

    private static List<String> outcomes(Path report) throws Exception {
        List<String> out = new ArrayList<>();
        for (JsonNode r : new ObjectMapper().readTree(report.toFile()).get("records")) {
            out.add(r.get("tx").asText() + " " + r.get("op").asText() + " " + r.get("table").asText() + " "
                    + r.get("key").asText() + " " + r.get("outcome").asText());
        }
        return out;
    }

    /** Each record's outcome with its transaction numbered 1.. in file order (xids differ from run to run). */
    private static List<String> numbered(List<String> outcomes) {
        List<String> xids = new ArrayList<>();
        List<String> out = new ArrayList<>();
        for (String o : outcomes) {
            String xid = o.substring(0, o.indexOf(' '));
            if (!xids.contains(xid)) {
                xids.add(xid);
            }
            out.add("T" + (xids.indexOf(xid) + 1) + o.substring(xid.length()));
        }
        return out;
    }

    @Test
    void replayAgainstTheNewPrimaryAppliesWhatDidNotChangeAndReportsTheRest() throws Exception {
        PgServer p0 = c.pg().primary();
        p0.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL",
                "CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(20,2))",
                "ALTER TABLE acct REPLICA IDENTITY FULL");
        c.awaitSlot();
        p0.execute("INSERT INTO kv SELECT 'k' || i, 'v' || i FROM generate_series(1, 5) i",
                "INSERT INTO acct SELECT i, 'owner-' || i, 100.00 FROM generate_series(1, 3) i");
        c.pg().cutOff();
        try (Connection t = p0.connect()) {
            t.setAutoCommit(false);
            PostgresRollbackIT.exec(t, "INSERT INTO kv VALUES ('new1', 'x')",
                    "UPDATE kv SET v = 'changed' WHERE k = 'k1'");
            t.commit();
            PostgresRollbackIT.exec(t, "UPDATE acct SET balance = 123456789012345678.99 WHERE id = 1");
            t.commit();
            PostgresRollbackIT.exec(t, "DELETE FROM kv WHERE k = 'k2'");
            t.commit();
            PostgresRollbackIT.exec(t, "UPDATE kv SET v = 'changed-again' WHERE k = 'k1'",
                    "INSERT INTO kv VALUES ('new2', 'y')");
            t.commit();
            PostgresRollbackIT.exec(t, "DELETE FROM acct WHERE id = 2");
            t.commit();
        }
        PgCluster.Failover f = c.pg().failover();
        PgServer p1 = f.newPrimary();
        // After the fork, on the new primary: k2 (deleted by T3) and new2 (inserted by T4) change.
        p1.execute("UPDATE kv SET v = 'on-new-primary' WHERE k = 'k2'", "INSERT INTO kv VALUES ('new2', 'other')");
        c.kubernetesObjects(client, NS, p1.name(), f.newTimeline());
        operator = PgAgentCluster.startOperator(client, NS);
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(PgAgentCluster.rollback(NS, "rb",
                p0.name())).create();
        ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, NS, "rb", "Completed");
        Path saved = Path.of(s.getRollbackFile().getPath());
        Path file = Files.createTempDirectory("pg-replay").resolve(saved.getFileName());
        Files.copy(saved, file);

        String url = "jdbc:postgresql://127.0.0.1:" + p1.port() + "/postgres";
        Map<String, String> env = Map.of("PGUSER", PgServer.SUPERUSER, "PGPASSWORD", p1.password());
        List<String> kvBefore = p1.tableRows("kv");
        List<String> acctBefore = p1.tableRows("acct");

        CliProcess.Result dry = replay(env, file, url, "--dry-run", "--report", file + ".dry.json");
        assertEquals(3, dry.exit(), dry.toString());
        assertEquals(List.of(
                "T1 INSERT public.kv k=new1 wouldApply",
                "T1 UPDATE public.kv k=k1 wouldApply",
                "T2 UPDATE public.acct id=1 wouldApply",
                "T3 DELETE public.kv k=k2 conflict",
                "T4 UPDATE public.kv k=k1 skippedDependent",
                "T4 INSERT public.kv k=new2 conflict",
                "T5 DELETE public.acct id=2 wouldApply"), numbered(outcomes(Path.of(file + ".dry.json"))));
        JsonNode t3 = new ObjectMapper().readTree(Path.of(file + ".dry.json").toFile()).get("records").get(3);
        assertTrue(t3.get("current").asText().contains("on-new-primary"), t3.toString());
        assertTrue(t3.get("expected").asText().contains("\"value\":\"v2\""), t3.toString());
        assertEquals(kvBefore, p1.tableRows("kv"), "a dry run changes nothing");
        assertEquals(acctBefore, p1.tableRows("acct"));

        // Cut short after the first transaction, as a crash would.
        CliProcess.Result crash = replay(env, file, url, "--apply", "--report", file + ".crash.json",
                "--stop-after", "1");
        assertEquals(75, crash.exit(), crash.toString());
        assertTrue(p1.tableRows("kv").contains("(new1,x)"), p1.tableRows("kv").toString());
        assertTrue(p1.tableRows("acct").contains("(1,owner-1,100.00)"), p1.tableRows("acct").toString());

        CliProcess.Result rerun = replay(env, file, url, "--apply", "--report", file + ".rerun.json");
        assertEquals(3, rerun.exit(), rerun.toString());
        assertEquals(List.of(
                "T1 INSERT public.kv k=new1 alreadyApplied",
                "T1 UPDATE public.kv k=k1 alreadyApplied",
                "T2 UPDATE public.acct id=1 applied",
                "T3 DELETE public.kv k=k2 conflict",
                "T4 UPDATE public.kv k=k1 skippedDependent",
                "T4 INSERT public.kv k=new2 conflict",
                "T5 DELETE public.acct id=2 applied"), numbered(outcomes(Path.of(file + ".rerun.json"))));
        List<String> kv = p1.tableRows("kv");
        List<String> acct = p1.tableRows("acct");
        assertTrue(kv.containsAll(List.of("(k1,changed)", "(k2,on-new-primary)", "(new1,x)", "(new2,other)")),
                kv.toString());
        assertEquals(List.of("(1,owner-1,123456789012345678.99)", "(3,owner-3,100.00)"), acct.stream().sorted()
                .toList(), "the exact numeric, and id 2 deleted");

        CliProcess.Result again = replay(env, file, url, "--apply", "--report", file + ".again.json");
        assertEquals(3, again.exit(), again.toString());
        assertEquals(List.of(
                "T1 INSERT public.kv k=new1 alreadyApplied",
                "T1 UPDATE public.kv k=k1 alreadyApplied",
                "T2 UPDATE public.acct id=1 alreadyApplied",
                "T3 DELETE public.kv k=k2 conflict",
                "T4 UPDATE public.kv k=k1 skippedDependent",
                "T4 INSERT public.kv k=new2 conflict",
                "T5 DELETE public.acct id=2 alreadyApplied"), numbered(outcomes(Path.of(file + ".again.json"))));
        assertEquals(kv, p1.tableRows("kv"), "the last run changes nothing");
        assertEquals(acct, p1.tableRows("acct"));
    }

    private static CliProcess.Result replay(Map<String, String> env, Path file, String url, String... more)
            throws Exception {
        List<String> cmd = new ArrayList<>(List.of(CliProcess.toolFile().toAbsolutePath().toString(), "replay",
                file.toString(), "--postgres", url));
        cmd.addAll(List.of(more));
        return CliProcess.run(cmd, env);
    }
}
