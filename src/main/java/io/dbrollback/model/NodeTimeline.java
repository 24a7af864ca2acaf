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
 * @param lastRecoveryTargetLsn the target LSN of that recover ({@link Lsn#ZERO} if none)
 * @param lastRecoveryFileSha256 the SHA-256 of the rollback file that recover named ("" if none): it
 *     tells which plan's file holds what the node removed
 * @param positions whether the node's LSNs are positions (a WAL LSN: the records of one transaction
 *     share their commit's position, and a range may hold fewer records than its width) rather than
 *     dense record numbers
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
        String lastRecoveryIncident,
        Lsn lastRecoveryTargetLsn,
        String lastRecoveryFileSha256,
        boolean positions) {

    public NodeTimeline {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(currentTerm, "currentTerm");
        Objects.requireNonNull(lastLsn, "lastLsn");
        Objects.requireNonNull(commitLsn, "commitLsn");
        Objects.requireNonNull(history, "history");
        lastRecoveryIncident = lastRecoveryIncident == null ? "" : lastRecoveryIncident;
        lastRecoveryTargetLsn = lastRecoveryTargetLsn == null ? Lsn.ZERO : lastRecoveryTargetLsn;
        lastRecoveryFileSha256 = lastRecoveryFileSha256 == null ? "" : lastRecoveryFileSha256;
        if (rollbackId < 0) {
            throw new IllegalArgumentException("rollbackId is never negative");
        }
    }

    /** A timeline of dense record numbers. */
    public NodeTimeline(String node, NodeRole role, Term currentTerm, Lsn lastLsn, Lsn commitLsn, TermHistory history,
            long rollbackId, boolean fenced, String lastRecoveryIncident, Lsn lastRecoveryTargetLsn,
            String lastRecoveryFileSha256) {
        this(node, role, currentTerm, lastLsn, commitLsn, history, rollbackId, fenced, lastRecoveryIncident,
                lastRecoveryTargetLsn, lastRecoveryFileSha256, false);
    }

    /** A timeline that does not report the target or the file of its last recover. */
    public NodeTimeline(String node, NodeRole role, Term currentTerm, Lsn lastLsn, Lsn commitLsn, TermHistory history,
            long rollbackId, boolean fenced, String lastRecoveryIncident) {
        this(node, role, currentTerm, lastLsn, commitLsn, history, rollbackId, fenced, lastRecoveryIncident, Lsn.ZERO,
                "", false);
    }
}
