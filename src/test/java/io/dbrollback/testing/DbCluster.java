package io.dbrollback.testing;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.node.NodeClient;
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
 * pod's data volume a local directory that pod exec writes into; the node's agent writes its rollback
 * files (agent mode) into the same directory.
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
        this.namespace = namespace;
        this.client = client;
        this.dir = Files.createTempDirectory("dbcluster-" + namespace);
        for (int i = 0; i < 3; i++) {
            String name = "orders-" + i;
            // The agent's rollback directory is the one pod exec writes to: the same file either way.
            ReplicaNode node = ReplicaNode.start(ReplicaNode.Config.of(name, dir.resolve("node-" + i), 3)
                    .withRollbackDir(dir.resolve("volume-" + i).resolve("rollback")));
            nodes.add(node);
            clients.add(new NodeClient(node.address()));
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

    /** The reference node itself (its test hooks, such as rollback file faults). */
    public ReplicaNode replicaNode(int i) {
        return nodes.get(i);
    }

    public Path volume(int i) {
        return dir.resolve("volume-" + i);
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
