package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

/**
 * Where the status of a rollback (its durable checkpoint) is stored: the API server in a running
 * operator ({@link #of}), an in-memory store in fast tests. Both refuse a write from a stale view.
 */
public interface StatusStore {

    /**
     * Writes {@code r}'s status, locked on its resourceVersion: a write from a stale view (another
     * operator instance, an old cache) is refused (the API server's 409, a
     * {@link KubernetesClientException}), never a lost update.
     *
     * @return the stored resource (with its new resourceVersion)
     */
    ReplicaSetRollback writeStatus(ReplicaSetRollback r);

    /** The stored resource, or null when there is none. */
    ReplicaSetRollback read(String namespace, String name);

    /** The API server's store, through {@code client}. */
    static StatusStore of(KubernetesClient client) {
        return new StatusStore() {
            @Override
            public ReplicaSetRollback writeStatus(ReplicaSetRollback r) {
                return client.resources(ReplicaSetRollback.class).inNamespace(r.getMetadata().getNamespace())
                        .resource(r).lockResourceVersion().updateStatus();
            }

            @Override
            public ReplicaSetRollback read(String namespace, String name) {
                return client.resources(ReplicaSetRollback.class).inNamespace(namespace).withName(name).get();
            }
        };
    }
}
