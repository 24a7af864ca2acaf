package io.dbrollback.coordinator;

/**
 * A call to a node, the file store or the event sink did not complete as asked. Retried by the
 * caller with backoff; when {@link #outcomeUnknown()} the effect may or may not have happened, and
 * the coordinator resolves it by reading the node's state before acting again (invariant I7).
 */
public class TransportException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String code;
    private final boolean outcomeUnknown;

    /**
     * @param code a machine-readable code, for example a gRPC status code name or "StaleTerm"
     * @param outcomeUnknown whether the call may have taken effect
     */
    public TransportException(String code, boolean outcomeUnknown, String message) {
        super(message);
        this.code = code;
        this.outcomeUnknown = outcomeUnknown;
    }

    public TransportException(String code, boolean outcomeUnknown, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.outcomeUnknown = outcomeUnknown;
    }

    public String code() {
        return code;
    }

    public boolean outcomeUnknown() {
        return outcomeUnknown;
    }
}
