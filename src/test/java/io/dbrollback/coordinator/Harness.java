package io.dbrollback.coordinator;

import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.SimulatedCrash;
import io.dbrollback.model.TailRecord;
import io.dbrollback.node.SteppingClock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The operator's loop around the coordinator, over a {@link FakeCluster}: observe, step, record the
 * checkpoint. A {@link SimulatedCrash} loses the step in flight and restarts with a fresh runner from
 * the last recorded checkpoint, as a restarted operator would.
 */
public final class Harness {

    static final String TARGET = "n0";

    public final FakeCluster cluster;
    /** Each reading one second after the last, the first at 00:00:01. */
    final SteppingClock clock = new SteppingClock(Instant.parse("2026-02-01T00:00:01Z"));
    public IncidentSpec spec;
    public Checkpoint saved;
    RollbackRunner runner;
    final List<String> trace = new ArrayList<>();
    final List<TailRecord> targetLogBefore;
    int crashes;
    int steps;

    public Harness(FakeCluster cluster, IncidentSpec spec) {
        this.cluster = cluster;
        this.spec = spec;
        this.saved = Checkpoint.start(spec.incidentId(), clock.instant());
        this.runner = new RollbackRunner(cluster, clock);
        this.targetLogBefore = cluster.node(spec.targetNode()).log();
    }

    public static IncidentSpec spec() {
        return IncidentSpec.automatic("inc-1", "orders-db", TARGET);
    }

    /** One observe-step-record round; null when the operator crashed in it. */
    public RollbackRunner.Step step() {
        steps++;
        try {
            RollbackRunner.Step s = runner.step(spec, saved, cluster.observe(spec.targetNode()));
            saved = s.checkpoint();
            trace.add(s.kind() + " " + describe(s.decision()) + " -> " + saved.phase()
                    + (saved.lastError() != null && s.kind() == RollbackRunner.Step.Kind.RETRY
                            ? " [" + saved.lastError() + "]" : "")
                    + (saved.reason() != null ? " (" + saved.reason() + ")" : ""));
            return s;
        } catch (SimulatedCrash c) {
            crashes++;
            trace.add("CRASH " + c.getMessage() + "; restart from " + saved.phase());
            runner = new RollbackRunner(cluster, clock);
            return null;
        }
    }

    /** Steps until the incident is over or waits; retries and crashes go on. */
    public Checkpoint run(int maxSteps) {
        for (int i = 0; i < maxSteps; i++) {
            RollbackRunner.Step s = step();
            if (s != null && (s.kind() == RollbackRunner.Step.Kind.DONE
                    || s.kind() == RollbackRunner.Step.Kind.WAITING)) {
                return saved;
            }
        }
        throw new AssertionError("no end after " + maxSteps + " steps:\n" + traceText());
    }

    public Checkpoint run() {
        return run(200);
    }

    /** Steps until the recorded phase is {@code phase}. */
    public Checkpoint runUntil(Phase phase) {
        for (int i = 0; i < 200 && saved.phase() != phase; i++) {
            RollbackRunner.Step s = step();
            if (s != null && s.kind() == RollbackRunner.Step.Kind.DONE) {
                break;
            }
        }
        if (saved.phase() != phase) {
            throw new AssertionError("never reached " + phase + ":\n" + traceText());
        }
        return saved;
    }

    public String traceText() {
        return String.join("\n", trace);
    }

    private static String describe(Decision d) {
        if (d instanceof Decision.Act a) {
            return a.action() + "@" + a.term();
        }
        if (d instanceof Decision.Wait w) {
            return "wait " + w.reason();
        }
        return d.getClass().getSimpleName();
    }
}
