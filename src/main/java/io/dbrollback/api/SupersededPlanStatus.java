package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** An earlier plan, redone because the world changed before anything was removed. */
public class SupersededPlanStatus {

    @JsonPropertyDescription("The earlier plan.")
    private PlanStatus plan;

    @JsonPropertyDescription("The tail it read, if any.")
    private TailStatus tail;

    @JsonPropertyDescription("The file it wrote, if any; kept, never deleted.")
    private RollbackFileStatus rollbackFile;

    @JsonPropertyDescription("What changed.")
    private String reason;

    public PlanStatus getPlan() {
        return plan;
    }

    public void setPlan(PlanStatus plan) {
        this.plan = plan;
    }

    public TailStatus getTail() {
        return tail;
    }

    public void setTail(TailStatus tail) {
        this.tail = tail;
    }

    public RollbackFileStatus getRollbackFile() {
        return rollbackFile;
    }

    public void setRollbackFile(RollbackFileStatus rollbackFile) {
        this.rollbackFile = rollbackFile;
    }

    public String getReason() {
        return reason;
    }

    public void setReason(String reason) {
        this.reason = reason;
    }
}
