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
 * Asks the operator to roll a former primary back to its fork point, safely and loudly: its
 * divergent tail is saved to a verified rollback file before anything is removed, and the status is
 * the durable audit record of what happened.
 */
@Group(ReplicaSetRollback.GROUP)
@Version(ReplicaSetRollback.VERSION)
@Kind("ReplicaSetRollback")
@Plural("replicasetrollbacks")
@Singular("replicasetrollback")
@ShortNames("rsrb")
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Target", jsonPath = ".spec.targetPod", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Fork LSN", jsonPath = ".status.plan.forkLsn",
        type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Records", jsonPath = ".status.tail.records",
        type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp",
        type = AdditionalPrinterColumn.Type.DATE)
public class ReplicaSetRollback extends CustomResource<ReplicaSetRollbackSpec, ReplicaSetRollbackStatus>
        implements Namespaced {

    private static final long serialVersionUID = 1L;

    public static final String GROUP = "dbrollback.io";
    public static final String VERSION = "v1alpha1";

    /** Annotation approving the destructive step: the rollback file's SHA-256 (or 12+ hex prefix). */
    public static final String APPROVE_ANNOTATION = GROUP + "/approve";
    /** Annotation pausing the rollback ("true"): nothing is done until it is removed. */
    public static final String PAUSE_ANNOTATION = GROUP + "/paused";

    @Override
    protected ReplicaSetRollbackStatus initStatus() {
        return new ReplicaSetRollbackStatus();
    }

    /** Read leniently: a spec that does not fit becomes an {@link UnreadableSpec} instead of failing the read. */
    @Override
    @JsonDeserialize(using = LenientParts.Spec.class)
    public void setSpec(ReplicaSetRollbackSpec spec) {
        super.setSpec(spec);
    }

    /** Read leniently: a status that does not fit becomes an {@link UnreadableStatus} instead of failing the read. */
    @Override
    @JsonDeserialize(using = LenientParts.Status.class)
    public void setStatus(ReplicaSetRollbackStatus status) {
        super.setStatus(status);
    }

    /**
     * Why this object could not be read as stored (the part's field path and the rule it breaks), or
     * null when it was read whole. An unreadable object is never acted on.
     */
    public String unreadable() {
        return Unreadable.problemOf(getSpec(), getStatus());
    }
}
