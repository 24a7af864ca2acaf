package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** A standard condition (type, status, reason, message, lastTransitionTime, observedGeneration). */
public class Condition {

    @JsonPropertyDescription("Ready, Progressing, AwaitingApproval, Blocked, Paused or Failed.")
    private String type;

    @JsonPropertyDescription("True, False or Unknown.")
    private String status;

    @JsonPropertyDescription("CamelCase reason.")
    private String reason;

    @JsonPropertyDescription("Human-readable detail.")
    private String message;

    @JsonPropertyDescription("When status last changed (RFC 3339).")
    private String lastTransitionTime;

    @JsonPropertyDescription("The spec generation the condition was computed from.")
    private Long observedGeneration;

    public String getType() {
        return type;
    }

    public void setType(String type) {
        this.type = type;
    }

    public String getStatus() {
        return status;
    }

    public void setStatus(String status) {
        this.status = status;
    }

    public String getReason() {
        return reason;
    }

    public void setReason(String reason) {
        this.reason = reason;
    }

    public String getMessage() {
        return message;
    }

    public void setMessage(String message) {
        this.message = message;
    }

    public String getLastTransitionTime() {
        return lastTransitionTime;
    }

    public void setLastTransitionTime(String lastTransitionTime) {
        this.lastTransitionTime = lastTransitionTime;
    }

    public Long getObservedGeneration() {
        return observedGeneration;
    }

    public void setObservedGeneration(Long observedGeneration) {
        this.observedGeneration = observedGeneration;
    }
}
