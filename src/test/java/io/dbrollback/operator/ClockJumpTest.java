package io.dbrollback.operator;

import static io.dbrollback.testing.RollbackChecks.ALL_PHASES;
import static io.dbrollback.testing.RollbackChecks.assertCompletedOnce;
import static io.dbrollback.testing.RollbackChecks.events;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.Condition;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.fabric8.kubernetes.api.model.Event;
import io.micrometer.core.instrument.Timer;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Clock jumps (F11): the operator's wall clock jumps backward by hours and forward by days between
 * every two steps of a real rollback. Wall time is only ever written down (status times, Event
 * timestamps, the file header), so the rollback takes exactly the steps it takes with a steady clock,
 * every recorded time is what the clock said at that step, and no duration in the metrics is negative
 * or stretched by a jump.
 */
@IntegrationTest
class ClockJumpTest {

    private static final Instant T0 = Instant.parse("2031-03-01T12:00:00Z");
    /** The wall time at the start of each step: step k makes the k-th phase of {@link RollbackChecks#ALL_PHASES}. */
    private static final List<Instant> STEP_STARTS = List.of(
            T0,                                                     // Planned
            T0.minus(Duration.ofHours(3)),                          // Fenced: 3 hours back
            T0.plus(Duration.ofDays(2)),                            // TailPersisted: 2 days ahead
            T0.plus(Duration.ofDays(2)).minus(Duration.ofHours(5)), // Verified: 5 hours back
            T0.plus(Duration.ofDays(9)),                            // Recovering: a week ahead
            T0.minus(Duration.ofDays(1)),                           // Recovered: 10 days back
            T0.plus(Duration.ofDays(30)),                           // EventEmitted: a month ahead
            T0.plus(Duration.ofDays(30)).minus(Duration.ofHours(12)), // Rejoined: half a day back
            T0.plus(Duration.ofDays(400)));                         // Completed: a year ahead

    private MockApiServer api;
    private InProcessOperator operator;

    /**
     * The steps of a rollback, one coordinator step each: every phase, and between Recovering and
     * Recovered the step that records the node's answer to the recover (the next step confirms it
     * from the node's timeline).
     */
    static final List<String> STEPS = Stream.of(ALL_PHASES.subList(0, 4).stream(), Stream.of("Verified (copied)"),
            ALL_PHASES.subList(4, 5).stream(), Stream.of("Recovering (answered)"),
            ALL_PHASES.subList(5, ALL_PHASES.size()).stream()).flatMap(x -> x).toList();

    @BeforeEach
    void start() {
        api = MockApiServer.start();
    }

    @AfterEach
    void stop() {
        try {
            if (operator != null) {
                operator.close();
            }
        } finally {
            api.close();
        }
    }

