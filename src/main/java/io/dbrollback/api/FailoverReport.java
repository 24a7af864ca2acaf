package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.ArrayList;
import java.util.List;

/** The impact report of one leader change: who leads now, which pods diverged, what is at stake. */
public class FailoverReport {

    @JsonPropertyDescription("The term of the new leader.")
    private Long term;

    @JsonPropertyDescription("The new leader.")
    private String leader;

    @JsonPropertyDescription("The leader before (empty for the first leader the policy saw).")
    private String previousLeader;

    @JsonPropertyDescription("The term before.")
    private Long previousTerm;

    @JsonPropertyDescription("When the operator saw the change (RFC 3339).")
    private String detectedAt;

    @JsonPropertyDescription("Detecting (some pod still to be looked at, retried with backoff) or Complete.")
    private String detection;

    @JsonPropertyDescription("Failed attempts at looking at the pods of this failover (the backoff grows with it).")
    private int attempts;

    @JsonPropertyDescription("The leader's last LSN when the pods were compared.")
    private Long leaderLastLsn;

    @JsonPropertyDescription("Every pod of the cluster but the leader: Diverged, Behind, InSync, Unreachable or "
            + "Inconsistent, with the divergent tail of a diverged one.")
    private List<NodeReport> nodes = new ArrayList<>();

    public Long getTerm() {
        return term;
    }

    public void setTerm(Long term) {
        this.term = term;
    }

    public String getLeader() {
        return leader;
    }

    public void setLeader(String leader) {
        this.leader = leader;
    }

    public String getPreviousLeader() {
        return previousLeader;
    }

    public void setPreviousLeader(String previousLeader) {
        this.previousLeader = previousLeader;
    }

    public Long getPreviousTerm() {
        return previousTerm;
    }

    public void setPreviousTerm(Long previousTerm) {
        this.previousTerm = previousTerm;
    }

    public String getDetectedAt() {
        return detectedAt;
    }

    public void setDetectedAt(String detectedAt) {
        this.detectedAt = detectedAt;
    }

    public String getDetection() {
        return detection;
    }

    public void setDetection(String detection) {
        this.detection = detection;
    }

    public int getAttempts() {
        return attempts;
    }

    public void setAttempts(int attempts) {
        this.attempts = attempts;
    }

    public Long getLeaderLastLsn() {
        return leaderLastLsn;
    }

    public void setLeaderLastLsn(Long leaderLastLsn) {
        this.leaderLastLsn = leaderLastLsn;
    }

    public List<NodeReport> getNodes() {
        return nodes;
    }

    public void setNodes(List<NodeReport> nodes) {
        this.nodes = nodes;
    }
}
