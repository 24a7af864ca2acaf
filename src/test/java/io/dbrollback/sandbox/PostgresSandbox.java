package io.dbrollback.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.postgres.PgAgentCluster;
import io.dbrollback.postgres.PgCluster;
import io.dbrollback.postgres.PgInstall;
import io.dbrollback.postgres.PgServer;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The sandbox on real PostgreSQL ({@code mvn -B -q -Psandbox package -Dsandbox.database=postgresql}):
 * three PostgreSQL 15 servers on loopback, each run by its PostgreSQL agent, behind Pod objects and a
 * leader Lease on the embedded API server; the packaged operator in the agent-writes-the-file mode. A
 * failover leaves the former primary with divergent transactions (one began before the cut), a
 * ReplicaSetRollback saves them, pg_rewind runs, the node rejoins. Without PostgreSQL it says how to
 * install it and exits 2.
 */
final class PostgresSandbox {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PostgresSandbox() {
    }

    static int run(MockApiServer api, Path operatorJar, Path work, boolean keep) throws Exception {
        try {
            PgInstall.find().requireWal2json();
        } catch (AssertionError | RuntimeException missing) {
            System.out.println("SANDBOX NOT RUN: " + missing.getMessage());
            System.out.println("Install PostgreSQL 15 with wal2json first (Debian 12, as root): apt-get install"
                    + " postgresql-15 postgresql-contrib postgresql-15-wal2json");
            return 2;
        }
        KubernetesClient client = api.client();
        CustomResourceDefinition crd;
        try (InputStream in = Files.newInputStream(Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml"))) {
            crd = Serialization.unmarshal(in, CustomResourceDefinition.class);
        }
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
        Sandbox.title("An embedded API server at " + api.url() + ", the ReplicaSetRollback CRD installed");
        try (PgAgentCluster c = PgAgentCluster.start(PgCluster.Options.defaults())) {
            PgServer p0 = c.pg().primary();
            Sandbox.title("Three PostgreSQL " + c.pg().install().version() + " servers (pg-0 primary, pg-1 and pg-2"
                    + " streaming), each run by its PostgreSQL agent");
            p0.execute("CREATE TABLE orders (id int PRIMARY KEY, item text, amount numeric(12,2))",
                    "ALTER TABLE orders REPLICA IDENTITY FULL");
            c.awaitSlot();
            p0.execute("INSERT INTO orders SELECT i, 'item ' || i, 10.00 * i FROM generate_series(1, 5) i");
            Connection straddling = p0.connect();
            straddling.setAutoCommit(false);
            try (Statement st = straddling.createStatement()) {
                st.execute("INSERT INTO orders VALUES (100, 'begun before the cut', 1.00)");
                st.execute("SELECT txid_current()");
            }
            c.pg().cutOff();
            p0.execute("INSERT INTO orders VALUES (6, 'paid while cut off', 99.99)",
                    "UPDATE orders SET amount = 12.34 WHERE id = 2", "DELETE FROM orders WHERE id = 3");
            straddling.commit();
            straddling.close();
            PgCluster.Failover f = c.pg().failover();
            PgServer p1 = f.newPrimary();
            p1.execute("INSERT INTO orders VALUES (7, 'written on the new primary', 5.00)");
            Sandbox.title("A failover: pg-0 was cut off and committed 4 transactions; " + p1.name()
                    + " was promoted to timeline " + f.newTimeline() + " at " + f.switchpoint());
            System.out.println("pg-0 orders:    " + p0.tableRows("orders"));
            System.out.println(p1.name() + " orders:    " + p1.tableRows("orders"));

            c.kubernetesObjects(client, Sandbox.NS, p1.name(), f.newTimeline());
            Process operator = Sandbox.startOperator(api, operatorJar, work,
                    Map.of("DBROLLBACK_ROLLBACK_FILE_WRITER", "agent"));
            try {
                ReplicaSetRollback r = PgAgentCluster.rollback(Sandbox.NS, "pg-0-after-failover", p0.name());
                client.resources(ReplicaSetRollback.class).inNamespace(Sandbox.NS).resource(r).create();
                Sandbox.title("kubectl apply -f rollback.yaml   (spec.targetPod: pg-0, cluster.leaseName: pg-leader)");
                ReplicaSetRollback done = Sandbox.follow(client, r.getMetadata().getName(), crd);
                ReplicaSetRollbackStatus s = done.getStatus();
                boolean completed = "Completed".equals(s.getPhase());
                if (!Sandbox.showWithKubectl(api, work, done.getMetadata().getName())) {
                    Sandbox.title("kubectl get rsrb -n " + Sandbox.NS + "   (kubectl not found: the same columns)");
                    Sandbox.printTable(crd, List.of(done));
                    Sandbox.title("kubectl describe rsrb " + done.getMetadata().getName() + " -n " + Sandbox.NS);
                    Sandbox.describe(client, done);
                }
                if (s.getRollbackFile() != null) {
                    Sandbox.title("The rollback file, written by pg-0's agent before pg_rewind");
                    Path file = Path.of(s.getRollbackFile().getPath());
                    System.out.println("path:   " + file.getFileName() + " (in pg-0's rollback directory)");
                    System.out.println("sha256: " + s.getRollbackFile().getSha256());
                    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                        JsonNode n = JSON.readTree(line);
                        if ("record".equals(n.path("type").asText())) {
                            System.out.printf("  xid %s %-6s key=%s%n        before=%s%n        after=%s%n",
                                    n.get("tx").asText(), n.get("op").asText(), Sandbox.text(n.get("key")),
                                    Sandbox.text(n.get("before")), Sandbox.text(n.get("after")));
                        }
                    }
                }
                Sandbox.title("pg-0 after the rollback: a standby of " + p1.name());
                boolean converged = false;
                for (int i = 0; i < 300 && !converged; i++) {
                    converged = p0.tableRows("orders").equals(p1.tableRows("orders"));
                    if (!converged) {
                        Thread.sleep(100);
                    }
                }
                Timeline t = c.client(p0.name()).getTimeline(GetTimelineRequest.getDefaultInstance());
                System.out.println("pg-0 orders:    " + p0.tableRows("orders"));
                System.out.println(p1.name() + " orders:    " + p1.tableRows("orders"));
                System.out.println("pg-0 rollback id " + t.getRollbackId() + ", role " + t.getRole() + ", in recovery "
                        + p0.queryString("SELECT pg_is_in_recovery()"));
                boolean ok = completed && converged && t.getRollbackId() == 1;
                System.out.println();
                System.out.println(ok ? "SANDBOX OK: every divergent PostgreSQL change is in a verified file, pg-0"
                        + " was rewound and follows " + p1.name() : "SANDBOX FAILED: phase " + s.getPhase()
                        + (converged ? "" : ", pg-0 did not converge"));
                if (keep && ok) {
                    Sandbox.keepRunning(api, work);
                }
                return ok ? 0 : 1;
            } finally {
                operator.destroy();
                if (!operator.waitFor(10, TimeUnit.SECONDS)) {
                    operator.destroyForcibly();
                }
            }
        }
    }
}
