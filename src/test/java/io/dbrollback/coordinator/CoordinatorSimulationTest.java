package io.dbrollback.coordinator;

import io.dbrollback.testing.Seeds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.FakeCluster.Op;
import io.dbrollback.coordinator.fake.FakeNode;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.TailRecord;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * A seeded stateful simulation: random clusters, random specs, random crashes, unknown outcomes,
 * corrupt streams, disk failures, term changes, Lease loss, late client writes and approvals, with
 * the invariants I1-I8 checked after every single step and the outcome checked at the end.
 *
 * <p>Replay one sequence: {@code mvn -B test -Dtest=CoordinatorSimulationTest -Dsim.seed=SEED
 * -Dsim.runs=1}. Explore new sequences with {@code -Dsim.seed=random -Dsim.runs=100000}.
 */
class CoordinatorSimulationTest {

    private static final int RUNS = Integer.getInteger("sim.runs", 10_000);
    private static final int BATCHES = Math.min(100, RUNS);

    @TestFactory
    Stream<DynamicTest> randomSequencesHoldEveryInvariant() {
        long base = Seeds.of("sim.seed", 20261126L);
        int perBatch = (RUNS + BATCHES - 1) / BATCHES;
        return IntStream.range(0, BATCHES).mapToObj(b -> {
            long first = base + (long) b * perBatch;
            int count = (int) Math.min(perBatch, RUNS - (long) b * perBatch);
            return DynamicTest.dynamicTest("seeds " + first + ".." + (first + count - 1), () -> {
                for (int i = 0; i < count; i++) {
                    runOne(first + i);
                }
            });
        });
    }

    private static final List<Fault> TRANSIENT = List.of(Fault.CRASH_BEFORE, Fault.CRASH_AFTER, Fault.UNKNOWN_BEFORE,
            Fault.UNKNOWN_AFTER);

    /** What the world did during a run, to know which endings are legitimate. */
    private static final class World {
        Fault terminalFault;
        boolean commitAboveFork;
        boolean targetTookLease;
        boolean laggingLeaderElected;
        int termChanges;
    }

    static void runOne(long seed) {
        try {
            simulate(seed);
        } catch (AssertionError | RuntimeException e) {
            AssertionError wrapped = new AssertionError("seed " + seed + " (replay: -Dsim.seed=" + seed
                    + " -Dsim.runs=1): " + e.getMessage(), e);
            throw wrapped;
        }
    }

    private static void simulate(long seed) {
        Random rnd = new Random(seed);
        World w = new World();
        FakeCluster c = buildCluster(rnd, w);
        IncidentSpec spec = randomSpec(rnd, seed);
        if (rnd.nextInt(10) == 0) {
            Op op;
            Fault f = switch (rnd.nextInt(9)) {
                case 0 -> Fault.STREAM_GAP;
                case 1 -> Fault.STREAM_DUPLICATE;
                case 2 -> Fault.STREAM_REORDER;
                case 3 -> Fault.STREAM_OUT_OF_RANGE;
                case 4 -> Fault.STREAM_WRONG_TERM;
                case 5 -> Fault.STREAM_SHORT;
                case 6 -> Fault.PERSIST_NO_SPACE;
                case 7 -> Fault.PERSIST_FSYNC;
                default -> Fault.FILE_BITFLIP;
            };
            op = f.isStreamCorruption() ? Op.READ : Op.PERSIST;
            c.inject(op, f);
            w.terminalFault = f;
        }
        int faultPercent = rnd.nextInt(4) * 5;
        c.randomFaults(op -> rnd.nextInt(100) < faultPercent
                ? (op == Op.READ && rnd.nextBoolean() ? Fault.STREAM_CUT : TRANSIENT.get(rnd.nextInt(TRANSIENT.size())))
                : null);

        Harness h = new Harness(c, spec);
        FakeNode target = c.node(Harness.TARGET);
        long initialRollbackId = target.rollbackId();
        boolean leaseHidden = false;
        String hiddenHolder = null;
        long hiddenTerm = 0;
        for (int step = 0; step < 400; step++) {
            if (leaseHidden) {
                c.setLease(hiddenHolder, hiddenTerm);
                leaseHidden = false;
            }
            worldEvents(rnd, c, h, w);
            if (h.saved.phase() != Phase.REJOINED && rnd.nextInt(100) < 2 && c.leaseHolder() != null) {
                hiddenHolder = c.leaseHolder();
                hiddenTerm = c.leaseTerm();
                c.setLease(null, hiddenTerm);
                leaseHidden = true;
            }
            Checkpoint before = h.saved;
            int recoversBefore = target.effectiveRecovers();
            RollbackRunner.Step s = h.step();
            if (s != null && rnd.nextInt(100) < 3) {
                // the operator dies after the step but before its status write
                h.trace.add("CRASH before recording; restart from " + before.phase());
                h.crashes++;
                h.saved = before;
                h.runner = new RollbackRunner(c, h.clock);
            }
            if (target.effectiveRecovers() > recoversBefore) {
                assertEquals(Phase.RECOVERING, before.phase(),
                        "I1: recover only from a recorded intent\n" + h.traceText());
                assertTrue(Coordinator.gates(h.spec, before.tail()).isEmpty()
                        || h.spec.approves(before.file().sha256()),
                        "I5: a gated tail was recovered without approval\n" + h.traceText());
            }
            checkInvariants(h, initialRollbackId);
            if (h.saved.phase().isTerminal()) {
                break;
            }
        }
        if (!h.saved.phase().isTerminal()) {
            fail("no terminal phase after 400 steps\n" + h.traceText());
        }
        checkOutcome(h, w, spec);
        OUTCOMES.merge(h.saved.phase() + "/" + h.saved.reason(), 1, Integer::sum);
    }

