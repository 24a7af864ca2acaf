package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;

/**
 * How the operator tells people what happens: Events regarding a rollback, deduplicated by
 * (rollback, incident, reason, dedupKey). Never throws: an Event that cannot be written is reported
 * as {@code false} so that the loud announcement of a rollback can be retried. Events notify; the
 * status is the durable record. {@link KubernetesEventRecorder} writes Kubernetes Events; tests use
 * a recording fake.
 */
public interface EventRecorder {

    /** Normal or Warning. */
    enum Type { Normal, Warning }

    /**
     * Records an event; the same (rollback, incident, reason, dedupKey) is one Event whose count rises.
     *
     * @param relatedPod the pod concerned, or null
     * @return whether the Event exists afterwards
     */
    boolean record(ReplicaSetRollback rollback, Type type, EventReason reason, String note, String relatedPod,
            String dedupKey);

    /**
     * Records an event unless the same (rollback, incident, reason, dedupKey) Event exists already; an
     * existing one is left as it is (its count does not rise). True when the Event exists afterwards.
     */
    boolean recordIfAbsent(ReplicaSetRollback rollback, Type type, EventReason reason, String note,
            String relatedPod, String dedupKey);
}
