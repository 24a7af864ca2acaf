package io.dbrollback.api;

/**
 * The types of {@code status.conditions} of a ReplicaSetRollback, as {@code kubectl wait --for=condition=}
 * names them. Ready, Failed, Progressing, AwaitingApproval and Blocked say where the rollback is; Paused
 * is True while the pause annotation holds the rollback.
 */
public enum ConditionType {
    /** The rollback ended well: Completed or DryRunCompleted. */
    Ready,
    /** A step is under way or will be retried. */
    Progressing,
    /** The verified file waits for a person's approval. */
    AwaitingApproval,
    /**
     * Waiting without a side effect: held before any step (the operator's BlockReason) or a wait of the
     * coordinator (a missing observation, a stale term); the reason says which.
     */
    Blocked,
    /** The rollback failed closed, or was aborted as unsafe (phase Aborted). */
    Failed,
    /** The pause annotation holds the rollback. */
    Paused,
    /**
     * Present once an off-node copy was tried: True when a copy of the current plan's file verified
     * (reason Verified), False while none did (reason CopyNotVerified while waiting for one, OnlyOneCopy
     * when the rollback went on without one).
     */
    OffNodeCopy
}
