package io.dbrollback.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.api.AutomaticRollbackStatus;
import io.dbrollback.api.Condition;
import io.dbrollback.api.FailoverReport;
import io.dbrollback.api.NodeReport;
import io.dbrollback.api.PolicyMode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.api.RollbackPolicySpec;
import io.dbrollback.api.RollbackPolicyStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.Kubectl;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * README command one: the whole product on one machine, no cluster. An embedded API server (fabric8's
 * mock, with pod exec run as local processes), three reference database nodes in-process behind Pod
 * objects and a leader Lease, and the packaged operator as its own process. It drives a real failover
 * with divergent writes, applies a ReplicaSetRollback and prints what a user would see. Exit code 0
 * when the rollback completed and the former primary converged; non-zero otherwise.
 *
 * <p>{@code --keep-running} keeps everything up afterwards and writes a kubeconfig for the real kubectl.
 * {@code --autopilot} tells the autopilot's story instead: a RollbackPolicy (mode Automatic) watches the
 * cluster before the failover, and the operator finds the diverged former primary, reports it and
 * creates and runs its ReplicaSetRollback by itself.
 */
public final class Sandbox {

    static final String NS = "sandbox";
    /** Run the real kubectl against the sandbox and fail unless it shows the rollback (used by mvn verify). */
    private static boolean kubectlCheck;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Sandbox() {
    }

    public static void main(String[] args) throws Exception {
        boolean keep = List.of(args).contains("--keep-running");
        boolean autopilot = List.of(args).contains("--autopilot");
        kubectlCheck = List.of(args).contains("--kubectl-check");
        Path work = Path.of("target", "sandbox");
        Files.createDirectories(work);
        Path operatorJar = Path.of("target", "quarkus-app", "quarkus-run.jar");
        if (!Files.exists(operatorJar)) {
            fail("the operator is not built: run `mvn -B -q -Psandbox package` (it builds it first)");
        }
        String database = System.getProperty("sandbox.database", "reference");
        if (!List.of("reference", "postgresql").contains(database)) {
            fail("-Dsandbox.database is reference (the default) or postgresql, not " + database);
        }
        if (autopilot && database.equals("postgresql")) {
            fail("--autopilot runs on the reference database only (leave -Dsandbox.database unset)");
        }
        int code;
        try (MockApiServer api = MockApiServer.startForKubectl()) {
            code = database.equals("postgresql") ? PostgresSandbox.run(api, operatorJar, work, keep)
                    : autopilot ? runAutopilot(api, operatorJar, work, keep) : run(api, operatorJar, work, keep);
        } catch (Exception | AssertionError e) {
            e.printStackTrace();
            code = 1;
        }
        System.exit(code); // gRPC and the API server leave threads behind; the sandbox ends here
    }

