package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.Checkpoint;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes a rollback's status (its durable checkpoint) and reads past a stale informer copy. Every
 * write is locked on the resourceVersion it was built from: a write from a stale view (another
 * operator instance, an old cache) is refused with 409 and the reconcile starts again from the
 * stored record; never a lost update.
 */
final class StatusWriter {

    private final StatusStore store;
    private final Clock clock;
    /** The resourceVersion of this process's last status write, per rollback (uid). */
    private final Map<String, String> lastWritten = new ConcurrentHashMap<>();

    StatusWriter(StatusStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /**
     * The informer's copy may not have seen this process's last status write yet (its watch event is
     * still on the way). Acting on it would redo a step already done (up to reading the whole tail
     * again) only to have the status write refused (409). When the copy is not the version this
     * process last wrote, the resource is read from the store instead: one GET.
     */
    ReplicaSetRollback latest(ReplicaSetRollback cached) {
        String mine = lastWritten.get(cached.getMetadata().getUid());
        if (mine == null || mine.equals(cached.getMetadata().getResourceVersion())) {
            return cached;
        }
        ReplicaSetRollback stored = store.read(cached.getMetadata().getNamespace(), cached.getMetadata().getName());
        return stored != null && stored.getMetadata().getUid().equals(cached.getMetadata().getUid()) ? stored : cached;
    }

    /**
     * Writes the status for {@code cp} (nothing when it would not change), marked blocked by
     * {@code problem} when not null.
     *
     * @return the stored resource
     */
    ReplicaSetRollback write(ReplicaSetRollback r, Checkpoint cp, boolean paused, ClusterObserver.Problem problem) {
        ReplicaSetRollbackStatus status = StatusMapper.toStatus(cp, r.getStatus(),
                r.getMetadata().getGeneration() == null ? 0 : r.getMetadata().getGeneration(), paused, clock.instant());
        if (problem != null) {
            StatusMapper.block(status, problem.reason(), problem.message(), r.getStatus(), clock.instant());
        }
        if (r.getStatus() != null && StatusMapper.same(status, r.getStatus())) {
            return r;
        }
        r.setStatus(status);
        ReplicaSetRollback stored = store.writeStatus(r);
        if (stored != null && stored.getMetadata().getResourceVersion() != null) {
            lastWritten.put(stored.getMetadata().getUid(), stored.getMetadata().getResourceVersion());
        }
        return stored == null ? r : stored;
    }

    /** Forgets a deleted rollback. */
    void forget(String uid) {
        lastWritten.remove(uid);
    }
}
