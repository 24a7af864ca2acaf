package io.dbrollback.model;

import java.util.Objects;

/**
 * A durable rollback file that holds a divergent tail.
 *
 * @param location where the file is, in the transport's terms (for the exec transport: pod and path)
 * @param sha256 SHA-256 of the whole file, as {@code sha256sum} prints it
 * @param tailSha256 SHA-256 of the canonical encoding of the records in the file; equals the
 *     {@link DivergentTail#sha256()} of the tail that was read
 * @param bytes size of the file
 * @param recordCount number of records in the file
 */
public record RollbackFile(String location, String sha256, String tailSha256, long bytes, long recordCount) {

    public RollbackFile {
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(sha256, "sha256");
        Objects.requireNonNull(tailSha256, "tailSha256");
        if (bytes < 0 || recordCount < 0) {
            throw new IllegalArgumentException("counts are never negative");
        }
    }
}
