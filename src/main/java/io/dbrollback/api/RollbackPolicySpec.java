package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** The cluster a policy watches and what it does after a failover. */
public class RollbackPolicySpec {

    @Required
    @JsonPropertyDescription("The replicated database cluster to watch: how to find its pods, its leader and their "
            + "agents (the same block as a ReplicaSetRollback's).")
    private ClusterSpec cluster;

    @Required
    @JsonPropertyDescription("After a failover: Automatic creates a ReplicaSetRollback for each diverged former "
            + "primary that proceeds within spec.rollback.limits; Manual creates it with approval Manual (the tail "
            + "is saved and verified, then it waits for the dbrollback.io/approve annotation); Observe creates "
            + "nothing and only reports.")
    private PolicyMode mode;

    @JsonPropertyDescription("The settings of every ReplicaSetRollback the policy creates (the approval follows "
            + "spec.mode).")
    private RollbackTemplate rollback = new RollbackTemplate();

    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    @Size(max = 253)
    @JsonPropertyDescription("Secret (in this namespace) with ca.crt, and tls.crt/tls.key for mutual TLS, used to "
            + "reach the agents over gRPC, by the detection and by the rollbacks it creates; plaintext when unset.")
    private String agentTlsSecret;

    @Default("10m")
    @Size(min = 2, max = 24)
    @Pattern("^([0-9]{1,6}h)?([0-9]{1,6}m)?([0-9]{1,6}s)?$")
    @JsonPropertyDescription("Least time between two automatic rollbacks of this cluster after different failovers "
            + "(hours, minutes, seconds: 10m, 1h30m). A rollback of a later failover inside it is created with "
            + "approval Manual, so that a flapping leader never removes writes twice without a person.")
    private String coolDown = "10m";

    public ClusterSpec getCluster() {
        return cluster;
    }

    public void setCluster(ClusterSpec cluster) {
        this.cluster = cluster;
    }

    public PolicyMode getMode() {
        return mode;
    }

    public void setMode(PolicyMode mode) {
        this.mode = mode;
    }

    public RollbackTemplate getRollback() {
        return rollback;
    }

    public void setRollback(RollbackTemplate rollback) {
        this.rollback = rollback;
    }

    public String getAgentTlsSecret() {
        return agentTlsSecret;
    }

    public void setAgentTlsSecret(String agentTlsSecret) {
        this.agentTlsSecret = agentTlsSecret;
    }

    public String getCoolDown() {
        return coolDown;
    }

    public void setCoolDown(String coolDown) {
        this.coolDown = coolDown;
    }
}