    private static final Map<String, Integer> OUTCOMES = new ConcurrentSkipListMap<>();

    @AfterAll
    static void printOutcomes() {
        System.out.println("simulation outcomes: " + OUTCOMES);
    }

    private static FakeCluster buildCluster(Random rnd, World w) {
        FakeCluster c = new FakeCluster("n0", "n1", "n2");
        String[] names = {"n0", "n1", "n2"};
        long term = 1;
        int earlier = rnd.nextInt(3);
        for (int e = 0; e < earlier; e++, term++) {
            String leader = names[rnd.nextInt(3)];
            c.elect(leader, term);
            int n = rnd.nextInt(4);
            for (int i = 0; i < n; i++) {
                c.write(leader, 5, rnd);
            }
            for (String other : names) {
                if (!other.equals(leader)) {
                    c.replicate(leader, other, Long.MAX_VALUE);
                }
            }
        }
        c.elect("n0", term);
        int common = rnd.nextInt(12);
        for (int i = 0; i < common; i++) {
            c.write("n0", 5, rnd);
        }
        long base = c.node("n0").lastLsn();
        c.replicate("n0", "n1", base);
        c.replicate("n0", "n2", base);
        int divergent = rnd.nextInt(10);
        for (int i = 0; i < divergent; i++) {
            c.write("n0", 5, rnd);
        }
        int p = divergent == 0 ? 0 : rnd.nextInt(divergent + 1);
        int q = p == 0 ? 0 : rnd.nextInt(p + 1);
        c.replicate("n0", "n1", base + p);
        c.replicate("n0", "n2", base + q);
        long fork = base + p;
        c.setCommitLsn("n0", rnd.nextInt(3) == 0 ? base : fork);
        if (divergent > p && rnd.nextInt(20) == 0) {
            c.setCommitLsn("n0", fork + 1 + rnd.nextInt(divergent - p));
            w.commitAboveFork = true;
        }
        long newTerm = term + 1 + (rnd.nextInt(4) == 0 ? 1 : 0);
        c.elect("n1", newTerm);
        c.markPrimaryInItsOwnEyes("n0");
        if (rnd.nextInt(3) == 0) {
            c.setNodeTerm("n0", newTerm);
        }
        int after = rnd.nextInt(6);
        for (int i = 0; i < after; i++) {
            c.write("n1", 5, rnd);
        }
        c.follow("n2", "n1");
        c.shipLogs();
        return c;
    }

    private static IncidentSpec randomSpec(Random rnd, long seed) {
        IncidentSpec spec = IncidentSpec.automatic("inc-" + seed, "sim", Harness.TARGET);
        if (rnd.nextInt(5) == 0) {
            spec = spec.withLimits(new Limits(rnd.nextInt(6), rnd.nextBoolean() ? 1L << 30 : rnd.nextInt(400),
                    rnd.nextBoolean() ? Duration.ofHours(1) : Duration.ofMillis(rnd.nextInt(20))));
        }
        if (rnd.nextInt(10) == 0) {
            spec = spec.withApproval(ApprovalMode.MANUAL);
        }
        if (rnd.nextInt(30) == 0) {
            spec = spec.withDryRun(true);
        }
        return spec;
    }

    private static void worldEvents(Random rnd, FakeCluster c, Harness h, World w) {
        Phase phase = h.saved.phase();
        if (phase == Phase.AWAITING_APPROVAL) {
            int r = rnd.nextInt(10);
            if (r < 3) {
                h.spec = h.spec.withApprovalToken(h.saved.file().sha256());
            } else if (r == 3) {
                h.spec = h.spec.withApprovalToken(h.saved.file().sha256().substring(0, 5)); // too short, refused
            } else if (r == 4) {
                h.spec = h.spec.withLimits(Limits.DEFAULT).withApproval(ApprovalMode.AUTOMATIC);
            }
        }
        if (phase == Phase.REJOINED || c.leaseHolder() == null) {
            return;
        }
        if (rnd.nextInt(100) < 5) {
            c.clientWrite("n0", rnd);
        }
        if (rnd.nextInt(100) < 5) {
            String holder = c.leaseHolder();
            if (!holder.equals("n0")) {
                c.write(holder, 5, rnd);
                c.shipLogs();
            }
        }
        if (w.termChanges < 4 && rnd.nextInt(100) < 3) {
            String holder = c.leaseHolder();
            if (!holder.equals("n0")) {
                String next = holder.equals("n1") ? "n2" : "n1";
                if (rnd.nextInt(5) > 0) {
                    c.replicate(holder, next, Long.MAX_VALUE);
                } else {
                    w.laggingLeaderElected = true;
                }
                c.elect(next, c.leaseTerm() + 1);
                c.follow(holder, next);
                w.termChanges++;
            }
        }
        if (!w.targetTookLease && rnd.nextInt(1000) < 3) {
            c.elect("n0", c.leaseTerm() + 1);
            w.targetTookLease = true;
        }
    }

