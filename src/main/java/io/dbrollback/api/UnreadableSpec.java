package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * A stored spec that could not be read (see {@link Unreadable}). Every value the operator acts on is
 * null, never its default: an {@code approval} outside its enum must not read as Automatic.
 */
public final class UnreadableSpec extends ReplicaSetRollbackSpec implements Unreadable {

    private final JsonNode stored;
    private final String problem;

    public UnreadableSpec(JsonNode stored, String problem) {
        this.stored = stored;
        this.problem = problem;
        setLimits(null);
        setApproval(null);
        setRollbackDirectory(null);
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