    private static int run(MockApiServer api, Path operatorJar, Path work, boolean keep) throws Exception {
        KubernetesClient client = api.client();
        CustomResourceDefinition crd;
        try (InputStream in = Files.newInputStream(Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml"))) {
            crd = Serialization.unmarshal(in, CustomResourceDefinition.class);
        }
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
        title("An embedded API server at " + api.url() + ", the ReplicaSetRollback CRD installed");

        try (DbCluster db = new DbCluster(api, client, NS)) {
            Process operator = startOperator(api, operatorJar, work);
            try {
                title("Three database nodes (orders-0, orders-1, orders-2) and the operator (pid " + operator.pid()
                        + ", log in target/sandbox/operator.log)");
                db.failover();
                title("A failover: orders-0 was cut off and took 5 writes; orders-1 became primary in term 2");
                System.out.println("orders-0 data: " + db.node(0).data());
                System.out.println("orders-1 data: " + db.node(1).data());

                ReplicaSetRollback r = db.rollback("orders-0-after-failover");
                client.resources(ReplicaSetRollback.class).inNamespace(NS).resource(r).create();
                title("kubectl apply -f rollback.yaml   (spec.targetPod: orders-0, cluster.leaseName: orders-leader)");
                ReplicaSetRollback done = follow(client, r.getMetadata().getName(), crd);

                ReplicaSetRollbackStatus s = done.getStatus();
                boolean completed = "Completed".equals(s.getPhase());
                boolean shown = showWithKubectl(api, work, done.getMetadata().getName());
                if (!shown) {
                    if (kubectlCheck) {
                        System.out.println("SANDBOX FAILED: the real kubectl could not show the rollback");
                        return 1;
                    }
                    title("kubectl get rsrb -n " + NS
                            + "   (kubectl not found: the same columns, printed by the sandbox)");
                    printTable(crd, List.of(done));
                    title("kubectl describe rsrb " + done.getMetadata().getName() + " -n " + NS);
                    describe(client, done);
                }
                if (s.getRollbackFile() != null) {
                    title("The rollback file in orders-0's data volume");
                    Path file = db.volume(0).resolve(s.getRollbackFile().getPath()
                            .substring(DbCluster.VOLUME.length() + 1));
                    System.out.println("path:   " + s.getRollbackFile().getPath() + " (pod orders-0)");
                    System.out.println("sha256: " + s.getRollbackFile().getSha256() + "   (sha256sum prints the same)");
                    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                    for (String line : lines.subList(1, Math.min(lines.size() - 1, 6))) {
                        JsonNode n = JSON.readTree(line);
                        System.out.printf("  lsn %d %-6s key=%s before=%s after=%s%n", n.get("lsn").asLong(),
                                n.get("op").asText(), text(n.get("key")), text(n.get("before")), text(n.get("after")));
                    }
                }
                title("The former primary converges");
                long primaryLast = db.node(1).timeline().getLastLsn();
                boolean converged = false;
                for (int i = 0; i < 100 && !converged; i++) {
                    converged = db.node(0).timeline().getLastLsn() == primaryLast
                            && db.node(0).data().equals(db.node(1).data());
                    if (!converged) {
                        Thread.sleep(100);
                    }
                }
                System.out.println("orders-0 data: " + db.node(0).data());
                System.out.println("orders-1 data: " + db.node(1).data());
                System.out.println("orders-0 rollback id: " + db.node(0).timeline().getRollbackId()
                        + ", role " + db.node(0).timeline().getRole());
                title("Metrics (GET /q/metrics on the operator)");
                metrics(work).lines().filter(l -> l.startsWith("dbrollback_") && !l.contains("_bucket"))
                        .limit(12).forEach(System.out::println);
                boolean ok = completed && converged;
                System.out.println();
                System.out.println(ok ? "SANDBOX OK: the rollback completed, its file is verified, orders-0 converged"
                        : "SANDBOX FAILED: phase " + s.getPhase() + (converged ? "" : ", orders-0 did not converge"));
                if (keep && ok) {
                    keepRunning(api, work);
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

    static final String POLICY = "orders-autopilot";

    /** Both CRDs of the operator, installed through the API as kubectl apply -f crds/ would; answers the rollbacks'. */
    private static CustomResourceDefinition installCrds(KubernetesClient client) throws IOException {
        CustomResourceDefinition rollbacks = null;
        for (String file : List.of("replicasetrollbacks.dbrollback.io-v1.yml",
                "rollbackpolicies.dbrollback.io-v1.yml")) {
            CustomResourceDefinition crd;
            try (InputStream in = Files.newInputStream(Path.of("crds", file))) {
                crd = Serialization.unmarshal(in, CustomResourceDefinition.class);
            }
            client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
            if (rollbacks == null) {
                rollbacks = crd;
            }
        }
        return rollbacks;
    }

    /** The policy of the autopilot's story: mode Automatic, a cool-down of 10m, the cluster of the rollbacks. */
    static RollbackPolicy policy(DbCluster db) {
        RollbackPolicy p = new RollbackPolicy();
        p.getMetadata().setName(POLICY);
        p.getMetadata().setNamespace(NS);
        RollbackPolicySpec spec = new RollbackPolicySpec();
        spec.setCluster(db.rollback("unused").getSpec().getCluster());
        spec.setMode(PolicyMode.Automatic);
        spec.setCoolDown("10m");
        spec.getRollback().setRollbackDirectory(DbCluster.VOLUME + "/rollback");
        p.setSpec(spec);
        return p;
    }

    /**
     * The autopilot: a RollbackPolicy watches the cluster from before the failover; the operator notices
     * the leader change, reports the diverged orders-0, creates orders-0-rollback-t2 and runs it.
     */
    private static int runAutopilot(MockApiServer api, Path operatorJar, Path work, boolean keep) throws Exception {
        KubernetesClient client = api.client();
        CustomResourceDefinition crd = installCrds(client);
        title("An embedded API server at " + api.url()
                + ", the ReplicaSetRollback and RollbackPolicy CRDs installed");

        try (DbCluster db = new DbCluster(api, client, NS)) {
            Process operator = startOperator(api, operatorJar, work);
            try {
                title("Three database nodes (orders-0, orders-1, orders-2) and the operator (pid " + operator.pid()
                        + ", log in target/sandbox/operator.log)");
                String rollbackName = "orders-0-rollback-t2";
                db.failover(() -> {
                    client.resources(RollbackPolicy.class).inNamespace(NS).resource(policy(db)).create();
                    title("orders-0 leads in term 1 with 10 writes replicated; kubectl apply -f policy.yaml   "
                            + "(kind RollbackPolicy, mode Automatic, coolDown 10m)");
                    RollbackPolicy seen = awaitPolicy(client, Duration.ofSeconds(30), p -> reportOf(p, 1L) != null
                            && "Complete".equals(reportOf(p, 1L).getDetection()));
                    FailoverReport first = seen == null ? null : reportOf(seen, 1L);
                    if (first == null) {
                        System.out.println("  (the policy has not looked at term 1 yet; it will see the failover as "
                                + "its first leader)");
                    } else {
                        System.out.println("  the policy sees " + first.getLeader() + " leading in term "
                                + first.getTerm() + ": " + states(first));
                    }
                });
                title("A failover: orders-0 was cut off and took 5 writes; orders-1 became primary in term 2");
                System.out.println("orders-0 data: " + db.node(0).data());
                System.out.println("orders-1 data: " + db.node(1).data());

                title("The operator notices the failover, reports orders-0 and creates " + rollbackName
                        + " (nobody applies a rollback)");
                RollbackPolicy reported = awaitPolicy(client, Duration.ofSeconds(60), p -> reportOf(p, 2L) != null
                        && reportOf(p, 2L).getNodes().stream().anyMatch(n -> n.getRollback() != null));
                if (reported == null) {
                    System.out.println("SANDBOX FAILED: the policy created no rollback within 60 s; see "
                            + "target/sandbox/operator.log");
                    return 1;
                }
                FailoverReport report = reportOf(reported, 2L);
                System.out.println("  failover to " + report.getLeader() + " (term " + report.getTerm() + "), from "
                        + report.getPreviousLeader() + " (term " + report.getPreviousTerm() + "): " + states(report));
                for (NodeReport n : report.getNodes()) {
                    if (n.getRollback() != null) {
                        System.out.println("  " + n.getPod() + ": rollback " + n.getRollback() + ", approval "
                                + n.getApproval());
                    }
                }
                ReplicaSetRollback created = client.resources(ReplicaSetRollback.class).inNamespace(NS)
                        .withName(rollbackName).get();
                if (created == null) {
                    System.out.println("SANDBOX FAILED: no ReplicaSetRollback " + rollbackName);
                    return 1;
                }
                System.out.println("  labels: " + created.getMetadata().getLabels());
                System.out.println("  owner:  " + created.getMetadata().getOwnerReferences().get(0).getKind() + " "
                        + created.getMetadata().getOwnerReferences().get(0).getName());
                ReplicaSetRollback done = follow(client, rollbackName, crd);
                boolean completed = done != null && done.getStatus() != null
                        && "Completed".equals(done.getStatus().getPhase());
                // the policy follows its rollback to the end (its report shows the phase)
                RollbackPolicy after = awaitPolicy(client, Duration.ofSeconds(30), p -> reportOf(p, 2L) != null
                        && reportOf(p, 2L).getNodes().stream().anyMatch(n -> n.getEndCounted() != null));

                boolean shown = showPolicyWithKubectl(api, work, rollbackName);
                if (!shown) {
                    if (kubectlCheck) {
                        System.out.println("SANDBOX FAILED: the real kubectl could not show the policy");
                        return 1;
                    }
                    title("kubectl describe rbp " + POLICY + " -n " + NS
                            + "   (kubectl not found: printed by the sandbox)");
                    describePolicy(client, after != null ? after
                            : client.resources(RollbackPolicy.class).inNamespace(NS).withName(POLICY).get());
                }
                title("The former primary converges");
                boolean converged = converges(db);
                title("Metrics of the autopilot (GET /q/metrics on the operator)");
                metrics(work).lines().filter(l -> (l.startsWith("dbrollback_failovers_detected")
                        || l.startsWith("dbrollback_diverged_nodes")
                        || l.startsWith("dbrollback_failover_to_rollback_end")) && !l.contains("_bucket"))
                        .forEach(System.out::println);
                boolean ok = completed && converged;
                System.out.println();
                System.out.println(ok ? "SANDBOX OK: the policy found the diverged orders-0 and rolled it back by "
                        + "itself (" + rollbackName + " Completed, its file verified), orders-0 converged"
                        : "SANDBOX FAILED: " + rollbackName + " "
                        + (done == null || done.getStatus() == null ? "has no status" : "phase "
                        + done.getStatus().getPhase()) + (converged ? "" : ", orders-0 did not converge"));
                if (keep && ok) {
                    keepRunning(api, work, List.of("kubectl get rbp", "kubectl describe rbp " + POLICY,
                            "kubectl get rsrb -l dbrollback.io/policy=" + POLICY, "kubectl describe rsrb "
                            + rollbackName));
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

    /** The policy once {@code done} holds for it, or null after {@code patience}. */
    static RollbackPolicy awaitPolicy(KubernetesClient client, Duration patience, Predicate<RollbackPolicy> done)
            throws InterruptedException {
        Instant until = Instant.now().plus(patience);
        while (Instant.now().isBefore(until)) {
            RollbackPolicy p = client.resources(RollbackPolicy.class).inNamespace(NS).withName(POLICY).get();
            if (p != null && p.getStatus() != null && done.test(p)) {
                return p;
            }
            Thread.sleep(100);
        }
        return null;
    }

    /** The policy's report of the failover to {@code term}, or null. */
    static FailoverReport reportOf(RollbackPolicy p, Long term) {
        RollbackPolicyStatus s = p.getStatus();
        return s == null ? null : s.getFailovers().stream().filter(r -> term.equals(r.getTerm())).findFirst()
                .orElse(null);
    }

    /** "orders-1 InSync, orders-2 Behind": each pod of a report and its state. */
    static String states(FailoverReport r) {
        List<String> out = new ArrayList<>();
        for (NodeReport n : r.getNodes()) {
            out.add(n.getPod() + " " + n.getState());
        }
        return String.join(", ", out);
    }

    /** Waits (10 s at most) until orders-0 holds what the new primary holds; prints both. */
    static boolean converges(DbCluster db) throws InterruptedException {
        long primaryLast = db.node(1).timeline().getLastLsn();
        boolean converged = false;
        for (int i = 0; i < 100 && !converged; i++) {
            converged = db.node(0).timeline().getLastLsn() == primaryLast
                    && db.node(0).data().equals(db.node(1).data());
            if (!converged) {
                Thread.sleep(100);
            }
        }
        System.out.println("orders-0 data: " + db.node(0).data());
        System.out.println("orders-1 data: " + db.node(1).data());
        System.out.println("orders-0 rollback id: " + db.node(0).timeline().getRollbackId()
                + ", role " + db.node(0).timeline().getRole());
        return converged;
    }

    /**
     * Shows the policy and the rollback it created with the real kubectl; false when kubectl is missing or
     * its output lacks what a user must see (the columns, the report, the rollback, the Events).
     */
    static boolean showPolicyWithKubectl(MockApiServer api, Path work, String rollback) {
        Kubectl kubectl;
        try {
            Kubectl.binary();
            kubectl = Kubectl.against(api, work.resolve("kubectl"), NS);
        } catch (AssertionError | RuntimeException missing) {
            return false;
        }
        title("kubectl get rbp   (the real kubectl, KUBECONFIG=" + kubectl.kubeconfig() + ")");
        Kubectl.Result get = kubectl.run("get", "rbp");
        System.out.print(get.stdout());
        title("kubectl get rsrb -l dbrollback.io/policy=" + POLICY);
        Kubectl.Result rollbacks = kubectl.run("get", "rsrb", "-l", "dbrollback.io/policy=" + POLICY);
        System.out.print(rollbacks.stdout());
        title("kubectl describe rbp " + POLICY);
        Kubectl.Result describe = kubectl.run("describe", "rbp", POLICY);
        System.out.print(describe.stdout());
        boolean ok = get.ok() && rollbacks.ok() && describe.ok()
                && get.stdout().contains("MODE") && get.stdout().contains("Automatic")
                && rollbacks.stdout().contains(rollback) && rollbacks.stdout().contains("Completed")
                && describe.stdout().contains("Events:") && describe.stdout().contains("DivergedNode")
                && describe.stdout().contains("RollbackCreated") && describe.stdout().contains(rollback);
        if (!ok) {
            System.out.println("kubectl did not show the policy as expected: " + get.stderr() + rollbacks.stderr()
                    + describe.stderr());
        }
        return ok;
    }

    /** A kubectl-describe-style view of a policy: spec, leader, the failover reports, conditions, Events. */
    static void describePolicy(KubernetesClient client, RollbackPolicy p) {
        RollbackPolicySpec spec = p.getSpec();
        RollbackPolicyStatus s = p.getStatus() == null ? new RollbackPolicyStatus() : p.getStatus();
        System.out.println("Name:         " + p.getMetadata().getName());
        System.out.println("Namespace:    " + p.getMetadata().getNamespace());
        System.out.println("Spec:");
        System.out.println("  Mode:       " + spec.getMode());
        System.out.println("  Cool Down:  " + spec.getCoolDown());
        System.out.println("  Cluster:    pods " + spec.getCluster().getPodSelector() + ", Lease "
                + spec.getCluster().getLeaseName() + ", agent port " + spec.getCluster().getAgentPortName());
        System.out.println("Status:");
        if (s.getLeader() != null) {
            System.out.println("  Leader:              " + s.getLeader().getHolder() + " (term "
                    + s.getLeader().getTerm() + ", " + s.getLeader().getSource() + ", since " + s.getLeader().getSince()
                    + ")");
        }
        System.out.println("  Failovers Detected:  " + s.getFailoversDetected());
        System.out.println("  Diverged Nodes:      " + s.getDivergedNodes());
        if (s.getLastAutomaticRollback() != null) {
            AutomaticRollbackStatus a = s.getLastAutomaticRollback();
            System.out.println("  Last Automatic Rollback: " + a.getName() + " (term " + a.getTerm() + ", created "
                    + a.getCreatedAt() + ")");
        }
        System.out.println("  Failovers:");
        for (FailoverReport r : s.getFailovers()) {
            System.out.println("    Term " + r.getTerm() + ": leader " + r.getLeader()
                    + (r.getPreviousLeader() == null ? "" : " (before: " + r.getPreviousLeader() + ", term "
                    + r.getPreviousTerm() + ")") + ", detected " + r.getDetectedAt() + ", " + r.getDetection()
                    + ", leader's last LSN " + r.getLeaderLastLsn());
            for (NodeReport n : r.getNodes()) {
                StringBuilder b = new StringBuilder("      " + n.getPod() + ": " + n.getState() + ", last LSN "
                        + n.getLastLsn() + ", fork LSN " + n.getForkLsn());
                if (n.getRecords() != null) {
                    b.append(", ").append(n.getRecords()).append(" records");
                }
                if (n.getBytes() != null) {
                    b.append(", ").append(n.getBytes()).append(" bytes");
                }
                if (n.getTouches() != null && !n.getTouches().isEmpty()) {
                    b.append(", touches ").append(String.join(", ", n.getTouches()));
                }
                if (n.getSummaryMissing() != null) {
                    b.append(" (").append(n.getSummaryMissing()).append(")");
                }
                if (n.getRollback() != null) {
                    b.append("; rollback ").append(n.getRollback()).append(" (approval ").append(n.getApproval())
                            .append(", phase ").append(n.getRollbackPhase()).append(")");
                }
                System.out.println(b);
            }
        }
        System.out.println("  Conditions:");
        System.out.printf("    %-8s %-7s %-20s %s%n", "Type", "Status", "Reason", "Message");
        for (Condition c : s.getConditions()) {
            System.out.printf("    %-8s %-7s %-20s %s%n", c.getType(), c.getStatus(), c.getReason(),
                    c.getMessage() == null ? "" : c.getMessage());
        }
        System.out.println("Events:");
        System.out.printf("  %-8s %-18s %s%n", "Type", "Reason", "Message");
        List<Event> events = new ArrayList<>(client.v1().events().inNamespace(p.getMetadata().getNamespace()).list()
                .getItems().stream().filter(e -> "RollbackPolicy".equals(e.getInvolvedObject().getKind())
                        && p.getMetadata().getName().equals(e.getInvolvedObject().getName())).toList());
        events.sort(Comparator.comparing(Event::getFirstTimestamp));
        for (Event e : events) {
            String m = e.getMessage();
            System.out.printf("  %-8s %-18s %s%n", e.getType(), e.getReason(), m.length() > 200 ? m.substring(0, 197)
                    + "..." : m);
        }
    }

    private static int operatorPort;

    /**
     * Shows the rollback with the real kubectl against the embedded API server; false when kubectl is
     * missing or its output lacks what a user must see (the columns, the status, conditions, events).
     */
    static boolean showWithKubectl(MockApiServer api, Path work, String name) {
        Kubectl kubectl;
        try {
            Kubectl.binary();
            kubectl = Kubectl.against(api, work.resolve("kubectl"), NS);
        } catch (AssertionError | RuntimeException missing) {
            return false;
        }
        title("kubectl get rsrb   (the real kubectl, KUBECONFIG=" + kubectl.kubeconfig() + ")");
        Kubectl.Result get = kubectl.run("get", "rsrb");
        System.out.print(get.stdout());
        title("kubectl describe rsrb " + name);
        Kubectl.Result describe = kubectl.run("describe", "rsrb", name);
        System.out.print(describe.stdout());
        boolean ok = get.ok() && describe.ok()
                && get.stdout().contains("PHASE") && get.stdout().contains("FORK LSN")
                && get.stdout().contains("Completed")
                && describe.stdout().contains("Conditions:") && describe.stdout().contains("Rollback File:")
                && describe.stdout().contains("Events:") && describe.stdout().contains("NodeRolledBack");
        if (!ok) {
            System.out.println("kubectl did not show the rollback as expected: " + get.stderr() + describe.stderr());
        }
        return ok;
    }

    static Process startOperator(MockApiServer api, Path jar, Path work) throws Exception {
        return startOperator(api, jar, work, Map.of());
    }

    /** The packaged operator as its own process, with {@code env} added to its environment; waits until ready. */
    static Process startOperator(MockApiServer api, Path jar, Path work, Map<String, String> env) throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            operatorPort = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m"));
        api.clientProperties().forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.addAll(List.of("-Dquarkus.http.port=" + operatorPort, "-Dquarkus.log.console.json.enabled=false",
                "-Dquarkus.operator-sdk.crd.apply=false", "-jar", jar.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(work.resolve("operator.log").toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        HttpClient http = HttpClient.newHttpClient();
        Instant until = Instant.now().plusSeconds(60);
        while (Instant.now().isBefore(until)) {
            if (!p.isAlive()) {
                fail("the operator exited with " + p.exitValue() + "; see target/sandbox/operator.log");
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + operatorPort
                        + "/q/health/ready")).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return p;
                }
            } catch (IOException notYet) {
                // starting
            }
            Thread.sleep(200);
        }
        p.destroyForcibly();
        fail("the operator did not become ready in 60 s; see target/sandbox/operator.log");
        return p;
    }

    static String metrics(Path work) {
        try {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + operatorPort
                    + "/q/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException | InterruptedException e) {
            return "(metrics unavailable: " + e.getMessage() + ")";
        }
    }

    /** Prints each phase as the operator records it, until the rollback ends (2 minutes at most). */
    static ReplicaSetRollback follow(KubernetesClient client, String name, CustomResourceDefinition crd)
            throws InterruptedException {
        String last = "";
        Instant until = Instant.now().plusSeconds(120);
        ReplicaSetRollback r = null;
        while (Instant.now().isBefore(until)) {
            r = client.resources(ReplicaSetRollback.class).inNamespace(NS).withName(name).get();
            ReplicaSetRollbackStatus s = r.getStatus();
            String now = s == null || s.getPhase() == null ? "" : s.getPhase()
                    + (s.getWaiting() == null ? "" : " (waiting: " + s.getWaiting() + ")");
            if (!now.equals(last)) {
                System.out.println("  phase " + now);
                last = now;
            }
            if (s != null && s.getPhase() != null
                    && List.of("Completed", "Failed", "Aborted", "DryRunCompleted").contains(s.getPhase())) {
                return r;
            }
            Thread.sleep(50);
        }
        return r;
    }

    /** The printer columns of the CRD, as kubectl get shows them. */
    static void printTable(CustomResourceDefinition crd, List<ReplicaSetRollback> items) {
        List<CustomResourceColumnDefinition> cols = crd.getSpec().getVersions().get(0).getAdditionalPrinterColumns();
        List<List<String>> rows = new ArrayList<>();
        List<String> head = new ArrayList<>(List.of("NAME"));
        cols.forEach(c -> head.add(c.getName().toUpperCase()));
        rows.add(head);
        for (ReplicaSetRollback r : items) {
            JsonNode node = JSON.valueToTree(Serialization.asJson(r) == null ? null : JSON.convertValue(
                    Serialization.unmarshal(Serialization.asJson(r), Map.class), Map.class));
            List<String> row = new ArrayList<>(List.of(r.getMetadata().getName()));
            for (CustomResourceColumnDefinition c : cols) {
                JsonNode v = node;
                for (String part : c.getJsonPath().substring(1).split("\\.")) {
                    v = v == null ? null : v.get(part);
                }
                String text = v == null || v.isNull() ? "" : v.asText();
                if ("date".equals(c.getType()) && !text.isEmpty()) {
                    text = age(Instant.parse(text));
                }
                row.add(text);
            }
            rows.add(row);
        }
        int[] width = new int[head.size()];
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                width[i] = Math.max(width[i], row.get(i).length());
            }
        }
        for (List<String> row : rows) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < row.size(); i++) {
                b.append(String.format("%-" + (width[i] + 3) + "s", row.get(i)));
            }
            System.out.println(b.toString().stripTrailing());
        }
    }

    private static String age(Instant t) {
        long s = Math.max(0, Duration.between(t, Instant.now()).getSeconds());
        return s < 120 ? s + "s" : (s / 60) + "m";
    }

    /** A kubectl-describe-style view: status, conditions and the Events of the rollback. */
    static void describe(KubernetesClient client, ReplicaSetRollback r) {
        ReplicaSetRollbackStatus s = r.getStatus();
        System.out.println("Name:         " + r.getMetadata().getName());
        System.out.println("Namespace:    " + r.getMetadata().getNamespace());
        System.out.println("Target Pod:   " + r.getSpec().getTargetPod());
        System.out.println("Status:");
        System.out.println("  Phase:              " + s.getPhase());
        System.out.println("  Reason:             " + s.getReason());
        System.out.println("  Message:            " + s.getMessage());
        System.out.println("  Incident Id:        " + s.getIncidentId());
        if (s.getPlan() != null) {
            System.out.println("  Plan:               #" + s.getPlan().getNumber() + " fork LSN "
                    + s.getPlan().getForkLsn()
                    + ", last LSN " + s.getPlan().getLastLsn() + ", " + s.getPlan().getExpectedRecords()
                    + " records, term " + s.getPlan().getOldTerm() + " -> " + s.getPlan().getNewTerm()
                    + ", new primary " + s.getPlan().getNewPrimary() + " (" + s.getPlan().getNewPrimaryAddress() + ")");
        }
        if (s.getTail() != null) {
            System.out.println("  Tail:               (" + s.getTail().getFromLsn() + ", " + s.getTail().getToLsn()
                    + "], "
                    + s.getTail().getRecords() + " records, " + s.getTail().getBytes() + " bytes, sha256 "
                    + s.getTail().getSha256());
        }
        if (s.getRollbackFile() != null) {
            System.out.println("  Rollback File:      " + s.getRollbackFile().getPod() + ":"
                    + s.getRollbackFile().getPath()
                    + " (" + s.getRollbackFile().getBytes() + " bytes, sha256 " + s.getRollbackFile().getSha256()
                    + ")");
        }
        System.out.println("  Rollback Id:        " + s.getRollbackIdBefore() + " -> " + s.getRollbackIdAfter());
        System.out.println("  Steps:");
        for (StepTime t : s.getSteps()) {
            System.out.printf("    %-18s %s%n", t.getPhase(), t.getTime());
        }
        System.out.println("  Conditions:");
        System.out.printf("    %-17s %-7s %-22s %s%n", "Type", "Status", "Reason", "Last Transition");
        for (Condition c : s.getConditions()) {
            System.out.printf("    %-17s %-7s %-22s %s%n", c.getType(), c.getStatus(), c.getReason(),
                    c.getLastTransitionTime());
        }
        System.out.println("Events:");
        System.out.printf("  %-8s %-22s %s%n", "Type", "Reason", "Message");
        List<Event> events = new ArrayList<>(client.v1().events().inNamespace(r.getMetadata().getNamespace()).list()
                .getItems().stream().filter(e -> r.getMetadata().getName().equals(e.getInvolvedObject().getName()))
                .toList());
        events.sort(Comparator.comparing(Event::getFirstTimestamp));
        for (Event e : events) {
            String m = e.getMessage();
            System.out.printf("  %-8s %-22s %s%n", e.getType(), e.getReason(), m.length() > 160 ? m.substring(0, 157)
                    + "..." : m);
        }
    }

    static void keepRunning(MockApiServer api, Path work) throws Exception {
        keepRunning(api, work, List.of("kubectl get rsrb", "kubectl describe rsrb orders-0-after-failover"));
    }

    /** Keeps the sandbox up, naming {@code commands} to try with the real kubectl. */
    static void keepRunning(MockApiServer api, Path work, List<String> commands) throws Exception {
        Path kubeconfig = api.writeKubeconfig(work.resolve("kubeconfig").toAbsolutePath(), NS);
        System.out.println();
        System.out.println("Kept running. In another terminal:");
        System.out.println("  export KUBECONFIG=" + kubeconfig);
        commands.forEach(c -> System.out.println("  " + c));
        System.out.println("  kubectl apply -f deploy/examples/...   (the database pods are orders-0..2)");
        System.out.println("Press Ctrl-C to stop.");
        Thread.currentThread().join();
    }

    static String text(JsonNode b64) {
        return b64 == null ? "-" : new String(Base64.getDecoder().decode(b64.asText()), StandardCharsets.UTF_8);
    }

    static void title(String t) {
        System.out.println();
        System.out.println("== " + t);
    }

    static void fail(String message) {
        System.err.println("SANDBOX FAILED: " + message);
        System.exit(2);
    }
}
