package io.dbrollback.model;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;

/**
 * Running summary of a tail as it streams past: count, canonical bytes, SHA-256 and commit-time span.
 * Constant memory whatever the tail's length.
 *
 * <p>One digest may be shared by the stages a tail passes (the stream that reads it, the validator,
 * the file writer): the stream that adds the records hands it on ({@code TailStream.digest()}), and
 * the others read it instead of hashing the same bytes again; they check that it covers the records
 * they saw ({@link #records()}).
 */
public final class TailDigest {

    private final MessageDigest sha256;
    private long records;
    private long bytes;
    private Instant firstCommit;
    private Instant lastCommit;
    private String finished;

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
    private final CanonicalEncoding.Buffer scratch = new CanonicalEncoding.Buffer(512);

    public void add(TailRecord record) {
        scratch.clear();
        int length = scratch.append(record);
        addEncoded(record, scratch.array(), 0, length);
    }

    /**
     * Adds {@code record} whose canonical encoding ({@link CanonicalEncoding.Buffer}) the caller
     * already holds in {@code encoding[offset, offset + length)}: the same as {@link #add}, without
     * encoding it again.
     */
    public void addEncoded(TailRecord record, byte[] encoding, int offset, int length) {
        if (finished != null) {
            throw new IllegalStateException("a finished tail digest takes no more records");
        }
        sha256.update(encoding, offset, length);
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

    /** Lower-case hex SHA-256 of everything added; ends this digest (later calls return the same). */
    public String finish() {
        if (finished == null) {
            finished = HexFormat.of().formatHex(sha256.digest());
        }
        return finished;
    }

    /** Lower-case hex SHA-256 of everything added so far, without ending this digest. */
    public String sha256() {
        if (finished != null) {
            return finished;
        }
        try {
            return HexFormat.of().formatHex(((MessageDigest) sha256.clone()).digest());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("SHA-256 digests can be copied", e);
        }
    }

    /** The SHA-256 of an empty tail. */
    public static String emptySha256() {
        return new TailDigest().finish();
    }
}
