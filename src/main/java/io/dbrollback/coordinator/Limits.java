package io.dbrollback.coordinator;

import java.time.Duration;
import java.util.Objects;

/**
 * How large a divergent tail may be rolled back without a human saying yes. Exceeding a limit never
 * fails the incident: it parks it in {@link Phase#AWAITING_APPROVAL} with the reason, after the tail
 * is safely persisted and verified, so the human decides with the file in hand.
 *
 * @param maxRecords most records rolled back without approval
 * @param maxBytes most canonical bytes rolled back without approval
 * @param maxSpan longest time between the first and the last divergent commit (MongoDB's
 *     rollbackTimeLimitSecs defaults to 24 h)
 */
public record Limits(long maxRecords, long maxBytes, Duration maxSpan) {

    /** 1,000,000 records, 1 GiB, 24 hours. */
    public static final Limits DEFAULT = new Limits(1_000_000, 1L << 30, Duration.ofHours(24));

    public Limits {
        Objects.requireNonNull(maxSpan, "maxSpan");
        if (maxRecords < 0 || maxBytes < 0 || maxSpan.isNegative()) {
            throw new IllegalArgumentException("limits are never negative");
        }
    }
}
