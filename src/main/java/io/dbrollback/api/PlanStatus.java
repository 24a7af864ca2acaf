package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The recorded plan: what is rolled back, decided before anything is done. */
public class PlanStatus {

    @JsonPropertyDescription("The pod the plan rolls back.")
    private String targetPod;

    @JsonPropertyDescription("1 for the first plan, one more for every re-plan.")
    private Integer number;

    @JsonPropertyDescription("The last LSN the target shares with the new primary; the target is recovered to it.")
    private Long forkLsn;

    @JsonPropertyDescription("The last term both logs hold records of (absent when they share none).")
    private Long commonTerm;

    @JsonPropertyDescription("The target's last LSN when planned; the divergent tail is (forkLsn, lastLsn].")
    private Long lastLsn;

    @JsonPropertyDescription("The target's majority-commit LSN; the fork is never below it.")
    private Long commitLsn;

    @JsonPropertyDescription("lastLsn - forkLsn: the records the tail holds (absent when the LSNs are positions: the "
            + "count is known once the tail is read, status.tail.records).")
    private Long expectedRecords;

    /** {@link #getLsnKind()} of a node whose LSNs are positions (a WAL LSN). */
    public static final String POSITIONS = "Positions";

    @JsonPropertyDescription("Positions when the nodes' LSNs are positions in their logs (a WAL LSN: the records of "
            + "one transaction share their commit's position); absent for dense record numbers.")
    private String lsnKind;

    @JsonPropertyDescription("The term of the target's last record.")
    private Long oldTerm;

    @JsonPropertyDescription("The leader Lease's term when planned: the fencing token of every call.")
    private Long newTerm;

    @JsonPropertyDescription("The pod holding the leader Lease when planned.")
    private String newPrimary;

    @JsonPropertyDescription("Where the target streams from after the rollback.")
    private String newPrimaryAddress;

    @JsonPropertyDescription("When the plan was made (RFC 3339).")
    private String plannedAt;

    public String getTargetPod() {
        return targetPod;
    }

    public void setTargetPod(String targetPod) {
        this.targetPod = targetPod;
    }

    public Integer getNumber() {
        return number;
    }

    public void setNumber(Integer number) {
        this.number = number;
    }

    public Long getForkLsn() {
        return forkLsn;
    }

    public void setForkLsn(Long forkLsn) {
        this.forkLsn = forkLsn;
    }

    public Long getCommonTerm() {
        return commonTerm;
    }

    public void setCommonTerm(Long commonTerm) {
        this.commonTerm = commonTerm;
    }

    public Long getLastLsn() {
        return lastLsn;
    }

    public void setLastLsn(Long lastLsn) {
        this.lastLsn = lastLsn;
    }

    public Long getCommitLsn() {
        return commitLsn;
    }

    public void setCommitLsn(Long commitLsn) {
        this.commitLsn = commitLsn;
    }

    public Long getExpectedRecords() {
        return expectedRecords;
    }

    public void setExpectedRecords(Long expectedRecords) {
        this.expectedRecords = expectedRecords;
    }

    public String getLsnKind() {
        return lsnKind;
    }

    public void setLsnKind(String lsnKind) {
        this.lsnKind = lsnKind;
    }

    public Long getOldTerm() {
        return oldTerm;
    }

    public void setOldTerm(Long oldTerm) {
        this.oldTerm = oldTerm;
    }

    public Long getNewTerm() {
        return newTerm;
    }

    public void setNewTerm(Long newTerm) {
        this.newTerm = newTerm;
    }

    public String getNewPrimary() {
        return newPrimary;
    }

    public void setNewPrimary(String newPrimary) {
        this.newPrimary = newPrimary;
    }

    public String getNewPrimaryAddress() {
        return newPrimaryAddress;
    }

    public void setNewPrimaryAddress(String newPrimaryAddress) {
        this.newPrimaryAddress = newPrimaryAddress;
    }

    public String getPlannedAt() {
        return plannedAt;
    }

    public void setPlannedAt(String plannedAt) {
        this.plannedAt = plannedAt;
    }
}
