package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** When the rollback first entered a phase. */
public class StepTime {

    @JsonPropertyDescription("The phase.")
    private String phase;

    @JsonPropertyDescription("When (RFC 3339).")
    private String time;

    public String getPhase() {
        return phase;
    }

    public void setPhase(String phase) {
        this.phase = phase;
    }

    public String getTime() {
        return time;
    }

    public void setTime(String time) {
        this.time = time;
    }
}
