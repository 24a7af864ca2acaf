package io.dbrollback.model;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What a divergent tail holds, counted by the agent without sending it: records, bytes (of the
 * canonical record encoding), the commit-time span, and what it touches (tables or key ranges, as the
 * agent names them, with counts; at most {@link #MAX_TOUCHES}, {@code touchesTruncated} when more).
 *
 * @param firstCommit null when the tail is empty or the agent does not know it
 * @param lastCommit null when the tail is empty or the agent does not know it
 */
public record TailSummary(long records, long bytes, Instant firstCommit, Instant lastCommit, List<Touch> touches,
        boolean touchesTruncated) {

    /** Most touches an answer may carry. */
    public static final int MAX_TOUCHES = 20;

    /** One table or key range and how many records of the tail touch it. */
    public record Touch(String name, long records) {
        public Touch {
            Objects.requireNonNull(name, "name");
            if (records < 1) {
                throw new IllegalArgumentException("a touch counts at least one record");
            }
        }
    }

    public TailSummary {
        if (records < 0 || bytes < 0) {
            throw new IllegalArgumentException("records and bytes are not negative");
        }
        touches = List.copyOf(touches);
        if (touches.size() > MAX_TOUCHES) {
            throw new IllegalArgumentException("at most " + MAX_TOUCHES + " touches");
        }
    }
}
