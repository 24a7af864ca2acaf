package io.dbrollback.operator;

/**
 * Every reason of the Kubernetes Events the operator writes: one name, one meaning. README's Events
 * table documents each ({@code EventVocabularyTest} keeps the two the same). The Event's type (Normal
 * or Warning) is chosen where it is written.
 */
public enum EventReason {
    /** A plan (or a new plan) is recorded. */
    RollbackPlanned,
    /** The former primary refuses writes under the current term. */
    NodeFenced,
    /** The tail is in a durable file. */
    TailPersisted,
    /** The file was read back with the recorded SHA-256. */
    RollbackFileVerified,
    /** An off-node copy of the verified file was stored on another pod and read back with the file's SHA-256. */
    RollbackFileCopied,
    /** An attempt at the off-node copy failed (a pod down, its disk full, a copy that read back other bytes). */
    RollbackCopyFailed,
    /** spec.copy.onFailure Proceed: the rollback goes on with the one file on the target pod, and no copy. */
    OnlyOneCopy,
    /** Manual mode, a limit, or an uncaptured change: the file and its digest, waiting for a person. */
    AwaitingApproval,
    /** The node is back at the fork LSN. */
    NodeRecovered,
    /** The loud announcement: what was removed, and the file that holds it. */
    NodeRolledBack,
    /** The announcement of a plan with nothing divergent: nothing removed. */
    NoDivergence,
    /** The node streams from the new primary. */
    RejoinedAsReplica,
    /** The end: completed. */
    RollbackCompleted,
    /** The end: a dry run planned and stopped. */
    DryRunCompleted,
    /**
     * Held before any step until something changes (a {@link BlockReason}: queued behind an older
     * rollback, an invalid spec, a missing object, a refused TLS handshake); temporary, never an end.
     */
    RollbackBlocked,
    /** The end: aborted as unsafe (the target is the leader, the histories do not fit); nothing was removed. */
    RollbackAborted,
    /** Failed closed. */
    RollbackFailed,
    /** A wait began. */
    RollbackWaiting,
    /** A step failed and will be retried. */
    StepFailed,
    /** An agent's answer broke the protocol. */
    AgentAnswerInvalid,
    /** The rollback ended without knowing whether the node removed the plan's range. */
    RollbackOutcomeUnknown,
    /** A reconcile failed in a way no step foresaw. */
    ReconcileFailed,
    /** Deleted before the recover, or while it cannot be read. */
    RollbackDeleted,
    /** Deletion held until the rollback ends. */
    DeletionDeferred,
    /** The stored rollback cannot be read. */
    ResourceUnreadable
}
