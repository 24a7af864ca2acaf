package io.dbrollback.operator;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.model.Term;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;

/**
 * Reads a database cluster's leader (the pod that holds the leadership and its term) from where the
 * cluster block says: the leader Lease ({@code cluster.leaseName} or {@code cluster.leader.lease}), or
 * Patroni's Kubernetes DCS ({@code cluster.leader.patroni}, the rule in {@link PatroniLeader}). A read
 * that fails or finds nothing usable is a {@link ClusterObserver.Problem}: no side effect was made.
 */
public final class LeaderReader {

    /** The leader as read: its pod (null when nobody holds the leadership), its term, and where it was read. */
    public record Leader(String holder, Term term, String source) {
    }

    /** Either the leader or the problem that kept it from being read. */
    public record Reading(Leader leader, ClusterObserver.Problem problem) {
    }

    /** The objects Patroni keeps a scope's leader in: their kind, the leader object and the config object. */
    record PatroniObjects(String kind, String leaderName, String configName) {
    }

    private final KubernetesClient client;
    private final ApiReads reads;

    LeaderReader(KubernetesClient client, ApiReads reads) {
        this.client = client;
        this.reads = reads;
    }

    /** The name of the Lease {@code c} reads its leader from ({@code leaseName} or {@code leader.lease}), or null. */
    public static String leaseName(ClusterSpec c) {
        if (c == null) {
            return null;
        }
        if (c.getLeaseName() != null) {
            return c.getLeaseName();
        }
        return c.getLeader() == null || c.getLeader().getLease() == null ? null : c.getLeader().getLease().getName();
    }

    /** The Patroni cluster {@code c} reads its leader from, or null. */
    public static PatroniLeaderSpec patroni(ClusterSpec c) {
        return c == null || c.getLeaseName() != null || c.getLeader() == null ? null : c.getLeader().getPatroni();
    }

    /**
     * What identifies the cluster's leader, in its namespace: "Lease/<name>" or "Patroni/<scope>" (null
     * when the spec names neither). Rollbacks with the same identity act on the same cluster.
     */
    public static String identity(ClusterSpec c) {
        String lease = leaseName(c);
        if (lease != null) {
            return "Lease/" + lease;
        }
        PatroniLeaderSpec p = patroni(c);
        return p == null || p.getScope() == null ? null : "Patroni/" + p.getScope();
    }

    /** The cluster's name in rollback files and Events: the Lease's name, or Patroni's scope. */
    public static String clusterName(ClusterSpec c) {
        String lease = leaseName(c);
        if (lease != null) {
            return lease;
        }
        PatroniLeaderSpec p = patroni(c);
        return p == null || p.getScope() == null ? "" : p.getScope();
    }

    /** Where Patroni keeps the leader of {@code p}: with use_endpoints, the Endpoints named after the scope. */
    static PatroniObjects objects(PatroniLeaderSpec p) {
        boolean endpoints = p.getDcs() == PatroniLeaderSpec.Dcs.Endpoints;
        return new PatroniObjects(endpoints ? "Endpoints" : "ConfigMap",
                endpoints ? p.getScope() : p.getScope() + "-leader", p.getScope() + "-config");
    }

    /** The leader of {@code cluster} in {@code namespace}, or why it cannot be read. */
    public Reading read(String namespace, ClusterSpec cluster) {
        try {
            return new Reading(leader(namespace, cluster), null);
        } catch (ApiReads.Failed e) {
            return new Reading(null, e.problem());
        }
    }

    /**
     * The leader of {@code cluster} in {@code namespace}.
     *
     * @throws ApiReads.Failed with the problem that kept it from being read
     */
    Leader leader(String namespace, ClusterSpec cluster) {
        String lease = leaseName(cluster);
        if (lease != null) {
            Lease l = readLease(namespace, lease);
            return new Leader(ClusterObserver.leaseHolder(l), ClusterObserver.leaseTerm(l), "Lease " + lease);
        }
        PatroniLeaderSpec p = patroni(cluster);
        if (p == null || p.getScope() == null) {
            // SpecValidator holds such a spec before any step; reached only by a caller that skipped it.
            throw new ApiReads.Failed(new ClusterObserver.Problem(BlockReason.InvalidSpec,
                    "the cluster names no leader: set cluster.leaseName or cluster.leader"));
        }
        return patroni(namespace, p);
    }

