package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** The fields a RollbackPolicy copies into each ReplicaSetRollback it creates. */
public class RollbackTemplate {

    @JsonPropertyDescription("How large a divergent tail may be rolled back without approval (spec.limits of the "
            + "rollback).")
    private LimitsSpec limits = new LimitsSpec();

    @Default("/var/lib/dbrollback/rollback")
    @Size(min = 2, max = 200)
    @Pattern("^/[A-Za-z0-9._/-]*$")
    @ValidationRule(value = "!self.contains('..') && !self.contains('//')",
            message = "rollbackDirectory must be a plain absolute path without '..' or '//'")
    @JsonPropertyDescription("Absolute directory on the target pod's data volume where the rollback file is written.")
    private String rollbackDirectory = "/var/lib/dbrollback/rollback";

    @Default("3")
    @Min(0)
    @Max(20)
    @JsonPropertyDescription("spec.maxReplans of the rollback.")
    private int maxReplans = 3;

    @Default("8")
    @Min(0)
    @Max(100)
    @JsonPropertyDescription("spec.maxRetries of the rollback.")
    private int maxRetries = 8;

    @JsonPropertyDescription("spec.copy of the rollback: the off-node copy of the verified file (target Agent, "
            + "ObjectStore or None; onFailure Wait or Proceed). Default: to another pod's agent, waiting until a "
            + "copy verifies.")
    private CopySpec copy = new CopySpec();

    public LimitsSpec getLimits() {
        return limits;
    }

    public void setLimits(LimitsSpec limits) {
        this.limits = limits;
    }

    public String getRollbackDirectory() {
        return rollbackDirectory;
    }

    public void setRollbackDirectory(String rollbackDirectory) {
        this.rollbackDirectory = rollbackDirectory;
    }

    public int getMaxReplans() {
        return maxReplans;
    }

    public void setMaxReplans(int maxReplans) {
        this.maxReplans = maxReplans;
    }

    public CopySpec getCopy() {
        return copy;
    }

    public void setCopy(CopySpec copy) {
        this.copy = copy;
    }

    public int getMaxRetries() {
        return maxRetries;
    }

    public void setMaxRetries(int maxRetries) {
        this.maxRetries = maxRetries;
    }
}
