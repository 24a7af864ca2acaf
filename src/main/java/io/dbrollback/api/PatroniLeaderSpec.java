package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/** A Patroni cluster whose Kubernetes DCS (kubernetes.namespace = this namespace) records the leader. */
public class PatroniLeaderSpec {

    /** Which kind of object Patroni keeps its leader key in (its kubernetes.use_endpoints setting). */
    public enum Dcs {
        ConfigMap,
        Endpoints
    }

    @Required
    @Size(min = 1, max = 246)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    @JsonPropertyDescription("Patroni's scope (its cluster name, PATRONI_SCOPE). The leader key is the annotation "
            + "leader (the member name, which is the pod name) of the ConfigMap <scope>-leader, or of the Endpoints "
            + "<scope> when dcs is Endpoints; the timeline history is the annotation history of <scope>-config.")
    private String scope;

    @Default("ConfigMap")
    @JsonPropertyDescription("ConfigMap when Patroni runs with kubernetes.use_endpoints false (its default), "
            + "Endpoints when it runs with use_endpoints true.")
    private Dcs dcs = Dcs.ConfigMap;

    public String getScope() {
        return scope;
    }

    public void setScope(String scope) {
        this.scope = scope;
    }

    public Dcs getDcs() {
        return dcs;
    }

    public void setDcs(Dcs dcs) {
        this.dcs = dcs;
    }
}
