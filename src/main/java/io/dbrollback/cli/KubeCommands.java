package io.dbrollback.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.model.TailDigest;
import io.dbrollback.operator.AgentClients;
import io.dbrollback.operator.TlsRefusals;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.grpc.ManagedChannel;
import io.grpc.Status.Code;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The kubectl plugin's commands on ReplicaSetRollbacks ({@code kubectl dbrollback ...}), through the
 * fabric8 client with the user's kubeconfig (KUBECONFIG honoured), context and namespace.
 */
final class KubeCommands {

    static final String APPROVE = "dbrollback.io/approve";
    static final String PAUSED = "dbrollback.io/paused";
    static final ResourceDefinitionContext RSRB = new ResourceDefinitionContext.Builder()
            .withGroup("dbrollback.io").withVersion("v1alpha1").withPlural("replicasetrollbacks")
            .withKind("ReplicaSetRollback").withNamespaced(true).build();
    private static final Pattern PLAN = Pattern.compile("-plan(\\d+)\\.rollback\\.jsonl$");

    private KubeCommands() {
    }

    /** -n, --context, --kubeconfig: as kubectl takes them. */
    static final class KubeOptions {
        @Option(names = {"-n", "--namespace"}, description = "The namespace (default: the context's).")
        String namespace;

        @Option(names = "--context", description = "The kubeconfig context (default: the current one).")
        String context;

        @Option(names = "--kubeconfig", description = "The kubeconfig file (default: KUBECONFIG, ~/.kube/config).")
        Path kubeconfig;

        KubernetesClient client() throws IOException {
            Config c = kubeconfig != null
                    ? Config.fromKubeconfig(context, Files.readString(kubeconfig), kubeconfig.toString())
                    : Config.autoConfigure(context);
            if (namespace != null) {
                c.setNamespace(namespace);
            }
            return new KubernetesClientBuilder().withConfig(c).build();
        }

        String namespace(KubernetesClient c) {
            return namespace != null ? namespace : c.getNamespace() != null ? c.getNamespace() : "default";
        }
    }

    /** A rollback as JSON (metadata, spec, status), or an error naming what is missing. */
    static JsonNode rollback(KubernetesClient c, String ns, String name) {
        GenericKubernetesResource r = c.genericKubernetesResources(RSRB).inNamespace(ns).withName(name).get();
        if (r == null) {
            throw new IllegalStateException("no ReplicaSetRollback " + name + " in namespace " + ns);
        }
        return json(r);
    }

    static JsonNode json(HasMetadata r) {
        return RollbackFileReader.JSON.valueToTree(r);
    }

    static String text(JsonNode n, String dotted) {
        JsonNode v = n;
        for (String p : dotted.split("\\.")) {
            v = v == null ? MissingNode.getInstance() : v.path(p);
        }
        return v.isMissingNode() || v.isNull() ? null : v.asText();
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "The rollbacks of the namespace (or one): phase, what it waits for, records, the "
                    + "verified file's SHA-256 and where its verified off-node copies are.")
    static final class Status implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @CommandLine.Mixin
        KubeOptions kube = new KubeOptions();

