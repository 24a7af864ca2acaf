package io.dbrollback.node;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A deterministic clock for tests and demos: the first reading is the start instant, each further
 * reading one second later. A node stamps each write with one reading, so the same writes give the
 * same commit times, the same log and the same tail digest on every run.
 */
public final class SteppingClock extends Clock {

    private final Instant start;
    private final AtomicLong readings = new AtomicLong();

    public SteppingClock(Instant start) {
        this.start = start;
    }

    @Override
    public Instant instant() {
        return start.plusSeconds(readings.getAndIncrement());
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        throw new UnsupportedOperationException("a stepping clock is UTC only");
    }
}