    /** I1-I8 as far as they can be seen after any step. */
    private static void checkInvariants(Harness h, long initialRollbackId) {
        FakeCluster c = h.cluster;
        String ctx = "\n" + h.traceText();
        assertEquals(List.of(), c.violations(), "violations seen by the nodes" + ctx);
        c.files().checkNothingDeleted(); // I3
        FakeNode target = c.node(Harness.TARGET);
        assertTrue(target.effectiveRecovers() <= 1, "I2: more than one recover" + ctx);
        assertTrue(target.rollbackId() <= initialRollbackId + 1, "I2: rollback id rose more than once" + ctx);
        if (target.effectiveRecovers() == 0) {
            List<TailRecord> now = target.log();
            assertTrue(now.size() >= h.targetLogBefore.size()
                    && now.subList(0, h.targetLogBefore.size()).equals(h.targetLogBefore),
                    "nothing is removed before the recover" + ctx);
        }
        Checkpoint cp = h.saved;
        Phase p = cp.phase();
        boolean planned = p != Phase.PENDING && !(p.isTerminal() && cp.plan() == null);
        if (planned) {
            assertTrue(cp.plan() != null, "I8: no plan recorded in " + p + ctx);
        }
        if (!p.isTerminal() && p.ordinal() >= Phase.TAIL_PERSISTED.ordinal() && cp.plan().expectedRecords() > 0) {
            assertTrue(cp.tail() != null && cp.file() != null, "I8: tail and file recorded" + ctx);
        }
        if (p.isTerminal()) {
            assertTrue(cp.reason() != null && cp.message() != null && cp.phaseTimes().containsKey(p),
                    "I8: a terminal record says why and when" + ctx);
        }
        if (target.effectiveRecovers() == 1) {
            assertTrue(cp.file() != null && cp.tail() != null && cp.plan() != null,
                    "I8: a recovered incident records its plan, file and digest" + ctx);
        }
    }

    private static void checkOutcome(Harness h, World w, IncidentSpec spec) {
        Checkpoint cp = h.saved;
        String ctx = "\n" + h.traceText();
        FakeNode target = h.cluster.node(Harness.TARGET);
        switch (cp.phase()) {
            case COMPLETED -> {
                // Also after an injected corruption: its stream or file may have been dropped unused (a
                // crash, a retry, a re-plan). Completing is right only if the file holds exactly the tail.
                RollbackAssertions.assertCompletedSafely(h);
            }
            case DRY_RUN_COMPLETED -> {
                assertTrue(spec.dryRun(), ctx);
                assertEquals(0, h.cluster.totalCalls(), "a dry run calls nothing" + ctx);
            }
            case ABORTED, FAILED -> {
                Set<Reason> allowed = EnumSet.noneOf(Reason.class);
                if (w.commitAboveFork) {
                    allowed.add(Reason.ForkBelowCommit);
                }
                if (w.targetTookLease) {
                    allowed.add(Reason.TargetHoldsLease);
                }
                if (w.laggingLeaderElected) {
                    allowed.addAll(List.of(Reason.NewLeaderDiverged, Reason.ForkBelowCommit));
                }
                if (w.termChanges > 0) {
                    allowed.add(Reason.PlanUnstable);
                }
                if (w.terminalFault == Fault.FILE_BITFLIP) {
                    allowed.add(Reason.VerificationFailed); // the quarantined file is found missing on a retry
                }
                if (w.terminalFault != null) {
                    allowed.add(switch (w.terminalFault) {
                        case PERSIST_NO_SPACE, PERSIST_FSYNC -> Reason.PersistFailed;
                        // re-persisting over a corrupted file after a crash is a conflict, never an overwrite
                        case FILE_BITFLIP -> h.crashes > 0 ? Reason.PersistFailed : Reason.VerificationFailed;
                        default -> Reason.TailCorrupt;
                    });
                }
                // client writes before the fence can make the plan move more often than allowed
                allowed.add(Reason.PlanUnstable);
                assertTrue(allowed.contains(cp.reason()),
                        "unexpected ending " + cp.phase() + "/" + cp.reason() + ": " + cp.message() + " "
                                + h.cluster.observe("n0") + " (allowed " + allowed + ")" + ctx);
                if (target.effectiveRecovers() == 0) {
                    assertEquals(h.targetLogBefore, target.log().subList(0, h.targetLogBefore.size()),
                            "stopped with nothing removed" + ctx);
                }
            }
            default -> fail("not terminal: " + cp.phase() + ctx);
        }
    }

}
