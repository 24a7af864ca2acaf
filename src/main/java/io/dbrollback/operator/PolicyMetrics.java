package io.dbrollback.operator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The autopilot's Prometheus metrics, labelled by the policy ({@code namespace}, {@code policy}):
 * <ul>
 *   <li>{@code dbrollback_failovers_detected_total}: leader changes seen (the first leader a policy
 *       sees is not one);</li>
 *   <li>{@code dbrollback_diverged_nodes}: diverged former primaries of the latest failover whose
 *       rollback has not completed (in Observe mode: the diverged ones);</li>
 *   <li>{@code dbrollback_failover_to_rollback_end_seconds{outcome}}: from the failover's detection to
 *       the end of a rollback the policy created (the phase it ended in). Both ends are read from the
 *       status (wall clock), so that the figure survives a restart of the operator; a negative span
 *       (a clock step back) counts as 0.</li>
 * </ul>
 */
@ApplicationScoped
@Startup
public class PolicyMetrics {

    private final MeterRegistry registry;
    /** Strong references to the gauges' values: Micrometer holds a gauge's state weakly. */
    private final Map<String, AtomicInteger> diverged = new ConcurrentHashMap<>();

    @Inject
    public PolicyMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    void failoverDetected(String namespace, String policy) {
        Counter.builder("dbrollback_failovers_detected_total").description("Leader changes seen by a RollbackPolicy")
                .tag("namespace", namespace).tag("policy", policy).register(registry).increment();
    }

    void divergedNodes(String namespace, String policy, int count) {
        diverged.computeIfAbsent(namespace + "/" + policy, k -> {
            AtomicInteger value = new AtomicInteger();
            Gauge.builder("dbrollback_diverged_nodes", value, AtomicInteger::get)
                    .description("Diverged former primaries of the latest failover whose rollback has not completed")
                    .tag("namespace", namespace).tag("policy", policy).register(registry);
            return value;
        }).set(count);
    }

    void rollbackEnded(String namespace, String policy, String outcome, Duration sinceFailover) {
        Timer.builder("dbrollback_failover_to_rollback_end_seconds")
                .description("From a failover's detection to the end of the rollback a policy created")
                .tag("namespace", namespace).tag("policy", policy).tag("outcome", outcome)
                .register(registry).record(sinceFailover.isNegative() ? Duration.ZERO : sinceFailover);
    }

    /** A policy found stored that could not be read (once per policy and problem in this process). */
    void unreadable() {
        RollbackMetrics.unreadableCounter(registry, "RollbackPolicy").increment();
    }

    /** The policy is gone: its gauge goes with it. */
    void forget(String namespace, String policy) {
        AtomicInteger value = diverged.remove(namespace + "/" + policy);
        if (value != null) {
            registry.find("dbrollback_diverged_nodes").tag("namespace", namespace).tag("policy", policy).gauges()
                    .forEach(registry::remove);
        }
    }
}
