package io.dbrollback.model;

import java.util.Objects;

/**
 * What a node reports about its own log and fencing state, as read through its agent.
 *
 * @param node the node's name (the pod name)
 * @param role what the node says it is
 * @param currentTerm the highest term the node has seen (it rejects mutating calls below it)
 * @param lastLsn the LSN of the last record in its log
 * @param commitLsn the highest LSN the node knows to be majority-committed; never rolled back
 * @param history the node's term history
 * @param rollbackId a counter the node bumps durably, once per incident, before it removes anything
 * @param fenced whether the node refuses client writes
 * @param lastRecoveryIncident the incident whose recover-to-LSN the node last started, or "" if none;
 *     the node records it together with the rollback-id bump, so it tells whether a recover whose
 *     outcome was lost has happened
 */
public record NodeTimeline(
        String node,
        NodeRole role,
        Term currentTerm,
        Lsn lastLsn,
        Lsn commitLsn,
        TermHistory history,
        long rollbackId,
        boolean fenced,
        String lastRecoveryIncident) {

    public NodeTimeline {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(currentTerm, "currentTerm");
        Objects.requireNonNull(lastLsn, "lastLsn");
        Objects.requireNonNull(commitLsn, "commitLsn");
        Objects.requireNonNull(history, "history");
        lastRecoveryIncident = lastRecoveryIncident == null ? "" : lastRecoveryIncident;
        if (rollbackId < 0) {
            throw new IllegalArgumentException("rollbackId is never negative");
        }
    }
}
