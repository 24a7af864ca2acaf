package io.dbrollback.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A stored RollbackPolicy status that could not be read (see {@link Unreadable}). Its lists are null: the
 * autopilot must not take it for a policy that has seen nothing yet.
 */
public final class UnreadablePolicyStatus extends RollbackPolicyStatus implements Unreadable {

    private final Stored stored;

    public UnreadablePolicyStatus(JsonNode json, String problem) {
        this.stored = new Stored(json, problem);
        setFailovers(null);
        setConditions(null);
    }

    @Override
    public Stored stored() {
        return stored;
    }
}
