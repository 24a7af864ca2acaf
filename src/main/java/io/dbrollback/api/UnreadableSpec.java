package io.dbrollback.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A stored spec that could not be read (see {@link Unreadable}). Every value the operator acts on is
 * null, never its default: an {@code approval} outside its enum must not read as Automatic.
 */
public final class UnreadableSpec extends ReplicaSetRollbackSpec implements Unreadable {

    private final Stored stored;

    public UnreadableSpec(JsonNode json, String problem) {
        this.stored = new Stored(json, problem);
        setLimits(null);
        setApproval(null);
        setRollbackDirectory(null);
    }

    @Override
    public Stored stored() {
        return stored;
    }
}
