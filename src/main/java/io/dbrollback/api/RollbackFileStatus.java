package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The durable rollback file that holds the divergent tail. */
public class RollbackFileStatus {

    @JsonPropertyDescription("The pod whose data volume holds the file.")
    private String pod;

    @JsonPropertyDescription("Absolute path of the file in the pod.")
    private String path;

    @JsonPropertyDescription("SHA-256 of the whole file, as sha256sum prints it; also the approval token.")
    private String sha256;

    @JsonPropertyDescription("SHA-256 of the records' canonical encoding (equals tail.sha256).")
    private String tailSha256;

    @JsonPropertyDescription("Size of the file.")
    private Long bytes;

    @JsonPropertyDescription("Records in the file.")
    private Long records;

    public String getPod() {
        return pod;
    }

    public void setPod(String pod) {
        this.pod = pod;
    }

    public String getPath() {
        return path;
    }

    public void setPath(String path) {
        this.path = path;
    }

    public String getSha256() {
        return sha256;
    }

    public void setSha256(String sha256) {
        this.sha256 = sha256;
    }

    public String getTailSha256() {
        return tailSha256;
    }

    public void setTailSha256(String tailSha256) {
        this.tailSha256 = tailSha256;
    }

    public Long getBytes() {
        return bytes;
    }

    public void setBytes(Long bytes) {
        this.bytes = bytes;
    }

    public Long getRecords() {
        return records;
    }

    public void setRecords(Long records) {
        this.records = records;
    }
}
