package io.dbrollback.coordinator;

import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.Term;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumSet;
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
        if (obs.leaseHolder() == null) {
            return new Decision.Wait(Reason.NoLeaseHolder, "no node holds the leader Lease");
        }
        if (obs.leaseHolder().equals(spec.targetNode())) {
            return end(cp, Phase.ABORTED, Reason.TargetHoldsLease, spec.targetNode()
                    + " holds the leader Lease (term " + obs.leaseTerm() + "); the live primary is never rolled back"
                    + removalNote(cp, obs));
        }
        Plan plan = cp.plan();
        if (plan != null && !plan.targetNode().equals(spec.targetNode())) {
            return new Decision.Wait(Reason.SpecChanged, "the spec now names " + spec.targetNode()
                    + " but this incident rolls back " + plan.targetNode() + "; the target cannot change mid-incident");
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
                    return end(cp, Phase.FAILED, Reason.RecoverOutOfPlan, spec.targetNode()
                            + " reports a recover for this incident outside plan " + plan.number()
                            + "; the tails of earlier plans are in " + cp.supersededFiles());
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
                    return end(cp, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode() + " is at LSN "
                            + obs.target().lastLsn() + " after recovering to " + plan.forkLsn());
                }
                return new Decision.Act(Decision.Action.EMIT_EVENT, term);
            case EVENT_EMITTED:
                return rejoin(spec, cp, obs, term);
            case REJOINED:
                return new Decision.Transition(cp.toBuilder()
                        .phase(Phase.COMPLETED, now())
                        .reason(plan.expectedRecords() == 0 ? Reason.NoDivergence : Reason.Completed,
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
                    return new Decision.Act(Decision.Action.FENCE, term);
                }
                if (plan.expectedRecords() == 0) {
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
                    return new Decision.Act(Decision.Action.FENCE, term);
                }
                return new Decision.Act(Decision.Action.VERIFY_FILE, term);
            case VERIFIED:
            case AWAITING_APPROVAL:
                if (!obs.target().fenced()) {
                    return new Decision.Act(Decision.Action.FENCE, term);
                }
                return gate(spec, cp, obs);
            default:
                throw new IllegalStateException("not a phase before the recover: " + cp.phase());
        }
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
        return gates;
    }

    private static String gateMessage(IncidentSpec spec, Checkpoint cp, Set<Reason> gates) {
        DivergentTail t = cp.tail();
        Limits l = spec.limits();
        StringBuilder b = new StringBuilder("awaiting approval before removing anything:");
        for (Reason g : gates) {
            switch (g) {
                case ManualApprovalRequired -> b.append(" manual approval is required;");
                case RecordLimitExceeded -> b.append(" ").append(t.recordCount()).append(" records exceed the limit of ")
                        .append(l.maxRecords()).append(";");
                case ByteLimitExceeded -> b.append(" ").append(t.bytes()).append(" bytes exceed the limit of ")
                        .append(l.maxBytes()).append(";");
                case SpanLimitExceeded -> b.append(" the divergent commits span ").append(t.span())
                        .append(", over the limit of ").append(l.maxSpan()).append(";");
                default -> b.append(" ").append(g.code()).append(";");
            }
        }
        b.append(" the tail is saved in ").append(cp.file().location()).append(" (sha256 ")
                .append(cp.file().sha256()).append("); approve with that digest or raise the limits");
        return b.toString();
    }

    private Decision resolveRecover(IncidentSpec spec, Checkpoint cp, Observation obs, Term term) {
        Plan plan = cp.plan();
        NodeTimeline target = obs.target();
        if (target.lastRecoveryIncident().equals(cp.incidentId())) {
            // The node began this incident's recover (its record is durable with the rollback-id bump).
            if (target.lastLsn().equals(plan.forkLsn())) {
                return new Decision.Transition(recovered(spec, cp, target.rollbackId(), target.lastLsn()));
            }
            return new Decision.Act(Decision.Action.RECOVER, term);
        }
        // The node never began it: nothing was removed, so a changed world still means a new plan.
        String changed = planInvalidated(cp, obs);
        if (changed != null) {
            if (target.currentTerm().isBefore(term)) {
                // Fence under the new term first: the node then refuses any delayed recover of this
                // plan (it carries the old term), so "never began" stays true after the re-plan.
                return new Decision.Act(Decision.Action.FENCE, term);
            }
            return replan(spec, cp, obs, changed);
        }
        if (!target.fenced()) {
            return new Decision.Act(Decision.Action.FENCE, term);
        }
        return new Decision.Act(Decision.Action.RECOVER, term);
    }

    private Decision rejoin(IncidentSpec spec, Checkpoint cp, Observation obs, Term term) {
        NodeTimeline leader = obs.leader();
        if (leader == null || !leader.node().equals(obs.leaseHolder()) || obs.leaderAddress() == null) {
            return new Decision.Wait(Reason.LeaderNotObserved, "the Lease holder " + obs.leaseHolder()
                    + " was not observed; waiting to rejoin");
        }
        ForkPoint.Result r = ForkPoint.compute(obs.target(), leader);
        if (!(r instanceof ForkPoint.Found f) || !f.lsn().equals(obs.target().lastLsn())) {
            return end(cp, Phase.FAILED, Reason.NewLeaderDiverged, "the current primary " + leader.node()
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
        if (!t.lastRecoveryIncident().equals(cp.incidentId()) || t.role() != io.dbrollback.model.NodeRole.REPLICA
                || obs.leader() == null || !obs.leader().node().equals(obs.leaseHolder())) {
            return false;
        }
        ForkPoint.Result r = ForkPoint.compute(t, obs.leader());
        return r instanceof ForkPoint.Found f && f.lsn().equals(t.lastLsn()) && t.lastLsn().isAfter(cp.plan().forkLsn());
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
                    "dry run: would save " + p.plan.expectedRecords() + " records (" + p.plan.forkLsn() + ", "
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
            return new PlanOrStop(null, end(cp, Phase.ABORTED, Reason.UnexpectedTerm, "the Lease shows term "
                    + obs.leaseTerm() + ", the spec expects " + spec.expectedTerm() + removalNote(cp, obs)));
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
        Plan plan = new Plan(number, spec.targetNode(), f.lsn(), f.commonTerm(), target.lastLsn(), target.commitLsn(), oldTerm,
                obs.leaseTerm(), obs.leaseHolder(), obs.leaderAddress(), f.lsn().distanceTo(target.lastLsn()), now());
        return new PlanOrStop(plan, null);
    }

    // ---- results of side effects -------------------------------------------------------------

    /** The fence took effect. */
    public Checkpoint afterFence(Checkpoint cp) {
        Checkpoint.Builder b = cp.toBuilder().progressed();
        if (cp.phase() == Phase.PLANNED) {
            b.phase(Phase.FENCED, now());
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
        if (tail.recordCount() != plan.expectedRecords() || file.recordCount() != tail.recordCount()
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

    /** The node answered the recover call. */
    public Checkpoint afterRecover(IncidentSpec spec, Checkpoint cp, RecoverResult result) {
        return recovered(spec, cp, result.rollbackId(), result.lastLsn());
    }

    private Checkpoint recovered(IncidentSpec spec, Checkpoint cp, long rollbackIdAfter, Lsn lastLsn) {
        Checkpoint withId = cp.toBuilder().rollbackIdAfter(rollbackIdAfter).build();
        if (!lastLsn.equals(cp.plan().forkLsn())) {
            return terminal(withId, Phase.FAILED, Reason.RecoverNotConfirmed, spec.targetNode() + " reports LSN "
                    + lastLsn + " after recovering to " + cp.plan().forkLsn());
        }
        if (rollbackIdAfter != cp.rollbackIdBefore() + 1) {
            return terminal(withId, Phase.FAILED, Reason.RollbackIdUnexpected, spec.targetNode()
                    + "'s rollback id went from " + cp.rollbackIdBefore() + " to " + rollbackIdAfter
                    + ", expected exactly one more; the rollback file " + cp.file().location() + " holds the tail");
        }
        return withId.toBuilder().phase(Phase.RECOVERED, now()).progressed().build();
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
        boolean nothing = p.expectedRecords() == 0;
        RollbackFile f = cp.file();
        return new RollbackEvent(cp.incidentId(), nothing ? RollbackEvent.Type.NO_DIVERGENCE
                : RollbackEvent.Type.ROLLED_BACK, spec.cluster(), spec.targetNode(), p.forkLsn(), p.targetLastLsn(),
                p.oldTerm(), p.newTerm(), p.newPrimary(), nothing ? 0 : cp.tail().recordCount(),
                nothing ? 0 : cp.tail().bytes(), f == null ? null : f.location(), f == null ? null : f.sha256(),
                cp.rollbackIdBefore(), cp.rollbackIdAfter(), now());
    }

    /** What an ending before completion means for the node's data, from the record and the node. */
    private static String removalNote(Checkpoint cp, Observation obs) {
        if (cp.recovered()) {
            return cp.file() == null ? "; it held nothing divergent, nothing was removed"
                    : "; it was already recovered to LSN " + cp.plan().forkLsn() + ", its tail is in "
                            + cp.file().location();
        }
        if (obs.target().lastRecoveryIncident().equals(cp.incidentId())) {
            return "; it had begun recovering to LSN " + cp.plan().forkLsn() + ", its tail is in "
                    + (cp.file() == null ? cp.supersededFiles() : cp.file().location());
        }
        return "; nothing was removed";
    }

    private String completionMessage(IncidentSpec spec, Checkpoint cp) {
        return event(spec, cp).message();
    }

    private Decision end(Checkpoint cp, Phase phase, Reason reason, String message) {
        return new Decision.Transition(terminal(cp, phase, reason, message));
    }

    private Checkpoint terminal(Checkpoint cp, Phase phase, Reason reason, String message) {
        return cp.toBuilder().phase(phase, now()).reason(reason, message).build();
    }

    private Instant now() {
        return clock.instant();
    }
}
