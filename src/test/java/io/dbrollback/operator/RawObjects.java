package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dbrollback.api.LenientParts;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.testing.DbCluster;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Objects stored straight into the mock API server past the client's classes, as an API server that
 * does not validate, or a restored backup, can hold them: a typed object turned into generic JSON,
 * changed at a path, and stored.
 */
final class RawObjects {

    static final ResourceDefinitionContext ROLLBACKS = new ResourceDefinitionContext.Builder()
            .withGroup(ReplicaSetRollback.GROUP).withVersion(ReplicaSetRollback.VERSION).withKind("ReplicaSetRollback")
            .withPlural("replicasetrollbacks").withNamespaced(true).build();
    static final ResourceDefinitionContext POLICIES = new ResourceDefinitionContext.Builder()
            .withGroup(ReplicaSetRollback.GROUP).withVersion(ReplicaSetRollback.VERSION).withKind("RollbackPolicy")
            .withPlural("rollbackpolicies").withNamespaced(true).build();
    static final ResourceDefinitionContext LEASES = new ResourceDefinitionContext.Builder()
            .withGroup("coordination.k8s.io").withVersion("v1").withKind("Lease").withPlural("leases")
            .withNamespaced(true).build();
    static final ResourceDefinitionContext PODS = new ResourceDefinitionContext.Builder()
            .withGroup("").withVersion("v1").withKind("Pod").withPlural("pods").withNamespaced(true).build();

    private final KubernetesClient client;

    RawObjects(KubernetesClient client) {
        this.client = client;
    }

    /** {@code typed} as a generic object, to be changed and stored. */
    GenericKubernetesResource raw(Object typed) {
        return client.getKubernetesSerialization().convertValue(typed, GenericKubernetesResource.class);
    }

    /** Sets a value at a path of nested maps in {@code g}, making the maps on the way. */
    @SuppressWarnings("unchecked")
    static GenericKubernetesResource set(GenericKubernetesResource g, Object value, String... path) {
        Map<String, Object> at = g.getAdditionalProperties();
        for (int i = 0; i < path.length - 1; i++) {
            at = (Map<String, Object>) at.computeIfAbsent(path[i], k -> new HashMap<String, Object>());
        }
        at.put(path[path.length - 1], value);
        return g;
    }

    /** Stores a rollback of {@code db} with {@code value} at {@code path} of its JSON. */
    GenericKubernetesResource storeRollback(DbCluster db, String name, Object value, String... path) {
        GenericKubernetesResource g = set(raw(db.rollback(name)), value, path);
        GenericKubernetesResource created = client.genericKubernetesResources(ROLLBACKS).inNamespace(db.namespace)
                .resource(g).create();
        if (path[0].equals("status") && created.get((Object[]) path) == null) { // the create dropped the status
            created = client.genericKubernetesResources(ROLLBACKS).inNamespace(db.namespace)
                    .resource(set(created, value, path)).updateStatus();
        }
        assertEquals(value, created.get((Object[]) path), "stored as given");
        return created;
    }

    GenericKubernetesResource stored(ResourceDefinitionContext kind, String ns, String name) {
        return client.genericKubernetesResources(kind).inNamespace(ns).withName(name).get();
    }

    /** Deletes the object, as kubectl would, and waits until it is gone. */
    void delete(ResourceDefinitionContext kind, String ns, String name) {
        try {
            client.genericKubernetesResources(kind).inNamespace(ns).withName(name).delete();
        } catch (KubernetesClientException e) {
            // fabric8 reads the answer (the deleted object) with its typed class, which fails for an
            // object it cannot read; the deletion itself went through, as the wait below shows
            if (LenientParts.describe("", e) == null) {
                throw e;
            }
        }
        await().alias(name + " deleted").atMost(Duration.ofSeconds(30)).until(() -> stored(kind, ns, name) == null);
    }
}
