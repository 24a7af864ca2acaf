package io.dbrollback.testing;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.node.NodeClient;
import io.dbrollback.node.NodeTls;
import io.dbrollback.node.ReplicaNode;
import io.dbrollback.operator.ClusterObserver;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A three-node database on loopback behind Pod objects in the mock API server: reference nodes as
 * the pods' agents (each pod's container port "agent" is its node's port), a leader Lease, and each
 * pod's data volume a local directory that pod exec writes into. Optionally every node serves mutual
 * TLS with a certificate of a given CA and requires client certificates of it (replication between
 * the nodes included).
 */
public final class DbCluster implements AutoCloseable {

    public static final String VOLUME = "/var/lib/dbrollback";
    public static final String CONTAINER = "database";

    public final String namespace;
    public final String lease = "orders-leader";
    public final Path dir;
    final KubernetesClient client;
    final List<ReplicaNode> nodes = new ArrayList<>();
    final List<NodeClient> clients = new ArrayList<>();

    public DbCluster(MockApiServer api, KubernetesClient client, String namespace) throws IOException {
        this(api, client, namespace, null);
    }

    /**
     * @param ca when not null, each node serves mutual TLS: a certificate of {@code ca} for 127.0.0.1
     *     (re-read from {@link #tlsDir()} every 200 ms), client certificates of {@code ca} required
     */
    public DbCluster(MockApiServer api, KubernetesClient client, String namespace, TestPki.Ca ca) throws IOException {
        this.namespace = namespace;
        this.client = client;
        this.dir = Files.createTempDirectory("dbcluster-" + namespace);
        io.grpc.ChannelCredentials admin = null;
        Path clientCa = tlsDir().resolve("client-ca.crt");
        if (ca != null) {
            Files.createDirectories(tlsDir());
            TestPki.writeAtomically(clientCa, ca.pem());
            admin = TestPki.credentials(ca, ca.issue("test-admin"));
        }
        for (int i = 0; i < 3; i++) {
            String name = "orders-" + i;
            ReplicaNode.Config config = ReplicaNode.Config.of(name, dir.resolve("node-" + i), 3);
            if (ca != null) {
                TestPki.PemFiles files = ca.issue(name, "127.0.0.1").write(tlsDir(), name);
                config = config.withTls(new NodeTls.Config(files.cert(), files.key(), clientCa, null,
                        java.time.Duration.ofMillis(200)));
            }
            ReplicaNode node = ReplicaNode.start(config);
            nodes.add(node);
            clients.add(new NodeClient(node.address(), admin));
            Pod pod = new PodBuilder()
                    .withNewMetadata().withNamespace(namespace).withName(name).addToLabels("app", "orders").endMetadata()
                    .withNewSpec().addNewContainer().withName(CONTAINER).withImage("orders-db")
                    .addNewPort().withName("agent").withContainerPort(node.port()).endPort().endContainer().endSpec()
                    .withNewStatus().withPhase("Running").withPodIP("127.0.0.1")
                    .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
                    .build();
            client.pods().inNamespace(namespace).resource(pod).create();
            api.exec().registerPod(namespace, name, dir.resolve("volume-" + i), VOLUME);
        }
    }

    public NodeClient node(int i) {
        return clients.get(i);
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
        return nodes.get(i).address();
    }

    /**
     * orders-0 is primary in term 1 and writes ten keys, replicated and committed; it is cut off and
     * takes five divergent writes (insert, update, delete, update, insert); orders-1 is elected in
     * term 2 (the Lease moves to it), orders-2 follows it, and it takes three writes.
     */
    public void failover() throws InterruptedException {
        NodeClient n0 = node(0);
        NodeClient n1 = node(1);
        NodeClient n2 = node(2);
        n0.promote(1);
        setLease("orders-0", 1);
        n1.follow(n0, 1, "bootstrap");
        n2.follow(n0, 1, "bootstrap");
        for (int i = 0; i < 10; i++) {
            n0.put("k" + i, "v" + i);
        }
        n1.await("replicated", t -> t.getLastLsn() == 10);
        n2.await("replicated", t -> t.getLastLsn() == 10);
        n0.await("committed", t -> t.getCommitLsn() == 10);
        n0.isolate(true);
        n0.put("d1", "divergent-insert");
        n0.put("k1", "divergent-update");
        n0.delete("k2");
        n0.put("d1", "divergent-update-2");
        n0.put("d2", "divergent-insert-2");
        n1.promote(2);
        setLease("orders-1", 2);
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
    }
}
