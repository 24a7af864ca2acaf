package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.Map;

/** How to find the database cluster's pods, its leader (a Lease or Patroni) and the agents. */
@ValidationRule(value = "has(self.agentPort) != has(self.agentPortName)",
        message = "set exactly one of agentPort and agentPortName")
@ValidationRule(value = "has(self.leaseName) != has(self.leader)", message = "set exactly one of leaseName and leader")
public class ClusterSpec {

    @Required
    @Size(min = 1, max = 32)
    @JsonPropertyDescription("Labels that select the cluster's pods (all must match); the target pod must carry them.")
    private Map<String, String> podSelector;

    @Size(min = 1, max = 253)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    @JsonPropertyDescription("Name of the coordination.k8s.io/v1 Lease (in this namespace) whose holderIdentity names "
            + "the current primary pod. Its term is read from the annotation dbrollback.io/term, or from "
            + "spec.leaseTransitions when the annotation is absent. Set this or leader (leader.lease is the same).")
    private String leaseName;

    @JsonPropertyDescription("Where the leader is read: a Lease (lease.name) or Patroni (patroni.scope). Set this or "
            + "leaseName.")
    private LeaderSpec leader;

    @Min(1)
    @Max(65535)
    @JsonPropertyDescription("Port of the rollback agent in every pod (gRPC). Set this or agentPortName.")
    private Integer agentPort;

    @Size(min = 1, max = 15)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    @JsonPropertyDescription("Name of the container port of the rollback agent, looked up in each pod. Set this or "
            + "agentPort.")
    private String agentPortName;

    @Default("database")
    @Size(min = 1, max = 63)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    @JsonPropertyDescription("Container that mounts the data volume; the rollback file is written through pod exec in "
            + "this container.")
    private String dataContainer = "database";

    public Map<String, String> getPodSelector() {
        return podSelector;
    }

    public void setPodSelector(Map<String, String> podSelector) {
        this.podSelector = podSelector;
    }

    public String getLeaseName() {
        return leaseName;
    }

    public void setLeaseName(String leaseName) {
        this.leaseName = leaseName;
    }

    public LeaderSpec getLeader() {
        return leader;
    }

    public void setLeader(LeaderSpec leader) {
        this.leader = leader;
    }

    public Integer getAgentPort() {
        return agentPort;
    }

    public void setAgentPort(Integer agentPort) {
        this.agentPort = agentPort;
    }

    public String getAgentPortName() {
        return agentPortName;
    }

    public void setAgentPortName(String agentPortName) {
        this.agentPortName = agentPortName;
    }

    public String getDataContainer() {
        return dataContainer;
    }

    public void setDataContainer(String dataContainer) {
        this.dataContainer = dataContainer;
    }
}