    /** The Lease itself (the rollback reconciler keeps it), or a problem. */
    Lease readLease(String namespace, String name) {
        Lease lease = reads.read("Lease", BlockReason.LeaseUnreadable, "the leader Lease " + namespace + "/" + name,
                () -> client.leases().inNamespace(namespace).withName(name).get());
        if (lease == null) {
            throw new ApiReads.Failed(new ClusterObserver.Problem(BlockReason.LeaseNotFound,
                    "the leader Lease " + namespace + "/" + name + " does not exist"));
        }
        String termText = lease.getMetadata().getAnnotations() == null ? null
                : lease.getMetadata().getAnnotations().get(ClusterObserver.TERM_ANNOTATION);
        if (termText != null && !termText.trim().matches("[0-9]{1,18}")) {
            throw new ApiReads.Failed(new ClusterObserver.Problem(BlockReason.InvalidLeaseTerm,
                    "the Lease's " + ClusterObserver.TERM_ANNOTATION + " annotation is not a whole number"));
        }
        return lease;
    }

    /**
     * Patroni's leader: the leader object's {@code leader} annotation, then the term by
     * {@link PatroniLeader}'s rule (the holder pod's {@code status}, else {@code <scope>-config}'s
     * {@code history}). The objects are read as generic resources: only their annotations matter.
     */
    private Leader patroni(String ns, PatroniLeaderSpec p) {
        PatroniObjects o = objects(p);
        String source = "Patroni " + o.kind() + " " + o.leaderName();
        GenericKubernetesResource leaderObject = readPatroni(ns, o.kind(), o.leaderName());
        if (leaderObject == null) {
            throw new ApiReads.Failed(new ClusterObserver.Problem(BlockReason.PatroniLeaderNotFound, "the Patroni "
                    + o.kind() + " " + ns + "/" + o.leaderName() + " (the leader key of scope " + p.getScope()
                    + ") does not exist"));
        }
        try {
            String holder = PatroniLeader.holder(annotations(leaderObject), "the Patroni " + o.kind() + " " + ns
                    + "/" + o.leaderName());
            String status = null;
            if (holder != null) {
                Pod pod = reads.read("Pod", BlockReason.PodsUnreadable, "the Patroni leader's pod " + ns + "/"
                        + holder, () -> client.pods().inNamespace(ns).withName(holder).get());
                status = pod == null || pod.getMetadata().getAnnotations() == null ? null
                        : pod.getMetadata().getAnnotations().get(PatroniLeader.STATUS);
                if (PatroniLeader.statusTimeline(status).timeline() != null) {
                    return new Leader(holder, PatroniLeader.term(holder, status, null, o.configName()).term(),
                            source);
                }
            }
            GenericKubernetesResource config = readPatroni(ns, o.kind(), o.configName());
            String history = config == null ? null : annotations(config).get(PatroniLeader.HISTORY);
            return new Leader(holder, PatroniLeader.term(holder, status, history, o.configName()).term(), source);
        } catch (PatroniLeader.Unusable e) {
            throw new ApiReads.Failed(new ClusterObserver.Problem(e.reason(), e.getMessage()));
        }
    }

    private GenericKubernetesResource readPatroni(String ns, String kind, String name) {
        return reads.read(kind, BlockReason.PatroniUnreadable, "the Patroni " + kind + " " + ns + "/" + name,
                () -> client.genericKubernetesResources("v1", kind).inNamespace(ns).withName(name).get());
    }

    private static Map<String, String> annotations(GenericKubernetesResource r) {
        Map<String, String> a = r.getMetadata() == null ? null : r.getMetadata().getAnnotations();
        return a == null ? Map.of() : a;
    }
}
