package io.dbrollback.model;

/** What a node says it is. */
public enum NodeRole {
    /** Accepts writes for its term (or believes it does). */
    PRIMARY,
    /** Streams from a primary. */
    REPLICA,
    /** Neither: fenced, recovering or starting. */
    DETACHED
}
