package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;

/** Limits on a tail rolled back without approval. */
public class LimitsSpec {

    @Default("1000000")
    @Min(0)
    @JsonPropertyDescription("Most records rolled back without approval.")
    private long maxRecords = 1_000_000;

    @Default("1073741824")
    @Min(0)
    @JsonPropertyDescription("Most bytes (of the canonical record encoding) rolled back without approval.")
    private long maxBytes = 1L << 30;

    @Default("24h")
    @Size(min = 2, max = 24)
    @Pattern("^([0-9]{1,6}h)?([0-9]{1,6}m)?([0-9]{1,6}s)?$")
    @JsonPropertyDescription("Longest time between the first and the last divergent commit rolled back without "
            + "approval, as hours, minutes and seconds (for example 24h, 90m, 1h30m). MongoDB's default is 24h.")
    private String maxSpan = "24h";

    public long getMaxRecords() {
        return maxRecords;
    }

    public void setMaxRecords(long maxRecords) {
        this.maxRecords = maxRecords;
    }

    public long getMaxBytes() {
        return maxBytes;
    }

    public void setMaxBytes(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    public String getMaxSpan() {
        return maxSpan;
    }

    public void setMaxSpan(String maxSpan) {
        this.maxSpan = maxSpan;
    }
}
