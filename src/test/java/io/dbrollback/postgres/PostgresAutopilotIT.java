package io.dbrollback.postgres;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.FailoverReport;
import io.dbrollback.api.NodeReport;
import io.dbrollback.api.PolicyMode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.api.RollbackPolicySpec;
import io.dbrollback.operator.ClusterObserver;
import io.dbrollback.operator.RollbackFileStore;
import io.dbrollback.operator.TestOperator;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The autopilot on a real PostgreSQL cluster: three PostgreSQL 15 servers with their agents, the operator with
 * the RollbackPolicy reconciler against the mock API server. A user applies a policy while pg-0 leads, pg-0
 * takes writes its standbys never receive, a standby is promoted and the Lease moves to it in its timeline: the
 * policy reports pg-0 as diverged, with what the agent's SummarizeTail counts (the changes and the tables they
 * touch), before anything is removed, and its rollback saves them to a verified file, rewinds pg-0 and
 * rejoins it. The other standby, which followed the new primary, is not touched.
 */
class PostgresAutopilotIT extends PgOperatorCase {

    static final String NS = "pg-auto";

    private RollbackPolicy policy() {
        RollbackPolicy p = new RollbackPolicy();
        p.getMetadata().setName("pg");
        p.getMetadata().setNamespace(NS);
        RollbackPolicySpec s = new RollbackPolicySpec();
        s.setCluster(PgAgentCluster.rollback(NS, "template", "pg-0").getSpec().getCluster());
        s.setMode(PolicyMode.Automatic);
        p.setSpec(s);
        return p;
    }

    private RollbackPolicy stored() {
        return client.resources(RollbackPolicy.class).inNamespace(NS).withName("pg").get();
    }

