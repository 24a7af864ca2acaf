package io.dbrollback.model;

/**
 * A log sequence number: the position of one record in a node's replicated log.
 *
 * <p>LSNs are dense: the first record of a log has LSN 1, every later record the previous LSN plus
 * one. {@link #ZERO} stands for "before the first record" (an empty log, or a fork point at which the
 * two logs share nothing).
 */
public record Lsn(long value) implements Comparable<Lsn> {

    /** The position before the first record. */
    public static final Lsn ZERO = new Lsn(0);

    public Lsn {
        if (value < 0) {
            throw new IllegalArgumentException("an LSN is never negative, got " + value);
        }
    }

    public static Lsn of(long value) {
        return value == 0 ? ZERO : new Lsn(value);
    }

    public Lsn next() {
        return new Lsn(Math.addExact(value, 1));
    }

    public boolean isAfter(Lsn other) {
        return value > other.value;
    }

    public boolean isBefore(Lsn other) {
        return value < other.value;
    }

    public static Lsn min(Lsn a, Lsn b) {
        return a.value <= b.value ? a : b;
    }

    /** Number of records in the half-open range (this, inclusiveEnd]; zero when the range is empty. */
    public long distanceTo(Lsn inclusiveEnd) {
        return Math.max(0, inclusiveEnd.value - value);
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compare(value, other.value);
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
