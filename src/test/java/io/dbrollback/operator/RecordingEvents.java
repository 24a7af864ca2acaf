package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An {@link EventRecorder} that keeps Events in memory as the API server would: one Event per
 * (rollback, reason, dedupKey) whose count rises on a repeat. {@link #refuse} makes the writes of one
 * reason fail (reported as {@code false}, as the real recorder does) until it is allowed again.
 */
final class RecordingEvents implements EventRecorder {

    /** One Event as kubectl describe shows it. */
    record Recorded(Type type, EventReason reason, String note, int count) {
    }

    private final Map<String, Recorded> events = new LinkedHashMap<>();
    private final Set<EventReason> refused = ConcurrentHashMap.newKeySet();

    /** Writes of Events of {@code reason} fail until {@link #allow}. */
    void refuse(EventReason reason) {
        refused.add(reason);
    }

    void allow(EventReason reason) {
        refused.remove(reason);
    }

    /** Every Event, in the order of their first write. */
    synchronized List<Recorded> all() {
        return new ArrayList<>(events.values());
    }

    /** The reasons, in the order of their first write. */
    synchronized List<EventReason> reasons() {
        return events.values().stream().map(Recorded::reason).toList();
    }

    /** The Events of one reason. */
    synchronized List<Recorded> of(EventReason reason) {
        return events.values().stream().filter(e -> e.reason() == reason).toList();
    }

    @Override
    public boolean record(ReplicaSetRollback rollback, Type type, EventReason reason, String note, String relatedPod,
            String dedupKey) {
        return write(rollback, type, reason, note, dedupKey, true);
    }

    @Override
    public boolean recordIfAbsent(ReplicaSetRollback rollback, Type type, EventReason reason, String note,
            String relatedPod, String dedupKey) {
        return write(rollback, type, reason, note, dedupKey, false);
    }

    private synchronized boolean write(ReplicaSetRollback r, Type type, EventReason reason, String note,
            String dedupKey, boolean repeat) {
        if (refused.contains(reason)) {
            return false;
        }
        String key = r.getMetadata().getUid() + "/" + reason + "/" + dedupKey;
        Recorded old = events.get(key);
        if (old == null) {
            events.put(key, new Recorded(type, reason, note, 1));
        } else if (repeat) {
            events.put(key, new Recorded(type, reason, note, old.count() + 1));
        }
        return true;
    }
}
