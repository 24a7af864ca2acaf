package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.dbrollback.coordinator.CopyResult;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.model.RollbackFile;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The copy step's metrics: attempts by kind and outcome, verified bytes, and the step's time. */
class CopyMetricsTest {

    private static final RollbackFile FILE = new RollbackFile("/r/x.rollback.jsonl", "a".repeat(64), "b".repeat(64),
            4096, 10);

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final AtomicLong nanos = new AtomicLong(0);
    private final RollbackMetrics metrics = new RollbackMetrics(registry, nanos::get);

    private double copies(String kind, String outcome) {
        Counter c = registry.find("dbrollback_copies_total").tag("kind", kind).tag("outcome", outcome).counter();
        return c == null ? -1 : c.count();
    }

    private double bytes(String kind) {
        return registry.find("dbrollback_copy_bytes_total").tag("kind", kind).counter().count();
    }

    @Test
    void everyKindIsShownAtZeroBeforeTheFirstCopy() {
        assertEquals(0, copies("Agent", "Verified"));
        assertEquals(0, copies("ObjectStore", "Verified"));
        assertEquals(0, bytes("Agent"));
        assertEquals(0, bytes("ObjectStore"));
    }

    @Test
    void eachAttemptIsCountedByItsOutcomeAndOnlyVerifiedBytesCount() {
        List<CopyResult> attempts = List.of(
                new CopyResult.Failed("Agent", "orders-2", "NoSpace", "full"),
                new CopyResult.Stored("Agent", "orders-1", "/c/x", 4096, "a".repeat(64)));
        RollbackCopier copier = (node, incident, plan, file) -> {
            nanos.addAndGet(2_500_000_000L);
            return attempts;
        };
        assertSame(attempts, metrics.metered(copier).copy("orders-0", "inc", 1, FILE));
        assertEquals(1, copies("Agent", "NoSpace"));
        assertEquals(1, copies("Agent", "Verified"));
        assertEquals(4096, bytes("Agent"));
        Timer t = registry.find("dbrollback_copy_seconds").tag("kind", "Agent").timer();
        assertEquals(1, t.count());
        assertEquals(2.5, t.totalTime(TimeUnit.SECONDS), 1e-9);

        metrics.metered((node, incident, plan, file) -> List.of(new CopyResult.Stored("ObjectStore",
                "http://s3/b", "s3://b/k", 4096, "c".repeat(64)))).copy("orders-0", "inc", 1, FILE);
        assertEquals(1, copies("ObjectStore", "DigestMismatch"), "other bytes read back are not a verified copy");
        assertEquals(0, copies("ObjectStore", "Verified"));
        assertEquals(0, bytes("ObjectStore"));
    }
}
