package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.ArrayList;
import java.util.List;

/** One pod in a failover's impact report. */
public class NodeReport {

    @JsonPropertyDescription("The pod.")
    private String pod;

    @JsonPropertyDescription("Diverged (its log goes beyond the fork point: a former primary with writes the leader "
            + "never received), Behind (a prefix of the leader's log), InSync, Unreachable (looked at again with "
            + "backoff) or Inconsistent (the histories cannot be compared; nothing is done).")
    private String state;

    @JsonPropertyDescription("Why, in a sentence.")
    private String message;

    @JsonPropertyDescription("The pod's last LSN.")
    private Long lastLsn;

    @JsonPropertyDescription("The fork point: the last LSN the pod shares with the leader.")
    private Long forkLsn;

    @JsonPropertyDescription("Records of the divergent tail (fork, last LSN], as the agent counted them.")
    private Long records;

    @JsonPropertyDescription("Bytes of the divergent tail (canonical record encoding), as the agent counted them.")
    private Long bytes;

    @JsonPropertyDescription("Commit time of the first divergent record (RFC 3339).")
    private String firstCommit;

    @JsonPropertyDescription("Commit time of the last divergent record (RFC 3339).")
    private String lastCommit;

    @JsonPropertyDescription("What the tail touches, as the agent names it (tables, or key ranges), with counts.")
    private List<String> touches = new ArrayList<>();

    @JsonPropertyDescription("Why records, bytes, times or touches are missing, when they are.")
    private String summaryMissing;

    @JsonPropertyDescription("The ReplicaSetRollback that rolls the pod back (created by this policy, or found).")
    private String rollback;

    @JsonPropertyDescription("Its approval: Automatic, or Manual (by mode or inside the cool-down).")
    private String approval;

    @JsonPropertyDescription("Its phase when last looked at.")
    private String rollbackPhase;

    @JsonPropertyDescription("When its end was counted in the failover-to-end metric (RFC 3339).")
    private String endCounted;

    public String getPod() {
        return pod;
    }

    public void setPod(String pod) {
        this.pod = pod;
    }

    public String getState() {
        return state;
    }

    public void setState(String state) {
        this.state = state;
    }

    public String getMessage() {
        return message;
    }

    public void setMessage(String message) {
        this.message = message;
    }

    public Long getLastLsn() {
        return lastLsn;
    }

    public void setLastLsn(Long lastLsn) {
        this.lastLsn = lastLsn;
    }

    public Long getForkLsn() {
        return forkLsn;
    }

    public void setForkLsn(Long forkLsn) {
        this.forkLsn = forkLsn;
    }

    public Long getRecords() {
        return records;
    }

    public void setRecords(Long records) {
        this.records = records;
    }

    public Long getBytes() {
        return bytes;
    }

    public void setBytes(Long bytes) {
        this.bytes = bytes;
    }

    public String getFirstCommit() {
        return firstCommit;
    }

    public void setFirstCommit(String firstCommit) {
        this.firstCommit = firstCommit;
    }

    public String getLastCommit() {
        return lastCommit;
    }

    public void setLastCommit(String lastCommit) {
        this.lastCommit = lastCommit;
    }

    public List<String> getTouches() {
        return touches;
    }

    public void setTouches(List<String> touches) {
        this.touches = touches;
    }

    public String getSummaryMissing() {
        return summaryMissing;
    }

    public void setSummaryMissing(String summaryMissing) {
        this.summaryMissing = summaryMissing;
    }

    public String getRollback() {
        return rollback;
    }

    public void setRollback(String rollback) {
        this.rollback = rollback;
    }

    public String getApproval() {
        return approval;
    }

    public void setApproval(String approval) {
        this.approval = approval;
    }

    public String getRollbackPhase() {
        return rollbackPhase;
    }

    public void setRollbackPhase(String rollbackPhase) {
        this.rollbackPhase = rollbackPhase;
    }

    public String getEndCounted() {
        return endCounted;
    }

    public void setEndCounted(String endCounted) {
        this.endCounted = endCounted;
    }
}
