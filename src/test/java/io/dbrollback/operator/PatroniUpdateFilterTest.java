package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.LeaderSpec;
import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Which updates of Patroni's ConfigMaps and Endpoints start a reconcile: a new leader or a new history
 * do; Patroni's renewal of its leader key every loop (renewTime, optime, subsets) does not. What the
 * informers cache of each object, and how a rollback maps to the objects it reads.
 */
class PatroniUpdateFilterTest {

    private static GenericKubernetesResource object(String leader, String history, String renewed) {
        Map<String, String> a = new HashMap<>();
        if (leader != null) {
            a.put("leader", leader);
        }
        if (history != null) {
            a.put("history", history);
        }
        a.put("renewTime", "2026-07-24T10:00:" + renewed + "+00:00");
        a.put("optime", renewed);
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setMetadata(new ObjectMetaBuilder().withName("orders-leader").withNamespace("db").withResourceVersion(renewed)
                .withAnnotations(a).build());
        r.setAdditionalProperty("data", Map.of("big", "x".repeat(1000)));
        return r;
    }

    @Test
    void aRenewalStartsNoReconcile() {
        assertFalse(RollbackReconciler.patroniLeaderChanged(object("orders-1", null, "11"),
                object("orders-1", null, "10")));
        assertFalse(RollbackReconciler.patroniLeaderChanged(object(null, "[]", "11"), object(null, "[]", "10")));
    }

    @Test
    void aNewLeaderOrHistoryDoes() {
        assertTrue(RollbackReconciler.patroniLeaderChanged(object("orders-2", null, "11"),
                object("orders-1", null, "10")));
        assertTrue(RollbackReconciler.patroniLeaderChanged(object(null, null, "11"), object("orders-1", null, "10")));
        assertTrue(RollbackReconciler.patroniLeaderChanged(object("orders-1", null, "11"), object(null, null, "10")));
        assertTrue(RollbackReconciler.patroniLeaderChanged(object(null, "[[1,2,\"r\",\"t\",\"orders-1\"]]", "11"),
                object(null, "[]", "10")));
        assertTrue(RollbackReconciler.patroniLeaderChanged(object(null, null, "1"), null));
    }

    @Test
    void theCacheKeepsOnlyTheIdentityAndTheTwoAnnotations() {
        GenericKubernetesResource p = RollbackReconciler.pruned(object("orders-1", "[]", "10"));
        assertEquals(Map.of("leader", "orders-1", "history", "[]"), p.getMetadata().getAnnotations());
        assertEquals("orders-leader", p.getMetadata().getName());
        assertEquals("db", p.getMetadata().getNamespace());
        assertEquals("10", p.getMetadata().getResourceVersion());
        assertTrue(p.getAdditionalProperties().isEmpty(), "no data");
        // the filter reads the same from a pruned copy as from the object
        assertFalse(RollbackReconciler.patroniLeaderChanged(object("orders-1", "[]", "11"), p));
    }

    @Test
    void aRollbackMapsToTheObjectsItReads() {
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.getMetadata().setNamespace("db");
        r.setSpec(new ReplicaSetRollbackSpec());
        r.getSpec().setCluster(new ClusterSpec());
        r.getSpec().getCluster().setLeaseName("orders-leader");
        assertEquals(List.of(), RollbackReconciler.patroniKeys(r), "a Lease reads no Patroni object");
        r.getSpec().getCluster().setLeaseName(null);
        PatroniLeaderSpec p = new PatroniLeaderSpec();
        p.setScope("orders");
        LeaderSpec l = new LeaderSpec();
        l.setPatroni(p);
        r.getSpec().getCluster().setLeader(l);
        assertEquals(List.of("db/ConfigMap/orders-leader", "db/ConfigMap/orders-config"),
                RollbackReconciler.patroniKeys(r));
        assertEquals("db/Patroni/orders", ClusterQueue.clusterKey(r));
        p.setDcs(PatroniLeaderSpec.Dcs.Endpoints);
        assertEquals(List.of("db/Endpoints/orders", "db/Endpoints/orders-config"), RollbackReconciler.patroniKeys(r));
        assertEquals("db/Patroni/orders", ClusterQueue.clusterKey(r), "the dcs is not the cluster's identity");
    }
}
