package io.dbrollback.operator;

import io.dbrollback.api.RollbackPolicy;

/**
 * Events regarding a RollbackPolicy, deduplicated by (policy, reason, dedupKey): the same key is one
 * Event whose count rises. Never throws; answers whether the Event exists afterwards.
 */
public interface PolicyEvents {

    /**
     * @param relatedPod the pod concerned, or null
     */
    boolean record(RollbackPolicy policy, EventRecorder.Type type, PolicyEventReason reason, String note,
            String relatedPod, String dedupKey);

    /** As {@link #record}, but an Event with the same key that exists already is left as it is (its count stays). */
    default boolean recordIfAbsent(RollbackPolicy policy, EventRecorder.Type type, PolicyEventReason reason,
            String note, String relatedPod, String dedupKey) {
        return record(policy, type, reason, note, relatedPod, dedupKey);
    }
}
