package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.RecoverResult;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.Term;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Durations in the metrics come from a monotonic source: wall-clock times that jump backward by hours
 * or forward by days between two phases change nothing, and a phase this process did not see begin is
 * not measured at all.
 */
class MonotonicDurationsTest {

    private static final Instant T0 = Instant.parse("2031-03-01T12:00:00Z");

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AtomicLong nanos = new AtomicLong(1_000);

    private Timer phase(String name) {
        return registry.find("dbrollback_phase_duration_seconds").tag("phase", name).timer();
    }

    @Test
    void phaseDurationsIgnoreWallClockJumps() {
        RollbackMetrics metrics = new RollbackMetrics(registry, nanos::get);
        Checkpoint pending = Checkpoint.start("incident", T0);
        metrics.started("ns/rb");
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(5));
        Checkpoint planned = pending.toBuilder().phase(Phase.PLANNED, T0.minus(Duration.ofHours(3))).build();
        metrics.transition("ns/rb", pending, planned, false);
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(2));
        Checkpoint fenced = planned.toBuilder().phase(Phase.FENCED, T0.plus(Duration.ofDays(2))).build();
        metrics.transition("ns/rb", planned, fenced, false);

        assertEquals(1, phase("Pending").count());
        assertEquals(5.0, phase("Pending").totalTime(TimeUnit.SECONDS), 1e-9, "not minus three hours");
        assertEquals(1, phase("Planned").count());
        assertEquals(2.0, phase("Planned").totalTime(TimeUnit.SECONDS), 1e-9, "not two days");
    }

    @Test
    void aPhaseThisProcessDidNotSeeBeginIsNotMeasured() {
        // A restarted operator finds the rollback in Fenced: it cannot know how long Fenced has lasted.
        RollbackMetrics metrics = new RollbackMetrics(registry, nanos::get);
        Checkpoint fenced = Checkpoint.start("incident", T0).toBuilder().phase(Phase.PLANNED, T0)
                .phase(Phase.FENCED, T0.plusSeconds(1)).build();
        Checkpoint persisted = fenced.toBuilder().phase(Phase.TAIL_PERSISTED, T0.plusSeconds(2)).build();
        metrics.transition("ns/rb", fenced, persisted, false);
        assertNull(phase("Fenced"), "no sample taken from the wall clock");
        nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(300));
        Checkpoint verified = persisted.toBuilder().phase(Phase.VERIFIED, T0.minus(Duration.ofDays(1))).build();
        metrics.transition("ns/rb", persisted, verified, false);
        assertEquals(0.3, phase("TailPersisted").totalTime(TimeUnit.SECONDS), 1e-9);
    }

    @Test
    void theTailStreamIsTimedOnTheMonotonicSource() {
        RollbackMetrics metrics = new RollbackMetrics(registry, nanos::get);
        RollbackFile file = new RollbackFile("/data/rollback/f.jsonl", "a".repeat(64), "b".repeat(64), 4096, 5);
        MeteredTransport metered = new MeteredTransport(new NoTransport() {
            @Override
            public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
                nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(1500));
                return new PersistResult.Persisted(file);
            }
        }, metrics);
        metered.persistRollbackFile(null, null);
        Timer stream = registry.find("dbrollback_tail_stream_seconds").timer();
        assertEquals(1, stream.count());
        assertEquals(1.5, stream.totalTime(TimeUnit.SECONDS), 1e-9);
        assertEquals(4096.0, registry.find("dbrollback_tail_stream_bytes_total").counter().count(), 1e-9);
    }

    /** A transport whose every call is unexpected. */
    private static class NoTransport implements RollbackTransport {
        @Override
        public void fence(String node, String incidentId, Term term) {
            throw new UnsupportedOperationException();
        }

        @Override
        public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
            throw new UnsupportedOperationException();
        }

        @Override
        public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
            throw new UnsupportedOperationException();
        }

        @Override
        public VerifyResult verifyRollbackFile(RollbackFile file) {
            throw new UnsupportedOperationException();
        }

        @Override
        public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
                String expectedFileSha256) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void emitRollbackEvent(RollbackEvent event) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
            throw new UnsupportedOperationException();
        }
    }
}
