package io.dbrollback.operator;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.model.Term;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;

/**
 * Reads a database cluster's leader (the pod that holds the leadership and its term) from where the
 * cluster block says: the leader Lease ({@code cluster.leaseName}). A read that fails or finds nothing
 * usable is a {@link ClusterObserver.Problem}: no side effect was made.
 */
public final class LeaderReader {

    /** The leader as read: its pod (null when nobody holds the leadership), its term, and where it was read. */
    public record Leader(String holder, Term term, String source) {
    }

    /** Either the leader or the problem that kept it from being read. */
    public record Reading(Leader leader, ClusterObserver.Problem problem) {
    }

    private final KubernetesClient client;
    private final ApiReads reads;

    LeaderReader(KubernetesClient client, ApiReads reads) {
        this.client = client;
        this.reads = reads;
    }

    /** The leader of {@code cluster} in {@code namespace}, or why it cannot be read. */
    public Reading read(String namespace, ClusterSpec cluster) {
        try {
            return lease(namespace, cluster.getLeaseName());
        } catch (ApiReads.Failed e) {
            return new Reading(null, e.problem());
        }
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

    private Reading lease(String namespace, String name) {
        Lease lease = readLease(namespace, name);
        return new Reading(new Leader(ClusterObserver.leaseHolder(lease), ClusterObserver.leaseTerm(lease),
                "Lease " + name), null);
    }
}
