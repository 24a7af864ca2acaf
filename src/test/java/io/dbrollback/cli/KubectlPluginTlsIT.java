package io.dbrollback.cli;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.operator.AgentClients;
import io.dbrollback.operator.TestOperator;
import io.dbrollback.operator.TlsRefusals;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.FaultDispatcher;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.TestPki;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.javaoperatorsdk.operator.Operator;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The kubectl plugin against agents that serve mutual TLS ({@code spec.agentTlsSecret}), through the REAL
 * kubectl as {@link KubectlPluginIT} runs it: three reference nodes that serve certificates of a test CA
 * and require client certificates of it, the operator's Secret ({@code ca.crt}, {@code tls.crt},
 * {@code tls.key}) read with the user's kubeconfig, and a rollback the operator brought to
 * AwaitingApproval with its verified file (then the operator is stopped: what follows is the user's).
 * Also, in this JVM, that a fetched temporary file is gone once a command is done with it.
 */
class KubectlPluginTlsIT {

    static final String NS = "plugintls";
    static final String SECRET = "agent-tls";

    @TempDir
    Path dir;

    private MockApiServer api;
    private KubernetesClient client;
    private Operator operator;
    private DbCluster db;
    private TestPki.Ca ca;
    private Path kubeconfig;
    private Map<String, String> env;
    private ReplicaSetRollbackStatus status;

    @BeforeEach
    void start() throws Exception {
        if (!Files.isExecutable(KubectlPluginIT.KUBECTL)) {
            throw new AssertionError("these tests run the real kubectl, and " + KubectlPluginIT.KUBECTL
                    + " is missing: install it (apt-get install kubernetes-client, as .ci/run does when kubectl is "
                    + "missing)");
        }
        api = MockApiServer.startForKubectl();
        client = api.client();
        CustomResourceDefinition crd = client.apiextensions().v1().customResourceDefinitions()
                .load(Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml").toFile()).item();
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
        ca = TestPki.ca("agents");
        db = new DbCluster(api, client, NS, ca);
        db.failover();
        client.secrets().inNamespace(NS).resource(TestPki.secret(NS, SECRET, ca, ca.operator())).create();
        operator = TestOperator.against(client).start();
        ReplicaSetRollback r = db.rollback("rb");
        r.getSpec().setApproval(ReplicaSetRollbackSpec.Approval.Manual);
        r.getSpec().setAgentTlsSecret(SECRET);
        client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(r).create();
        status = RollbackChecks.awaitPhase(client, NS, "rb", "AwaitingApproval");
        // From here on only the user acts: the operator reads the Secret and pods no more.
        operator.stop();
        operator = null;

        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(CliProcess.pluginFile(), bin.resolve("kubectl-dbrollback"));
        bin.resolve("kubectl-dbrollback").toFile().setExecutable(true);
        kubeconfig = api.writeKubeconfig(dir.resolve("kubeconfig"), NS);
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
        List<String> c = new ArrayList<>(List.of(KubectlPluginIT.KUBECTL.toString()));
        c.addAll(List.of(args));
        return CliProcess.run(c, env);
    }

    private static String port(String hostPort) {
        return hostPort.substring(hostPort.lastIndexOf(':') + 1);
    }

    private void podIp(String pod, String ip) {
        client.pods().inNamespace(NS).withName(pod).editStatus(p -> {
            p.getStatus().setPodIP(ip);
            return p;
        });
        assertEquals(ip, client.pods().inNamespace(NS).withName(pod).get().getStatus().getPodIP());
    }

    /** What a GetTimeline with the Secret's material to {@code address} (checked for that name) gets. */
    private Status.Code probe(String address) {
        try (AgentClients c = new AgentClients()) {
            c.stub(address, TestPki.material(ca, ca.operator())).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .getTimeline(GetTimelineRequest.getDefaultInstance());
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return TlsRefusals.status(e).getCode();
        }
    }

    @Test
    void inspectFetchesTheFileFromTlsAgentsWithTheSecretsMaterialAtThePodIpOrThroughAPortForward()
            throws Exception {
        String sha = status.getRollbackFile().getSha256();
        String path = status.getRollbackFile().getPath();
        String agent0 = db.address(0);
        String port0 = port(agent0);

        CliProcess.Result inspect = kubectl("dbrollback", "inspect", "rb");
        assertEquals(0, inspect.exit(), inspect.toString());
        assertTrue(inspect.out().startsWith("Fetched orders-0:" + path + " through the agent's ReadRollbackFile at "
                + "127.0.0.1:" + port0 + " over mutual TLS (Secret " + SECRET + "): "), inspect.out());
        assertTrue(inspect.out().contains("sha256 " + sha + " (as status.rollbackFile.sha256)"), inspect.out());
        assertTrue(inspect.out().contains("Verified:       yes"), inspect.out());
        assertTrue(inspect.out().contains("(5 of 5 records shown)"), inspect.out());

        // A user who may not read the Secret is told so, and what else works.
        FaultDispatcher.Rule forbidden = api.faults().refuseNext(1, HttpMethod.GET,
                "/api/v1/namespaces/" + NS + "/secrets/" + SECRET, 403);
        CliProcess.Result refused = kubectl("dbrollback", "inspect", "rb");
        assertEquals(1, refused.exit(), refused.toString());
        assertEquals(1, forbidden.served());
        assertEquals("dbrollback: you may not read the agent TLS Secret " + NS + "/" + SECRET
                + " (spec.agentTlsSecret): your kubeconfig's user is refused get on secrets in " + NS + " (HTTP 403); "
                + "ask for read access to that Secret, or fetch the file with --exec (pods/exec)",
                refused.err().strip());
        CliProcess.Result exec = kubectl("dbrollback", "inspect", "rb", "--exec");
        assertEquals(0, exec.exit(), exec.toString());
        assertTrue(exec.out().contains("through pod exec (cat) in orders-0/database"), exec.out());

        // A Secret without its CA.
        client.secrets().inNamespace(NS).withName(SECRET).edit(s -> {
            s.getData().remove("ca.crt");
            return s;
        });
        CliProcess.Result noCa = kubectl("dbrollback", "inspect", "rb");
        assertEquals(1, noCa.exit(), noCa.toString());
        assertEquals("dbrollback: the agent TLS Secret " + NS + "/" + SECRET + " (spec.agentTlsSecret) has no ca.crt "
                + "(the CA the agents' certificates chain to); fix the Secret, or fetch the file with --exec",
                noCa.err().strip());
        client.secrets().inNamespace(NS).resource(TestPki.secret(NS, SECRET, ca, ca.operator())).update();

        // As from a laptop: the pod IP (127.0.0.2, where no node listens) cannot be reached, and orders-0's
        // certificate names that IP, not 127.0.0.1 where `kubectl port-forward pod/orders-0 PORT:PORT`
        // would listen (the node itself listens there).
        db.serveCertificate(0, ca.issue("orders-0", "127.0.0.2"));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> probe(agent0) == Status.Code.UNAUTHENTICATED);
        podIp("orders-0", "127.0.0.2");
        CliProcess.Result direct = kubectl("dbrollback", "inspect", "rb");
        assertEquals(1, direct.exit(), direct.toString());
        assertTrue(direct.err().startsWith("dbrollback: ReadRollbackFile at 127.0.0.2:" + port0 + " failed: "
                + "UNAVAILABLE"), direct.err());
        assertTrue(direct.err().contains("; a pod IP is reachable from inside the cluster only: from elsewhere run "
                + "kubectl port-forward -n " + NS + " pod/orders-0 " + port0 + ":" + port0 + " and pass --agent "
                + "127.0.0.1:" + port0 + ", or fetch the file with --exec"), direct.err());

        CliProcess.Result forwarded = kubectl("dbrollback", "inspect", "rb", "--agent", "127.0.0.1:" + port0);
        assertEquals(0, forwarded.exit(), forwarded.toString());
        assertTrue(forwarded.out().startsWith("Fetched orders-0:" + path + " through the agent's ReadRollbackFile "
                + "at 127.0.0.1:" + port0 + " over mutual TLS (Secret " + SECRET + "; the agent's certificate "
                + "checked for 127.0.0.2:" + port0 + "): "), forwarded.out());
        assertTrue(forwarded.out().contains("sha256 " + sha + " (as status.rollbackFile.sha256)"), forwarded.out());
        assertTrue(forwarded.out().contains("Verified:       yes"), forwarded.out());

        // The name checked is the pod's: a certificate that does not name the pod IP is refused through the
        // port-forward too.
        podIp("orders-0", "127.0.0.3");
        CliProcess.Result otherName = kubectl("dbrollback", "inspect", "rb", "--agent", "127.0.0.1:" + port0);
        assertEquals(1, otherName.exit(), otherName.toString());
        assertTrue(otherName.err().startsWith("dbrollback: ReadRollbackFile at 127.0.0.1:" + port0 + " failed: "
                + "UNAUTHENTICATED (TLS handshake refused: "), otherName.err());
        assertTrue(otherName.err().contains("; the agent's certificate must chain to ca.crt of the Secret " + NS + "/"
                + SECRET + " and name the pod IP, and the agent must accept its tls.crt; or fetch the file with "
                + "--exec"), otherName.err());
    }

    /** A command of the plugin run in this JVM, its temporary files in {@code tempDir}: exit status and output. */
    private CliProcess.Result inProcess(Callable<Integer> command, KubeCommands.FetchOptions fetch, Path tempDir,
            String... args) {
        fetch.tempDir = tempDir;
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(command).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
        cl.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("dbrollback: " + Main.describe(e));
            return 1;
        });
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--kubeconfig", kubeconfig.toString()));
        int exit = cl.execute(all.toArray(String[]::new));
        return new CliProcess.Result(exit, out.toString(), err.toString());
    }

    private static List<Path> files(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.toList();
        }
    }

    @Test
    void aFetchedTemporaryFileIsRemovedOnceTheCommandIsDoneWithItWhileOutputFilesAreKept() throws Exception {
        Path temp = Files.createDirectories(dir.resolve("temp"));
        String sha = status.getRollbackFile().getSha256();

        // fetch itself: the file is in the temporary directory until closed
        KubeCommands.FetchOptions o = new KubeCommands.FetchOptions();
        o.tempDir = temp;
        JsonNode rb = KubeCommands.rollback(client, NS, "rb");
        StringWriter said = new StringWriter();
        try (KubeCommands.Fetched f = KubeCommands.fetch(client, NS, rb, o, new PrintWriter(said, true))) {
            assertTrue(f.temporary());
            assertEquals(List.of(f.file()), files(temp));
            assertEquals(sha, CliFiles.sha256(f.file()));
        }
        assertEquals(List.of(), files(temp), "closed: removed");

        // a fetch that fails (the file is not the one the status names) removes it before it throws
        ObjectNode wrong = rb.deepCopy();
        ((ObjectNode) wrong.path("status").path("rollbackFile")).put("sha256", "0".repeat(64));
        IllegalStateException mismatch = assertThrows(IllegalStateException.class,
                () -> KubeCommands.fetch(client, NS, wrong, o, new PrintWriter(said, true)));
        assertTrue(mismatch.getMessage().endsWith(" is not the status's " + "0".repeat(64)), mismatch.getMessage());
        assertEquals(List.of(), files(temp), "a failed fetch leaves nothing");

        // inspect NAME: done with the file, it is gone (the JVM still runs)
        KubeCommands.Inspect inspect = new KubeCommands.Inspect();
        CliProcess.Result shown = inProcess(inspect, inspect.fetch, temp, "rb");
        assertEquals(0, shown.exit(), shown.toString());
        assertTrue(shown.out().contains("Verified:       yes"), shown.out());
        assertEquals(List.of(), files(temp), "inspect removed its file");

        // replay NAME that fails after the fetch (the primary named does not answer): gone too
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        KubeCommands.Replay replay = new KubeCommands.Replay();
        CliProcess.Result failed = inProcess(replay, replay.fetch, temp, "rb", "--dry-run", "--primary",
                "127.0.0.1:" + closed);
        assertEquals(1, failed.exit(), failed.toString());
        assertTrue(failed.out().contains("sha256 " + sha + " (as status.rollbackFile.sha256)"), failed.out());
        assertTrue(failed.err().contains("reading a key from the primary failed: Status{code=UNAVAILABLE"),
                failed.err());
        assertEquals(List.of(), files(temp), "replay removed its file although it failed");

        // --output: kept where the user asked, nothing temporary
        Path saved = dir.resolve("saved.rollback.jsonl");
        KubeCommands.Inspect keep = new KubeCommands.Inspect();
        CliProcess.Result kept = inProcess(keep, keep.fetch, temp, "rb", "--output", saved.toString());
        assertEquals(0, kept.exit(), kept.toString());
        assertEquals(sha, CliFiles.sha256(saved));
        assertEquals(List.of(), files(temp));
        assertFalse(kept.out().isEmpty());
    }
}
