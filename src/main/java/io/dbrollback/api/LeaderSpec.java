package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;

/** Where the cluster's leader (the primary pod and its term) is read: exactly one source. */
@ValidationRule(value = "has(self.lease) != has(self.patroni)", message = "set exactly one of lease and patroni")
public class LeaderSpec {

    @JsonPropertyDescription("The leader is the holder of a coordination.k8s.io/v1 Lease (the same as "
            + "cluster.leaseName). Set this or patroni.")
    private LeaseLeaderSpec lease;

    @JsonPropertyDescription("The leader is the one Patroni's Kubernetes DCS records for a scope (the leader key "
            + "ConfigMap <scope>-leader, or the Endpoints <scope>); its term is the PostgreSQL timeline. Set this "
            + "or lease.")
    private PatroniLeaderSpec patroni;

    public LeaseLeaderSpec getLease() {
        return lease;
    }

    public void setLease(LeaseLeaderSpec lease) {
        this.lease = lease;
    }

    public PatroniLeaderSpec getPatroni() {
        return patroni;
    }

    public void setPatroni(PatroniLeaderSpec patroni) {
        this.patroni = patroni;
    }
}
