package io.dbrollback.coordinator;

/**
 * A tail stream broke the rules every tail obeys: records (fork, last] in LSN order, each exactly
 * once, each with the term the node's history gives its LSN. Not retried: the incident aborts
 * before anything is removed, since a node that serves such a tail cannot be trusted to recover.
 */
public final class TailIntegrityException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** What was wrong with the stream. */
    public enum Kind {
        /** An LSN was skipped. */
        GAP,
        /** An LSN came again, or a lower one after a higher one. */
        DUPLICATE_OR_REORDERED,
        /** A record outside (fork, last]. */
        OUT_OF_RANGE,
        /** A record whose term is not the one the node's history gives its LSN. */
        WRONG_TERM,
        /** The stream ended cleanly before the last LSN. */
        INCOMPLETE
    }

    private final Kind kind;

    public TailIntegrityException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
