package io.dbrollback.coordinator;

/**
 * Where an incident stands. The phase is recorded after every step, so a restarted operator resumes
 * from it. In order of progress: {@code PENDING -> PLANNED -> FENCED -> TAIL_PERSISTED -> VERIFIED ->
 * [AWAITING_APPROVAL ->] RECOVERING -> RECOVERED -> EVENT_EMITTED -> REJOINED -> COMPLETED}; a
 * re-plan goes back to {@code PLANNED}.
 */
public enum Phase {
    /** Nothing done yet. */
    PENDING(false),
    /** The fork point and the expected tail are recorded; nothing on the node has changed. */
    PLANNED(false),
    /** The former primary refuses writes under the current term. */
    FENCED(false),
    /** The tail was streamed into a durable rollback file; its digest is recorded. */
    TAIL_PERSISTED(false),
    /** The file was read back from disk and matches the digest of the tail read. */
    VERIFIED(false),
    /** Waiting for a human: manual approval mode, or a limit exceeded. Nothing removed yet. */
    AWAITING_APPROVAL(false),
    /** The intent to recover is recorded; the recover call may or may not have reached the node. */
    RECOVERING(false),
    /** The node is back at the fork LSN; its rollback id rose by one. */
    RECOVERED(false),
    /** The rollback event was emitted. */
    EVENT_EMITTED(false),
    /** The node was told to stream from the current primary. */
    REJOINED(false),
    /** Done: the tail is in a verified file, the node is a replica of the current primary. */
    COMPLETED(true),
    /** Dry run: the plan is recorded and nothing else was done. */
    DRY_RUN_COMPLETED(true),
    /** Stopped because a step failed in a way that needs a human (disk error, verification mismatch). */
    FAILED(true),
    /** Stopped because acting would be unsafe (inconsistent histories, committed data, corrupt tail). */
    ABORTED(true);

    private final boolean terminal;

    Phase(boolean terminal) {
        this.terminal = terminal;
    }

    public boolean isTerminal() {
        return terminal;
    }
}
