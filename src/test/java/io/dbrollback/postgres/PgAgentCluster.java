package io.dbrollback.postgres;

import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.operator.ClusterObserver;
import io.dbrollback.operator.RollbackFileStore;
import io.dbrollback.operator.TestOperator;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.javaoperatorsdk.operator.Operator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A {@link PgCluster} with a PostgreSQL agent ({@link PgAgent}) in this JVM for every server, as the
 * pods of a StatefulSet would run them: each agent knows the other servers as its peers, reads the
 * passwords from a libpq passfile, and keeps its state, its fence socket and its rollback files in its
 * own folders. The agents start after the servers (they find them running and take them over).
 */
public final class PgAgentCluster implements AutoCloseable {

    private final PgCluster pg;
    private final Path root;
    private final Path passfile;
    private final Map<String, PgAgentConfig> configs = new LinkedHashMap<>();
    private final Map<String, PgAgent> agents = new LinkedHashMap<>();
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    private PgAgentCluster(PgCluster pg) throws IOException {
        this.pg = pg;
        this.root = pg.folder("agents");
        this.passfile = root.resolve("pgpass");
        String password = pg.primary().password();
        Files.writeString(passfile, "*:*:*:" + PgServer.SUPERUSER + ":" + password + "\n*:*:*:"
                + PgServer.REPLICATION_USER + ":" + password + "\n");
        Files.setPosixFilePermissions(passfile, PosixFilePermissions.fromString("rw-------"));
    }

    /** Starts the servers ({@link PgCluster#start}) and an agent for each. */
    public static PgAgentCluster start(PgCluster.Options options) throws IOException, SQLException {
        PgCluster pg = PgCluster.start(options);
        try {
            PgAgentCluster c = new PgAgentCluster(pg);
            for (PgServer s : pg.servers()) {
                c.configs.put(s.name(), c.config(s));
                c.agents.put(s.name(), PgAgent.start(c.configs.get(s.name())));
            }
            return c;
        } catch (IOException | RuntimeException e) {
            pg.close();
            throw e;
        }
    }

    private PgAgentConfig config(PgServer s) throws IOException {
        List<String> peers = pg.servers().stream().filter(o -> o != s).map(o -> "127.0.0.1:" + o.port()).toList();
        Path dir = Files.createDirectories(root.resolve(s.name()));
        return new PgAgentConfig(s.name(), "127.0.0.1", 0, s.dataDir(), pg.install().bindir(), s.port(), s.socketDir(),
                dir.resolve("fence"), dir.resolve("state"), dir.resolve("rollback"), PgServer.SUPERUSER,
                PgServer.REPLICATION_USER, passfile, peers, "dbrollback", "postgres", Duration.ofMillis(200),
                pg.install().underUserNamespace(), null);
    }

    public PgCluster pg() {
        return pg;
    }

    public PgAgent agent(String name) {
        return agents.get(name);
    }

    public PgAgentConfig config(String name) {
        return configs.get(name);
    }

    /** host:port of the agent of {@code name}. */
    public String agentAddress(String name) {
        return "127.0.0.1:" + agents.get(name).port();
    }

    /** A blocking client of the agent of {@code name} (closed with the cluster). */
    public RollbackAgentGrpc.RollbackAgentBlockingStub client(String name) {
        ManagedChannel ch = channels.computeIfAbsent(agentAddress(name),
                a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
        return RollbackAgentGrpc.newBlockingStub(ch);
    }

    /** Stops the agent of {@code name} as a crash would (its server keeps running) and starts it again. */
    public PgAgent restartAgent(String name) throws IOException {
        agents.get(name).close();
        PgAgent a = PgAgent.start(configs.get(name));
        agents.put(name, a);
        return a;
    }

    /**
     * Stops the agent of {@code name} as a crash would and starts it again with its configuration's binaries folder
     * replaced by {@code binDir} (kept for later restarts): how a test puts its own pg_rewind in the agent's way.
     */
    public PgAgent restartAgent(String name, Path binDir) throws IOException {
        PgAgentConfig c = configs.get(name);
        configs.put(name, new PgAgentConfig(c.nodeName(), c.host(), c.port(), c.dataDir(), binDir, c.pgPort(),
                c.socketDir(), c.fenceSocketDir(), c.stateDir(), c.rollbackDir(), c.superuser(), c.replicationUser(),
                c.passfile(), c.peers(), c.slot(), c.database(), c.maintenance(), c.userNamespace(), c.tls()));
        return restartAgent(name);
    }

    /** Waits until the primary's agent has created its logical slot. */
    public void awaitSlot() {
        PgServer p = pg.primary();
        PgCluster.await("the logical slot on " + p.name(), () -> p.queryString(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dbrollback'").equals("1"));
    }

    /**
     * The Kubernetes side of the cluster on an API server: a Pod per server (label app=pg, the agent's
     * port as the container port named "agent", pod IP 127.0.0.1) and the leader Lease "pg-leader" of
     * {@code leader} whose term (annotation dbrollback.io/term) is {@code term}, the new primary's timeline.
     */
    public void kubernetesObjects(KubernetesClient client, String ns, String leader,
            int term) {
        if (client.namespaces().withName(ns).get() == null) {
            client.namespaces().resource(new NamespaceBuilder().withNewMetadata()
                    .withName(ns).endMetadata().build()).create();
        }
        for (PgServer s : pg.servers()) {
            client.pods().inNamespace(ns).resource(new PodBuilder()
                    .withNewMetadata().withNamespace(ns).withName(s.name()).addToLabels("app", "pg").endMetadata()
                    .withNewSpec().addNewContainer().withName("postgres").withImage("postgres:15")
                    .addNewPort().withName("agent").withContainerPort(agent(s.name()).port()).endPort().endContainer()
                    .endSpec()
                    .withNewStatus().withPhase("Running").withPodIP("127.0.0.1")
                    .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus().build())
                    .create();
        }
        client.leases().inNamespace(ns).resource(new LeaseBuilder()
                .withNewMetadata().withName("pg-leader").withNamespace(ns)
                .addToAnnotations(ClusterObserver.TERM_ANNOTATION, Integer.toString(term))
                .endMetadata().withNewSpec().withHolderIdentity(leader).withLeaseTransitions(term).endSpec().build())
                .create();
    }

    /**
     * The operator in this JVM against {@code client}'s API server, started: the agents write the rollback
     * files (no pods/exec), Events in {@code ns}, a short backoff (100 ms to 2 s) for tests.
     */
    public static Operator startOperator(KubernetesClient client,
            String ns) {
        return TestOperator.against(client).instance(ns)
                .writer(RollbackFileStore.Writer.AGENT).deployedRetry().start();
    }

    /** A ReplicaSetRollback of {@code target} in this cluster (the pods and Lease of {@link #kubernetesObjects}). */
    public static ReplicaSetRollback rollback(String ns, String name, String target) {
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.getMetadata().setName(name);
        r.getMetadata().setNamespace(ns);
        ReplicaSetRollbackSpec spec = new ReplicaSetRollbackSpec();
        ClusterSpec cluster = new ClusterSpec();
        cluster.setPodSelector(Map.of("app", "pg"));
        cluster.setLeaseName("pg-leader");
        cluster.setAgentPortName("agent");
        cluster.setDataContainer("postgres");
        spec.setCluster(cluster);
        spec.setTargetPod(target);
        r.setSpec(spec);
        return r;
    }

    @Override
    public void close() {
        for (ManagedChannel ch : channels.values()) {
            ch.shutdownNow();
            try {
                ch.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        agents.values().forEach(PgAgent::close);
        pg.close();
    }
}
