package io.dbrollback.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A stored status that could not be read (see {@link Unreadable}). Every field is null; the operator
 * must not take that for "nothing done yet", so reading a checkpoint from it fails.
 */
public final class UnreadableStatus extends ReplicaSetRollbackStatus implements Unreadable {

    private final Stored stored;

    public UnreadableStatus(JsonNode json, String problem) {
        this.stored = new Stored(json, problem);
    }

    @Override
    public Stored stored() {
        return stored;
    }
}
