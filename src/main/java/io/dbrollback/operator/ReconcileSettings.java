package io.dbrollback.operator;

import java.time.Duration;

/**
 * How the reconciler paces itself ({@code dbrollback.reconcile.*} and {@code dbrollback.retry.*}).
 *
 * @param maxSteps how many coordinator steps one reconcile may take before it yields the thread
 * @param waitRecheck when to look again at a rollback that waits (for approval, a pause, a missing leader)
 * @param blockedRecheck when to look again at a rollback held by a {@link BlockReason} or a defect
 * @param initialBackoff the backoff before the second attempt of a failed step, doubled per attempt
 * @param maxBackoff the longest backoff between two attempts of a failed step
 */
public record ReconcileSettings(int maxSteps, Duration waitRecheck, Duration blockedRecheck, Duration initialBackoff,
        Duration maxBackoff) {

    /** The deployed defaults: 40 steps, 10 s, 20 s, 1 s doubled up to 60 s. */
    public static final ReconcileSettings DEFAULTS = new ReconcileSettings(40, Duration.ofSeconds(10),
            Duration.ofSeconds(20), Duration.ofSeconds(1), Duration.ofSeconds(60));

    public ReconcileSettings {
        if (maxSteps < 1) {
            throw new IllegalArgumentException("dbrollback.reconcile.max-steps must be at least 1");
        }
        positive(waitRecheck, "dbrollback.reconcile.wait-recheck");
        positive(blockedRecheck, "dbrollback.reconcile.blocked-recheck");
        positive(initialBackoff, "dbrollback.retry.initial-backoff");
        positive(maxBackoff, "dbrollback.retry.max-backoff");
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("dbrollback.retry.initial-backoff must be positive and at most"
                    + " dbrollback.retry.max-backoff");
        }
    }

    private static void positive(Duration d, String property) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(property + " must be positive");
        }
    }

    /** These settings with another step limit per reconcile. */
    public ReconcileSettings withMaxSteps(int steps) {
        return new ReconcileSettings(steps, waitRecheck, blockedRecheck, initialBackoff, maxBackoff);
    }

    /** These settings with another failed-step backoff. */
    public ReconcileSettings withBackoff(Duration initial, Duration max) {
        return new ReconcileSettings(maxSteps, waitRecheck, blockedRecheck, initial, max);
    }

    /**
     * How long to wait before attempt {@code attempts + 1} of a failed step: the initial backoff,
     * doubled per failed attempt, at most the maximum.
     */
    public Duration backoff(int attempts) {
        int doublings = Math.min(30, Math.max(0, attempts - 1));
        Duration d = initialBackoff.multipliedBy(1L << doublings);
        return d.compareTo(maxBackoff) > 0 || d.isNegative() ? maxBackoff : d;
    }
}
