package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** What to roll back and how carefully. */
@ValidationRule(value = "self.targetPod == oldSelf.targetPod",
        message = "targetPod cannot change once the rollback exists; create a new ReplicaSetRollback")
@ValidationRule(value = ReplicaSetRollbackSpec.SAME_LEADER, message = "the cluster's leader (cluster.leaseName, "
        + "cluster.leader.lease.name or cluster.leader.patroni.scope) cannot change once the rollback exists")
public class ReplicaSetRollbackSpec {

    /**
     * The CEL rule that keeps the leader's identity ("Lease/name" or "Patroni/scope") fixed: leaseName and
     * leader.lease.name name the same Lease; Patroni's dcs may be corrected. Every optional field is tested
     * with has() first.
     */
    static final String SAME_LEADER = "(has(self.cluster.leaseName) ? 'Lease/' + self.cluster.leaseName"
            + " : !has(self.cluster.leader) ? ''"
            + " : has(self.cluster.leader.lease) ? 'Lease/' + self.cluster.leader.lease.name"
            + " : has(self.cluster.leader.patroni) ? 'Patroni/' + self.cluster.leader.patroni.scope : '')"
            + " == (has(oldSelf.cluster.leaseName) ? 'Lease/' + oldSelf.cluster.leaseName"
            + " : !has(oldSelf.cluster.leader) ? ''"
            + " : has(oldSelf.cluster.leader.lease) ? 'Lease/' + oldSelf.cluster.leader.lease.name"
            + " : has(oldSelf.cluster.leader.patroni) ? 'Patroni/' + oldSelf.cluster.leader.patroni.scope : '')";

    @Required
    @JsonPropertyDescription("The replicated database cluster the target belongs to: how to find its pods, its leader "
            + "(a Lease or Patroni) and their agents.")
    private ClusterSpec cluster;

    @Required
    @Size(min = 1, max = 253)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    @JsonPropertyDescription("Name of the pod of the former primary to roll back. It must match "
            + "cluster.podSelector and must not be the cluster's leader: the live primary is never rolled back.")
    private String targetPod;

    @Min(1)
    @JsonPropertyDescription("When set, the rollback proceeds only while the leader's term (the Lease's term, or with "
            + "Patroni the leader's PostgreSQL timeline) is exactly this one; otherwise it is aborted with reason "
            + "UnexpectedTerm and nothing is done.")
    private Long expectedTerm;

    @JsonPropertyDescription("How large a divergent tail may be rolled back without approval. Exceeding a limit parks "
            + "the rollback in AwaitingApproval after the tail is saved and verified; it never fails it.")
    private LimitsSpec limits = new LimitsSpec();

    @Default("Automatic")
    @JsonPropertyDescription("Automatic: proceed when the verified tail is within the limits. Manual: "
            + "always wait, with the verified file in hand, for the dbrollback.io/approve annotation naming the "
            + "file's SHA-256.")
    private Approval approval = Approval.Automatic;

    @Default("false")
    @JsonPropertyDescription("Plan only: compute and record the fork point and the expected tail, make no call that "
            + "changes anything, and stop in phase DryRunCompleted.")
    private boolean dryRun;

    @Default("/var/lib/dbrollback/rollback")
    @Size(min = 2, max = 200)
    @Pattern("^/[A-Za-z0-9._/-]*$")
    @ValidationRule(value = "!self.contains('..') && !self.contains('//')",
            message = "rollbackDirectory must be a plain absolute path without '..' or '//'")
    @JsonPropertyDescription("Absolute directory, on the target pod's data volume (in "
            + "cluster.dataContainer), where the rollback file is written (mode 0600 in a 0700 directory).")
    private String rollbackDirectory = "/var/lib/dbrollback/rollback";

    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    @Size(max = 253)
    @JsonPropertyDescription("Secret (in this namespace) with ca.crt, and tls.crt/tls.key for mutual TLS, "
            + "used to reach the agents over gRPC; plaintext when unset.")
    private String agentTlsSecret;

    @Default("3")
    @Min(0)
    @Max(20)
    @JsonPropertyDescription("How often the plan may be redone (the leader or term changed before anything was "
            + "removed) before the rollback fails with reason PlanUnstable.")
    private int maxReplans = 3;

    @Default("8")
    @Min(0)
    @Max(100)
    @JsonPropertyDescription("How many failed attempts that waiting cannot cure (an agent answer that breaks the "
            + "protocol, a transfer that fails its checks, an unexpected refusal, a stalled stream) and repeated "
            + "fences one plan may take before the rollback fails closed with that failure's reason. An agent that "
            + "does not answer at all is waited for (backoff up to a minute) without limit.")
    private int maxRetries = 8;

    @JsonPropertyDescription("The off-node copy: after the rollback file is verified and before anything is removed, "
            + "it is copied to a second place and the copy read back and verified, so that losing the target pod's "
            + "volume does not lose the file. Default: to another pod's agent, waiting until a copy verifies.")
    private CopySpec copy = new CopySpec();

    /** Approval modes. */
    public enum Approval {
        Automatic,
        Manual
    }

    public ClusterSpec getCluster() {
        return cluster;
    }

    public void setCluster(ClusterSpec cluster) {
        this.cluster = cluster;
    }

    public String getTargetPod() {
        return targetPod;
    }

    public void setTargetPod(String targetPod) {
        this.targetPod = targetPod;
    }

    public Long getExpectedTerm() {
        return expectedTerm;
    }

    public void setExpectedTerm(Long expectedTerm) {
        this.expectedTerm = expectedTerm;
    }

    public LimitsSpec getLimits() {
        return limits;
    }

    public void setLimits(LimitsSpec limits) {
        this.limits = limits;
    }

    public Approval getApproval() {
        return approval;
    }

    public void setApproval(Approval approval) {
        this.approval = approval;
    }

    public boolean isDryRun() {
        return dryRun;
    }

    public void setDryRun(boolean dryRun) {
        this.dryRun = dryRun;
    }

    public String getRollbackDirectory() {
        return rollbackDirectory;
    }

    public void setRollbackDirectory(String rollbackDirectory) {
        this.rollbackDirectory = rollbackDirectory;
    }

    public String getAgentTlsSecret() {
        return agentTlsSecret;
    }

    public void setAgentTlsSecret(String agentTlsSecret) {
        this.agentTlsSecret = agentTlsSecret;
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
