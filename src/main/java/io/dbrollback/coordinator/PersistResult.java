package io.dbrollback.coordinator;

import io.dbrollback.model.RollbackFile;
import java.util.Objects;

/** The outcome of persisting a tail: a durable file, or a typed failure that aborts the rollback. */
public sealed interface PersistResult {

    /** The file was written, fsynced, renamed into place and its directory fsynced. */
    record Persisted(RollbackFile file) implements PersistResult {
        public Persisted {
            Objects.requireNonNull(file, "file");
        }
    }

    /**
     * The file could not be made durable. Nothing is removed from the node after this; the incident
     * fails closed and a human decides. An fsync error is never retried on the same file.
     */
    record Failed(Kind kind, String message) implements PersistResult {
        public Failed {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(message, "message");
        }
    }

    /** Why a file could not be made durable. */
    enum Kind {
        /** ENOSPC, or a quota. */
        NO_SPACE,
        /** EIO or another write error. */
        IO_ERROR,
        /** fsync of the file or of its directory failed. */
        FSYNC_FAILED,
        /** The rollback directory is not writable. */
        PERMISSION_DENIED,
        /** A different file already holds the name; it is never overwritten. */
        CONFLICT
    }
}
