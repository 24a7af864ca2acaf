package io.dbrollback.operator;

/**
 * Every reason for which the operator holds a rollback before any step, without a side effect: the
 * value of {@code status.waiting} and of the {@code Blocked} condition's reason, and the first word
 * of the {@code RollbackBlocked} Event's message. Each is temporary: the rollback goes on by itself
 * once the cause is gone (a fixed spec, a created Lease, a promoted Patroni leader, a rotated
 * certificate, an older rollback that ended). The coordinator's own waits are
 * {@link io.dbrollback.coordinator.Reason}s.
 */
public enum BlockReason {
    /** The spec breaks a rule the schema cannot express; nothing was done. */
    InvalidSpec,
    /** An older rollback of the same cluster goes first (a Normal Event, not a Warning). */
    Queued,
    /** The leader Lease does not exist. */
    LeaseNotFound,
    /** The Lease's term annotation is not a whole number. */
    InvalidLeaseTerm,
    /** The Lease could not be read (an API server error or an object the client cannot parse). */
    LeaseUnreadable,
    /** Patroni's leader object (the ConfigMap {@code <scope>-leader}, or the Endpoints {@code <scope>}) is missing. */
    PatroniLeaderNotFound,
    /** The leader annotation of Patroni's leader object does not name a pod. */
    PatroniLeaderInvalid,
    /**
     * The Patroni leader's timeline is not known: its pod's status is not primary with a timeline, and the
     * history does not record its promotion (a leader still promoting, or unparsable annotations).
     */
    PatroniTermUnknown,
    /** One of Patroni's objects (the leader object, {@code <scope>-config}) could not be read. */
    PatroniUnreadable,
    /** The cluster's pods could not be read. */
    PodsUnreadable,
    /** The target pod exists but does not carry the cluster's labels. */
    TargetNotInCluster,
    /** The target pod does not exist. */
    TargetPodNotFound,
    /** The target pod has no IP yet or no agent port. */
    AgentNotReachable,
    /** The agent TLS Secret does not exist or has no ca.crt. */
    TlsSecretNotFound,
    /** The agent TLS Secret could not be read. */
    TlsSecretUnreadable,
    /** The agent TLS Secret's contents cannot be used. */
    TlsSecretInvalid,
    /** An agent refuses the operator's TLS, or the operator the agent's; nothing reached the node. */
    AgentUnauthenticated,
    /** The stored status cannot be read back as a checkpoint: how far the rollback went is unknown. */
    StatusUnreadable;

    /** Whether the Event that announces this block is a Warning (every block but a queue is). */
    public boolean warning() {
        return this != Queued;
    }
}
