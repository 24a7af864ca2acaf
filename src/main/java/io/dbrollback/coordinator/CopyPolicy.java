package io.dbrollback.coordinator;

import java.util.Objects;

/**
 * Whether the verified rollback file is copied to a second place before anything is removed, and what a
 * copy that cannot be made means ({@code spec.copy}).
 *
 * @param target where the copy goes: another pod of the cluster through its agent, an object store, or nowhere
 * @param onFailure what a failed copy does: wait (retried with backoff until a copy verifies) or proceed
 *     with the one file on the target pod (a Warning says so)
 */
public record CopyPolicy(Target target, OnFailure onFailure) {

    /** Where the off-node copy goes. */
    public enum Target {
        /** Another Ready pod of the cluster, through its agent (StoreRollbackCopy). */
        AGENT,
        /** An S3-compatible object store ({@code spec.copy.objectStore}). */
        OBJECT_STORE,
        /** No copy: the file stays on the target pod's volume only. */
        NONE
    }

    /** What a copy that does not verify means for the rollback. */
    public enum OnFailure {
        /** Nothing is removed until a copy verifies; the copy is retried with backoff. */
        WAIT,
        /** Go on with the one file; a Warning Event and a condition say that only one copy exists. */
        PROCEED
    }

    /** No copy. The coordinator's own default ({@link IncidentSpec#automatic}). */
    public static final CopyPolicy NONE = new CopyPolicy(Target.NONE, OnFailure.WAIT);

    /** A copy on another pod, and nothing removed until it verifies: the resource's default. */
    public static final CopyPolicy AGENT_OR_WAIT = new CopyPolicy(Target.AGENT, OnFailure.WAIT);

    public CopyPolicy {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(onFailure, "onFailure");
    }

    /** Whether a copy is made at all. */
    public boolean wanted() {
        return target != Target.NONE;
    }
}
