package io.dbrollback.api;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * Autopilot for one database cluster: the operator watches its leader, and after every failover finds
 * the former primaries whose log went beyond the fork point, reports what is at stake (the impact
 * report in the status and a Warning Event) and then, by {@code spec.mode}, creates a
 * ReplicaSetRollback for each of them (Automatic), creates it waiting for approval (Manual), or only
 * reports (Observe).
 */
@Group(ReplicaSetRollback.GROUP)
@Version(ReplicaSetRollback.VERSION)
@Kind("RollbackPolicy")
@Plural("rollbackpolicies")
@Singular("rollbackpolicy")
@ShortNames("rbp")
@AdditionalPrinterColumn(name = "Mode", jsonPath = ".spec.mode", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Leader", jsonPath = ".status.leader.holder",
        type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Term", jsonPath = ".status.leader.term", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Failovers", jsonPath = ".status.failoversDetected",
        type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Diverged", jsonPath = ".status.divergedNodes",
        type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp",
        type = AdditionalPrinterColumn.Type.DATE)
public class RollbackPolicy extends CustomResource<RollbackPolicySpec, RollbackPolicyStatus> implements Namespaced {

    private static final long serialVersionUID = 1L;

    /** Label on every ReplicaSetRollback a policy created: the policy's name. */
    public static final String POLICY_LABEL = ReplicaSetRollback.GROUP + "/policy";
    /** Label on every ReplicaSetRollback a policy created: the target pod (hashed when longer than a label). */
    public static final String TARGET_LABEL = ReplicaSetRollback.GROUP + "/target-pod";
    /** Label on every ReplicaSetRollback a policy created: the term of the failover that diverged the pod. */
    public static final String TERM_LABEL = ReplicaSetRollback.GROUP + "/term";

    @Override
    protected RollbackPolicyStatus initStatus() {
        return new RollbackPolicyStatus();
    }

    /** Read leniently: a spec that does not fit becomes an {@link UnreadablePolicySpec} instead of failing the read. */
    @Override
    @JsonDeserialize(using = LenientParts.PolicySpec.class)
    public void setSpec(RollbackPolicySpec spec) {
        super.setSpec(spec);
    }

    /**
     * Read leniently: a status that does not fit becomes an {@link UnreadablePolicyStatus} instead of failing the
     * read.
     */
    @Override
    @JsonDeserialize(using = LenientParts.PolicyStatus.class)
    public void setStatus(RollbackPolicyStatus status) {
        super.setStatus(status);
    }

    /**
     * Why this policy could not be read as stored (the part's field path and the rule it breaks), or null when it
     * was read whole. An unreadable policy is never acted on.
     */
    public String unreadable() {
        return Unreadable.problemOf(getSpec(), getStatus());
    }
}
