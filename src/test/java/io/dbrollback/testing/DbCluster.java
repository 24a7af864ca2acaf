package io.dbrollback.testing;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.LeaderSpec;
import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.node.NodeClient;
import io.dbrollback.node.NodeProcess;
import io.dbrollback.node.NodeTls;
import io.dbrollback.node.ReplicaNode;
import io.dbrollback.node.SteppingClock;
import io.dbrollback.operator.ClusterObserver;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.EndpointsBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.grpc.ChannelCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A three-node database on loopback behind Pod objects in the mock API server: reference nodes as
 * the pods' agents (each pod's container port "agent" is its node's port), a leader Lease, and each
 * pod's data volume a local directory that pod exec writes into; the node's agent writes its rollback
 * files (agent mode) into the same directory. Optionally every node serves mutual TLS with a
 * certificate of a given CA and requires client certificates of it (replication between the nodes
 * included).
 */
public final class DbCluster implements AutoCloseable {

    public static final String VOLUME = "/var/lib/dbrollback";
    public static final String CONTAINER = "database";

    public final String namespace;
    public final String lease = "orders-leader";
    public final Path dir;
    final KubernetesClient client;
    private final MockApiServer api;
    private final Options options;
    final List<ReplicaNode> nodes = new ArrayList<>();
    final List<NodeClient> clients = new ArrayList<>();
    private NodeProcess targetProcess;
    /** Patroni's history: who was promoted to each timeline. */
    private final Map<Long, String> promotedTo = new HashMap<>();

    /**
     * How to run the cluster.
     *
     * @param dir where the nodes' data and the pods' volumes live; null for a new temporary directory
     * @param clockStart when set, every node stamps its writes with a {@link SteppingClock} from this
     *     instant, so that the same failover makes the same tail (and tail digest) on every run
     * @param targetProcess run orders-0 (the former primary) as its own JVM, which a test can kill
     *     and restart ({@link #killTarget()}, {@link #restartTarget(Map)})
     * @param targetEnv environment of orders-0's first process (its test hooks)
     * @param ca when not null, each node serves mutual TLS: a certificate of {@code ca} for 127.0.0.1
     *     (re-read from {@link #tlsDir()} every 200 ms), client certificates of {@code ca} required
     */
    public record Options(Path dir, Instant clockStart, boolean targetProcess, Map<String, String> targetEnv,
            TestPki.Ca ca) {
        public Options(Path dir, Instant clockStart, boolean targetProcess, Map<String, String> targetEnv) {
            this(dir, clockStart, targetProcess, targetEnv, null);
        }

        public static Options inProcess() {
            return new Options(null, null, false, Map.of(), null);
        }

        /** Every node serves mutual TLS with a certificate of {@code ca} (in-process nodes only). */
        public Options withCa(TestPki.Ca ca) {
            return new Options(dir, clockStart, targetProcess, targetEnv, ca);
        }
    }

    public DbCluster(MockApiServer api, KubernetesClient client, String namespace) throws IOException {
        this(api, client, namespace, Options.inProcess());
    }

    /**
     * @param ca when not null, each node serves mutual TLS: a certificate of {@code ca} for 127.0.0.1
     *     (re-read from {@link #tlsDir()} every 200 ms), client certificates of {@code ca} required
     */
    public DbCluster(MockApiServer api, KubernetesClient client, String namespace, TestPki.Ca ca) throws IOException {
        this(api, client, namespace, Options.inProcess().withCa(ca));
    }

