package io.dbrollback.coordinator;

import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.Term;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The rollback state machine. Pure: from the recorded {@link Checkpoint}, the user's
 * {@link IncidentSpec} and a fresh {@link Observation} it decides the single next step, and from a
 * step's result it computes the next checkpoint. It performs no I/O; {@link RollbackRunner} does.
 *
 * <p>The safety rules it holds (the invariants of the fault model):
 * <ul>
 *   <li>recover only from {@link Phase#RECOVERING}, reached only from a verified file whose digests
 *       equal those of the tail read (I1);</li>
 *   <li>the recover intent is recorded before the call, and an intent whose outcome was lost is
 *       resolved by reading the node's last recovery incident, so a recover is issued again only if
 *       the node never began it (I2, I7);</li>
 *   <li>never act while the target holds the Lease; every side effect carries the Lease's term (I4);</li>
 *   <li>a change of Lease holder or term before the destructive step re-plans, never continues;</li>
 *   <li>the fork is never below the target's majority-commit LSN; limits gate, never fail (I5);</li>
 *   <li>rejoin targets the Lease holder observed at rejoin time (I6).</li>
 * </ul>
 */
public final class Coordinator {

    private final Clock clock;

    public Coordinator(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** The next step for this incident. */
    public Decision decide(IncidentSpec spec, Checkpoint cp, Observation obs) {
        if (cp.phase().isTerminal()) {
            return new Decision.Done();
        }
        Plan plan = cp.plan();
        // Before anything that reads the observation: it is of the pod the spec names, which is then not the
        // incident's target (and may even hold the Lease; ending TargetHoldsLease would note what that pod did).
        if (plan != null && !plan.targetNode().equals(spec.targetNode())) {
            return new Decision.Wait(Reason.SpecChanged, "the spec now names " + spec.targetNode()
                    + " but this incident rolls back " + plan.targetNode() + "; the target cannot change mid-incident");
        }
        if (obs.leaseHolder() == null) {
            return new Decision.Wait(Reason.NoLeaseHolder, "no node holds the leader Lease");
        }
        if (obs.leaseHolder().equals(spec.targetNode())) {
            return endNoting(cp, obs, Phase.ABORTED, Reason.TargetHoldsLease, spec.targetNode()
                    + " holds the leader Lease (term " + obs.leaseTerm() + "); the live primary is never rolled back");
        }
        if (plan != null && obs.leaseTerm().isBefore(plan.newTerm())) {
            return new Decision.Wait(Reason.StaleObservation, "the Lease shows term " + obs.leaseTerm()
                    + ", below the planned term " + plan.newTerm());
        }
        if (obs.target().currentTerm().isAfter(obs.leaseTerm())) {
            return new Decision.Wait(Reason.LeaseBehindNode, spec.targetNode() + " has seen term "
                    + obs.target().currentTerm() + ", the Lease shows " + obs.leaseTerm());
        }
        Term term = obs.leaseTerm();
        switch (cp.phase()) {
            case PENDING:
                return firstPlan(spec, cp, obs);
            case PLANNED:
            case FENCED:
            case TAIL_PERSISTED:
            case VERIFIED:
            case AWAITING_APPROVAL: {
                if (obs.target().lastRecoveryIncident().equals(cp.incidentId())) {
                    // Only a delayed recover of an earlier plan can do this; its file is superseded, not lost.
                    return endNoting(cp, obs, Phase.FAILED, Reason.RecoverOutOfPlan, spec.targetNode()
                            + " reports a recover for this incident outside plan " + plan.number());
                }
                if (spec.dryRun()) {
                    return end(cp, Phase.DRY_RUN_COMPLETED, Reason.DryRun, "dry run requested in phase " + cp.phase()
                            + "; stopped before removing anything");
                }
                String changed = planInvalidated(cp, obs);
                if (changed != null) {
                    return replan(spec, cp, obs, changed);
                }
                return beforeRecover(spec, cp, obs, term);
            }
            case RECOVERING:
                return resolveRecover(spec, cp, obs, term);
            case RECOVERED:
                if (!obs.target().lastLsn().equals(plan.forkLsn()) && !rejoinedSince(cp, obs)) {
                    return endNoting(cp, obs, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode()
                            + " is at LSN " + obs.target().lastLsn() + " after recovering to " + plan.forkLsn()
                            + "; it stays fenced");
                }
                return new Decision.Act(Decision.Action.EMIT_EVENT, term);
            case EVENT_EMITTED:
                return rejoin(spec, cp, obs, term);
            case REJOINED:
                return new Decision.Transition(cp.toBuilder()
                        .phase(Phase.COMPLETED, now())
                        .reason(!plan.diverged() ? Reason.NoDivergence : Reason.Completed,
                                completionMessage(spec, cp))
                        .progressed()
                        .build());
            default:
                throw new IllegalStateException("unhandled phase " + cp.phase());
        }
    }

    private Decision beforeRecover(IncidentSpec spec, Checkpoint cp, Observation obs, Term term) {
        Plan plan = cp.plan();
        switch (cp.phase()) {
            case PLANNED:
                return new Decision.Act(Decision.Action.FENCE, term);
            case FENCED:
                if (!obs.target().fenced()) {
                    return refence(spec, cp, obs, term);
                }
                if (!plan.diverged()) {
                    long id = obs.target().rollbackId();
                    return new Decision.Transition(cp.toBuilder()
                            .phase(Phase.RECOVERED, now())
                            .rollbackIdBefore(id)
                            .rollbackIdAfter(id)
                            .reason(Reason.NoDivergence, spec.targetNode() + " holds nothing above fork LSN "
                                    + plan.forkLsn() + "; nothing to save or remove")
                            .progressed()
                            .build());
                }
                return new Decision.Act(Decision.Action.PERSIST_TAIL, term);
            case TAIL_PERSISTED:
                if (!obs.target().fenced()) {
                    return refence(spec, cp, obs, term);
                }
                return new Decision.Act(Decision.Action.VERIFY_FILE, term);
            case VERIFIED:
            case AWAITING_APPROVAL:
                if (!obs.target().fenced()) {
                    return refence(spec, cp, obs, term);
                }
                if (copyOwed(spec, cp)) {
                    return new Decision.Act(Decision.Action.COPY_FILE, term);
                }
                return gate(spec, cp, obs);
            default:
                throw new IllegalStateException("not a phase before the recover: " + cp.phase());
        }
    }

    /**
     * Whether the copy step still owes an attempt before the gate: a copy is wanted, the current plan's
     * file has no verified copy, and either no attempt failed yet or the policy is to wait for one.
     */
    static boolean copyOwed(IncidentSpec spec, Checkpoint cp) {
        if (!spec.copy().wanted() || cp.file() == null || cp.verifiedCopy() != null) {
            return false;
        }
        return cp.failedCopies().isEmpty() || spec.copy().onFailure() == CopyPolicy.OnFailure.WAIT;
    }

    /**
     * The attempts of one copy step, recorded. A copy that was read back with the verified file's size and
     * SHA-256 is recorded with its digest and the step progressed; anything else is recorded as a failure
     * of that place: with {@code onFailure: Wait} a failed attempt the status shows as the wait
     * {@link Reason#CopyNotVerified} (not counted against the plan's retry bound: only waiting helps, and
     * nothing is removed meanwhile), with {@code Proceed} the step is done and the rollback goes on with
     * the one file.
     */
    public Checkpoint afterCopy(IncidentSpec spec, Checkpoint cp, List<CopyResult> attempts) {
        if (attempts.isEmpty()) {
            throw new IllegalArgumentException("a copy step makes at least one attempt");
        }
        RollbackFile f = cp.file();
        int plan = cp.plan().number();
        Checkpoint.Builder b = cp.toBuilder();
        FileCopy last = null;
        for (CopyResult r : attempts) {
            last = record(plan, f, r);
            b.copy(last);
        }
        if (last.isVerified()) {
            return b.progressed().build();
        }
        String error = "COPY_FILE failed: " + last.failure() + ": " + last.message();
        if (spec.copy().onFailure() == CopyPolicy.OnFailure.PROCEED) {
            return b.progressed().build();
        }
        return b.failedAttempt(error).waiting(Reason.CopyNotVerified, error + "; nothing is removed until an"
                + " off-node copy of " + f.location() + " verifies (spec.copy.onFailure Wait); retried with backoff")
                .build();
    }

    private FileCopy record(int plan, RollbackFile f, CopyResult r) {
        if (r instanceof CopyResult.Stored s) {
            if (s.sha256().equals(f.sha256()) && s.bytes() == f.bytes()) {
                return FileCopy.verified(plan, s.kind(), s.where(), s.path(), s.bytes(), s.sha256(), now());
            }
            return FileCopy.failed(plan, s.kind(), s.where(), s.path(), f.bytes(), "DigestMismatch", "the copy on "
                    + s.where() + " read back " + s.bytes() + " bytes with SHA-256 " + s.sha256()
                    + ", the verified file has " + f.bytes() + " bytes with " + f.sha256(), now());
        }
        CopyResult.Failed x = (CopyResult.Failed) r;
        return FileCopy.failed(plan, x.kind(), x.where(), null, f.bytes(), x.code(), x.message(), now());
    }

    /** The approval gate between a verified file and the destructive step. */
    private Decision gate(IncidentSpec spec, Checkpoint cp, Observation obs) {
        Set<Reason> gates = gates(spec, cp.tail());
        boolean approved = !gates.isEmpty() && spec.approves(cp.file().sha256());
        if (gates.isEmpty() || approved) {
            return new Decision.Transition(cp.toBuilder()
                    .phase(Phase.RECOVERING, now())
                    .gates(gates)
                    .rollbackIdBefore(obs.target().rollbackId())
                    .reason(null, approved ? "approved for file sha256 " + cp.file().sha256() : null)
                    .progressed()
                    .build());
        }
        String message = gateMessage(spec, cp, gates);
        if (cp.phase() == Phase.AWAITING_APPROVAL && gates.equals(cp.gates())) {
            return new Decision.Wait(gates.iterator().next(), message);
        }
        return new Decision.Transition(cp.toBuilder()
                .phase(Phase.AWAITING_APPROVAL, now())
                .gates(gates)
                .reason(gates.iterator().next(), message)
                .progressed()
                .build());
    }

    /** Why the verified tail needs a human, empty when it does not. */
    static Set<Reason> gates(IncidentSpec spec, DivergentTail tail) {
        Set<Reason> gates = EnumSet.noneOf(Reason.class);
        if (spec.approval() == ApprovalMode.MANUAL) {
            gates.add(Reason.ManualApprovalRequired);
        }
        Limits l = spec.limits();
        if (tail.recordCount() > l.maxRecords()) {
            gates.add(Reason.RecordLimitExceeded);
        }
        if (tail.bytes() > l.maxBytes()) {
            gates.add(Reason.ByteLimitExceeded);
        }
        if (tail.span().compareTo(l.maxSpan()) > 0) {
            gates.add(Reason.SpanLimitExceeded);
        }
        if (tail.uncapturedCount() > 0) {
            gates.add(Reason.UncapturedChanges);
        }
        return gates;
    }

    private static String gateMessage(IncidentSpec spec, Checkpoint cp, Set<Reason> gates) {
        DivergentTail t = cp.tail();
        Limits l = spec.limits();
        StringBuilder b = new StringBuilder("awaiting approval before removing anything:");
        for (Reason g : gates) {
            switch (g) {
                case ManualApprovalRequired -> b.append(" manual approval is required;");
                case RecordLimitExceeded -> b.append(" ").append(t.recordCount())
                        .append(" records exceed the limit of ")
                        .append(l.maxRecords()).append(";");
                case ByteLimitExceeded -> b.append(" ").append(t.bytes()).append(" bytes exceed the limit of ")
                        .append(l.maxBytes()).append(";");
                case SpanLimitExceeded -> b.append(" the divergent commits span ").append(t.span())
                        .append(", over the limit of ").append(l.maxSpan()).append(";");
                case UncapturedChanges -> b.append(" ").append(t.uncapturedCount()).append(" of the records are")
                        .append(" changes the node could not capture whole (op UNCAPTURED in the file), which the")
                        .append(" recover removes with the rest;");
                default -> b.append(" ").append(g.code()).append(";");
            }
        }
        b.append(" the tail is saved in ").append(cp.file().location()).append(" (sha256 ")
                .append(cp.file().sha256()).append("); approve with that digest or raise the limits");
        return b.toString();
    }

    /**
     * A fence in a phase past {@link Phase#PLANNED}: the node showed itself unfenced (or must refuse
     * an older plan's delayed recover). Each one counts against the plan's retry bound, so an agent
     * whose timeline never shows the fence it answered is not fenced for as long as it lies.
     */
    private Decision refence(IncidentSpec spec, Checkpoint cp, Observation obs, Term term) {
        if (cp.retries() >= spec.maxRetries()) {
            return endNoting(cp, obs, Phase.FAILED, Reason.FenceNotHeld, spec.targetNode()
                    + " still shows itself unfenced (or under an older term) after its fence was repeated; "
                    + cp.retries() + " repeated fences and failed attempts in plan " + cp.plan().number()
                    + " (spec.maxRetries " + spec.maxRetries() + ")");
        }
        return new Decision.Act(Decision.Action.FENCE, term);
    }

    private Decision resolveRecover(IncidentSpec spec, Checkpoint cp, Observation obs, Term term) {
        Plan plan = cp.plan();
        NodeTimeline target = obs.target();
        if (target.lastRecoveryIncident().equals(cp.incidentId())) {
            // The node began a recover of this incident (its record is durable with the rollback-id bump).
            Integer removed = removedPlan(cp, obs);
            if (removed == null || removed != plan.number()) {
                return endNoting(cp, obs, Phase.FAILED, Reason.RecoverOutOfPlan, spec.targetNode()
                        + " records a recover of this incident that is not plan " + plan.number() + "'s (its target"
                        + " LSN " + target.lastRecoveryTargetLsn() + " or its file digest names another plan)");
            }
            if (target.lastLsn().equals(plan.forkLsn())) {
                return new Decision.Transition(confirmed(spec, cp, obs));
            }
            if (cp.recoverAnswered()) {
                return endNoting(cp, obs, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode()
                        + " answered that it recovered to LSN " + plan.forkLsn() + ", but its timeline shows last LSN "
                        + target.lastLsn() + "; it stays fenced");
            }
            return new Decision.Act(Decision.Action.RECOVER, term);
        }
        if (cp.recoverAnswered()) {
            // The answer claimed a recover the node's own record does not show: believe neither.
            Checkpoint unknown = cp.toBuilder().removalUnknown().build();
            return end(unknown, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode() + " answered RecoverToLsn"
                    + " for this incident, but its timeline records no recover of it (rollback id "
                    + target.rollbackId()
                    + ", last LSN " + target.lastLsn() + "): its answers contradict each other" + removalNote(unknown));
        }
        // The node never began it: nothing was removed, so a changed world still means a new plan.
        String changed = planInvalidated(cp, obs);
        if (changed != null) {
            if (target.currentTerm().isBefore(term)) {
                // Fence under the new term first: the node then refuses any delayed recover of this
                // plan (it carries the old term), so "never began" stays true after the re-plan.
                return refence(spec, cp, obs, term);
            }
            return replan(spec, cp, obs, changed);
        }
        if (!target.fenced()) {
            return refence(spec, cp, obs, term);
        }
        return new Decision.Act(Decision.Action.RECOVER, term);
    }

    /**
     * The node's timeline shows this plan's recover done: last LSN at the fork, this incident and this
     * plan's file recorded. Its recorded target must be the fork and its rollback id must have risen by
     * exactly one; only then is the node recovered.
     */
    private Checkpoint confirmed(IncidentSpec spec, Checkpoint cp, Observation obs) {
        NodeTimeline t = obs.target();
        Plan plan = cp.plan();
        Checkpoint withPlan = cp.toBuilder().removedPlan(plan.number()).build();
        if (!t.lastRecoveryTargetLsn().equals(plan.forkLsn())) {
            return terminal(withPlan, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode()
                    + " is at the fork LSN " + plan.forkLsn() + " but records its recover's target as LSN "
                    + t.lastRecoveryTargetLsn() + "; it stays fenced" + removalNote(withPlan));
        }
        if (!t.lastRecoveryFileSha256().equals(cp.file().sha256())) {
            return terminal(withPlan, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode()
                    + " is at the fork LSN " + plan.forkLsn() + " but does not record this plan's rollback file"
                    + " digest with its recover" + "; it stays fenced" + removalNote(withPlan));
        }
        if (t.rollbackId() != cp.rollbackIdBefore() + 1) {
            return terminal(withPlan, Phase.FAILED, Reason.RollbackIdUnexpected, spec.targetNode()
                    + "'s rollback id went from " + cp.rollbackIdBefore() + " to " + t.rollbackId()
                    + ", expected exactly one more; it stays fenced" + removalNote(withPlan));
        }
        RecoverResult answer = cp.recoverAnswer();
        if (answer != null && (!answer.lastLsn().equals(plan.forkLsn()) || answer.rollbackId() != t.rollbackId())) {
            return terminal(withPlan, Phase.FAILED,
                    answer.rollbackId() != t.rollbackId() ? Reason.RollbackIdUnexpected : Reason.RecoverNotConfirmed,
                    spec.targetNode() + " answered last LSN " + answer.lastLsn() + " and rollback id "
                            + answer.rollbackId() + ", but its timeline shows LSN " + t.lastLsn() + " and rollback id "
                            + t.rollbackId() + ": its answers contradict each other; it stays fenced"
                            + removalNote(withPlan));
        }
        return withPlan.toBuilder().rollbackIdAfter(t.rollbackId()).phase(Phase.RECOVERED, now()).progressed()
                .build();
    }

    private Decision rejoin(IncidentSpec spec, Checkpoint cp, Observation obs, Term term) {
        NodeTimeline leader = obs.leader();
        if (leader == null || !leader.node().equals(obs.leaseHolder()) || obs.leaderAddress() == null) {
            return new Decision.Wait(Reason.LeaderNotObserved, "the Lease holder " + obs.leaseHolder()
                    + " was not observed; waiting to rejoin");
        }
        ForkPoint.Result r = ForkPoint.compute(obs.target(), leader);
        if (!(r instanceof ForkPoint.Found f) || !f.lsn().equals(obs.target().lastLsn())) {
            return endNoting(cp, obs, Phase.FAILED, Reason.NewLeaderDiverged, "the current primary " + leader.node()
                    + " does not hold " + spec.targetNode() + "'s log up to LSN " + obs.target().lastLsn() + " ("
                    + describe(r) + "); the node stays fenced and needs a new incident");
        }
        return new Decision.Act(Decision.Action.REJOIN, term);
    }

    /**
     * Whether the target moved past the fork only because it was already rejoined after this
     * incident's recover (by an earlier attempt whose record was lost, or another operator instance):
     * it recovered for this incident, streams as a replica, and its log is a prefix of the holder's.
     */
    private static boolean rejoinedSince(Checkpoint cp, Observation obs) {
        NodeTimeline t = obs.target();
        if (!t.lastRecoveryIncident().equals(cp.incidentId()) || t.role() != NodeRole.REPLICA
                || obs.leader() == null || !obs.leader().node().equals(obs.leaseHolder())) {
            return false;
        }
        ForkPoint.Result r = ForkPoint.compute(t, obs.leader());
        return r instanceof ForkPoint.Found f && f.lsn().equals(t.lastLsn())
                && t.lastLsn().isAfter(cp.plan().forkLsn());
    }

    private static String describe(ForkPoint.Result r) {
        return r instanceof ForkPoint.Found f ? "the logs fork at LSN " + f.lsn()
                : ((ForkPoint.Inconsistent) r).reason();
    }

    /** Null when the recorded plan still holds, else what changed. */
    private static String planInvalidated(Checkpoint cp, Observation obs) {
        Plan plan = cp.plan();
        if (!obs.leaseTerm().equals(plan.newTerm())) {
            return "the Lease term moved from " + plan.newTerm() + " to " + obs.leaseTerm();
        }
        if (!obs.leaseHolder().equals(plan.newPrimary())) {
            return "the Lease moved from " + plan.newPrimary() + " to " + obs.leaseHolder();
        }
        // Before the fence the former primary may still take writes; from the fence on its log is frozen.
        if (cp.phase() != Phase.PLANNED && !obs.target().lastLsn().equals(plan.targetLastLsn())) {
            return "the target's last LSN moved from " + plan.targetLastLsn() + " to " + obs.target().lastLsn();
        }
        return null;
    }

    private Decision firstPlan(IncidentSpec spec, Checkpoint cp, Observation obs) {
        PlanOrStop p = computePlan(spec, cp, obs, 1);
        if (p.stop != null) {
            return p.stop;
        }
        Checkpoint.Builder b = cp.toBuilder().plan(p.plan).progressed();
        if (spec.dryRun()) {
            b.phase(Phase.PLANNED, now()).phase(Phase.DRY_RUN_COMPLETED, now()).reason(Reason.DryRun,
                    "dry run: would save " + records(p.plan) + " (" + p.plan.forkLsn() + ", "
                            + p.plan.targetLastLsn() + "] of " + spec.targetNode() + " and recover it to LSN "
                            + p.plan.forkLsn() + "; nothing was done");
        } else {
            b.phase(Phase.PLANNED, now()).reason(null, null);
        }
        return new Decision.Transition(b.build());
    }

    private Decision replan(IncidentSpec spec, Checkpoint cp, Observation obs, String why) {
        if (cp.replans() >= spec.maxReplans()) {
            return end(cp, Phase.FAILED, Reason.PlanUnstable, why + "; the plan was already redone "
                    + cp.replans() + " times (limit " + spec.maxReplans() + "); nothing was removed");
        }
        PlanOrStop p = computePlan(spec, cp, obs, cp.plan().number() + 1);
        if (p.stop != null) {
            return p.stop;
        }
        return new Decision.Transition(cp.toBuilder()
                .replan(p.plan, why, now())
                .reason(Reason.Replanned, why + "; planned again (plan " + p.plan.number() + ")")
                .progressed()
                .build());
    }

    private record PlanOrStop(Plan plan, Decision stop) {
    }

    private PlanOrStop computePlan(IncidentSpec spec, Checkpoint cp, Observation obs, int number) {
        if (spec.expectedTerm() != null && !spec.expectedTerm().equals(obs.leaseTerm())) {
            return new PlanOrStop(null, endNoting(cp, obs, Phase.ABORTED, Reason.UnexpectedTerm, "the Lease shows term "
                    + obs.leaseTerm() + ", the spec expects " + spec.expectedTerm()));
        }
        NodeTimeline leader = obs.leader();
        if (leader == null || !leader.node().equals(obs.leaseHolder()) || obs.leaderAddress() == null) {
            return new PlanOrStop(null, new Decision.Wait(Reason.LeaderNotObserved,
                    "the Lease holder " + obs.leaseHolder() + " was not observed; planning needs its timeline"));
        }
        if (leader.currentTerm().isAfter(obs.leaseTerm())) {
            return new PlanOrStop(null, new Decision.Wait(Reason.LeaseBehindNode, leader.node() + " has seen term "
                    + leader.currentTerm() + ", the Lease shows " + obs.leaseTerm()));
        }
        NodeTimeline target = obs.target();
        if (target.positions() != leader.positions()) {
            return new PlanOrStop(null, end(cp, Phase.ABORTED, Reason.HistoryInconsistent, target.node() + " and "
                    + leader.node() + " count LSNs differently ("
                    + (target.positions() ? "positions" : "record numbers")
                    + " and " + (leader.positions() ? "positions" : "record numbers") + "): their histories cannot be"
                    + " compared; nothing was done"));
        }
        ForkPoint.Result r = ForkPoint.compute(target, leader);
        if (r instanceof ForkPoint.Inconsistent inc) {
            return new PlanOrStop(null, end(cp, Phase.ABORTED, Reason.HistoryInconsistent, "the term histories of "
                    + target.node() + " and " + leader.node() + " contradict each other: " + inc.reason()
                    + "; nothing was done"));
        }
        ForkPoint.Found f = (ForkPoint.Found) r;
        if (f.lsn().isBefore(target.commitLsn())) {
            return new PlanOrStop(null, end(cp, Phase.ABORTED, Reason.ForkBelowCommit, "the logs fork at LSN " + f.lsn()
                    + ", below " + target.node() + "'s majority-commit LSN " + target.commitLsn()
                    + ": rolling back would discard committed writes; nothing was done"));
        }
        Term oldTerm = target.history().lastTerm().orElse(target.currentTerm());
        Plan plan = new Plan(number, spec.targetNode(), f.lsn(), f.commonTerm(), target.lastLsn(), target.commitLsn(),
                oldTerm,
                obs.leaseTerm(), obs.leaseHolder(), obs.leaderAddress(), target.positions() ? Plan.UNKNOWN
                        : f.lsn().distanceTo(target.lastLsn()), now(), target.positions());
        return new PlanOrStop(plan, null);
    }

    // ---- results of side effects -------------------------------------------------------------

    /** The fence took effect. */
    public Checkpoint afterFence(Checkpoint cp) {
        Checkpoint.Builder b = cp.toBuilder().progressed();
        if (cp.phase() == Phase.PLANNED) {
            b.phase(Phase.FENCED, now());
        } else {
            b.retried(); // a repeated fence counts against the plan's retry bound
        }
        return b.build();
    }

    /** The tail was streamed into the transport's writer; {@code tail} is what passed the validator. */
    public Checkpoint afterPersist(Checkpoint cp, DivergentTail tail, PersistResult result) {
        if (result instanceof PersistResult.Failed failed) {
            return terminal(cp, Phase.FAILED, Reason.PersistFailed, "the rollback file could not be made durable ("
                    + failed.kind() + ": " + failed.message() + "); nothing was removed");
        }
        RollbackFile file = ((PersistResult.Persisted) result).file();
        Plan plan = cp.plan();
        if ((!plan.positions() && tail.recordCount() != plan.expectedRecords())
                || file.recordCount() != tail.recordCount()
                || !file.tailSha256().equals(tail.sha256())) {
            return terminal(cp.toBuilder().file(file).tail(tail).build(), Phase.FAILED, Reason.PersistMismatch,
                    "the rollback file " + file.location() + " holds " + file.recordCount() + " records with digest "
                            + file.tailSha256() + ", the tail read had " + tail.recordCount() + " of "
                            + plan.expectedRecords() + " expected, digest " + tail.sha256() + "; nothing was removed");
        }
        return cp.toBuilder().tail(tail).file(file).phase(Phase.TAIL_PERSISTED, now()).progressed().build();
    }

    /** The tail stream was corrupt; nothing was published, nothing removed. */
    public Checkpoint afterTailCorrupt(Checkpoint cp, TailIntegrityException e) {
        return terminal(cp, Phase.ABORTED, Reason.TailCorrupt, e.getMessage() + " (" + e.kind()
                + "); nothing was removed");
    }

    /** The file was read back from disk. */
    public Checkpoint afterVerify(Checkpoint cp, VerifyResult result) {
        RollbackFile f = cp.file();
        if (result instanceof VerifyResult.Read read && read.fileSha256().equals(f.sha256())
                && read.tailSha256().equals(f.tailSha256()) && read.tailSha256().equals(cp.tail().sha256())
                && read.recordCount() == f.recordCount() && read.bytes() == f.bytes()) {
            return cp.toBuilder().phase(Phase.VERIFIED, now()).progressed().build();
        }
        String detail = result instanceof VerifyResult.Mismatch m
                ? m.detail() + (m.quarantinedLocation() == null ? "" : "; quarantined as " + m.quarantinedLocation())
                : "read back sha256 " + ((VerifyResult.Read) result).fileSha256() + " with "
                        + ((VerifyResult.Read) result).recordCount() + " records, written " + f.sha256() + " with "
                        + f.recordCount();
        return terminal(cp, Phase.FAILED, Reason.VerificationFailed, "the rollback file " + f.location()
                + " did not verify: " + detail + "; nothing was removed");
    }

    /**
     * The node answered the recover call: the answer is recorded, and the node is not taken as
     * recovered until its own timeline shows what the answer claims (the next observation,
     * {@link #confirmed}); an answer the timeline contradicts ends the incident. No record and no Event
     * claims a recover the node's own record does not show.
     */
    public Checkpoint afterRecover(IncidentSpec spec, Checkpoint cp, RecoverResult result) {
        return cp.toBuilder().recoverAnswer(result).progressed().build();
    }

    /**
     * A failed attempt at a step (or at observing the target): recorded with the error, and with the
     * failure's reason as the wait so the status says why nothing moves; the caller retries with
     * backoff. A counted failure ({@link Failure}) beyond the plan's retry bound ends the incident
     * closed instead ({@link #giveUp}).
     *
     * @param obs what was observed before the attempt, or null when observing is what failed
     * @param what the attempt, as the record names it ("FENCE failed", "observe failed")
     */
    public Checkpoint afterFailure(IncidentSpec spec, Checkpoint cp, Observation obs, Decision.Action action,
            String what, TransportException e) {
        Failure f = Failure.of(e.code());
        if ((e.code().equals("STALE_TERM") || e.code().equals("StaleTerm")) && obs != null
                && !obs.target().currentTerm().isAfter(obs.leaseTerm())) {
            // A stale-term refusal the node's own timeline does not explain (it reports no newer term).
            f = new Failure(Reason.AgentRefused, true);
        }
        String error = what + ": " + e.code() + (e.outcomeUnknown() ? " (outcome unknown)" : "") + ": "
                + e.getMessage();
        Checkpoint.Builder b = cp.toBuilder().failedAttempt(error);
        if (f.counted()) {
            b.retried();
        }
        Checkpoint next = b.build();
        if (f.counted() && next.retries() > spec.maxRetries()) {
            return giveUp(spec, mayHaveRemoved(next, obs, action) ? next.toBuilder().removalUnknown().build() : next,
                    obs, f.reason(), error);
        }
        String bound = f.counted() ? "; failed attempt " + next.retries() + " of at most " + (spec.maxRetries() + 1)
                + " in this plan" : "; retried with backoff until it answers";
        return next.toBuilder().waiting(f.reason(), error + bound).build();
    }

    /**
     * Whether a failure in {@code cp}'s phase leaves open that the node removed the plan's range: from
     * the recover intent on, a recover call that failed (its outcome unknown), a failure to read the
     * node, or an answered recover, unless the node's own record, read before the failed call, shows
     * it never began one and the failed call was not a recover.
     */
    private static boolean mayHaveRemoved(Checkpoint cp, Observation obs, Decision.Action action) {
        if (cp.removedPlan() != null || cp.plan() == null || cp.file() == null) {
            return false;
        }
        if (cp.recoverAnswered()) {
            return true;
        }
        if (cp.phase() != Phase.RECOVERING) {
            return false;
        }
        return action == Decision.Action.RECOVER || action == null || obs == null;
    }

    /**
     * Ends the incident once the plan's retry bound is spent: failed closed with the failure's reason,
     * the last error and what the node holds.
     */
    public Checkpoint giveUp(IncidentSpec spec, Checkpoint cp, Observation obs, Reason reason, String lastError) {
        Checkpoint c = noteRemoval(cp, obs);
        String where = c.plan() == null ? "before a plan was made" : "in plan " + c.plan().number();
        return terminal(c, Phase.FAILED, reason, "gave up after " + c.retries() + " failed attempts " + where
                + " (spec.maxRetries " + spec.maxRetries() + "); the last: " + lastError
                + (c.plan() == null ? "; nothing was done" : removalNote(c)));
    }

    /** The event was emitted. */
    public Checkpoint afterEvent(Checkpoint cp) {
        return cp.toBuilder().phase(Phase.EVENT_EMITTED, now()).progressed().build();
    }

    /** The node accepted the rejoin. */
    public Checkpoint afterRejoin(Checkpoint cp) {
        return cp.toBuilder().phase(Phase.REJOINED, now()).progressed().build();
    }

    /** The event announcing this incident's rollback. */
    public RollbackEvent event(IncidentSpec spec, Checkpoint cp) {
        Plan p = cp.plan();
        boolean nothing = !p.diverged();
        RollbackFile f = cp.file();
        return new RollbackEvent(cp.incidentId(), nothing ? RollbackEvent.Type.NO_DIVERGENCE
                : RollbackEvent.Type.ROLLED_BACK, spec.cluster(), spec.targetNode(), p.forkLsn(), p.targetLastLsn(),
                p.oldTerm(), p.newTerm(), p.newPrimary(), nothing ? 0 : cp.tail().recordCount(),
                nothing ? 0 : cp.tail().bytes(), f == null ? null : f.location(), f == null ? null : f.sha256(),
                cp.rollbackIdBefore(), cp.rollbackIdAfter(), now());
    }

    /**
     * The loud announcement owed by a rollback that ended after its node removed (or began removing) a
     * plan's range but before the rollback event was emitted; null when none is owed. It names the
     * file of the plan whose range was removed, whatever the answers said later.
     */
    public RollbackEvent removalEvent(String cluster, Checkpoint cp) {
        if (!cp.phase().isTerminal() || cp.removedPlan() == null || cp.phaseTimes().containsKey(Phase.EVENT_EMITTED)) {
            return null;
        }
        PlanRecord r = planRecord(cp, cp.removedPlan());
        if (r != null && r.file() == null) {
            return null; // a plan with nothing divergent removes nothing
        }
        Plan p = r == null ? cp.plan() : r.plan();
        boolean current = r != null && p.number() == cp.plan().number();
        return new RollbackEvent(cp.incidentId(), RollbackEvent.Type.ROLLED_BACK, cluster, p.targetNode(),
                p.forkLsn(), p.targetLastLsn(), p.oldTerm(), p.newTerm(), p.newPrimary(),
                r == null || r.tail() == null ? 0 : r.tail().recordCount(),
                r == null || r.tail() == null ? 0 : r.tail().bytes(),
                r == null ? "one of " + allFiles(cp) : r.file().location(), r == null ? null : r.file().sha256(),
                current ? cp.rollbackIdBefore() : null, current ? cp.rollbackIdAfter() : null, now());
    }

    /** A plan of the incident with what it read and wrote. */
    private record PlanRecord(Plan plan, DivergentTail tail, RollbackFile file) {
    }

    /** Plan {@code number} of the incident (current or superseded), or null when unknown (0). */
    private static PlanRecord planRecord(Checkpoint cp, int number) {
        if (cp.plan() != null && cp.plan().number() == number) {
            return new PlanRecord(cp.plan(), cp.tail(), cp.file());
        }
        for (SupersededPlan sp : cp.supersededPlans()) {
            if (sp.plan().number() == number) {
                return new PlanRecord(sp.plan(), sp.tail(), sp.file());
            }
        }
        return null;
    }

    private static List<String> allFiles(Checkpoint cp) {
        List<String> out = new ArrayList<>();
        cp.supersededFiles().forEach(f -> out.add(f.location()));
        if (cp.file() != null) {
            out.add(cp.file().location());
        }
        return out;
    }

    /**
     * The plan whose range the node removed, or began removing, for this incident: from the record,
     * else from the node's last recovery (the file digest it recorded names the plan exactly; without
     * one, the latest plan with a file whose fork is the recorded target). 0 when the node recorded a
     * recover of this incident that matches no plan; null when it recorded none.
     */
    static Integer removedPlan(Checkpoint cp, Observation obs) {
        if (cp.removedPlan() != null) {
            return cp.removedPlan();
        }
        if (obs == null || cp.plan() == null || !obs.target().lastRecoveryIncident().equals(cp.incidentId())) {
            return null;
        }
        NodeTimeline t = obs.target();
        List<PlanRecord> plans = new ArrayList<>();
        plans.add(new PlanRecord(cp.plan(), cp.tail(), cp.file()));
        for (int i = cp.supersededPlans().size() - 1; i >= 0; i--) {
            SupersededPlan sp = cp.supersededPlans().get(i);
            plans.add(new PlanRecord(sp.plan(), sp.tail(), sp.file()));
        }
        for (PlanRecord r : plans) {
            if (r.file() == null) {
                continue; // a plan that wrote no file never recovered
            }
            boolean named = t.lastRecoveryFileSha256().isEmpty()
                    ? r.plan().forkLsn().equals(t.lastRecoveryTargetLsn())
                    : r.file().sha256().equals(t.lastRecoveryFileSha256());
            if (named) {
                return r.plan().number();
            }
        }
        return 0;
    }

    /** {@code cp} with the plan whose range the node removed, as far as the record and {@code obs} tell. */
    private static Checkpoint noteRemoval(Checkpoint cp, Observation obs) {
        Integer removed = removedPlan(cp, obs);
        return removed == null || removed.equals(cp.removedPlan()) ? cp : cp.toBuilder().removedPlan(removed).build();
    }

    /** What an ending means for the node's data: nothing removed, or the file that holds what was. */
    private static String removalNote(Checkpoint cp) {
        if (cp.removedPlan() == null) {
            return cp.removalUnknown() ? "; " + unknownRemoval(cp) : "; nothing was removed";
        }
        String node = cp.plan().targetNode();
        PlanRecord r = planRecord(cp, cp.removedPlan());
        if (r == null) {
            return "; " + node + " records a recover of this incident that matches no plan: what it removed is in"
                    + " one of " + allFiles(cp);
        }
        if (r.file() == null) {
            return "; " + node + " held nothing divergent above LSN " + r.plan().forkLsn() + ", nothing was removed";
        }
        boolean confirmed = cp.recovered() && r.plan().number() == cp.plan().number();
        return "; " + node + (confirmed ? " was rolled back to fork LSN " : " began recovering (its own record shows"
                + " this incident's recover) to fork LSN ") + r.plan().forkLsn() + ": the records it removed, ("
                + r.plan().forkLsn() + ", " + r.plan().targetLastLsn() + "] of plan " + r.plan().number()
                + ", are saved in " + r.file().location() + " (sha256 " + r.file().sha256() + ")";
    }

    /** The sentence for an ending that cannot tell whether the node removed the current plan's range. */
    private static String unknownRemoval(Checkpoint cp) {
        Plan p = cp.plan();
        return "whether " + p.targetNode() + " removed (" + p.forkLsn() + ", " + p.targetLastLsn() + "] is not known"
                + " (a recover of plan " + p.number() + " may have taken effect, but the node's own record never"
                + " showed it): those records are saved in " + cp.file().location() + " (sha256 "
                + cp.file().sha256() + "); check the node before anything else";
    }

    /**
     * The Warning owed by a rollback that ended without knowing whether its node removed the current
     * plan's range ({@link Checkpoint#removalUnknown()}); null when none is owed.
     */
    public String unknownRemovalMessage(Checkpoint cp) {
        if (!cp.phase().isTerminal() || !cp.removalUnknown() || cp.removedPlan() != null) {
            return null;
        }
        String s = unknownRemoval(cp);
        return Character.toUpperCase(s.charAt(0)) + s.substring(1) + ".";
    }

    /** "5 records", or, when the LSNs are positions, what the count will be known from. */
    public static String records(Plan p) {
        return p.positions() ? "the records" : p.expectedRecords() + " records";
    }

    private String completionMessage(IncidentSpec spec, Checkpoint cp) {
        return event(spec, cp).message();
    }

    private Decision end(Checkpoint cp, Phase phase, Reason reason, String message) {
        return new Decision.Transition(terminal(cp, phase, reason, message));
    }

    /**
     * An ending whose message says what the node holds: nothing removed, or (when the record or the
     * node's own timeline shows a recover of this incident) the file of the plan it removed.
     */
    private Decision endNoting(Checkpoint cp, Observation obs, Phase phase, Reason reason, String message) {
        Checkpoint c = noteRemoval(cp, obs);
        return new Decision.Transition(terminal(c, phase, reason, message + removalNote(c)));
    }

    private Checkpoint terminal(Checkpoint cp, Phase phase, Reason reason, String message) {
        return cp.toBuilder().phase(phase, now()).reason(reason, message).build();
    }

    private Instant now() {
        return clock.instant();
    }
}
