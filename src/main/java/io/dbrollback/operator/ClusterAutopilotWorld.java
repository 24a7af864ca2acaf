package io.dbrollback.operator;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailSummary;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.HttpURLConnection;
import java.util.List;
import java.util.Optional;

/** The autopilot's world in a running operator: the API server through fabric8, the agents through gRPC. */
public final class ClusterAutopilotWorld implements AutopilotWorld {

    private final KubernetesClient client;
    private final ClusterObserver observer;
    private final TailSummaries summaries;

    public ClusterAutopilotWorld(KubernetesClient client, AgentClients agents, RollbackMetrics metrics) {
        this.client = client;
        this.observer = new ClusterObserver(client, agents, metrics);
        this.summaries = new TailSummaries(agents);
    }

    @Override
    public LeaderReader.Reading leader(String namespace, ClusterSpec cluster) {
        return observer.leaders().read(namespace, cluster);
    }

    @Override
    public ClusterObserver.MembersReading members(String namespace, ClusterSpec cluster, String tlsSecret) {
        return observer.members(namespace, cluster, tlsSecret);
    }

    @Override
    public NodeTimeline timeline(ClusterObserver.Members members, String pod) {
        return observer.timeline(members, pod);
    }

    @Override
    public Optional<TailSummary> summary(ClusterObserver.Members members, String pod, Lsn fromExclusive,
            Lsn toInclusive) {
        return summaries.summarize(members.addresses().get(pod), members.tls(), pod, fromExclusive, toInclusive);
    }

    @Override
    public RollbackPolicy read(String namespace, String name) {
        return client.resources(RollbackPolicy.class).inNamespace(namespace).withName(name).get();
    }

    @Override
    public List<ReplicaSetRollback> rollbacks(String namespace) {
        return client.resources(ReplicaSetRollback.class).inNamespace(namespace).list().getItems();
    }

    @Override
    public Created create(ReplicaSetRollback r) {
        try {
            return new Created(client.resources(ReplicaSetRollback.class).inNamespace(r.getMetadata().getNamespace())
                    .resource(r).create(), true);
        } catch (KubernetesClientException e) {
            if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                throw e;
            }
            ReplicaSetRollback existing = client.resources(ReplicaSetRollback.class)
                    .inNamespace(r.getMetadata().getNamespace()).withName(r.getMetadata().getName()).get();
            if (existing == null) {
                throw e; // created and deleted at once: the next pass looks again
            }
            return new Created(existing, false);
        }
    }

    @Override
    public RollbackPolicy writeStatus(RollbackPolicy p) {
        return client.resources(RollbackPolicy.class).inNamespace(p.getMetadata().getNamespace()).resource(p)
                .lockResourceVersion().updateStatus();
    }
}
