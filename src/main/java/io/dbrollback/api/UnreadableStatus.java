package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * A stored status that could not be read (see {@link Unreadable}). Every field is null; the operator
 * must not take that for "nothing done yet", so reading a checkpoint from it fails.
 */
public final class UnreadableStatus extends ReplicaSetRollbackStatus implements Unreadable {

    private final JsonNode stored;
    private final String problem;

    public UnreadableStatus(JsonNode stored, String problem) {
        this.stored = stored;
        this.problem = problem;
    }

    @Override
    public String problem() {
        return problem;
    }

    /** Written back exactly as stored. */
    @JsonValue
    @Override
    public JsonNode stored() {
        return stored;
    }
}
