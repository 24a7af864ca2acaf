package io.dbrollback.model;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Running summary of a tail as it streams past: count, canonical bytes, SHA-256 and commit-time span.
 * Constant memory whatever the tail's length.
 */
public final class TailDigest {

    private final MessageDigest sha256;
    private long records;
    private long bytes;
    private Instant firstCommit;
    private Instant lastCommit;

    public TailDigest() {
        this.sha256 = newSha256();
    }

    public static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** Reused for every record: the encoding is hashed with one update call. */
    private byte[] scratch = new byte[512];
    private int used;

    public void add(TailRecord record) {
        used = 0;
        int length = CanonicalEncoding.encode(record, this::collect);
        sha256.update(scratch, 0, used);
        bytes += length;
        records++;
        Instant t = record.commitTime();
        if (firstCommit == null || t.isBefore(firstCommit)) {
            firstCommit = t;
        }
        if (lastCommit == null || t.isAfter(lastCommit)) {
            lastCommit = t;
        }
    }

    private void collect(byte[] buffer, int offset, int length) {
        if (used + length > scratch.length) {
            scratch = Arrays.copyOf(scratch, Math.max(scratch.length * 2, used + length));
        }
        System.arraycopy(buffer, offset, scratch, used, length);
        used += length;
    }

    public long records() {
        return records;
    }

    public long bytes() {
        return bytes;
    }

    /** The earliest commit time seen, or null for an empty tail. */
    public Instant firstCommit() {
        return firstCommit;
    }

    /** The latest commit time seen, or null for an empty tail. */
    public Instant lastCommit() {
        return lastCommit;
    }

    /** Lower-case hex SHA-256 of everything added; ends this digest. */
    public String finish() {
        return HexFormat.of().formatHex(sha256.digest());
    }

    /** The SHA-256 of an empty tail. */
    public static String emptySha256() {
        return new TailDigest().finish();
    }
}
