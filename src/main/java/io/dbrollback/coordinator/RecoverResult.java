package io.dbrollback.coordinator;

import io.dbrollback.model.Lsn;

/**
 * What a node reports after recovering to an LSN.
 *
 * @param rollbackId the node's rollback id after the recover (one above its value before)
 * @param lastLsn the node's last LSN, equal to the recover target
 */
public record RecoverResult(long rollbackId, Lsn lastLsn) {
}
