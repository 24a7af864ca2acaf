package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The divergent tail that was read and saved (never its contents). */
public class TailStatus {

    @JsonPropertyDescription("The fork LSN: the tail starts after it.")
    private Long fromLsn;

    @JsonPropertyDescription("The last LSN of the tail.")
    private Long toLsn;

    @JsonPropertyDescription("How many records the tail holds.")
    private Long records;

    @JsonPropertyDescription("Size of the records' canonical encoding.")
    private Long bytes;

    @JsonPropertyDescription("SHA-256 of the records' canonical encoding, computed while streaming.")
    private String sha256;

    @JsonPropertyDescription("Commit time of the earliest divergent record (RFC 3339).")
    private String firstCommit;

    @JsonPropertyDescription("Commit time of the latest divergent record (RFC 3339).")
    private String lastCommit;

    @JsonPropertyDescription("How many of the records are changes the node could not capture whole (op"
            + " UNCAPTURED in the file: for PostgreSQL a TRUNCATE, an old row the WAL holds in part, a transaction"
            + " with no decodable change); absent when none. Such a tail always waits for approval.")
    private Long uncapturedRecords;

    public Long getFromLsn() {
        return fromLsn;
    }

    public void setFromLsn(Long fromLsn) {
        this.fromLsn = fromLsn;
    }

    public Long getToLsn() {
        return toLsn;
    }

    public void setToLsn(Long toLsn) {
        this.toLsn = toLsn;
    }

    public Long getRecords() {
        return records;
    }

    public void setRecords(Long records) {
        this.records = records;
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

    public String getFirstCommit() {
        return firstCommit;
    }

    public void setFirstCommit(String firstCommit) {
        this.firstCommit = firstCommit;
    }

    public String getLastCommit() {
        return lastCommit;
    }

    public void setLastCommit(String lastCommit) {
        this.lastCommit = lastCommit;
    }

    public Long getUncapturedRecords() {
        return uncapturedRecords;
    }

    public void setUncapturedRecords(Long uncapturedRecords) {
        this.uncapturedRecords = uncapturedRecords;
    }
}
