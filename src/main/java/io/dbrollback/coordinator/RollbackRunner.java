package io.dbrollback.coordinator;

import io.dbrollback.model.RollbackFileHeader;
import java.time.Clock;
import java.util.List;
import java.util.Objects;

/**
 * Carries out one step of an incident: asks the {@link Coordinator}, performs the side effect it
 * chose through the {@link RollbackTransport}, and returns the checkpoint to record. It keeps no
 * state between steps, so a crash anywhere loses at most the result of the step in flight, which
 * the coordinator then resolves from the recorded checkpoint and a fresh observation.
 *
 * <p>The caller's loop: observe, {@link #step}, write the returned checkpoint durably, and step again
 * while {@link Step.Kind#PROGRESSED}; after {@link Step.Kind#RETRY} back off; after
 * {@link Step.Kind#WAITING} wait for a change of the world or the spec.
 */
public final class RollbackRunner {

    /** The outcome of one step. */
    public record Step(Checkpoint checkpoint, Kind kind, Decision decision) {

        /** What the caller does next. */
        public enum Kind {
            /** A step was done or recorded; record the checkpoint and step again. */
            PROGRESSED,
            /** A side effect failed (the checkpoint holds the error); record it, back off, step again. */
            RETRY,
            /** Nothing to do until the world or the spec changes; the checkpoint holds why. */
            WAITING,
            /** The incident is over. */
            DONE
        }

        public Step {
            Objects.requireNonNull(checkpoint, "checkpoint");
            Objects.requireNonNull(kind, "kind");
        }
    }

    private final RollbackTransport transport;
    private final RollbackCopier copier;
    private final Coordinator coordinator;
    private final Clock clock;

    /** A runner without a copier: an incident whose spec asks for a copy gets a failed copy at each attempt. */
    public RollbackRunner(RollbackTransport transport, Clock clock) {
        this(transport, NO_COPIER, clock);
    }

    public RollbackRunner(RollbackTransport transport, RollbackCopier copier, Clock clock) {
        this.transport = Objects.requireNonNull(transport, "transport");
        this.copier = Objects.requireNonNull(copier, "copier");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.coordinator = new Coordinator(clock);
    }

    private static final RollbackCopier NO_COPIER = (source, incident, plan, file) -> List.of(
            new CopyResult.Failed(FileCopy.AGENT, null, "NoCopyTarget", "this runner has no copier"));

    /** Decides and performs one step. */
    public Step step(IncidentSpec spec, Checkpoint cp, Observation obs) {
        Decision d = coordinator.decide(spec, cp, obs);
        if (d instanceof Decision.Done) {
            return new Step(cp, Step.Kind.DONE, d);
        }
        if (d instanceof Decision.Wait w) {
            if (w.reason() == Reason.LeaderNotObserved && obs.leaderError() != null) {
                // Waiting for a timeline that could not be read is a failed attempt at reading it.
                return failed(spec, cp, obs, null, "observe failed", obs.leaderError(), d);
            }
            Checkpoint waiting = w.reason() == cp.waiting() && Objects.equals(w.message(), cp.waitMessage()) ? cp
                    : cp.toBuilder().waiting(w.reason(), w.message()).build();
            return new Step(waiting, Step.Kind.WAITING, d);
        }
        if (d instanceof Decision.Transition t) {
            return new Step(t.next(), t.next().phase().isTerminal() ? Step.Kind.DONE : Step.Kind.PROGRESSED, d);
        }
        Decision.Act act = (Decision.Act) d;
        try {
            Checkpoint next = perform(spec, cp, obs, act);
            if (act.action() == Decision.Action.COPY_FILE && next.waiting() == Reason.CopyNotVerified) {
                return new Step(next, Step.Kind.RETRY, d); // waits with backoff, never counted
            }
            return new Step(next, next.phase().isTerminal() ? Step.Kind.DONE : Step.Kind.PROGRESSED, d);
        } catch (TransportException e) {
            return failed(spec, cp, obs, act.action(), act.action() + " failed", e, d);
        }
    }

    /** A failed attempt as a step: a retry, or the end once the plan's retry bound is spent. */
    private Step failed(IncidentSpec spec, Checkpoint cp, Observation obs, Decision.Action action, String what,
            TransportException e, Decision d) {
        Checkpoint next = coordinator.afterFailure(spec, cp, obs, action, what, e);
        return new Step(next, next.phase().isTerminal() ? Step.Kind.DONE : Step.Kind.RETRY, d);
    }

    private Checkpoint perform(IncidentSpec spec, Checkpoint cp, Observation obs, Decision.Act act) {
        Plan plan = cp.plan();
        String target = plan == null ? spec.targetNode() : plan.targetNode();
        switch (act.action()) {
            case FENCE:
                transport.fence(target, cp.incidentId(), act.term());
                return coordinator.afterFence(cp);
            case PERSIST_TAIL:
                return persist(spec, cp, obs);
            case VERIFY_FILE:
                return coordinator.afterVerify(cp, transport.verifyRollbackFile(cp.file()));
            case COPY_FILE:
                return coordinator.afterCopy(spec, cp, copy(target, cp));
            case RECOVER:
                RecoverResult r = transport.recoverToLsn(target, plan.forkLsn(), plan.targetLastLsn(), cp.incidentId(),
                        act.term(), cp.file().sha256());
                return coordinator.afterRecover(spec, cp, r);
            case EMIT_EVENT:
                transport.emitRollbackEvent(coordinator.event(spec, cp));
                return coordinator.afterEvent(cp);
            case REJOIN:
                transport.rejoinAsReplica(target, obs.leaderAddress(), act.term(), cp.incidentId());
                return coordinator.afterRejoin(cp);
            default:
                throw new IllegalStateException("unhandled action " + act.action());
        }
    }

    /** The copier's attempts; a copier that throws despite its contract is a failed attempt, never a step's end. */
    private List<CopyResult> copy(String target, Checkpoint cp) {
        try {
            List<CopyResult> attempts = copier.copy(target, cp.incidentId(), cp.plan().number(), cp.file());
            if (attempts != null && !attempts.isEmpty()) {
                return attempts;
            }
            return List.of(new CopyResult.Failed(FileCopy.AGENT, null, "NoCopyTarget", "the copier made no attempt"));
        } catch (RuntimeException e) {
            return List.of(new CopyResult.Failed(FileCopy.AGENT, null, "CopyFailed", e.getClass().getSimpleName()
                    + ": " + e.getMessage()));
        }
    }

    private Checkpoint persist(IncidentSpec spec, Checkpoint cp, Observation obs) {
        Plan plan = cp.plan();
        RollbackFileHeader header = new RollbackFileHeader(cp.incidentId(), plan.number(), spec.cluster(),
                spec.targetNode(), plan.forkLsn(), plan.targetLastLsn(), plan.oldTerm(), plan.newTerm(),
                plan.newPrimary(), plan.expectedRecords(), plan.plannedAt(), plan.positions());
        try (TailValidator checked = new TailValidator(
                transport.readDivergentTail(spec.targetNode(), plan.forkLsn(), plan.targetLastLsn()),
                spec.targetNode(), plan.forkLsn(), plan.targetLastLsn(), plan.oldTerm(), obs.target().history(),
                plan.positions())) {
            PersistResult result = transport.persistRollbackFile(header, checked);
            return coordinator.afterPersist(cp, checked.summary(), result);
        } catch (TailIntegrityException e) {
            return coordinator.afterTailCorrupt(cp, e);
        }
    }
}
