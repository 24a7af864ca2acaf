package io.dbrollback.model;

/** The kind of change a log record made. */
public enum Operation {
    /** Created the key: no before-image, an after-image. */
    INSERT,
    /** Changed the key: both images. */
    UPDATE,
    /** Removed the key: a before-image (kept so a rolled-back delete can be restored), no after-image. */
    DELETE,
    /**
     * A change the node could not capture whole (a PostgreSQL TRUNCATE, which names no rows; an update
     * or delete whose old row the log holds only in part; a transaction whose changes decoding cannot
     * show). The key says what it touched and why it is incomplete; an image is there when the node
     * knows it, possibly in part. Recorded so that nothing is removed in silence: a tail holding one
     * always waits for a person's approval.
     */
    UNCAPTURED
}
