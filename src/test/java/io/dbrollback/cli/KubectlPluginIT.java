package io.dbrollback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.operator.TestOperator;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged plugin through the REAL kubectl ({@code /usr/bin/kubectl}): {@code kubectl-dbrollback} in a
 * directory on PATH, a kubeconfig for the mock API server (the sandbox's setup: the CRD installed through
 * the API, three reference nodes behind Pod objects, the operator), and a rollback with approval Manual
 * that the operator brings to AwaitingApproval with its verified file. What a user types, and sees.
 */
class KubectlPluginIT {

    static final String NS = "plugin";
    static final Path KUBECTL = Path.of("/usr/bin/kubectl");

    @TempDir
    Path dir;

    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;
    private DbCluster db;
    private Map<String, String> env;

    @BeforeEach
    void start() throws Exception {
        if (!Files.isExecutable(KUBECTL)) {
            throw new AssertionError("these tests run the real kubectl, and " + KUBECTL + " is missing: install it "
                    + "(apt-get install kubernetes-client, as .ci/run does when kubectl is missing)");
        }
        api = MockApiServer.startForKubectl();
        client = api.client();
        CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions()
                .load(Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml").toFile()).item();
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
        db = new DbCluster(api, client, NS);
        db.failover();
        operator = TestOperator.against(client).start();

        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(CliProcess.pluginFile(), bin.resolve("kubectl-dbrollback"));
        bin.resolve("kubectl-dbrollback").toFile().setExecutable(true);
        Path kubeconfig = api.writeKubeconfig(dir.resolve("kubeconfig"), NS);
        env = Map.of("KUBECONFIG", kubeconfig.toString(), "KUBECACHEDIR", dir.resolve("kube-cache").toString(),
                "PATH", bin + ":" + System.getenv("PATH"));
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

    private CliProcess.Result kubectl(String... args) throws Exception {
        List<String> c = new ArrayList<>(List.of(KUBECTL.toString()));
        c.addAll(List.of(args));
        return CliProcess.run(c, env);
    }

    private ReplicaSetRollback get() {
        return RollbackChecks.get(client, NS, "rb");
    }

    @Test
    void statusInspectReplayPauseResumeAndApprove() throws Exception {
        ReplicaSetRollback r = db.rollback("rb");
        r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(r).create();
        ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, NS, "rb", "AwaitingApproval");
        String sha = s.getRollbackFile().getSha256();

        CliProcess.Result status = kubectl("dbrollback", "status");
        assertEquals(0, status.exit(), status.toString());
        List<String> lines = status.out().lines().toList();
        assertEquals(List.of("NAME", "TARGET", "PHASE", "WAITING", "RECORDS", "FILE", "SHA256", "COPIES"),
                List.of(lines.get(0).split(" +")));
        List<String> row = List.of(lines.get(1).split(" +"));
        assertEquals("rb", row.get(0));
        assertEquals("orders-0", row.get(1));
        assertEquals("AwaitingApproval", row.get(2));
        assertEquals("5", row.get(4));
        assertEquals(sha, row.get(5));
        assertEquals("orders-2", s.getCopies().get(0).getPod(), "the off-node copy on the new leader's follower");
        assertEquals("orders-2", row.get(6), "the pod that holds the verified copy");

        CliProcess.Result inspect = kubectl("dbrollback", "inspect", "rb");
        assertEquals(0, inspect.exit(), inspect.toString());
        assertTrue(inspect.out().startsWith("Fetched orders-0:" + s.getRollbackFile().getPath()
                + " through the agent's ReadRollbackFile at 127.0.0.1:"), inspect.out());
        assertTrue(inspect.out().contains("sha256 " + sha + " (as status.rollbackFile.sha256)"), inspect.out());
        assertTrue(inspect.out().contains("Range:          fork LSN 10 -> last LSN 15, term 1 -> 2, new primary "
                + "orders-1"), inspect.out());
        assertTrue(inspect.out().contains("Verified:       yes"), inspect.out());
        assertTrue(inspect.out().contains("(5 of 5 records shown)"), inspect.out());
        assertTrue(inspect.out().lines().anyMatch(l -> l.matches("12 +1 +orders-0-1-12 .* UPDATE +k1 +v1 "
                + "+divergent-update")), inspect.out());

        Path saved = dir.resolve("saved.rollback.jsonl");
        CliProcess.Result exec = kubectl("dbrollback", "inspect", "rb", "--exec", "--output", saved.toString(),
                "--op", "DELETE");
        assertEquals(0, exec.exit(), exec.toString());
        assertTrue(exec.out().contains("through pod exec (cat) in orders-0/database"), exec.out());
        assertTrue(exec.out().contains("(1 of 5 records shown)"), exec.out());
        assertEquals(sha, CliFiles.sha256(saved));

        db.node(1).put("k1", "changed-after-fork");
        CliProcess.Result replay = kubectl("dbrollback", "replay", "rb", "--dry-run");
        assertEquals(3, replay.exit(), replay.toString());
        assertTrue(replay.out().contains("Current primary: pod orders-1 at " + db.address(1)), replay.out());
        assertTrue(replay.out().contains("Dry run (nothing is changed)"), replay.out());
        assertTrue(replay.out().lines().anyMatch(l -> l.matches("conflict +12 +UPDATE +k1 +changed on the primary "
                + "since the fork; expected v1, current changed-after-fork")), replay.out());
        assertTrue(replay.out().contains("would apply 4, already applied 0, conflicting 1, skipped (dependent) 0"),
                replay.out());
        assertNull(db.node(1).data().get("d1"), "a dry run changes nothing");

        CliProcess.Result pause = kubectl("dbrollback", "pause", "rb");
        assertEquals(0, pause.exit(), pause.toString());
        assertEquals("true", get().getMetadata().getAnnotations().get("dbrollback.io/paused"));
        CliProcess.Result resume = kubectl("dbrollback", "resume", "rb");
        assertEquals(0, resume.exit(), resume.toString());
        assertFalse(get().getMetadata().getAnnotations().containsKey("dbrollback.io/paused"));

        CliProcess.Result unsure = kubectl("dbrollback", "approve", "rb");
        assertEquals(1, unsure.exit(), unsure.toString());
        assertTrue(unsure.out().contains("records 5, bytes " + s.getRollbackFile().getBytes() + ", sha256 " + sha),
                unsure.out());
        assertTrue(unsure.out().contains("Approve? [y/N] Not approved."), unsure.out());
        assertNull(get().getMetadata().getAnnotations().get("dbrollback.io/approve"));

        CliProcess.Result approve = kubectl("dbrollback", "approve", "rb", "--yes");
        assertEquals(0, approve.exit(), approve.toString());
        assertTrue(approve.out().contains("Approved: dbrollback.io/approve=" + sha), approve.out());
        assertEquals(sha, get().getMetadata().getAnnotations().get("dbrollback.io/approve"));
        RollbackChecks.awaitPhase(client, NS, "rb", "Completed");

        CliProcess.Result late = kubectl("dbrollback", "approve", "rb", "--yes");
        assertEquals(1, late.exit(), late.toString());
        assertTrue(late.err().contains("refused: rollback rb is in phase Completed, not waiting for approval"),
                late.err());
        CliProcess.Result after = kubectl("dbrollback", "status", "rb");
        assertTrue(after.out().lines().skip(1).findFirst().orElseThrow().contains(" Completed "), after.out());

        // The README's example goes on with the file kept by inspect --output: apply it, then apply again.
        CliProcess.Result apply = CliProcess.tool("replay", saved.toString(), "--primary", db.address(1), "--apply");
        assertEquals(3, apply.exit(), apply.toString());
        assertTrue(apply.out().contains("applied 4, already applied 0, conflicting 1, skipped (dependent) 0, needs a "
                + "person (uncaptured) 0"), apply.out());
        assertEquals("divergent-update-2", db.node(1).data().get("d1"));
        assertEquals("changed-after-fork", db.node(1).data().get("k1"));
        CliProcess.Result again = CliProcess.tool("replay", saved.toString(), "--primary", db.address(1), "--apply");
        assertTrue(again.out().contains("applied 0, already applied 4, conflicting 1"), again.out());
    }

    private static String port(String hostPort) {
        return hostPort.substring(hostPort.lastIndexOf(':') + 1);
    }

    @Test
    void fromOutsideTheClusterTheAgentAndThePrimaryAreReachedThroughPortForwards() throws Exception {
        ReplicaSetRollback r = db.rollback("rb");
        r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(r).create();
        ReplicaSetRollbackStatus s = RollbackChecks.awaitPhase(client, NS, "rb", "AwaitingApproval");
        String sha = s.getRollbackFile().getSha256();
        operator.stop();
        operator = null;
        // As from a laptop: the pod IPs cannot be reached (127.0.0.2, where no node listens); a
        // `kubectl port-forward pod/orders-N PORT:PORT` would listen on 127.0.0.1:PORT, where the node itself does.
        for (String pod : List.of("orders-0", "orders-1")) {
            client.pods().inNamespace(NS).withName(pod).editStatus(p -> {
                p.getStatus().setPodIP("127.0.0.2");
                return p;
            });
            assertEquals("127.0.0.2", client.pods().inNamespace(NS).withName(pod).get().getStatus().getPodIP());
        }
        String port0 = port(db.address(0));
        String port1 = port(db.address(1));

        CliProcess.Result direct = kubectl("dbrollback", "inspect", "rb");
        assertEquals(1, direct.exit(), direct.toString());
        assertTrue(direct.err().startsWith("dbrollback: ReadRollbackFile at 127.0.0.2:" + port0 + " failed: "
                + "UNAVAILABLE"), direct.err());
        assertTrue(direct.err().contains("; a pod IP is reachable from inside the cluster only: from elsewhere run "
                + "kubectl port-forward -n " + NS + " pod/orders-0 " + port0 + ":" + port0 + " and pass --agent "
                + "127.0.0.1:" + port0 + ", or fetch the file with --exec"), direct.err());

        CliProcess.Result forwarded = kubectl("dbrollback", "inspect", "rb", "--agent", "127.0.0.1:" + port0);
        assertEquals(0, forwarded.exit(), forwarded.toString());
        assertTrue(forwarded.out().startsWith("Fetched orders-0:" + s.getRollbackFile().getPath() + " through the "
                + "agent's ReadRollbackFile at 127.0.0.1:" + port0 + ": "), forwarded.out());
        assertTrue(forwarded.out().contains("sha256 " + sha + " (as status.rollbackFile.sha256)"), forwarded.out());
        assertTrue(forwarded.out().contains("Verified:       yes"), forwarded.out());

        int closed;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        CliProcess.Result noForward = kubectl("dbrollback", "inspect", "rb", "--agent", "127.0.0.1:" + closed);
        assertEquals(1, noForward.exit(), noForward.toString());
        assertTrue(noForward.err().startsWith("dbrollback: ReadRollbackFile at 127.0.0.1:" + closed + " failed: "
                + "UNAVAILABLE"), noForward.err());
        assertTrue(noForward.err().contains("; is the port-forward to orders-0 running (kubectl port-forward -n " + NS
                + " pod/orders-0 LOCAL:AGENT_PORT, then --agent 127.0.0.1:LOCAL)? Or fetch the file with --exec"),
                noForward.err());

        CliProcess.Result both = kubectl("dbrollback", "inspect", "rb", "--exec", "--agent", "127.0.0.1:" + port0);
        assertEquals(2, both.exit(), both.toString());
        assertTrue(both.err().startsWith("--exec and --agent exclude each other"), both.err());

        // replay: the primary found from the Lease is at its pod IP too; --primary names the port-forward
        CliProcess.Result replay = kubectl("dbrollback", "replay", "rb", "--dry-run", "--agent", "127.0.0.1:" + port0);
        assertEquals(1, replay.exit(), replay.toString());
        assertTrue(replay.out().contains("Current primary: pod orders-1 at 127.0.0.2:" + port1), replay.out());
        assertTrue(replay.err().startsWith("dbrollback: the current primary, pod orders-1 at 127.0.0.2:" + port1
                + ", cannot be reached; a pod IP is reachable from inside the cluster only: from elsewhere run kubectl "
                + "port-forward -n " + NS + " pod/orders-1 " + port1 + ":" + port1 + " and pass --primary 127.0.0.1:"
                + port1 + " (or --postgres JDBC_URL)"), replay.err());
        CliProcess.Result replayed = kubectl("dbrollback", "replay", "rb", "--dry-run", "--agent", "127.0.0.1:" + port0,
                "--primary", "127.0.0.1:" + port1);
        assertEquals(0, replayed.exit(), replayed.toString());
        assertTrue(replayed.out().contains("would apply 5, already applied 0, conflicting 0, skipped (dependent) 0"),
                replayed.out());
    }
}
