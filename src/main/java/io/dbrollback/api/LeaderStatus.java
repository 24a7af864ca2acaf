package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The leader of a cluster as the operator read it. */
public class LeaderStatus {

    @JsonPropertyDescription("The pod that holds the leadership.")
    private String holder;

    @JsonPropertyDescription("The leader's term (for PostgreSQL: its timeline).")
    private Long term;

    @JsonPropertyDescription("Where it was read, for example Lease orders-leader or Patroni ConfigMap orders-leader.")
    private String source;

    @JsonPropertyDescription("When the operator first saw this holder and term (RFC 3339).")
    private String since;

    public String getHolder() {
        return holder;
    }

    public void setHolder(String holder) {
        this.holder = holder;
    }

    public Long getTerm() {
        return term;
    }

    public void setTerm(Long term) {
        this.term = term;
    }

    public String getSource() {
        return source;
    }

    public void setSource(String source) {
        this.source = source;
    }

    public String getSince() {
        return since;
    }

    public void setSince(String since) {
        this.since = since;
    }
}
