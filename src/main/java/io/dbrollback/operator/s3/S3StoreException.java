package io.dbrollback.operator.s3;

/**
 * A call to the object store failed. {@link #reason()} is the typed reason; the message is a
 * sentence for a status message or a Warning Event, naming the object (s3://bucket/key) and never a
 * credential.
 */
public class S3StoreException extends Exception {

    private static final long serialVersionUID = 1L;

    private final S3FailureReason reason;

    public S3StoreException(S3FailureReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public S3StoreException(S3FailureReason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public S3FailureReason reason() {
        return reason;
    }
}
