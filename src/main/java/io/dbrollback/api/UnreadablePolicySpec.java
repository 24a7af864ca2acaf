package io.dbrollback.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A stored RollbackPolicy spec that could not be read (see {@link Unreadable}). Every value the autopilot
 * acts on is null, never its default: a {@code mode} outside its enum must not read as any mode.
 */
public final class UnreadablePolicySpec extends RollbackPolicySpec implements Unreadable {

    private final Stored stored;

    public UnreadablePolicySpec(JsonNode json, String problem) {
        this.stored = new Stored(json, problem);
        setCluster(null);
        setMode(null);
        setRollback(null);
        setCoolDown(null);
    }

    @Override
    public Stored stored() {
        return stored;
    }
}
