package io.dbrollback.operator;

/**
 * The reasons of the Events the autopilot writes regarding a RollbackPolicy; one reason, one meaning.
 * README's "Events of a RollbackPolicy" lists them (EventVocabularyTest holds the two together).
 */
public enum PolicyEventReason {
    /** Normal: the first leader the policy saw (not counted as a failover). */
    LeaderObserved,
    /** Normal: the leader or its term changed; the pods are being looked at. */
    FailoverDetected,
    /** Warning: a pod's log goes beyond the fork point; the note is the impact report. */
    DivergedNode,
    /** Warning: a pod could not be looked at; it is looked at again with backoff. */
    NodeUnreachable,
    /** Warning: two histories cannot be compared; nothing is done for that pod. */
    HistoryInconsistent,
    /** Normal: the policy created a ReplicaSetRollback for a diverged pod. */
    RollbackCreated,
    /** Warning: a rollback of the pod already exists that this policy did not create; it is reported, not doubled. */
    RollbackAdopted,
    /** Warning: the policy cannot act (invalid spec, unreadable leader or pods); nothing was done. */
    PolicyBlocked,
    /** Warning: a pass failed in a way no step foresaw; it is retried after a pause. */
    PolicyReconcileFailed,
    /** Warning: the stored policy cannot be read (a value outside an enum, a type mismatch); it is not acted on. */
    ResourceUnreadable
}
