package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** One off-node copy of a plan's rollback file: verified with its digest, or the last failure there. */
public class CopyStatus {

    @JsonPropertyDescription("The plan whose rollback file this copies.")
    private Integer plan;

    @JsonPropertyDescription("The kind of place: Agent (another pod of the cluster, through its agent) or "
            + "ObjectStore (an S3-compatible bucket).")
    private String kind;

    @JsonPropertyDescription("The pod that holds the copy (kind Agent); empty when no pod could be chosen.")
    private String pod;

    @JsonPropertyDescription("The object store that holds the copy (kind ObjectStore): its endpoint and bucket, "
            + "as <endpoint>/<bucket>, or s3://<bucket> for AWS S3.")
    private String store;

    @JsonPropertyDescription("Where the copy is: for kind Agent its absolute path in that pod, as its agent "
            + "reported it; for kind ObjectStore its object, as s3://<bucket>/<key>.")
    private String path;

    @JsonPropertyDescription("Size of the copy as read back (of the file, for a failure).")
    private Long bytes;

    @JsonPropertyDescription("SHA-256 of the copy as read back by the operator: equals rollbackFile.sha256.")
    private String sha256;

    @JsonPropertyDescription("When the copy was read back with the file's size and SHA-256.")
    private String verifiedAt;

    @JsonPropertyDescription("Why the last attempt here failed (NoCopyTarget, SourceUnreadable, Unreachable, "
            + "NoSpace, Refused, TransferBroken, DigestMismatch, CopyFailed); absent once verified.")
    private String failure;

    @JsonPropertyDescription("Human-readable sentence for failure.")
    private String message;

    @JsonPropertyDescription("When the last attempt here failed.")
    private String failedAt;

    public Integer getPlan() {
        return plan;
    }

    public void setPlan(Integer plan) {
        this.plan = plan;
    }

    public String getKind() {
        return kind;
    }

    public void setKind(String kind) {
        this.kind = kind;
    }

    public String getPod() {
        return pod;
    }

    public void setPod(String pod) {
        this.pod = pod;
    }

    public String getStore() {
        return store;
    }

    public void setStore(String store) {
        this.store = store;
    }

    public String getPath() {
        return path;
    }

    public void setPath(String path) {
        this.path = path;
    }

    public Long getBytes() {
        return bytes;
    }

    public void setBytes(Long bytes) {
        this.bytes = bytes;
    }

    public String getSha256() {
        return sha256;
    }

    public void setSha256(String sha256) {
        this.sha256 = sha256;
    }

    public String getVerifiedAt() {
        return verifiedAt;
    }

    public void setVerifiedAt(String verifiedAt) {
        this.verifiedAt = verifiedAt;
    }

    public String getFailure() {
        return failure;
    }

    public void setFailure(String failure) {
        this.failure = failure;
    }

    public String getMessage() {
        return message;
    }

    public void setMessage(String message) {
        this.message = message;
    }

    public String getFailedAt() {
        return failedAt;
    }

    public void setFailedAt(String failedAt) {
        this.failedAt = failedAt;
    }
}
