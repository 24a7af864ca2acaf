package io.dbrollback.coordinator;

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

    /** Releases the underlying call; safe to call more than once. Never throws. */
    @Override
    void close();
}
