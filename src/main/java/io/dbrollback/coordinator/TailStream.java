package io.dbrollback.coordinator;

import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import java.util.Iterator;

/**
 * A divergent tail being read from a node, one record at a time, in LSN order. Implementations keep
 * only a bounded window in memory (flow control), so a tail of any length passes in constant memory.
 *
 * <p>{@link #hasNext()} and {@link #next()} throw {@link TransportException} when the stream breaks
 * (cut short, missing trailer, per-chunk checksum mismatch); that outcome is retried, never trusted.
 */
public interface TailStream extends Iterator<TailRecord>, AutoCloseable {

    /**
     * The running digest of exactly the records this stream has handed out by {@link #next()}, when
     * the stream keeps one (null otherwise). A stage that would digest the same records again (the
     * validator, the file writer) reads this one instead: the canonical encoding is hashed once per
     * record. Readers never add to it, and check that it covers the records they saw.
     */
    default TailDigest digest() {
        return null;
    }

    /** Releases the underlying call; safe to call more than once. Never throws. */
    @Override
    void close();
}