    public DbCluster(MockApiServer api, KubernetesClient client, String namespace, Options options)
            throws IOException {
        this.namespace = namespace;
        this.client = client;
        this.api = api;
        this.options = options;
        this.dir = options.dir() == null ? Files.createTempDirectory("dbcluster-" + namespace)
                : Files.createDirectories(options.dir());
        TestPki.Ca ca = options.ca();
        ChannelCredentials admin = null;
        Path clientCa = tlsDir().resolve("client-ca.crt");
        if (ca != null) {
            if (options.targetProcess()) {
                throw new IllegalArgumentException("TLS is for in-process nodes only");
            }
            Files.createDirectories(tlsDir());
            TestPki.writeAtomically(clientCa, ca.pem());
            // the test's own client reads timelines and rejoins nodes, as the operator would
            admin = TestPki.credentials(ca, ca.issue("test-admin", TestPki.OPERATOR_IDENTITY));
        }
        try {
            for (int i = 0; i < 3; i++) {
                String name = "orders-" + i;
                int port;
                String address;
                if (i == 0 && options.targetProcess()) {
                    targetProcess = startTarget(0, options.targetEnv());
                    port = targetProcess.port();
                    address = targetProcess.address;
                } else {
                    // The agent's rollback directory is the one pod exec writes to: the same file either way.
                    ReplicaNode.Config config = ReplicaNode.Config.of(name, dir.resolve("node-" + i), 3)
                            .withRollbackDir(dir.resolve("volume-" + i).resolve("rollback"));
                    if (ca != null) {
                        TestPki.PemFiles files = ca.issue(name, "127.0.0.1").write(tlsDir(), name);
                        config = config.withTls(new NodeTls.Config(files.cert(), files.key(), clientCa, null,
                                Duration.ofMillis(200)));
                    }
                    ReplicaNode node = options.clockStart() == null ? ReplicaNode.start(config)
                            : ReplicaNode.start(config, new SteppingClock(options.clockStart()));
                    nodes.add(node);
                    port = node.port();
                    address = node.address();
                }
                clients.add(new NodeClient(address, admin));
                Pod pod = new PodBuilder()
                        .withNewMetadata().withNamespace(namespace).withName(name).addToLabels("app", "orders")
                        .endMetadata()
                        .withNewSpec().addNewContainer().withName(CONTAINER).withImage("orders-db")
                        .addNewPort().withName("agent").withContainerPort(port).endPort().endContainer().endSpec()
                        .withNewStatus().withPhase("Running").withPodIP("127.0.0.1")
                        .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
                        .build();
                client.pods().inNamespace(namespace).resource(pod).create();
                api.exec().registerPod(namespace, name, dir.resolve("volume-" + i), VOLUME);
            }
        } catch (IOException | RuntimeException | Error e) {
            close();
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new IOException("interrupted while starting orders-0", e);
        }
    }

