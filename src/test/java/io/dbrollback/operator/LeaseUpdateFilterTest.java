package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Which Lease updates start a reconcile: a new holder or a new term do; a renewal does not (it would
 * cut every failed step's backoff short at the renewal rate).
 */
class LeaseUpdateFilterTest {

    private static GenericKubernetesResource lease(String holder, int transitions, String term, String renewed) {
        GenericKubernetesResource l = new GenericKubernetesResource();
        l.setMetadata(new ObjectMetaBuilder().withName("orders-leader").withNamespace("db").withResourceVersion(renewed)
                .withAnnotations(term == null ? Map.of() : Map.of(ClusterObserver.TERM_ANNOTATION, term)).build());
        Map<String, Object> spec = new HashMap<>();
        spec.put("holderIdentity", holder);
        spec.put("leaseTransitions", transitions);
        spec.put("renewTime", "2026-12-04T10:00:" + renewed + ".000000Z");
        l.setAdditionalProperty("spec", spec);
        return l;
    }

    @Test
    void aRenewalDoesNotStartAReconcile() {
        assertFalse(RollbackReconciler.leaderChanged(lease("orders-1", 2, "2", "11"), lease("orders-1", 2, "2", "10")));
    }

    @Test
    void aNewHolderOrANewTermDoes() {
        assertTrue(RollbackReconciler.leaderChanged(lease("orders-2", 2, "2", "11"), lease("orders-1", 2, "2", "10")));
        assertTrue(RollbackReconciler.leaderChanged(lease("orders-1", 3, "2", "11"), lease("orders-1", 2, "2", "10")));
        assertTrue(RollbackReconciler.leaderChanged(lease("orders-1", 2, "3", "11"), lease("orders-1", 2, "2", "10")));
        assertTrue(RollbackReconciler.leaderChanged(lease("orders-1", 2, null, "11"), lease("orders-1", 2, "2", "10")));
    }
}