    @Test
    void aRollbackUnderAJumpingClockTakesTheSameStepsAndRecordsWhatTheClockSaid() throws Exception {
        JumpingClock clock = new JumpingClock(T0.minus(Duration.ofHours(1)));
        // The reconciler takes a permit before every coordinator step: the clock jumps right there.
        Semaphore steps = new Semaphore(Integer.MAX_VALUE) {
            @Override
            public boolean tryAcquire() {
                boolean ok = super.tryAcquire();
                if (ok) {
                    clock.nextStep();
                }
                return ok;
            }
        };
        long began = System.nanoTime();
        operator = new InProcessOperator(api, clock, steps);
        try (DbCluster db = new DbCluster(api, api.client(), "jumps")) {
            db.failover();
            api.client().resources(ReplicaSetRollback.class).inNamespace("jumps").resource(db.rollback("rb")).create();
            ReplicaSetRollbackStatus s = assertCompletedOnce(api.client(), db, "rb");
            double elapsed = (System.nanoTime() - began) / 1e9;

            // No decision changed: one step per phase, in order, never retried, waiting or re-planned.
            assertEquals(STEPS.size(), clock.step(),
                    "one step per phase, one for the off-node copy and one for the recover's answer");
            assertTrue(s.getAttempts() == null || s.getAttempts() == 0, "attempts " + s.getAttempts());
            assertNull(s.getLastError());
            assertNull(s.getWaiting());
            assertTrue(s.getReplans() == null || s.getReplans() == 0, "replans " + s.getReplans());

            // Every recorded time is what the clock said during the step that recorded it.
            Map<String, Instant> at = new HashMap<>();
            for (StepTime t : s.getSteps()) {
                at.put(t.getPhase(), Instant.parse(t.getTime()));
            }
            assertTrue(clock.saidDuring(0).contains(at.get("Pending")), "Pending at " + at.get("Pending"));
            for (String phase : ALL_PHASES) {
                int k = STEPS.indexOf(phase) + 1;
                assertTrue(clock.saidDuring(k).contains(at.get(phase)), phase + " recorded at " + at.get(phase)
                        + ", the clock said " + clock.saidDuring(k));
            }
            assertTrue(clock.saidDuring(1).contains(Instant.parse(s.getPlan().getPlannedAt())), "planned at "
                    + s.getPlan().getPlannedAt());
            String header = Files.readAllLines(RollbackChecks.fileOf(db, s)).get(0);
            assertEquals(s.getPlan().getPlannedAt(), Json.MAPPER.readTree(header).get("createdAt").asText(),
                    "the file header carries the plan's time");
            for (Condition c : s.getConditions()) {
                assertTrue(clock.said(Instant.parse(c.getLastTransitionTime())), c.getType() + " "
                        + c.getLastTransitionTime());
            }
            List<Event> recorded = events(api.client(), "jumps", "rb");
            for (Event e : recorded) {
                assertTrue(clock.said(Instant.parse(e.getFirstTimestamp())),
                        e.getReason() + " " + e.getFirstTimestamp());
            }
            Event loud = events(api.client(), "jumps", "rb", "NodeRolledBack").get(0);
            assertTrue(clock.saidDuring(STEPS.indexOf("EventEmitted") + 1).contains(Instant.parse(
                    loud.getFirstTimestamp())), "the announcement carries the time of its step");

            // Durations: measured, never negative, never longer than the test itself.
            for (String phase : ALL_PHASES.subList(0, ALL_PHASES.size() - 1)) {
                Timer t = operator.registry.find("dbrollback_phase_duration_seconds").tag("phase", phase).timer();
                assertTrue(t != null && t.count() == 1, phase + " measured once");
                assertTrue(t.max(TimeUnit.SECONDS) >= 0 && t.max(TimeUnit.SECONDS) <= elapsed, phase + " took "
                        + t.max(TimeUnit.SECONDS) + " s, the whole test " + elapsed + " s");
            }
            Timer stream = operator.registry.find("dbrollback_tail_stream_seconds").timer();
            assertEquals(1, stream.count());
            assertTrue(stream.max(TimeUnit.SECONDS) >= 0 && stream.max(TimeUnit.SECONDS) <= elapsed);
        }
    }

    /**
     * A wall clock that the test moves: at each step it jumps to the next of {@link #STEP_STARTS}, and
     * every read returns one millisecond more than the last. It remembers what it said during each step.
     */
    static final class JumpingClock extends Clock {
        private Instant base;
        private long reads;
        private int step;
        private final Map<Integer, List<Instant>> said = new HashMap<>();
        private final Set<Instant> all = new HashSet<>();

        JumpingClock(Instant start) {
            this.base = start;
        }

        synchronized void nextStep() {
            step++;
            base = step <= STEP_STARTS.size() ? STEP_STARTS.get(step - 1)
                    : STEP_STARTS.get(STEP_STARTS.size() - 1).plus(Duration.ofMinutes(step));
            reads = 0;
        }

        synchronized int step() {
            return step;
        }

        synchronized List<Instant> saidDuring(int k) {
            return List.copyOf(said.getOrDefault(k, List.of()));
        }

        synchronized boolean said(Instant t) {
            return all.contains(t);
        }

        @Override
        public synchronized Instant instant() {
            Instant now = base.plusMillis(++reads);
            said.computeIfAbsent(step, k -> new ArrayList<>()).add(now);
            all.add(now);
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }
}