    private NodeProcess startTarget(int port, Map<String, String> env) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--rollback-dir", volume(0).resolve("rollback").toString()));
        if (options.clockStart() != null) {
            args.addAll(List.of("--clock-start", options.clockStart().toString()));
        }
        return NodeProcess.start("orders-0", dir.resolve("node-0"), port, env, args);
    }

    public NodeClient node(int i) {
        return clients.get(i);
    }

    /** The in-process reference node itself (its test hooks, such as rollback file faults). */
    public ReplicaNode replicaNode(int i) {
        if (i == 0 && targetProcess != null) {
            throw new IllegalStateException("orders-0 runs as a process");
        }
        return nodes.get(options.targetProcess() ? i - 1 : i);
    }

    /** orders-0's process, when {@link Options#targetProcess()}; else null. */
    public NodeProcess targetProcess() {
        return targetProcess;
    }

    /**
     * SIGKILLs orders-0's process, and with it the execs running in its pod (a container restart
     * ends them too). Returns how many execs were killed.
     */
    public int killTarget() throws InterruptedException {
        if (targetProcess == null) {
            throw new IllegalStateException("orders-0 does not run as a process");
        }
        targetProcess.kill();
        return api.exec().killExecs(namespace, "orders-0");
    }

    /**
     * Starts orders-0's process again on the same data and port (after {@link #killTarget()}), with
     * the environment {@code env}; the client of {@link #node(int) node(0)} is a new one.
     */
    public void restartTarget(Map<String, String> env) throws IOException, InterruptedException {
        if (targetProcess == null) {
            throw new IllegalStateException("orders-0 does not run as a process");
        }
        if (targetProcess.process.isAlive()) {
            killTarget();
        }
        targetProcess = startTarget(targetProcess.port(), env);
        clients.set(0, new NodeClient(targetProcess.address)).close();
    }

    /**
     * Points pod {@code i}'s agent port at {@code port} (another agent on loopback, such as a
     * {@link ScriptedAgent} in front of the node): the operator reaches the node through it from now on.
     */
    public void pointAgentAt(int i, int port) {
        client.pods().inNamespace(namespace).withName("orders-" + i).edit(p -> {
            p.getSpec().getContainers().get(0).getPorts().get(0).setContainerPort(port);
            return p;
        });
    }

    public Path volume(int i) {
        return dir.resolve("volume-" + i);
    }

    /** Where the nodes' TLS files are: {@code orders-N.crt}, {@code orders-N.key}, {@code client-ca.crt}. */
    public Path tlsDir() {
        return dir.resolve("tls");
    }

    /** Rotates node {@code i}'s certificate on disk; the node picks it up within 200 ms, without a restart. */
    public void serveCertificate(int i, TestPki.Leaf leaf) {
        leaf.write(tlsDir(), "orders-" + i);
    }

    /** host:port of node {@code i}. */
    public String address(int i) {
        return clients.get(i).address;
    }

    /** Something to do in the middle of {@link #failover(Pause)}. */
    @FunctionalInterface
    public interface Pause {
        void run() throws InterruptedException;
    }

    /**
     * orders-0 is primary in term 1 and writes ten keys, replicated and committed; it is cut off and
     * takes five divergent writes (insert, update, delete, update, insert); orders-1 is elected in
     * term 2 (the Lease moves to it), orders-2 follows it, and it takes three writes.
     */
    public void failover() throws InterruptedException {
        failover(this::setLease);
    }

    /**
     * {@link #failover()}, with the leader recorded by {@code setLeader} (holder, term) instead of the
     * Lease: for example {@code (h, t) -> db.setPatroniLeader("orders", false, h, t)}.
     */
    public void failover(BiConsumer<String, Long> setLeader) throws InterruptedException {
        failover(setLeader, () -> { });
    }

    /**
     * {@link #failover()}, running {@code whileOrders0Leads} once orders-0 leads in term 1 (the Lease
     * names it) with its ten writes replicated and committed, before it is cut off.
     */
    public void failover(Pause whileOrders0Leads) throws InterruptedException {
        failover(this::setLease, whileOrders0Leads);
    }

    /** {@link #failover(BiConsumer)} with {@code whileOrders0Leads} as in {@link #failover(Pause)}. */
    public void failover(BiConsumer<String, Long> setLeader, Pause whileOrders0Leads) throws InterruptedException {
        NodeClient n0 = node(0);
        NodeClient n1 = node(1);
        NodeClient n2 = node(2);
        n0.promote(1);
        setLeader.accept("orders-0", 1L);
        n1.follow(n0, 1, "bootstrap");
        n2.follow(n0, 1, "bootstrap");
        for (int i = 0; i < 10; i++) {
            n0.put("k" + i, "v" + i);
        }
        n1.await("replicated", t -> t.getLastLsn() == 10);
        n2.await("replicated", t -> t.getLastLsn() == 10);
        n0.await("committed", t -> t.getCommitLsn() == 10);
        whileOrders0Leads.run();
        n0.isolate(true);
        n0.put("d1", "divergent-insert");
        n0.put("k1", "divergent-update");
        n0.delete("k2");
        n0.put("d1", "divergent-update-2");
        n0.put("d2", "divergent-insert-2");
        n1.promote(2);
        setLeader.accept("orders-1", 2L);
        n2.follow(n1, 2, "failover");
        n1.put("k3", "after-failover");
        n1.put("k0", "after-failover-2");
        n1.put("n1only", "x");
        n2.await("follows orders-1", t -> t.getLastLsn() == 13);
        n0.isolate(false);
    }

    public void setLease(String holder, long term) {
        Lease l = client.leases().inNamespace(namespace).withName(lease).get();
        if (l == null) {
            client.leases().inNamespace(namespace).resource(new LeaseBuilder()
                    .withNewMetadata().withName(lease).withNamespace(namespace)
                    .addToAnnotations(ClusterObserver.TERM_ANNOTATION, Long.toString(term)).endMetadata()
                    .withNewSpec().withHolderIdentity(holder).withLeaseTransitions((int) term).endSpec().build())
                    .create();
            return;
        }
        l.getMetadata().getAnnotations().put(ClusterObserver.TERM_ANNOTATION, Long.toString(term));
        l.getSpec().setHolderIdentity(holder);
        l.getSpec().setLeaseTransitions((int) term);
        client.leases().inNamespace(namespace).resource(l).update();
    }

    /**
     * Records {@code holder} as the leader of the Patroni cluster {@code scope} in term (timeline)
     * {@code term}, as Patroni 4.1.4's Kubernetes DCS writes it: the leader object (ConfigMap
     * {@code <scope>-leader}, or with {@code endpoints} the Endpoints {@code <scope>} with the leader's
     * address) with the annotations leader, acquireTime, renewTime, ttl, transitions and optime; the
     * holder pod's {@code status} annotation (role primary, state running, its timeline); and the
     * {@code history} annotation of {@code <scope>-config}, one line per promotion
     * ({@code [timeline, lsn, reason, timestamp, new_leader]}). A null holder releases the leader key
     * (Patroni removes the leader annotation) and writes nothing else.
     */
    public void setPatroniLeader(String scope, boolean endpoints, String holder, long term) {
        String kind = endpoints ? "Endpoints" : "ConfigMap";
        String leaderName = endpoints ? scope : scope + "-leader";
        String now = Instant.now().toString();
        Map<String, String> current = patroniAnnotations(kind, leaderName);
        Map<String, String> leader = new LinkedHashMap<>(current == null ? Map.of() : current);
        if (holder == null) {
            leader.remove("leader");
            writePatroni(kind, scope, leaderName, leader, endpoints ? "" : null);
            return;
        }
        boolean changed = !holder.equals(leader.get("leader"));
        long transitions = leader.containsKey("transitions") ? Long.parseLong(leader.get("transitions")) : -1;
        leader.put("leader", holder);
        leader.put("ttl", "30");
        leader.put("renewTime", now);
        if (changed) {
            leader.put("acquireTime", now);
            leader.put("transitions", Long.toString(transitions + 1));
        }
        leader.put("optime", "0");
        writePatroni(kind, scope, leaderName, leader, endpoints ? "127.0.0.1" : null);

        // the history: Patroni's new primary records its promotion to each timeline after the first
        if (term > 1) {
            promotedTo.put(term, holder);
        }
        List<String> lines = new ArrayList<>();
        for (long t = 1; t < term; t++) {
            lines.add("[" + t + "," + t * 100 + ",\"no recovery target specified\",\"" + now + "\",\""
                    + promotedTo.getOrDefault(t + 1, holder) + "\"]");
        }
        Map<String, String> config = patroniAnnotations(kind, scope + "-config");
        Map<String, String> configAnnotations = new LinkedHashMap<>(config == null ? Map.of() : config);
        configAnnotations.put("history", "[" + String.join(",", lines) + "]");
        configAnnotations.putIfAbsent("initialize", "7390000000000000000");
        writePatroni(kind, scope, scope + "-config", configAnnotations, null);

        Pod pod = client.pods().inNamespace(namespace).withName(holder).get();
        if (pod.getMetadata().getAnnotations() == null) {
            pod.getMetadata().setAnnotations(new HashMap<>());
        }
        pod.getMetadata().getAnnotations().put("status", "{\"conn_url\":\"postgres://127.0.0.1:5432/postgres\","
                + "\"api_url\":\"http://127.0.0.1:8008/patroni\",\"state\":\"running\",\"role\":\"primary\","
                + "\"version\":\"4.1.4\",\"xlog_location\":0,\"timeline\":" + term + "}");
        client.pods().inNamespace(namespace).resource(pod).update();
    }

    private Map<String, String> patroniAnnotations(String kind, String name) {
        var o = kind.equals("ConfigMap") ? client.configMaps().inNamespace(namespace).withName(name).get()
                : client.endpoints().inNamespace(namespace).withName(name).get();
        return o == null ? null : o.getMetadata().getAnnotations();
    }

    /** Creates or replaces a Patroni object, labeled as Patroni labels it (cluster-name: scope). */
    private void writePatroni(String kind, String scope, String name, Map<String, String> annotations, String ip) {
        ObjectMeta meta = new ObjectMetaBuilder().withName(name).withNamespace(namespace)
                .withLabels(Map.of("application", "patroni", "cluster-name", scope)).withAnnotations(annotations)
                .build();
        if (kind.equals("ConfigMap")) {
            client.configMaps().inNamespace(namespace).resource(new ConfigMapBuilder().withMetadata(meta).build())
                    .createOr(NonDeletingOperation::update);
            return;
        }
        EndpointsBuilder e = new EndpointsBuilder().withMetadata(meta);
        if (ip != null && !ip.isEmpty()) {
            e.addNewSubset().addNewAddress().withIp(ip).endAddress().addNewPort().withName("postgresql")
                    .withPort(5432).withProtocol("TCP").endPort().endSubset();
        }
        client.endpoints().inNamespace(namespace).resource(e.build()).createOr(NonDeletingOperation::update);
    }

    /** A ReplicaSetRollback of orders-0 whose leader is read from Patroni's scope {@code scope}. */
    public ReplicaSetRollback rollback(String name, String scope, boolean endpoints) {
        ReplicaSetRollback r = rollback(name);
        PatroniLeaderSpec p = new PatroniLeaderSpec();
        p.setScope(scope);
        p.setDcs(endpoints ? PatroniLeaderSpec.Dcs.Endpoints : PatroniLeaderSpec.Dcs.ConfigMap);
        LeaderSpec leader = new LeaderSpec();
        leader.setPatroni(p);
        r.getSpec().getCluster().setLeaseName(null);
        r.getSpec().getCluster().setLeader(leader);
        return r;
    }

    /** A ReplicaSetRollback of orders-0 for this cluster. */
    public ReplicaSetRollback rollback(String name) {
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.getMetadata().setName(name);
        r.getMetadata().setNamespace(namespace);
        ReplicaSetRollbackSpec spec = new ReplicaSetRollbackSpec();
        ClusterSpec c = new ClusterSpec();
        c.setPodSelector(Map.of("app", "orders"));
        c.setLeaseName(lease);
        c.setAgentPortName("agent");
        c.setDataContainer(CONTAINER);
        spec.setCluster(c);
        spec.setTargetPod("orders-0");
        spec.setRollbackDirectory(VOLUME + "/rollback");
        r.setSpec(spec);
        return r;
    }

    @Override
    public void close() {
        clients.forEach(NodeClient::close);
        nodes.forEach(ReplicaNode::close);
        if (targetProcess != null) {
            try {
                targetProcess.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
