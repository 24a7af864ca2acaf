package io.dbrollback.api;

/** What a RollbackPolicy does about a diverged former primary. */
public enum PolicyMode {
    /** Creates a ReplicaSetRollback that proceeds within the policy's limits (approval Automatic). */
    Automatic,
    /** Creates a ReplicaSetRollback that saves and verifies the tail, then waits for approval (approval Manual). */
    Manual,
    /** Creates nothing: only the impact report (status and Events). */
    Observe
}
