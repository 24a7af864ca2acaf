package io.dbrollback.coordinator;

import java.time.Instant;
import java.util.Objects;

/**
 * One off-node copy of a plan's rollback file, as recorded: where it is and its digest once it verified,
 * or why the last attempt at it failed.
 *
 * @param plan the plan whose file this copies
 * @param kind the kind of place ({@link #AGENT}: another pod's agent; {@link #OBJECT_STORE}: a bucket)
 * @param where the pod (or, for an object store, its endpoint and bucket) that holds it; null when no place
 *     could be chosen
 * @param path where the copy is in that place, as it reported it; null before a copy was stored
 * @param bytes the copy's size as read back, or the file's size for a failure
 * @param sha256 the copy's SHA-256 as read back (equal to the file's when verified); null for a failure
 * @param verifiedAt when the copy was read back with the file's size and SHA-256; null for a failure
 * @param failure the failure's code (such as {@code NoSpace}, {@code Unreachable}, {@code DigestMismatch});
 *     null when verified
 * @param message a human sentence for the failure; null when verified
 * @param failedAt when the attempt failed; null when verified
 */
public record FileCopy(int plan, String kind, String where, String path, long bytes, String sha256,
        Instant verifiedAt, String failure, String message, Instant failedAt) {

    /** The kind of a copy on another pod of the cluster, stored through its agent. */
    public static final String AGENT = "Agent";
    /** The kind of a copy in an S3-compatible object store. */
    public static final String OBJECT_STORE = "ObjectStore";

    public FileCopy {
        Objects.requireNonNull(kind, "kind");
        if ((verifiedAt == null) == (failure == null)) {
            throw new IllegalArgumentException("a copy is either verified or failed");
        }
    }

    public static FileCopy verified(int plan, String kind, String where, String path, long bytes, String sha256,
            Instant at) {
        return new FileCopy(plan, kind, where, path, bytes, sha256, at, null, null, null);
    }

    public static FileCopy failed(int plan, String kind, String where, String path, long bytes, String failure,
            String message, Instant at) {
        return new FileCopy(plan, kind, where, path, bytes, null, null, failure, message, at);
    }

    public boolean isVerified() {
        return verifiedAt != null;
    }

    /** Whether this record and {@code other} are about the same place for the same plan. */
    boolean samePlace(FileCopy other) {
        return plan == other.plan && kind.equals(other.kind) && Objects.equals(where, other.where);
    }
}
