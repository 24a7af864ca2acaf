package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.ArrayList;
import java.util.List;

/**
 * What the policy saw and did: the leader it last read, and one impact report per failover (the most
 * recent ones), written before any rollback it creates can remove anything.
 */
public class RollbackPolicyStatus {

    @JsonPropertyDescription("The spec generation this status was computed from.")
    private Long observedGeneration;

    @JsonPropertyDescription("The leader as last read: holder, term, source.")
    private LeaderStatus leader;

    @JsonPropertyDescription("How many leader changes the policy has seen since it was created.")
    private long failoversDetected;

    @JsonPropertyDescription("Diverged former primaries of the latest failover whose rollback has not completed "
            + "(a failed or aborted rollback leaves its pod diverged; in Observe mode every diverged one).")
    private int divergedNodes;

    @JsonPropertyDescription("The impact report of each failover seen, oldest first (at most 10; older ones drop "
            + "off, their rollbacks keep their own status).")
    private List<FailoverReport> failovers = new ArrayList<>();

    @JsonPropertyDescription("The last rollback this policy created with approval Automatic (the cool-down runs "
            + "from its creation).")
    private AutomaticRollbackStatus lastAutomaticRollback;

    @JsonPropertyDescription("Standard conditions: Ready (the latest failover is fully looked at), Blocked (the "
            + "policy cannot read the cluster; the reason says why).")
    private List<Condition> conditions = new ArrayList<>();

    public Long getObservedGeneration() {
        return observedGeneration;
    }

    public void setObservedGeneration(Long observedGeneration) {
        this.observedGeneration = observedGeneration;
    }

    public LeaderStatus getLeader() {
        return leader;
    }

    public void setLeader(LeaderStatus leader) {
        this.leader = leader;
    }

    public long getFailoversDetected() {
        return failoversDetected;
    }

    public void setFailoversDetected(long failoversDetected) {
        this.failoversDetected = failoversDetected;
    }

    public int getDivergedNodes() {
        return divergedNodes;
    }

    public void setDivergedNodes(int divergedNodes) {
        this.divergedNodes = divergedNodes;
    }

    public List<FailoverReport> getFailovers() {
        return failovers;
    }

    public void setFailovers(List<FailoverReport> failovers) {
        this.failovers = failovers;
    }

    public AutomaticRollbackStatus getLastAutomaticRollback() {
        return lastAutomaticRollback;
    }

    public void setLastAutomaticRollback(AutomaticRollbackStatus lastAutomaticRollback) {
        this.lastAutomaticRollback = lastAutomaticRollback;
    }

    public List<Condition> getConditions() {
        return conditions;
    }

    public void setConditions(List<Condition> conditions) {
        this.conditions = conditions;
    }
}