    private FailoverReport awaitReport(long term, Predicate<FailoverReport> done) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100)).until(() -> {
            FailoverReport r = report(term);
            return r != null && done.test(r);
        });
        return report(term);
    }

    private FailoverReport report(long term) {
        RollbackPolicy p = stored();
        if (p == null || p.getStatus() == null) {
            return null;
        }
        return p.getStatus().getFailovers().stream().filter(f -> f.getTerm() == term).findFirst().orElse(null);
    }

    private static NodeReport node(FailoverReport r, String pod) {
        return r.getNodes().stream().filter(n -> n.getPod().equals(pod)).findFirst().orElse(null);
    }

    private ReplicaSetRollback rollback(String name) {
        return client.resources(ReplicaSetRollback.class).inNamespace(NS).withName(name).get();
    }

    private void moveLease(String holder, int term) {
        Lease l = client.leases().inNamespace(NS).withName("pg-leader").get();
        l.getMetadata().getAnnotations().put(ClusterObserver.TERM_ANNOTATION, Integer.toString(term));
        l.getSpec().setHolderIdentity(holder);
        l.getSpec().setLeaseTransitions(term);
        client.leases().inNamespace(NS).resource(l).update();
    }

    @Test
    void aPolicyNoticesThePostgresFailoverReportsTheLostChangesAndRollsTheFormerPrimaryBack() throws Exception {
        PgServer p0 = c.pg().primary();
        p0.execute("CREATE TABLE kv (k text PRIMARY KEY, v text)", "ALTER TABLE kv REPLICA IDENTITY FULL",
                "CREATE TABLE acct (id int PRIMARY KEY, balance numeric(20,2))",
                "ALTER TABLE acct REPLICA IDENTITY FULL");
        c.awaitSlot();
        p0.execute("INSERT INTO kv SELECT 'k' || i, 'v' || i FROM generate_series(1, 20) i",
                "INSERT INTO acct SELECT i, 100.00 FROM generate_series(1, 10) i");
        c.pg().awaitCaughtUp();
        c.kubernetesObjects(client, NS, p0.name(), PgCluster.timeline(p0));
        operator = TestOperator.against(client).instance(NS).writer(RollbackFileStore.Writer.AGENT).deployedRetry()
                .autopilot().start();
        client.resources(RollbackPolicy.class).inNamespace(NS).resource(policy()).create();

        // While pg-0 leads, its standbys are a prefix of its log: nothing diverged, nothing is created.
        FailoverReport first = awaitReport(1, r -> "Complete".equals(r.getDetection()));
        assertEquals("pg-0", first.getLeader());
        for (String standby : List.of("pg-1", "pg-2")) {
            assertTrue(Set.of("InSync", "Behind").contains(node(first, standby).getState()),
                    standby + ": " + node(first, standby).getMessage());
        }
        assertTrue(client.resources(ReplicaSetRollback.class).inNamespace(NS).list().getItems().isEmpty());

        // pg-0 takes 4 + 3 + 1 changes its standbys never receive; a standby is promoted, the Lease follows.
        c.pg().cutOff();
        p0.execute("INSERT INTO kv SELECT 'lost' || i, 'x' FROM generate_series(1, 4) i",
                "UPDATE kv SET v = 'changed' WHERE k IN ('k1', 'k2', 'k3')",
                "UPDATE acct SET balance = 1.00 WHERE id = 7");
        PgCluster.Failover f = c.pg().failover();
        String leader = f.newPrimary().name();
        String follower = leader.equals("pg-1") ? "pg-2" : "pg-1";
        f.newPrimary().execute("INSERT INTO kv VALUES ('on-new-primary', 'kept')");
        moveLease(leader, f.newTimeline());

        String name = "pg-0-rollback-t" + f.newTimeline();
        await().atMost(Duration.ofSeconds(300)).pollInterval(Duration.ofMillis(200)).until(() -> {
            ReplicaSetRollback r = rollback(name);
            String phase = r == null || r.getStatus() == null ? null : r.getStatus().getPhase();
            if (phase != null && Set.of("Failed", "Aborted").contains(phase)) {
                throw new AssertionError(name + " ended " + phase + ": " + r.getStatus().getMessage());
            }
            return "Completed".equals(phase);
        });
        ReplicaSetRollback done = rollback(name);
        assertEquals("pg-0", done.getSpec().getTargetPod());
        assertEquals(8L, done.getStatus().getTail().getRecords());
        assertEquals(8L, done.getStatus().getRollbackFile().getRecords());
        assertNotNull(done.getStatus().getRollbackFile().getSha256(), "a verified rollback file");
        assertEquals("pg", done.getMetadata().getOwnerReferences().get(0).getName());

        // The report: written before the rollback removed anything, it says what pg-0 alone holds.
        FailoverReport r = awaitReport(f.newTimeline(), x -> node(x, "pg-0") != null
                && "Completed".equals(node(x, "pg-0").getRollbackPhase()));
        assertEquals(leader, r.getLeader());
        NodeReport n0 = node(r, "pg-0");
        assertEquals("Diverged", n0.getState());
        assertEquals(f.switchpoint().value(), n0.getForkLsn(), "the fork at the timeline switchpoint");
        assertEquals(8L, n0.getRecords(), "from the PostgreSQL agent's SummarizeTail");
        assertEquals(done.getStatus().getTail().getBytes(), n0.getBytes(), "the bytes the file holds");
        assertEquals(List.of("public.kv (7)", "public.acct (1)"), n0.getTouches());
        assertNotNull(n0.getFirstCommit());
        assertEquals(name, n0.getRollback());
        NodeReport n2 = node(r, follower);
        assertTrue(Set.of("InSync", "Behind").contains(n2.getState()), follower + " follows " + leader + ": "
                + n2.getMessage());
        assertNull(n2.getRollback());
        assertEquals(1, client.resources(ReplicaSetRollback.class).inNamespace(NS).list().getItems().size());

        List<String> events = client.v1().events().inNamespace(NS).list().getItems().stream()
                .filter(e -> "RollbackPolicy".equals(e.getInvolvedObject().getKind()))
                .map((Event e) -> e.getType() + " " + e.getReason() + ": " + e.getMessage()).toList();
        assertTrue(events.stream().anyMatch(e -> e.startsWith("Normal FailoverDetected: the leader moved from pg-0")),
                events.toString());
        assertTrue(events.stream().anyMatch(e -> e.startsWith("Warning DivergedNode: pg-0 diverged")
                && e.contains("8 records") && e.contains("public.kv")), events.toString());

        // pg-0 rejoined: a standby of the new primary, with its rows and none of pg-0's lost ones.
        PgCluster.await("pg-0 replays the new primary's row", () -> "kept".equals(
                p0.queryString("SELECT coalesce(max(v), '') FROM kv WHERE k = 'on-new-primary'")));
        assertEquals("0", p0.queryString("SELECT count(*) FROM kv WHERE k LIKE 'lost%'"));
        assertEquals("v1", p0.queryString("SELECT v FROM kv WHERE k = 'k1'"));
        assertEquals("t", p0.queryString("SELECT pg_is_in_recovery()"));
    }
}
