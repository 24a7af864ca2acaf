package io.dbrollback.coordinator;

/**
 * Why an incident waits, is gated, or ended the way it did. The names are the CamelCase reasons
 * shown in conditions and events ({@link #code()}).
 */
public enum Reason {
    // terminal outcomes
    /** The rollback finished. */
    Completed,
    /** The node held no divergent writes; nothing was removed. */
    NoDivergence,
    /** A dry run recorded the plan and stopped. */
    DryRun,
    /** The target holds the leader Lease: the live primary is never rolled back. */
    TargetHoldsLease,
    /** The term histories contradict each other. */
    HistoryInconsistent,
    /** The fork point lies below the target's majority-commit LSN: committed data would be lost. */
    ForkBelowCommit,
    /** The leader's term is not the one the spec expects. */
    UnexpectedTerm,
    /** The tail stream broke its own rules: gap, duplicate, out-of-order, out-of-range or wrong term. */
    TailCorrupt,
    /** The rollback file could not be made durable. */
    PersistFailed,
    /** The transport's file does not describe the tail that was streamed into it. */
    PersistMismatch,
    /** Re-reading the file from disk did not give back what was written; the file is quarantined. */
    VerificationFailed,
    /** After the recover, the node is not at the fork LSN. */
    RecoverNotConfirmed,
    /** The node's rollback id did not rise by exactly one. */
    RollbackIdUnexpected,
    /** The current primary no longer holds the node's log as a prefix; a new incident is needed. */
    NewLeaderDiverged,
    /** The plan had to be redone more often than allowed. */
    PlanUnstable,
    /**
     * The node recovered for this incident outside the current plan (a delayed call of an earlier
     * plan); the superseded plans' files hold what it removed.
     */
    RecoverOutOfPlan,
    /** The node keeps showing itself unfenced after Fence answered; fenced again up to the plan's retry bound. */
    FenceNotHeld,

    // failed steps: shown while the step is retried with backoff; the counted ones end the rollback
    // (as FAILED, with the same reason) once the plan's retry bound is spent
    /** The agent did not answer (UNAVAILABLE, a deadline, no address). Not counted: waiting can help. */
    AgentUnreachable,
    /** A stream from or to the agent stopped moving for the progress timeout and was cancelled. Counted. */
    AgentStalled,
    /** The agent refused a call the observed state did not predict (not a stale term). Counted. */
    AgentRefused,
    /** A tail or file transfer failed its checks (checksum, trailer, read-back, a cut answer). Counted. */
    TransferBroken,
    /** An answer broke the protocol (a rule of docs/agent-protocol.md); it was not used. Counted. */
    AgentAnswerInvalid,
    /** A step failed outside the agents (the API server refused an Event, a pod exec lost its exit status). */
    StepRetrying,

    // gates (AWAITING_APPROVAL)
    /** Manual approval mode. */
    ManualApprovalRequired,
    /** More records than the limit. */
    RecordLimitExceeded,
    /** More bytes than the limit. */
    ByteLimitExceeded,
    /** The divergent commits span more time than the limit. */
    SpanLimitExceeded,
    /** The tail holds changes the node could not capture whole: a person decides, whatever the limits. */
    UncapturedChanges,

    // waits
    /** No node holds the leader Lease. */
    NoLeaseHolder,
    /** The observation is older than what was already recorded; observe again. */
    StaleObservation,
    /** The leader's timeline was not observed (or is of another node than the Lease holder). */
    LeaderNotObserved,
    /** A node has seen a higher term than the Lease shows; wait for the Lease. */
    LeaseBehindNode,
    /** The spec names another target than the incident's plan; the target cannot change mid-incident. */
    SpecChanged,
    /** The plan was redone after the term, the leader or the target's log changed. */
    Replanned,
    /**
     * The off-node copy of the verified file did not verify and {@code spec.copy.onFailure} is Wait:
     * nothing is removed until a copy does; retried with backoff.
     */
    CopyNotVerified;

    /** The CamelCase reason string. */
    public String code() {
        return name();
    }
}
