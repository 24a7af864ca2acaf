package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** A rollback a policy created with approval Automatic. */
public class AutomaticRollbackStatus {

    @JsonPropertyDescription("The ReplicaSetRollback's name.")
    private String name;

    @JsonPropertyDescription("The term of the failover it answers.")
    private Long term;

    @JsonPropertyDescription("When it was created (RFC 3339).")
    private String createdAt;

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public Long getTerm() {
        return term;
    }

    public void setTerm(Long term) {
        this.term = term;
    }

    public String getCreatedAt() {
        return createdAt;
    }

    public void setCreatedAt(String createdAt) {
        this.createdAt = createdAt;
    }
}
