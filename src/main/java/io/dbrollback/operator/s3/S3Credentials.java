package io.dbrollback.operator.s3;

import java.util.Objects;

/**
 * An access key pair, with an optional session token, for an S3-compatible object store. The
 * values are never part of {@link #toString()} or of any error message: only whether a session
 * token is present.
 */
public final class S3Credentials {

    private final String accessKeyId;
    private final String secretAccessKey;
    private final String sessionToken;

    /**
     * @param sessionToken null for long-term keys
     * @throws IllegalArgumentException when the key id or the secret is blank (never echoing either)
     */
    public S3Credentials(String accessKeyId, String secretAccessKey, String sessionToken) {
        if (accessKeyId == null || accessKeyId.isBlank()) {
            throw new IllegalArgumentException("the access key id is empty");
        }
        if (secretAccessKey == null || secretAccessKey.isBlank()) {
            throw new IllegalArgumentException("the secret access key is empty");
        }
        if (sessionToken != null && sessionToken.isBlank()) {
            throw new IllegalArgumentException("the session token is empty (leave it out for long-term keys)");
        }
        this.accessKeyId = accessKeyId;
        this.secretAccessKey = secretAccessKey;
        this.sessionToken = sessionToken;
    }

    public String accessKeyId() {
        return accessKeyId;
    }

    public String secretAccessKey() {
        return secretAccessKey;
    }

    /** The session token of temporary credentials; null for long-term keys. */
    public String sessionToken() {
        return sessionToken;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof S3Credentials c && c.accessKeyId.equals(accessKeyId)
                && c.secretAccessKey.equals(secretAccessKey) && Objects.equals(c.sessionToken, sessionToken);
    }

    @Override
    public int hashCode() {
        return Objects.hash(accessKeyId, secretAccessKey, sessionToken);
    }

    @Override
    public String toString() {
        return "S3Credentials[redacted" + (sessionToken == null ? "" : ", with session token") + "]";
    }
}
