package io.dbrollback.coordinator;

import java.util.Objects;

/** What one attempt at the off-node copy gave: a copy read back, or why there is none. */
public sealed interface CopyResult {

    /**
     * The copy was stored and read back; {@code bytes} and {@code sha256} are what the read-back gave
     * (the coordinator compares them with the verified file's).
     */
    record Stored(String kind, String where, String path, long bytes, String sha256) implements CopyResult {
        public Stored {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(where, "where");
            Objects.requireNonNull(sha256, "sha256");
        }
    }

    /**
     * No copy verified. {@code code} says why, in CamelCase: {@code NoCopyTarget} (no other Ready pod
     * offers copies), {@code SourceUnreadable}, {@code Unreachable}, {@code NoSpace}, {@code Refused},
     * {@code TransferBroken}, {@code DigestMismatch}.
     *
     * @param where the place tried, or null when none could be chosen
     */
    record Failed(String kind, String where, String code, String message) implements CopyResult {
        public Failed {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
        }
    }
}
