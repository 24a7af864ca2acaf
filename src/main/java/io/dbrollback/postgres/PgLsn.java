package io.dbrollback.postgres;

/**
 * A PostgreSQL WAL location ({@code pg_lsn}): a byte position in the WAL, written {@code X/Y} (two hex halves).
 * Sparse: consecutive records are not consecutive numbers.
 */
public record PgLsn(long value) implements Comparable<PgLsn> {

    public static PgLsn of(long value) {
        return new PgLsn(value);
    }

    /** Parses {@code X/Y}. */
    public static PgLsn parse(String text) {
        int slash = text.indexOf('/');
        if (slash <= 0 || slash == text.length() - 1) {
            throw new IllegalArgumentException("not an LSN: '" + text + "'");
        }
        long hi = Long.parseLong(text.substring(0, slash), 16);
        long lo = Long.parseLong(text.substring(slash + 1), 16);
        if (hi > 0xFFFFFFFFL || lo > 0xFFFFFFFFL) {
            throw new IllegalArgumentException("not an LSN: '" + text + "'");
        }
        return new PgLsn((hi << 32) | lo);
    }

    /**
     * The name of the WAL segment file holding this location on {@code timeline}, as {@code pg_walfile_name}
     * gives it (a location exactly on a segment boundary belongs to the segment that begins there).
     */
    public String segmentFileName(int timeline, long segmentSize) {
        long segno = value / segmentSize;
        long segmentsPerId = 0x100000000L / segmentSize;
        return String.format("%08X%08X%08X", timeline, segno / segmentsPerId, segno % segmentsPerId);
    }

    /** The form pg_waldump prints ({@code X/%08X}, e.g. {@code 0/04072148}). */
    public String toWaldumpString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/" + String.format("%08X", value & 0xFFFFFFFFL);
    }

    public boolean isAfter(PgLsn other) {
        return compareTo(other) > 0;
    }

    @Override
    public int compareTo(PgLsn o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return Long.toHexString(value >>> 32).toUpperCase() + "/" + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase();
    }
}
