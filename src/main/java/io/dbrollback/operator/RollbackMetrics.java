package io.dbrollback.operator;

import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.CopyResult;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.RollbackCopier;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The operator's Prometheus metrics (Micrometer), all prefixed {@code dbrollback_}:
 * <ul>
 *   <li>{@code dbrollback_rollbacks_total{outcome}}: rollbacks ended, by phase/reason;</li>
 *   <li>{@code dbrollback_phase_duration_seconds{phase}}: time spent in each phase;</li>
 *   <li>{@code dbrollback_records_rolled_back_total}, {@code dbrollback_bytes_rolled_back_total};</li>
 *   <li>{@code dbrollback_tail_stream_seconds} and {@code dbrollback_tail_stream_bytes_total}: the tail
 *       streamed into rollback files (throughput = bytes / seconds);</li>
 *   <li>{@code dbrollback_blocked_rollbacks}: rollbacks waiting or blocked right now;</li>
 *   <li>{@code dbrollback_agent_call_errors_total{call,code}}: failed calls to agents and pods;</li>
 *   <li>{@code dbrollback_copies_total{kind,outcome}}: attempts at the off-node copy, by kind of place
 *       (Agent, ObjectStore) and outcome (Verified, or the failure as {@code status.copies[].failure} names
 *       it); {@code dbrollback_copy_bytes_total{kind}}: bytes of the copies that verified;
 *       {@code dbrollback_copy_seconds{kind}}: how long a copy step took (stream, store and read back);</li>
 *   <li>{@code dbrollback_unreadable_resources_total{kind}}: objects found stored that could not be
 *       read (a ReplicaSetRollback once per problem in this process; every read of a Lease, the Pods,
 *       a Secret or a Patroni ConfigMap or Endpoints that failed so), shown at 0 from the start for
 *       every kind.</li>
 * </ul>
 *
 * <p>Durations come from a monotonic source ({@link System#nanoTime()}), never from the wall clock, so
 * that a clock jump cannot make one negative or days long. A phase is measured only when this process
 * saw it begin: one entered before the operator (re)started has no monotonic start and is left out
 * (the status record keeps the wall-clock time of every phase).
 */
@ApplicationScoped
@Startup // made at start, so that every counter is shown (at 0) before the first rollback
public class RollbackMetrics {

    private final MeterRegistry registry;
    private final LongSupplier nanoTime;
    private final Map<String, Boolean> blocked = new ConcurrentHashMap<>();
    /** Per rollback: the phase this process saw it enter, and when (monotonic nanoseconds). */
    private final Map<String, Entered> entered = new ConcurrentHashMap<>();

    private record Entered(Phase phase, long nanos) {
    }

    @Inject
    public RollbackMetrics(MeterRegistry registry) {
        this(registry, System::nanoTime);
    }

    /** @param nanoTime the monotonic source of durations */
    RollbackMetrics(MeterRegistry registry, LongSupplier nanoTime) {
        this.registry = registry;
        this.nanoTime = nanoTime;
        // A strong reference: Micrometer holds a gauge's state weakly by default, and a gauge whose state
        // was collected reports NaN or vanishes from the scrape (seen once in CI).
        Gauge.builder("dbrollback_blocked_rollbacks", blocked,
                m -> m.values().stream().filter(b -> b).count())
                .description("rollbacks waiting or blocked right now").strongReference(true).register(registry);
        UNREADABLE_KINDS.forEach(kind -> unreadableCounter(registry, kind));
        for (String kind : List.of(FileCopy.AGENT, FileCopy.OBJECT_STORE)) {
            copiesCounter(kind, VERIFIED);
            copyBytes(kind);
        }
    }

    private static final String VERIFIED = "Verified";

    private Counter copiesCounter(String kind, String outcome) {
        return Counter.builder("dbrollback_copies_total").tag("kind", kind).tag("outcome", outcome)
                .description("attempts at the off-node copy of a rollback file").register(registry);
    }

    private Counter copyBytes(String kind) {
        return Counter.builder("dbrollback_copy_bytes_total").tag("kind", kind)
                .description("bytes of off-node copies that were read back and verified").register(registry);
    }

    /**
     * {@code copier}, counted: every attempt by kind and outcome (a copy read back with other bytes than the
     * file's counts as DigestMismatch, as the coordinator records it), and the time of the whole step.
     */
    RollbackCopier metered(RollbackCopier copier) {
        return (node, incident, plan, file) -> {
            long start = nanoTime.getAsLong();
            List<CopyResult> attempts = copier.copy(node, incident, plan, file);
            Duration took = Duration.ofNanos(Math.max(0, nanoTime.getAsLong() - start));
            String kind = null;
            for (CopyResult a : attempts == null ? List.<CopyResult>of() : attempts) {
                if (a instanceof CopyResult.Stored st) {
                    kind = st.kind();
                    boolean same = st.bytes() == file.bytes() && st.sha256().equals(file.sha256());
                    copiesCounter(st.kind(), same ? VERIFIED : "DigestMismatch").increment();
                    if (same) {
                        copyBytes(st.kind()).increment(st.bytes());
                    }
                } else if (a instanceof CopyResult.Failed f) {
                    kind = f.kind();
                    copiesCounter(f.kind(), f.code()).increment();
                }
            }
            if (kind != null) {
                Timer.builder("dbrollback_copy_seconds").tag("kind", kind)
                        .description("time of an off-node copy step").register(registry).record(took);
            }
            return attempts;
        };
    }

    /** The kinds the operator reads: each has its counter from the start, so that an alert on an increase works. */
    static final List<String> UNREADABLE_KINDS = List.of("ReplicaSetRollback", "RollbackPolicy", "Lease", "Pod",
            "Secret", "ConfigMap", "Endpoints");

    /** {@code dbrollback_unreadable_resources_total{kind}} (also counted by {@link PolicyMetrics}). */
    static Counter unreadableCounter(MeterRegistry registry, String kind) {
        return Counter.builder("dbrollback_unreadable_resources_total").tag("kind", kind)
                .description("objects found stored that could not be read").register(registry);
    }

    /** An object of {@code kind} was found stored that could not be read. */
    void unreadable(String kind) {
        unreadableCounter(registry, kind).increment();
    }

    /** A rollback is blocked without a checkpoint to compare (its status cannot be read back). */
    void blocked(String rollback) {
        blocked.put(rollback, true);
    }

    /** A rollback begins here (its first checkpoint, in phase Pending): its first phase can be measured. */
    void started(String rollback) {
        entered.putIfAbsent(rollback, new Entered(Phase.PENDING, nanoTime.getAsLong()));
    }

    /** Records what changed between two checkpoints of a rollback. */
    void transition(String rollback, Checkpoint before, Checkpoint after, boolean blockedNow) {
        blocked.put(rollback, blockedNow);
        if (before.phase() == after.phase()) {
            return;
        }
        long now = nanoTime.getAsLong();
        Entered seen = entered.put(rollback, new Entered(after.phase(), now));
        if (seen != null && seen.phase() == before.phase()) {
            Timer.builder("dbrollback_phase_duration_seconds").tag("phase", StatusMapper.phaseName(before.phase()))
                    .description("time spent in a phase").register(registry)
                    .record(Duration.ofNanos(Math.max(0, now - seen.nanos())));
        }
        if (after.phase() == Phase.RECOVERED && after.tail() != null && after.file() != null) {
            Counter.builder("dbrollback_records_rolled_back_total").register(registry)
                    .increment(after.tail().recordCount());
            Counter.builder("dbrollback_bytes_rolled_back_total").register(registry).increment(after.tail().bytes());
        }
        if (after.phase().isTerminal()) {
            String outcome = StatusMapper.phaseName(after.phase())
                    + (after.reason() == null ? "" : "/" + after.reason().code());
            Counter.builder("dbrollback_rollbacks_total").tag("outcome", outcome).register(registry).increment();
            blocked.remove(rollback);
            entered.remove(rollback);
        }
    }

    void forget(String rollback) {
        blocked.remove(rollback);
        entered.remove(rollback);
    }

    /** The monotonic time now, in nanoseconds: what durations are measured with. */
    long nanoTime() {
        return nanoTime.getAsLong();
    }

    void tailStreamed(long bytes, Duration took) {
        Counter.builder("dbrollback_tail_stream_bytes_total").register(registry).increment(bytes);
        Timer.builder("dbrollback_tail_stream_seconds").register(registry).record(took);
    }

    void callFailed(String call, String code) {
        Counter.builder("dbrollback_agent_call_errors_total").tag("call", call).tag("code", code).register(registry)
                .increment();
    }
}
