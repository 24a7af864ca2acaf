package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.ValidationRule;

/** The off-node copy of the verified rollback file, made before anything is removed. */
@ValidationRule(value = "self.target != 'ObjectStore' || has(self.objectStore)",
        message = "copy.target ObjectStore needs copy.objectStore (bucket and credentialsSecret at least)")
public class CopySpec {

    @Default("Agent")
    @JsonPropertyDescription("Where the copy goes. Agent: another Ready pod of the cluster (the leader's followers "
            + "first, then the leader; by name), stored by that pod's agent under its rollback directory's "
            + "copies/<targetPod>/. ObjectStore: the S3-compatible bucket of copy.objectStore, under "
            + "<prefix>/<namespace>/<rollback name>/. None: no copy; the file stays on the target pod's volume only.")
    private Target target = Target.Agent;

    @Default("Wait")
    @JsonPropertyDescription("What a copy that cannot be made or does not verify means. Wait: nothing is removed "
            + "until a copy verifies (status.waiting CopyNotVerified, a Warning Event, retried with backoff). "
            + "Proceed: go on with the one file, with a Warning Event and the condition OffNodeCopy False "
            + "(reason OnlyOneCopy).")
    private OnFailure onFailure = OnFailure.Wait;

    @JsonPropertyDescription("The S3-compatible object store of target ObjectStore: endpoint, region, bucket, prefix "
            + "and the credentials Secret. Ignored for the other targets.")
    private ObjectStoreSpec objectStore;

    /** Where the copy goes. */
    public enum Target {
        Agent,
        ObjectStore,
        None
    }

    /** What a failed copy means. */
    public enum OnFailure {
        Wait,
        Proceed
    }

    public Target getTarget() {
        return target;
    }

    public void setTarget(Target target) {
        this.target = target;
    }

    public ObjectStoreSpec getObjectStore() {
        return objectStore;
    }

    public void setObjectStore(ObjectStoreSpec objectStore) {
        this.objectStore = objectStore;
    }

    public OnFailure getOnFailure() {
        return onFailure;
    }

    public void setOnFailure(OnFailure onFailure) {
        this.onFailure = onFailure;
    }
}
