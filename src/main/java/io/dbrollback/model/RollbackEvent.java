package io.dbrollback.model;

import java.time.Instant;
import java.util.Objects;

/**
 * The loud, auditable announcement that a former primary was rolled back (or had nothing to roll
 * back). It names the rollback file and its digest so that nobody has to search logs for what was
 * removed. It never carries record contents.
 *
 * @param incidentId the incident this rollback belongs to; with {@link #type()} it is the dedup key
 * @param rollbackIdBefore the node's rollback id before the recover, or null when it was not recorded
 * @param rollbackIdAfter the node's rollback id after it (equal to before when nothing was removed), or
 *     null when the node never confirmed it
 */
public record RollbackEvent(
        String incidentId,
        Type type,
        String cluster,
        String node,
        Lsn forkLsn,
        Lsn lastLsn,
        Term oldTerm,
        Term newTerm,
        String newPrimary,
        long records,
        long bytes,
        String fileLocation,
        String fileSha256,
        Long rollbackIdBefore,
        Long rollbackIdAfter,
        Instant at) {

    /** What happened. */
    public enum Type {
        /** Records above the fork point were saved to the rollback file and removed from the node. */
        ROLLED_BACK,
        /** The node held nothing the new primary lacks; nothing was removed. */
        NO_DIVERGENCE
    }

    public RollbackEvent {
        Objects.requireNonNull(incidentId, "incidentId");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(forkLsn, "forkLsn");
        Objects.requireNonNull(lastLsn, "lastLsn");
    }

    /** A one-paragraph human message, as an Event note would show it. */
    public String message() {
        if (type == Type.NO_DIVERGENCE) {
            return "Node " + node + " held no divergent writes above LSN " + forkLsn + " (term " + oldTerm
                    + " -> " + newTerm + "); nothing was removed; it rejoins " + newPrimary + ".";
        }
        return "Rolled back node " + node + " from LSN " + lastLsn + " to fork LSN " + forkLsn + " (term "
                + oldTerm + " -> " + newTerm + ", new primary " + newPrimary + "): " + records + " records, "
                + bytes + " bytes saved to " + fileLocation + (fileSha256 == null ? "" : " (sha256 " + fileSha256 + ")")
                + (rollbackIdAfter == null ? "; the node did not confirm its new rollback id."
                        : "; rollback id " + (rollbackIdBefore == null ? "?" : rollbackIdBefore) + " -> "
                                + rollbackIdAfter + ".");
    }
}
