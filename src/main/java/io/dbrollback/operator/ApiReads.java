package io.dbrollback.operator;

import io.dbrollback.api.LenientParts;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * The reads of the API server that resolve a rollback (its Lease, its pods, its TLS Secret). A read
 * that fails, because the stored object does not fit fabric8's class or because the API server
 * refused or failed, becomes a {@link ClusterObserver.Problem} (Blocked and a Warning Event, looked
 * at again later) instead of an exception out of the reconcile: nothing has been called on a node at
 * that point, and a guess would be worse than a wait.
 */
final class ApiReads {

    private static final Logger LOG = Logger.getLogger(ApiReads.class);

    private final RollbackMetrics metrics;

    /** @param metrics counts the reads that found an object they could not read; null for none */
    ApiReads(RollbackMetrics metrics) {
        this.metrics = metrics;
    }

    /** A read that failed: {@link ClusterObserver#resolve} answers with its problem. */
    static final class Failed extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient ClusterObserver.Problem problem;

        Failed(ClusterObserver.Problem problem) {
            super(problem.message(), null, false, false);
            this.problem = problem;
        }

        ClusterObserver.Problem problem() {
            return problem;
        }
    }

    /**
     * {@code read}'s answer, or {@link Failed} with the Blocked {@code reason}.
     *
     * @param kind the kind read, for {@code dbrollback_unreadable_resources_total}
     * @param what what is read, as the message names it (e.g. "the leader Lease ns/name")
     */
    <T> T read(String kind, BlockReason reason, String what, Supplier<T> read) {
        try {
            return read.get();
        } catch (KubernetesClientException e) {
            String unreadable = LenientParts.describe("", e);
            if (unreadable != null) {
                if (metrics != null) {
                    metrics.unreadable(kind);
                }
                LOG.warnf("%s cannot be read: %s", what, unreadable);
                throw new Failed(new ClusterObserver.Problem(reason, what + " cannot be read: " + unreadable
                        + "; nothing was done"));
            }
            throw new Failed(new ClusterObserver.Problem(reason, "reading " + what + " failed: " + failure(e)
                    + "; nothing was done"));
        }
    }

    /** The API server's answer (code, reason and message), or the client's own failure. */
    static String failure(KubernetesClientException e) {
        if (e.getCode() <= 0) {
            return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
        Status s = e.getStatus();
        String reason = s == null || s.getReason() == null ? "" : " " + s.getReason();
        String message = s == null || s.getMessage() == null ? "" : ": " + s.getMessage();
        return "the API server answered " + e.getCode() + reason + message;
    }
}
