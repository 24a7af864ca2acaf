package io.dbrollback.coordinator.fake;

/** A fault the fake transport injects into one call. */
public enum Fault {
    /** The operator dies before the call reaches anything. */
    CRASH_BEFORE,
    /** The call takes effect, then the operator dies before recording it. */
    CRASH_AFTER,
    /** UNAVAILABLE without effect (the caller cannot tell). */
    UNKNOWN_BEFORE,
    /** The call takes effect, then UNAVAILABLE (the caller cannot tell). */
    UNKNOWN_AFTER,
    /** Tail stream: one LSN skipped. */
    STREAM_GAP,
    /** Tail stream: one record sent twice. */
    STREAM_DUPLICATE,
    /** Tail stream: two records swapped. */
    STREAM_REORDER,
    /** Tail stream: a record beyond the requested range appended. */
    STREAM_OUT_OF_RANGE,
    /** Tail stream: a record with a wrong term. */
    STREAM_WRONG_TERM,
    /** Tail stream: ends cleanly before the last record. */
    STREAM_SHORT,
    /** Tail stream: connection cut midway (a transient error). */
    STREAM_CUT,
    /** Persist: ENOSPC. */
    PERSIST_NO_SPACE,
    /** Persist: fsync fails. */
    PERSIST_FSYNC,
    /** Persist succeeds, then a bit of the file flips on disk. */
    FILE_BITFLIP,
    /** A lying agent: Fence answers success and changes nothing (the node stays unfenced). */
    FENCE_IGNORED,
    /** A lying agent: the tail arrives whole, then its trailer disagrees (TailDigestMismatch). */
    TRAILER_MISMATCH,
    /** A lying agent: the call is answered with a message that breaks the protocol (AgentAnswerInvalid). */
    INVALID_ANSWER,
    /** A lying agent: RecoverToLsn answers success (one bump, at the fork) and does nothing. */
    RECOVER_CLAIMED_NOT_DONE,
    /** A lying agent: RecoverToLsn recovers, but its rollback id rises by two. */
    RECOVER_DOUBLE_BUMP,
    /** The call takes effect, then INTERNAL (outcome unknown, and counted against the retry bound). */
    INTERNAL_AFTER;

    public boolean isStreamCorruption() {
        return this == STREAM_GAP || this == STREAM_DUPLICATE || this == STREAM_REORDER || this == STREAM_OUT_OF_RANGE
                || this == STREAM_WRONG_TERM || this == STREAM_SHORT;
    }
}
