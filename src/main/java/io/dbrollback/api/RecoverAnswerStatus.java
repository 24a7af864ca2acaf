package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** What a node answered to a RecoverToLsn call, as recorded before its timeline confirms it. */
public class RecoverAnswerStatus {

    @JsonPropertyDescription("The rollback id the node answered (it must be one above rollbackIdBefore).")
    private Long rollbackId;

    @JsonPropertyDescription("The last LSN the node answered (it must be the plan's fork LSN).")
    private Long lastLsn;

    public Long getRollbackId() {
        return rollbackId;
    }

    public void setRollbackId(Long rollbackId) {
        this.rollbackId = rollbackId;
    }

    public Long getLastLsn() {
        return lastLsn;
    }

    public void setLastLsn(Long lastLsn) {
        this.lastLsn = lastLsn;
    }
}
