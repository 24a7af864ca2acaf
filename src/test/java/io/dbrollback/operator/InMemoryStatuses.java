package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link StatusStore} in memory that behaves as the API server does for status writes: each write
 * bumps the resourceVersion, a write built from another version is refused with 409, and what is
 * stored is a copy (the caller's object never aliases it). {@link #refuseNext} makes the next writes
 * fail with 500, as an API server in trouble.
 */
final class InMemoryStatuses implements StatusStore {

    private final Map<String, ReplicaSetRollback> stored = new ConcurrentHashMap<>();
    private final AtomicInteger version = new AtomicInteger(1);
    private final AtomicInteger refusals = new AtomicInteger();
    private final AtomicInteger writes = new AtomicInteger();

    /** Stores {@code r} as created (resourceVersion and uid set); returns the stored copy. */
    ReplicaSetRollback create(ReplicaSetRollback r) {
        ReplicaSetRollback copy = copy(r);
        copy.getMetadata().setResourceVersion(String.valueOf(version.incrementAndGet()));
        stored.put(key(copy), copy);
        return copy(copy);
    }

    /** Replaces the stored resource's metadata and spec as a user's edit would (a new version). */
    ReplicaSetRollback edit(ReplicaSetRollback r) {
        ReplicaSetRollback copy = copy(r);
        copy.setStatus(stored.get(key(r)).getStatus());
        copy.getMetadata().setResourceVersion(String.valueOf(version.incrementAndGet()));
        stored.put(key(copy), copy);
        return copy(copy);
    }

    /** The next {@code n} status writes fail with 500. */
    void refuseNext(int n) {
        refusals.set(n);
    }

    /** How many status writes were applied. */
    int writes() {
        return writes.get();
    }

    @Override
    public synchronized ReplicaSetRollback writeStatus(ReplicaSetRollback r) {
        if (refusals.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new KubernetesClientException(new StatusBuilder().withCode(500).withReason("InternalError")
                    .withMessage("the server is in trouble").build());
        }
        ReplicaSetRollback now = stored.get(key(r));
        if (now == null) {
            throw new KubernetesClientException(new StatusBuilder().withCode(404).withReason("NotFound").build());
        }
        if (!now.getMetadata().getResourceVersion().equals(r.getMetadata().getResourceVersion())) {
            throw new KubernetesClientException(new StatusBuilder().withCode(409).withReason("Conflict")
                    .withMessage("the object has been modified").build());
        }
        ReplicaSetRollback next = copy(now);
        next.setStatus(copy(r).getStatus());
        next.getMetadata().setResourceVersion(String.valueOf(version.incrementAndGet()));
        stored.put(key(next), next);
        writes.incrementAndGet();
        return copy(next);
    }

    @Override
    public ReplicaSetRollback read(String namespace, String name) {
        ReplicaSetRollback r = stored.get(namespace + "/" + name);
        return r == null ? null : copy(r);
    }

    private static String key(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + r.getMetadata().getName();
    }

    private static ReplicaSetRollback copy(ReplicaSetRollback r) {
        return Json.MAPPER.convertValue(Json.MAPPER.convertValue(r, Object.class), ReplicaSetRollback.class);
    }
}
