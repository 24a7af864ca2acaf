package io.dbrollback.model;

/** The kind of change a log record made. */
public enum Operation {
    /** Created the key: no before-image, an after-image. */
    INSERT,
    /** Changed the key: both images. */
    UPDATE,
    /** Removed the key: a before-image (kept so a rolled-back delete can be restored), no after-image. */
    DELETE
}