        @Parameters(paramLabel = "NAME", arity = "0..1")
        String name;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            try (KubernetesClient c = kube.client()) {
                String ns = kube.namespace(c);
                List<JsonNode> rows = name != null ? List.of(rollback(c, ns, name))
                        : c.genericKubernetesResources(RSRB).inNamespace(ns).list().getItems().stream()
                                .map(KubeCommands::json).toList();
                if (rows.isEmpty()) {
                    out.println("No ReplicaSetRollbacks in namespace " + ns + ".");
                    return 0;
                }
                List<List<String>> table = new ArrayList<>();
                table.add(List.of("NAME", "TARGET", "PHASE", "WAITING", "RECORDS", "FILE SHA256", "COPIES"));
                for (JsonNode r : rows) {
                    String records = text(r, "status.rollbackFile.records");
                    if (records == null) {
                        records = text(r, "status.tail.records");
                    }
                    List<String> copies = new ArrayList<>();
                    for (JsonNode copy : r.path("status").path("copies")) {
                        boolean verified = !copy.path("verifiedAt").asText("").isEmpty()
                                && !copy.path("sha256").asText("").isEmpty();
                        if (verified) {
                            copies.add(copy.path("pod").asText(copy.path("kind").asText("?")));
                        }
                    }
                    table.add(List.of(text(r, "metadata.name"), orDash(text(r, "spec.targetPod")),
                            orDash(text(r, "status.phase")), orDash(text(r, "status.waiting")), orDash(records),
                            orDash(text(r, "status.rollbackFile.sha256")),
                            copies.isEmpty() ? "-" : String.join(",", copies)));
                }
                int[] widths = new int[table.get(0).size()];
                for (List<String> row : table) {
                    for (int i = 0; i < row.size(); i++) {
                        widths[i] = Math.max(widths[i], row.get(i).length());
                    }
                }
                for (List<String> row : table) {
                    StringBuilder b = new StringBuilder();
                    for (int i = 0; i < row.size(); i++) {
                        b.append(row.get(i)).append(" ".repeat(widths[i] - row.get(i).length() + 3));
                    }
                    out.println(b.toString().stripTrailing());
                }
            }
            out.flush();
            return 0;
        }
    }

    static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    @Command(name = "approve", mixinStandardHelpOptions = true,
            description = "Approve the destructive step of a rollback that waits for approval: sets "
                    + APPROVE + " to its verified rollback file's SHA-256, after asking.")
    static final class Approve implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @CommandLine.Mixin
        KubeOptions kube = new KubeOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation.")
        boolean yes;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try (KubernetesClient c = kube.client()) {
                String ns = kube.namespace(c);
                JsonNode r = rollback(c, ns, name);
                String phase = text(r, "status.phase");
                String sha = text(r, "status.rollbackFile.sha256");
                if (!"AwaitingApproval".equals(phase)) {
                    err.println("refused: rollback " + name + " is " + (phase == null ? "not started" : "in phase "
                            + phase) + ", not waiting for approval (AwaitingApproval)");
                    return 1;
                }
                if (sha == null || !sha.matches("[0-9a-f]{64}")) {
                    err.println("refused: rollback " + name + " has no verified rollback file in its status");
                    return 1;
                }
                String target = text(r, "spec.targetPod");
                out.println("Rollback " + ns + "/" + name + " waits for approval (gates: "
                        + r.path("status").path("gates").toString() + ").");
                out.println("Its verified rollback file: " + text(r, "status.rollbackFile.pod") + ":"
                        + text(r, "status.rollbackFile.path"));
                out.println("  records " + text(r, "status.rollbackFile.records") + ", bytes "
                        + text(r, "status.rollbackFile.bytes") + ", sha256 " + sha);
                out.println("Approving lets the operator remove these records from " + target
                        + " (the file keeps them).");
                if (!yes) {
                    out.print("Approve? [y/N] ");
                    out.flush();
                    String answer = readAnswer();
                    if (answer == null || !(answer.trim().equalsIgnoreCase("y")
                            || answer.trim().equalsIgnoreCase("yes"))) {
                        out.println("Not approved.");
                        return 1;
                    }
                }
                c.genericKubernetesResources(RSRB).inNamespace(ns).withName(name).edit(g -> {
                    Map<String, String> a = g.getMetadata().getAnnotations() == null ? new HashMap<>()
                            : new HashMap<>(g.getMetadata().getAnnotations());
                    a.put(APPROVE, sha);
                    g.getMetadata().setAnnotations(a);
                    return g;
                });
                out.println("Approved: " + APPROVE + "=" + sha);
            }
            out.flush();
            return 0;
        }

        private static String readAnswer() throws IOException {
            Console console = System.console();
            if (console != null) {
                return console.readLine();
            }
            return new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        }
    }

    /** Sets ({@code value} not null) or removes an annotation. */
    static void annotate(KubernetesClient c, String ns, String name, String key, String value) {
        rollback(c, ns, name);
        c.genericKubernetesResources(RSRB).inNamespace(ns).withName(name).edit(g -> {
            Map<String, String> a = g.getMetadata().getAnnotations() == null ? new HashMap<>()
                    : new HashMap<>(g.getMetadata().getAnnotations());
            if (value == null) {
                a.remove(key);
            } else {
                a.put(key, value);
            }
            g.getMetadata().setAnnotations(a);
            return g;
        });
    }

    /** Sets or removes {@value #PAUSED} on a rollback and says so: pause and resume. */
    abstract static class PauseAnnotation implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @CommandLine.Mixin
        KubeOptions kube = new KubeOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        /** The annotation's new value; null removes it. */
        abstract String value();

        /** What is printed once it is done. */
        abstract String done();

        @Override
        public Integer call() throws IOException {
            try (KubernetesClient c = kube.client()) {
                annotate(c, kube.namespace(c), name, PAUSED, value());
            }
            spec.commandLine().getOut().println(done());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = "Pause a rollback (" + PAUSED + "=true): the operator does nothing more until resumed.")
    static final class Pause extends PauseAnnotation {
        @Override
        String value() {
            return "true";
        }

        @Override
        String done() {
            return "Paused " + name + " (" + PAUSED + "=true).";
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "Resume a paused rollback: removes " + PAUSED + ".")
    static final class Resume extends PauseAnnotation {
        @Override
        String value() {
            return null;
        }

        @Override
        String done() {
            return "Resumed " + name + " (" + PAUSED + " removed).";
        }
    }

    /** How inspect and replay fetch the file. */
    static final class FetchOptions {
        @Option(names = "--exec", description = "Fetch the file through pod exec (cat) in the data container "
                + "instead of the agent's ReadRollbackFile.")
        boolean exec;

        @Option(names = "--agent", paramLabel = "HOST:PORT", description = "Reach the target pod's agent here "
                + "instead of at the pod IP: from outside the cluster, run kubectl port-forward pod/POD "
                + "LOCAL:AGENT_PORT and pass 127.0.0.1:LOCAL. Over TLS the agent's certificate is still checked "
                + "for the pod IP, as the operator checks it.")
        String agent;

        @Option(names = "--output", paramLabel = "FILE", description = "Keep the fetched file here.")
        Path output;

        /** Where the temporary file goes without --output (null: java.io.tmpdir); tests set it. */
        Path tempDir;

        /** --exec and --agent exclude each other. */
        void check(CommandLine cl) {
            if (exec && agent != null) {
                throw new CommandLine.ParameterException(cl, "--exec and --agent exclude each other");
            }
        }
    }

    /**
     * A fetched rollback file: the {@code --output} file, which is kept, or a temporary file, which
     * {@link #close()} removes (a command closes it once it is done with the file, whatever the outcome).
     */
    record Fetched(Path file, boolean temporary) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            if (temporary) {
                Files.deleteIfExists(file);
            }
        }
    }

    /**
     * The verified file of a rollback, fetched and checked against its status. A temporary file is
     * removed before this throws; the caller closes what it returns.
     */
    static Fetched fetch(KubernetesClient c, String ns, JsonNode rb, FetchOptions o, PrintWriter out)
            throws IOException {
        String pod = text(rb, "status.rollbackFile.pod");
        String path = text(rb, "status.rollbackFile.path");
        String sha = text(rb, "status.rollbackFile.sha256");
        if (pod == null || path == null || sha == null) {
            throw new IllegalStateException("rollback " + text(rb, "metadata.name") + " has no rollback file in its "
                    + "status yet (phase " + text(rb, "status.phase") + ")");
        }
        Fetched fetched = o.output != null ? new Fetched(o.output, false)
                : new Fetched(o.tempDir != null ? Files.createTempFile(o.tempDir, "dbrollback-", ".rollback.jsonl")
                        : Files.createTempFile("dbrollback-", ".rollback.jsonl"), true);
        try {
            Path file = fetched.file();
            String via = o.exec ? readThroughExec(c, ns, rb, pod, path, file)
                    : readThroughAgent(c, ns, rb, pod, path, file, o.agent);
            String got = sha256(file);
            long size = Files.size(file);
            if (!got.equals(sha)) {
                throw new IllegalStateException("the fetched file's SHA-256 " + got + " is not the status's " + sha);
            }
            out.println("Fetched " + pod + ":" + path + " through " + via + ": " + size + " bytes, sha256 " + got
                    + " (as status.rollbackFile.sha256)" + (o.output != null ? ", saved to " + o.output : ""));
            return fetched;
        } catch (IOException | RuntimeException | Error e) {
            try {
                fetched.close();
            } catch (IOException notRemoved) {
                e.addSuppressed(notRemoved);
            }
            throw e;
        }
    }

    private static String readThroughExec(KubernetesClient c, String ns, JsonNode rb, String pod, String path,
            Path file) throws IOException {
        String container = text(rb, "spec.cluster.dataContainer");
        container = container == null ? "database" : container;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (OutputStream fileOut = Files.newOutputStream(file);
                ExecWatch w = c.pods().inNamespace(ns).withName(pod).inContainer(container).writingOutput(fileOut)
                        .writingError(err).exec("cat", path)) {
            Integer code = w.exitCode().get(10, TimeUnit.MINUTES);
            if (code == null || code != 0) {
                throw new IOException("cat " + path + " in " + pod + "/" + container + " exited " + code + ": "
                        + err.toString(StandardCharsets.UTF_8).trim());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("cat " + path + " in " + pod + " did not finish: " + e.getMessage(), e);
        }
        return "pod exec (cat) in " + pod + "/" + container;
    }

    /**
     * Reads the file through the agent's ReadRollbackFile: at {@code agent} when given (a port-forward),
     * else at the pod IP; over TLS with the material of spec.agentTlsSecret when it is set.
     */
    private static String readThroughAgent(KubernetesClient c, String ns, JsonNode rb, String podName, String path,
            Path file, String agent) throws IOException {
        Matcher m = PLAN.matcher(path);
        String incident = text(rb, "status.incidentId");
        if (!m.find() || incident == null) {
            throw new IllegalStateException("cannot tell the incident and plan of " + path);
        }
        String secret = text(rb, "spec.agentTlsSecret");
        AgentClients.Tls tls = secret == null ? null : agentTls(c, ns, secret);
        // Over TLS the certificate is checked for the pod IP even through a port-forward: the operator
        // checks it so, and the agents' certificates name the pod IP.
        String podAddress = agent == null || tls != null ? agentAddress(c, ns, rb, podName) : null;
        String address = agent != null ? agent : podAddress;
        ManagedChannel ch = agentChannel(address, agent != null && tls != null ? podAddress : null, tls);
        try (OutputStream fileOut = Files.newOutputStream(file)) {
            Iterator<ReadRollbackFileResponse> it = RollbackAgentGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(30, TimeUnit.MINUTES).readRollbackFile(ReadRollbackFileRequest.newBuilder()
                            .setIncidentId(incident).setPlanNumber(Integer.parseInt(m.group(1))).build());
            RollbackFileEnd end = null;
            while (it.hasNext()) {
                ReadRollbackFileResponse r = it.next();
                if (r.hasEnd()) {
                    end = r.getEnd();
                } else {
                    ByteString data = r.getData();
                    data.writeTo(fileOut);
                }
            }
            if (end == null) {
                throw new IOException("the agent's stream ended without its end message");
            }
        } catch (StatusRuntimeException e) {
            var s = TlsRefusals.status(e);
            String hint = switch (s.getCode()) {
                case UNAVAILABLE, DEADLINE_EXCEEDED -> agent != null
                        ? "is the port-forward to " + podName + " running (kubectl port-forward -n " + ns + " pod/"
                                + podName + " LOCAL:AGENT_PORT, then --agent 127.0.0.1:LOCAL)? Or fetch the file "
                                + "with --exec"
                        : "a pod IP is reachable from inside the cluster only: from elsewhere run kubectl "
                                + "port-forward -n " + ns + " pod/" + podName + " " + port(podAddress) + ":"
                                + port(podAddress) + " and pass --agent 127.0.0.1:" + port(podAddress)
                                + ", or fetch the file with --exec";
                case UNAUTHENTICATED -> secret == null ? null : "the agent's certificate must chain to ca.crt of "
                        + "the Secret " + ns + "/" + secret + " and name the pod IP, and the agent must accept its "
                        + "tls.crt; or fetch the file with --exec";
                default -> null;
            };
            throw new IOException("ReadRollbackFile at " + address + " failed: " + s.getCode()
                    + (s.getDescription() == null ? "" : " (" + s.getDescription() + ")")
                    + (hint == null ? "" : "; " + hint), e);
        } finally {
            ch.shutdownNow();
        }
        String how = tls == null ? "" : " over " + (tls.clientCert() != null ? "mutual TLS" : "TLS") + " (Secret "
                + secret + (agent != null ? "; the agent's certificate checked for " + podAddress : "") + ")";
        return "the agent's ReadRollbackFile at " + address + how;
    }

    private static String port(String hostPort) {
        return hostPort.substring(hostPort.lastIndexOf(':') + 1);
    }

    /**
     * The agents' TLS material from the Secret {@code name} (spec.agentTlsSecret), read with the
     * user's credentials as the operator reads it: {@code ca.crt}, and {@code tls.crt}/{@code tls.key}
     * for agents that require a client certificate.
     */
    static AgentClients.Tls agentTls(KubernetesClient c, String ns, String name) {
        String what = "the agent TLS Secret " + ns + "/" + name + " (spec.agentTlsSecret)";
        Secret secret;
        try {
            secret = c.secrets().inNamespace(ns).withName(name).get();
        } catch (KubernetesClientException e) {
            if (e.getCode() == 403) {
                // the API server's answer says no more than this, at length: not chained
                throw new IllegalStateException("you may not read " + what + ": your kubeconfig's user is refused "
                        + "get on secrets in " + ns + " (HTTP 403); ask for read access to that Secret, or fetch the "
                        + "file with --exec (pods/exec)");
            }
            throw e;
        }
        if (secret == null) {
            throw new IllegalStateException(what + " does not exist; fetch the file with --exec");
        }
        Map<String, String> d = secret.getData() == null ? Map.of() : secret.getData();
        if (d.get("ca.crt") == null || d.get("ca.crt").isEmpty()) {
            throw new IllegalStateException(what + " has no ca.crt (the CA the agents' certificates chain to); "
                    + "fix the Secret, or fetch the file with --exec");
        }
        try {
            return new AgentClients.Tls(decode(d.get("ca.crt")), decode(d.get("tls.crt")), decode(d.get("tls.key")));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(what + " is not valid base64: " + e.getMessage(), e);
        }
    }

    private static byte[] decode(String base64) {
        return base64 == null || base64.isEmpty() ? null : Base64.getDecoder().decode(base64);
    }

    /**
     * A channel to an agent, as the operator makes one (AgentClients): plaintext without material, else
     * TLS that checks the agent's certificate against ca.crt and for the name dialed, or for
     * {@code authority} when set (the pod's address, when {@code address} is a port-forward).
     */
    static ManagedChannel agentChannel(String address, String authority, AgentClients.Tls tls) {
        NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(16 << 20)
                .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000);
        if (tls == null) {
            return b.usePlaintext().build();
        }
        try {
            b.sslContext(AgentClients.sslContext(tls));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("the agent TLS Secret: " + e.getMessage(), e);
        }
        if (authority != null) {
            b.overrideAuthority(authority);
        }
        return b.build();
    }

    /** host:port of a pod's agent: its IP and spec.cluster.agentPort or the container port agentPortName. */
    static String agentAddress(KubernetesClient c, String ns, JsonNode rb, String podName) {
        Pod pod = c.pods().inNamespace(ns).withName(podName).get();
        if (pod == null || pod.getStatus() == null || pod.getStatus().getPodIP() == null) {
            throw new IllegalStateException("pod " + podName + " has no IP");
        }
        String port = text(rb, "spec.cluster.agentPort");
        String portName = text(rb, "spec.cluster.agentPortName");
        if (port == null && portName != null) {
            for (Container ct : pod.getSpec().getContainers()) {
                for (ContainerPort p : ct.getPorts() == null ? List.<ContainerPort>of() : ct.getPorts()) {
                    if (portName.equals(p.getName())) {
                        port = Integer.toString(p.getContainerPort());
                    }
                }
            }
        }
        if (port == null) {
            throw new IllegalStateException("pod " + podName + " has no agent port"
                    + (portName == null ? "" : " named " + portName));
        }
        String ip = pod.getStatus().getPodIP();
        return (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + port;
    }

    /** The current primary's pod, from the leader Lease or Patroni's leader object named in spec.cluster. */
    static String primaryPod(KubernetesClient c, String ns, JsonNode rb) {
        String lease = text(rb, "spec.cluster.leaseName");
        if (lease == null) {
            lease = text(rb, "spec.cluster.leader.lease.name");
        }
        if (lease != null) {
            Lease l = c.leases().inNamespace(ns).withName(lease).get();
            if (l == null || l.getSpec() == null || l.getSpec().getHolderIdentity() == null) {
                throw new IllegalStateException("the leader Lease " + lease + " names no holder");
            }
            return l.getSpec().getHolderIdentity();
        }
        String scope = text(rb, "spec.cluster.leader.patroni.scope");
        if (scope == null) {
            throw new IllegalStateException("spec.cluster names no leader Lease and no Patroni scope");
        }
        boolean endpoints = "Endpoints".equals(text(rb, "spec.cluster.leader.patroni.dcs"));
        String kind = (endpoints ? Endpoints.class : ConfigMap.class).getSimpleName();
        String objectName = endpoints ? scope : scope + "-leader";
        HasMetadata o = endpoints ? c.endpoints().inNamespace(ns).withName(objectName).get()
                : c.configMaps().inNamespace(ns).withName(objectName).get();
        if (o == null) {
            throw new IllegalStateException("there is no " + kind + " " + ns + "/" + objectName + ", Patroni's leader "
                    + "object of scope " + scope);
        }
        String leader = o.getMetadata().getAnnotations() == null ? null
                : o.getMetadata().getAnnotations().get("leader");
        if (leader == null || leader.isEmpty()) {
            throw new IllegalStateException("Patroni's leader object of scope " + scope + " (" + kind + " " + ns + "/"
                    + objectName + ") names no leader: nobody holds the leader key now; name the primary with "
                    + "--primary or --postgres");
        }
        return leader;
    }

    static String sha256(Path file) throws IOException {
        MessageDigest d = TailDigest.newSha256();
        byte[] buf = new byte[1 << 20];
        try (var in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                d.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Fetch a rollback's verified file (its agent, or --exec), check its SHA-256 against the "
                    + "status, and show it as inspect FILE does.")
    static final class Inspect implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @CommandLine.Mixin
        KubeOptions kube = new KubeOptions();

        @CommandLine.Mixin
        FetchOptions fetch = new FetchOptions();

        @CommandLine.Mixin
        FileCommands.FilterOptions filter = new FileCommands.FilterOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            Inspector.Filters f = filter.filters(spec.commandLine());
            fetch.check(spec.commandLine());
            try (KubernetesClient c = kube.client()) {
                String ns = kube.namespace(c);
                JsonNode rb = rollback(c, ns, name);
                try (Fetched fetched = fetch(c, ns, rb, fetch, filter.json ? spec.commandLine().getErr() : out)) {
                    int rc = Inspector.inspect(fetched.file(), text(rb, "status.rollbackFile.sha256"), f, filter.json,
                            out);
                    out.flush();
                    return rc;
                }
            }
        }
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = "Fetch a rollback's verified file as inspect does, find the current primary (the leader "
                    + "Lease or Patroni), and show what replay would apply there and what conflicts (dry run).")
    static final class Replay implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @CommandLine.Mixin
        KubeOptions kube = new KubeOptions();

        @CommandLine.Mixin
        FetchOptions fetch = new FetchOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--dry-run", description = "Change nothing (the only mode here: apply with "
                + "dbrollback replay FILE --apply on the file saved with --output).")
        boolean dryRun = true;

        @CommandLine.Mixin
        FileCommands.ReplayOptions options = new FileCommands.ReplayOptions();

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            fetch.check(spec.commandLine());
            try (KubernetesClient c = kube.client()) {
                String ns = kube.namespace(c);
                JsonNode rb = rollback(c, ns, name);
                try (Fetched fetched = fetch(c, ns, rb, fetch, out)) {
                    String pod = null;
                    if (options.primary == null && options.postgres == null) {
                        pod = primaryPod(c, ns, rb);
                        options.primary = agentAddress(c, ns, rb, pod);
                        out.println("Current primary: pod " + pod + " at " + options.primary + " (its client API)");
                    }
                    try {
                        return FileCommands.replay(spec.commandLine(), fetched.file(),
                                text(rb, "status.rollbackFile.sha256"), options, false, Clock.systemUTC());
                    } catch (IOException e) {
                        if (pod != null && unreachable(e)) {
                            String port = port(options.primary);
                            throw new IOException("the current primary, pod " + pod + " at " + options.primary
                                    + ", cannot be reached"
                                    + (text(rb, "spec.agentTlsSecret") != null ? " (replay speaks plaintext to a "
                                            + "reference node's client API: one that serves TLS only refuses it)"
                                            : "")
                                    + "; a pod IP is reachable from inside the cluster only: from elsewhere run "
                                    + "kubectl port-forward -n " + ns + " pod/" + pod + " " + port + ":" + port
                                    + " and pass --primary 127.0.0.1:" + port + " (or --postgres JDBC_URL)", e);
                        }
                        throw e;
                    }
                }
            }
        }
    }

    /** Whether {@code e} comes of a gRPC call that found nobody to answer (UNAVAILABLE, DEADLINE_EXCEEDED). */
    static boolean unreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof StatusRuntimeException s && (s.getStatus().getCode() == Code.UNAVAILABLE
                    || s.getStatus().getCode() == Code.DEADLINE_EXCEEDED)) {
                return true;
            }
        }
        return false;
    }
}
