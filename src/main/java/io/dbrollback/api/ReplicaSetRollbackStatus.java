package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.List;

/**
 * The durable audit record of a rollback: the plan, the tail digest, the file, the rollback ids, the
 * time of every step and the outcome. It alone tells an auditor what happened (Events expire).
 */
public class ReplicaSetRollbackStatus {

    @JsonPropertyDescription("The spec generation this status was computed from.")
    private Long observedGeneration;

    @JsonPropertyDescription("The incident id every call to a node carries (the resource's uid).")
    private String incidentId;

    @JsonPropertyDescription("Where the rollback stands: Pending, Planned, Fenced, TailPersisted, Verified, "
            + "AwaitingApproval, Recovering, Recovered, EventEmitted, Rejoined, Completed, DryRunCompleted, "
            + "Failed or Aborted.")
    private String phase;

    @JsonPropertyDescription("Standard conditions; Ready is True once Completed.")
    private List<Condition> conditions;

    @JsonPropertyDescription("The plan: fork LSN, last divergent LSN, records, old and new term, new primary.")
    private PlanStatus plan;

    @JsonPropertyDescription("The tail read: range, records, bytes, SHA-256, commit-time span.")
    private TailStatus tail;

    @JsonPropertyDescription("The verified rollback file: pod, path, SHA-256, bytes, records.")
    private RollbackFileStatus rollbackFile;

    @JsonPropertyDescription("Why the rollback awaited approval (ManualApprovalRequired, RecordLimitExceeded, "
            + "ByteLimitExceeded, SpanLimitExceeded, UncapturedChanges).")
    private List<String> gates;

    @JsonPropertyDescription("The file SHA-256 the approval named, when one was needed.")
    private String approvedFor;

    @JsonPropertyDescription("The node's rollback id before the recover.")
    private Long rollbackIdBefore;

    @JsonPropertyDescription("The node's rollback id after the recover (one more).")
    private Long rollbackIdAfter;

    @JsonPropertyDescription("CamelCase reason of the outcome or of the last notable event (a gate, a re-plan).")
    private String reason;

    @JsonPropertyDescription("Human-readable sentence for reason.")
    private String message;

    @JsonPropertyDescription("Why the rollback waits right now, if it does.")
    private String waiting;

    @JsonPropertyDescription("Human-readable sentence for waiting.")
    private String waitMessage;

    @JsonPropertyDescription("The last failed attempt at the current step.")
    private String lastError;

    @JsonPropertyDescription("Failed attempts at the current step.")
    private Integer attempts;

    @JsonPropertyDescription("Failed attempts that waiting cannot cure, and repeated fences, in the current plan; the "
            + "rollback fails once they exceed spec.maxRetries.")
    private Integer retries;

    @JsonPropertyDescription("What the node answered to the current plan's RecoverToLsn; the rollback stays in "
            + "Recovering until the node's own timeline confirms what the answer claims.")
    private RecoverAnswerStatus recoverAnswer;

    @JsonPropertyDescription("The plan whose range the node removed (or began removing) for this incident: its "
            + "rollback file holds what was removed. 0 when the node records a recover that matches no plan.")
    private Integer removedPlan;

    @JsonPropertyDescription("True when the rollback ended without knowing whether the node removed the current plan's "
            + "range (a recover call may have taken effect, but the node's own record never showed it); the rollback "
            + "file of that plan holds the range either way.")
    private Boolean removalUnknown;

    @JsonPropertyDescription("How often the plan was redone.")
    private Integer replans;

    @JsonPropertyDescription("Earlier plans with their tails and files (never deleted).")
    private List<SupersededPlanStatus> supersededPlans;

    @JsonPropertyDescription("The off-node copies of the rollback files (spec.copy): per plan and place, the copy "
            + "verified with its SHA-256, or why the last attempt there failed.")
    private List<CopyStatus> copies;

    @JsonPropertyDescription("When each phase was first entered.")
    private List<StepTime> steps;

    public Long getObservedGeneration() {
        return observedGeneration;
    }

    public void setObservedGeneration(Long observedGeneration) {
        this.observedGeneration = observedGeneration;
    }

    public String getIncidentId() {
        return incidentId;
    }

    public void setIncidentId(String incidentId) {
        this.incidentId = incidentId;
    }

    public String getPhase() {
        return phase;
    }

    public void setPhase(String phase) {
        this.phase = phase;
    }

    public List<Condition> getConditions() {
        return conditions;
    }

    public void setConditions(List<Condition> conditions) {
        this.conditions = conditions;
    }

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

    public List<String> getGates() {
        return gates;
    }

    public void setGates(List<String> gates) {
        this.gates = gates;
    }

    public String getApprovedFor() {
        return approvedFor;
    }

    public void setApprovedFor(String approvedFor) {
        this.approvedFor = approvedFor;
    }

    public Long getRollbackIdBefore() {
        return rollbackIdBefore;
    }

    public void setRollbackIdBefore(Long rollbackIdBefore) {
        this.rollbackIdBefore = rollbackIdBefore;
    }

    public Long getRollbackIdAfter() {
        return rollbackIdAfter;
    }

    public void setRollbackIdAfter(Long rollbackIdAfter) {
        this.rollbackIdAfter = rollbackIdAfter;
    }

    public String getReason() {
        return reason;
    }

    public void setReason(String reason) {
        this.reason = reason;
    }

    public String getMessage() {
        return message;
    }

    public void setMessage(String message) {
        this.message = message;
    }

    public String getWaiting() {
        return waiting;
    }

    public void setWaiting(String waiting) {
        this.waiting = waiting;
    }

    public String getWaitMessage() {
        return waitMessage;
    }

    public void setWaitMessage(String waitMessage) {
        this.waitMessage = waitMessage;
    }

    public String getLastError() {
        return lastError;
    }

    public void setLastError(String lastError) {
        this.lastError = lastError;
    }

    public Integer getAttempts() {
        return attempts;
    }

    public Integer getRetries() {
        return retries;
    }

    public void setRetries(Integer retries) {
        this.retries = retries;
    }

    public RecoverAnswerStatus getRecoverAnswer() {
        return recoverAnswer;
    }

    public void setRecoverAnswer(RecoverAnswerStatus recoverAnswer) {
        this.recoverAnswer = recoverAnswer;
    }

    public Boolean getRemovalUnknown() {
        return removalUnknown;
    }

    public void setRemovalUnknown(Boolean removalUnknown) {
        this.removalUnknown = removalUnknown;
    }

    public Integer getRemovedPlan() {
        return removedPlan;
    }

    public void setRemovedPlan(Integer removedPlan) {
        this.removedPlan = removedPlan;
    }

    public void setAttempts(Integer attempts) {
        this.attempts = attempts;
    }

    public Integer getReplans() {
        return replans;
    }

    public void setReplans(Integer replans) {
        this.replans = replans;
    }

    public List<SupersededPlanStatus> getSupersededPlans() {
        return supersededPlans;
    }

    public void setSupersededPlans(List<SupersededPlanStatus> supersededPlans) {
        this.supersededPlans = supersededPlans;
    }

    public List<CopyStatus> getCopies() {
        return copies;
    }

    public void setCopies(List<CopyStatus> copies) {
        this.copies = copies;
    }

    public List<StepTime> getSteps() {
        return steps;
    }

    public void setSteps(List<StepTime> steps) {
        this.steps = steps;
    }
}
