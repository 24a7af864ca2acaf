package io.dbrollback.operator.s3;

/**
 * Why a call to the object store failed: a CamelCase reason for a condition or a Warning Event, and
 * whether trying again later may help. The human-readable detail is the exception's message.
 */
public enum S3FailureReason {

    /** The endpoint did not accept a connection (refused, unknown host, TLS failure). */
    ObjectStoreUnreachable(true),
    /** A connect, read or call timeout passed. */
    ObjectStoreTimeout(true),
    /** The store refused the credentials or the request (403, InvalidAccessKeyId, SignatureDoesNotMatch). */
    ObjectStoreAccessDenied(false),
    /** The bucket does not exist. */
    ObjectStoreNoSuchBucket(false),
    /** The object does not exist (verify or get of a key never stored). */
    ObjectStoreNoSuchObject(false),
    /** The store asked to slow down or failed on its side (503 SlowDown, 500, 502, 504), after the retries. */
    ObjectStoreUnavailable(true),
    /** The key holds an object with other bytes (size or SHA-256): it is never overwritten. */
    ObjectStoreObjectDiffers(false),
    /** The object read back does not have the expected size or SHA-256. */
    ObjectStoreDigestMismatch(false),
    /** The bytes read from the source did not have the size or SHA-256 the caller gave; nothing is kept. */
    ObjectStoreSourceMismatch(false),
    /** The source could not be read (or re-read for a retry). */
    ObjectStoreSourceFailed(true),
    /** Any other refusal by the store (its error code and HTTP status are in the message). */
    ObjectStoreRefused(false);

    private final boolean transientFailure;

    S3FailureReason(boolean transientFailure) {
        this.transientFailure = transientFailure;
    }

    /** Whether the same call may succeed later without a change by a person. */
    public boolean transientFailure() {
        return transientFailure;
    }
}
