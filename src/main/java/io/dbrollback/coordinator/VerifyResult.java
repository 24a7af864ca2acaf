package io.dbrollback.coordinator;

import java.util.Objects;

/** The outcome of re-reading a rollback file from disk. */
public sealed interface VerifyResult {

    /** What the re-read found; the coordinator compares it with what it streamed. */
    record Read(String fileSha256, String tailSha256, long recordCount, long bytes) implements VerifyResult {
        public Read {
            Objects.requireNonNull(fileSha256, "fileSha256");
            Objects.requireNonNull(tailSha256, "tailSha256");
        }
    }

    /**
     * The file on disk does not match what was written (missing, short, or different digest). The
     * transport renamed it aside ({@code quarantinedLocation}); it never deletes or overwrites it.
     */
    record Mismatch(String detail, String quarantinedLocation) implements VerifyResult {
        public Mismatch {
            Objects.requireNonNull(detail, "detail");
        }
    }
}
