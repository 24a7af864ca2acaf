package io.dbrollback.operator;

import io.dbrollback.api.ConditionType;
import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.Condition;
import io.dbrollback.api.PlanStatus;
import io.dbrollback.api.RecoverAnswerStatus;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.RollbackFileStatus;
import io.dbrollback.api.StepTime;
import io.dbrollback.api.SupersededPlanStatus;
import io.dbrollback.api.TailStatus;
import io.dbrollback.api.Unreadable;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.Plan;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.RecoverResult;
import io.dbrollback.coordinator.SupersededPlan;
import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.Term;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The one status builder: a {@link Checkpoint} to the custom resource's status and back, and the
 * conditions derived from it. Pure: the status is the durable checkpoint, so what it writes it must
 * read back identically (a restarted operator resumes from it).
 */
public final class StatusMapper {


    private StatusMapper() {
    }

    /** CamelCase phase name, as shown in the status and the printer column. */
    public static String phaseName(Phase p) {
        StringBuilder b = new StringBuilder();
        for (String part : p.name().split("_")) {
            b.append(part.charAt(0)).append(part.substring(1).toLowerCase(Locale.ROOT));
        }
        return b.toString();
    }

    public static Phase phaseOf(String name) {
        for (Phase p : Phase.values()) {
            if (phaseName(p).equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown phase " + name);
    }

    /**
     * The status for {@code cp}, keeping the transition times of conditions that did not change.
     *
     * @param previous the status as last written (may be null)
     * @param paused whether the pause annotation is set
     */
    public static ReplicaSetRollbackStatus toStatus(Checkpoint cp, ReplicaSetRollbackStatus previous, long generation,
            boolean paused, Instant now) {
        ReplicaSetRollbackStatus s = new ReplicaSetRollbackStatus();
        s.setObservedGeneration(generation);
        s.setIncidentId(cp.incidentId());
        s.setPhase(phaseName(cp.phase()));
        Plan plan = cp.plan();
        s.setPlan(plan == null ? null : plan(plan));
        s.setTail(cp.tail() == null ? null : tail(cp.tail()));
        s.setRollbackFile(cp.file() == null ? null : file(cp.file(), plan));
        s.setGates(cp.gates().isEmpty() ? null : cp.gates().stream().map(Reason::code).sorted().toList());
        boolean pastGate = !cp.gates().isEmpty() && cp.phase() != Phase.AWAITING_APPROVAL && cp.file() != null
                && cp.rollbackIdBefore() != null;
        s.setApprovedFor(pastGate ? cp.file().sha256() : null);
        s.setRollbackIdBefore(cp.rollbackIdBefore());
        s.setRollbackIdAfter(cp.rollbackIdAfter());
        s.setReason(cp.reason() == null ? null : cp.reason().code());
        s.setMessage(cp.message());
        s.setWaiting(cp.waiting() == null ? null : cp.waiting().code());
        s.setWaitMessage(cp.waitMessage());
        s.setLastError(cp.lastError());
        s.setAttempts(cp.attempts() == 0 ? null : cp.attempts());
        s.setRetries(cp.retries() == 0 ? null : cp.retries());
        if (cp.recoverAnswer() != null) {
            RecoverAnswerStatus a = new RecoverAnswerStatus();
            a.setRollbackId(cp.recoverAnswer().rollbackId());
            a.setLastLsn(cp.recoverAnswer().lastLsn().value());
            s.setRecoverAnswer(a);
        }
        s.setRemovedPlan(cp.removedPlan());
        s.setRemovalUnknown(cp.removalUnknown() ? Boolean.TRUE : null);
        s.setReplans(cp.replans() == 0 ? null : cp.replans());
        if (!cp.supersededPlans().isEmpty()) {
            List<SupersededPlanStatus> list = new ArrayList<>();
            for (SupersededPlan sp : cp.supersededPlans()) {
                SupersededPlanStatus x = new SupersededPlanStatus();
                x.setPlan(plan(sp.plan()));
                x.setTail(sp.tail() == null ? null : tail(sp.tail()));
                x.setRollbackFile(sp.file() == null ? null : file(sp.file(), sp.plan()));
                x.setReason(sp.why());
                list.add(x);
            }
            s.setSupersededPlans(list);
        }
        if (!cp.copies().isEmpty()) {
            List<CopyStatus> list = new ArrayList<>();
            for (FileCopy c : cp.copies()) {
                list.add(copy(c));
            }
            s.setCopies(list);
        }
        List<StepTime> steps = new ArrayList<>();
        for (Map.Entry<Phase, Instant> e : cp.phaseTimes().entrySet()) {
            StepTime t = new StepTime();
            t.setPhase(phaseName(e.getKey()));
            t.setTime(e.getValue().toString());
            steps.add(t);
        }
        s.setSteps(steps);
        s.setConditions(conditions(cp, previous == null ? List.of() : previous.getConditions(), generation, paused,
                now));
        return s;
    }

    /** The checkpoint recorded in {@code s}, or null when the status holds none yet. */
    public static Checkpoint fromStatus(ReplicaSetRollbackStatus s) {
        if (s instanceof Unreadable u) {
            throw new IllegalArgumentException(u.problem()); // all null: it must never read as "nothing done yet"
        }
        if (s == null || s.getIncidentId() == null || s.getPhase() == null) {
            return null;
        }
        Plan plan = s.getPlan() == null ? null : plan(s.getPlan());
        Set<Reason> gates = EnumSet.noneOf(Reason.class);
        if (s.getGates() != null) {
            s.getGates().forEach(g -> gates.add(Reason.valueOf(g)));
        }
        List<SupersededPlan> superseded = new ArrayList<>();
        if (s.getSupersededPlans() != null) {
            for (SupersededPlanStatus x : s.getSupersededPlans()) {
                Plan p = plan(x.getPlan());
                superseded.add(new SupersededPlan(p, x.getTail() == null ? null : tail(x.getTail(), p),
                        x.getRollbackFile() == null ? null : file(x.getRollbackFile()), x.getReason()));
            }
        }
        Map<Phase, Instant> times = new EnumMap<>(Phase.class);
        if (s.getSteps() != null) {
            for (StepTime t : s.getSteps()) {
                times.put(phaseOf(t.getPhase()), Instant.parse(t.getTime()));
            }
        }
        return new Checkpoint(s.getIncidentId(), phaseOf(s.getPhase()), plan,
                s.getTail() == null ? null : tail(s.getTail(), plan), s.getRollbackFile() == null ? null
                        : file(s.getRollbackFile()), gates, s.getRollbackIdBefore(), s.getRollbackIdAfter(),
                s.getReason() == null ? null : Reason.valueOf(s.getReason()), s.getMessage(),
                coordinatorReason(s.getWaiting()),
                coordinatorReason(s.getWaiting()) == null ? null : s.getWaitMessage(),
                s.getLastError(),
                s.getAttempts() == null ? 0 : s.getAttempts(), s.getRetries() == null ? 0 : s.getRetries(),
                recoverAnswer(s.getRecoverAnswer()), s.getRemovedPlan(), Boolean.TRUE.equals(s.getRemovalUnknown()),
                s.getReplans() == null ? 0 : s.getReplans(), superseded,
                times, copies(s.getCopies()));
    }

    private static CopyStatus copy(FileCopy c) {
        CopyStatus x = new CopyStatus();
        x.setPlan(c.plan());
        x.setKind(c.kind());
        if (FileCopy.OBJECT_STORE.equals(c.kind())) {
            x.setStore(c.where());
        } else {
            x.setPod(c.where());
        }
        x.setPath(c.path());
        x.setBytes(c.bytes());
        x.setSha256(c.sha256());
        x.setVerifiedAt(c.verifiedAt() == null ? null : c.verifiedAt().toString());
        x.setFailure(c.failure());
        x.setMessage(c.message());
        x.setFailedAt(c.failedAt() == null ? null : c.failedAt().toString());
        return x;
    }

    private static List<FileCopy> copies(List<CopyStatus> list) {
        List<FileCopy> out = new ArrayList<>();
        if (list != null) {
            for (CopyStatus x : list) {
                String where = FileCopy.OBJECT_STORE.equals(x.getKind()) ? x.getStore() : x.getPod();
                out.add(new FileCopy(x.getPlan(), x.getKind(), where, x.getPath(),
                        x.getBytes() == null ? 0 : x.getBytes(), x.getSha256(),
                        x.getVerifiedAt() == null ? null : Instant.parse(x.getVerifiedAt()), x.getFailure(),
                        x.getMessage(), x.getFailedAt() == null ? null : Instant.parse(x.getFailedAt())));
            }
        }
        return out;
    }

    /**
     * A wait of the coordinator's, or null for the operator's own blocks (an invalid spec, a missing
     * pod, a queue), which are found afresh on every reconcile and never part of the checkpoint.
     */
    private static Reason coordinatorReason(String code) {
        if (code == null) {
            return null;
        }
        for (Reason r : Reason.values()) {
            if (r.code().equals(code)) {
                return r;
            }
        }
        return null;
    }

    private static RecoverResult recoverAnswer(RecoverAnswerStatus a) {
        return a == null || a.getRollbackId() == null || a.getLastLsn() == null ? null
                : new RecoverResult(a.getRollbackId(), Lsn.of(a.getLastLsn()));
    }

    private static PlanStatus plan(Plan p) {
        PlanStatus s = new PlanStatus();
        s.setTargetPod(p.targetNode());
        s.setNumber(p.number());
        s.setForkLsn(p.forkLsn().value());
        s.setCommonTerm(p.commonTerm() == null ? null : p.commonTerm().value());
        s.setLastLsn(p.targetLastLsn().value());
        s.setCommitLsn(p.targetCommitLsn().value());
        s.setExpectedRecords(p.positions() ? null : p.expectedRecords());
        s.setLsnKind(p.positions() ? PlanStatus.POSITIONS : null);
        s.setOldTerm(p.oldTerm() == null ? null : p.oldTerm().value());
        s.setNewTerm(p.newTerm().value());
        s.setNewPrimary(p.newPrimary());
        s.setNewPrimaryAddress(p.newPrimaryAddress());
        s.setPlannedAt(p.plannedAt().toString());
        return s;
    }

    private static Plan plan(PlanStatus s) {
        return new Plan(s.getNumber(), s.getTargetPod(), Lsn.of(s.getForkLsn()),
                s.getCommonTerm() == null ? null : Term.of(s.getCommonTerm()), Lsn.of(s.getLastLsn()),
                Lsn.of(s.getCommitLsn()), s.getOldTerm() == null ? null : Term.of(s.getOldTerm()),
                Term.of(s.getNewTerm()), s.getNewPrimary(), s.getNewPrimaryAddress(), positions(s) ? Plan.UNKNOWN
                        : s.getExpectedRecords(), Instant.parse(s.getPlannedAt()), positions(s));
    }

    /** Whether a plan's LSNs are positions; any lsnKind but Positions (or none) is refused as unreadable. */
    private static boolean positions(PlanStatus s) {
        if (s.getLsnKind() == null) {
            return false;
        }
        if (!PlanStatus.POSITIONS.equals(s.getLsnKind())) {
            throw new IllegalArgumentException("plan.lsnKind must be Positions or absent");
        }
        return true;
    }

    private static TailStatus tail(DivergentTail t) {
        TailStatus s = new TailStatus();
        s.setFromLsn(t.fromExclusive().value());
        s.setToLsn(t.toInclusive().value());
        s.setRecords(t.recordCount());
        s.setBytes(t.bytes());
        s.setSha256(t.sha256());
        s.setFirstCommit(t.firstCommit() == null ? null : t.firstCommit().toString());
        s.setLastCommit(t.lastCommit() == null ? null : t.lastCommit().toString());
        s.setUncapturedRecords(t.uncapturedCount() == 0 ? null : t.uncapturedCount());
        return s;
    }

    private static DivergentTail tail(TailStatus s, Plan plan) {
        return new DivergentTail(Lsn.of(s.getFromLsn()), Lsn.of(s.getToLsn()), plan.targetNode(),
                plan.oldTerm() == null ? Term.of(0) : plan.oldTerm(), s.getRecords(), s.getBytes(), s.getSha256(),
                s.getFirstCommit() == null ? null : Instant.parse(s.getFirstCommit()),
                s.getLastCommit() == null ? null : Instant.parse(s.getLastCommit()),
                s.getUncapturedRecords() == null ? 0 : s.getUncapturedRecords());
    }

    private static RollbackFileStatus file(RollbackFile f, Plan plan) {
        RollbackFileStatus s = new RollbackFileStatus();
        s.setPod(plan == null ? null : plan.targetNode());
        s.setPath(f.location());
        s.setSha256(f.sha256());
        s.setTailSha256(f.tailSha256());
        s.setBytes(f.bytes());
        s.setRecords(f.recordCount());
        return s;
    }

    private static RollbackFile file(RollbackFileStatus s) {
        return new RollbackFile(s.getPath(), s.getSha256(), s.getTailSha256(), s.getBytes(), s.getRecords());
    }

    /** The standard conditions for {@code cp}; one top-level Ready. */
    static List<Condition> conditions(Checkpoint cp, List<Condition> previous, long generation, boolean paused,
            Instant now) {
        Phase p = cp.phase();
        boolean terminal = p.isTerminal();
        String reasonCode = cp.reason() == null ? phaseName(p) : cp.reason().code();
        List<Condition> out = new ArrayList<>();
        boolean ready = p == Phase.COMPLETED || p == Phase.DRY_RUN_COMPLETED;
        out.add(condition(previous, ConditionType.Ready, ready,
                ready ? reasonCode : terminal ? reasonCode : phaseName(p),
                ready ? cp.message() : terminal ? cp.message() : "in phase " + phaseName(p), generation, now));
        boolean waiting = cp.waiting() != null;
        boolean progressing = !terminal && !paused && !waiting && p != Phase.AWAITING_APPROVAL;
        out.add(condition(previous, ConditionType.Progressing, progressing, progressing ? phaseName(p)
                : terminal ? reasonCode : paused ? "Paused" : waiting ? cp.waiting().code() : "AwaitingApproval",
                progressing ? "in phase " + phaseName(p) + (cp.lastError() != null ? "; last attempt: "
                        + cp.lastError() : "") : null, generation, now));
        boolean gated = p == Phase.AWAITING_APPROVAL;
        out.add(condition(previous, ConditionType.AwaitingApproval, gated,
                gated ? cp.gates().iterator().next().code() : "NotGated", gated ? cp.message() : null, generation,
                now));
        out.add(condition(previous, ConditionType.Blocked, waiting, waiting ? cp.waiting().code() : "NotBlocked",
                waiting ? cp.waitMessage() : null, generation, now));
        boolean failed = p == Phase.FAILED || p == Phase.ABORTED;
        out.add(condition(previous, ConditionType.Failed, failed, failed ? reasonCode : "NotFailed",
                failed ? cp.message() : null,
                generation, now));
        out.add(condition(previous, ConditionType.Paused, paused, paused ? "PauseAnnotation" : "NotPaused",
                paused ? "the dbrollback.io/paused annotation is set; nothing is done until it is removed" : null,
                generation, now));
        if (!cp.copies().isEmpty()) {
            out.add(copyCondition(cp, previous, generation, now));
        }
        return out;
    }

    /** OffNodeCopy, once a copy was tried: whether a copy of the current plan's file verified. */
    private static Condition copyCondition(Checkpoint cp, List<Condition> previous, long generation, Instant now) {
        FileCopy ok = cp.verifiedCopy();
        if (ok != null) {
            return condition(previous, ConditionType.OffNodeCopy, true, "Verified", "a copy of " + cp.file().location()
                    + " is on " + ok.where() + " at " + ok.path() + " with SHA-256 " + ok.sha256(), generation, now);
        }
        List<FileCopy> failed = cp.failedCopies();
        String why = failed.isEmpty() ? "no copy of this plan's file was made yet"
                : failed.get(failed.size() - 1).failure() + ": " + failed.get(failed.size() - 1).message();
        if (cp.waiting() == Reason.CopyNotVerified || cp.phase() == Phase.VERIFIED && !failed.isEmpty()) {
            return condition(previous, ConditionType.OffNodeCopy, false, Reason.CopyNotVerified.code(), why,
                    generation, now);
        }
        return condition(previous, ConditionType.OffNodeCopy, false, "OnlyOneCopy", "only one copy of the rollback"
                + " file exists" + (cp.file() == null ? "" : ", " + cp.file().location() + " on the target pod") + ": "
                + why, generation, now);
    }

    private static Condition condition(List<Condition> previous, ConditionType type, boolean status, String reason,
            String message, long generation, Instant now) {
        String value = status ? "True" : "False";
        Condition c = new Condition();
        c.setType(type.name());
        c.setStatus(value);
        c.setReason(reason);
        c.setMessage(message);
        c.setObservedGeneration(generation);
        String since = now.toString();
        if (previous != null) {
            for (Condition old : previous) {
                if (type.name().equals(old.getType()) && value.equals(old.getStatus())
                        && old.getLastTransitionTime() != null) {
                    since = old.getLastTransitionTime();
                }
            }
        }
        c.setLastTransitionTime(since);
        return c;
    }

    /**
     * Marks {@code status} blocked by a problem found before any step (a missing pod, Lease or port,
     * an invalid value, another rollback of the cluster in progress): nothing was called.
     */
    public static void block(ReplicaSetRollbackStatus status, BlockReason blocked, String message,
            ReplicaSetRollbackStatus previous, Instant now) {
        String reason = blocked.name();
        status.setWaiting(reason);
        status.setWaitMessage(message);
        List<Condition> old = previous == null || previous.getConditions() == null ? List.of()
                : previous.getConditions();
        List<Condition> out = new ArrayList<>();
        for (Condition c : status.getConditions()) {
            if (c.getType().equals(ConditionType.Blocked.name())) {
                c = condition(old, ConditionType.Blocked, true, reason, message, c.getObservedGeneration(), now);
            } else if (c.getType().equals(ConditionType.Progressing.name())) {
                c = condition(old, ConditionType.Progressing, false, reason, null, c.getObservedGeneration(), now);
            }
            out.add(c);
        }
        status.setConditions(out);
    }

    private static final String NOT_A_PHASE = "not a phase this operator knows";
    private static final String NOT_A_REASON = "not a reason this operator knows";
    private static final String INCOMPLETE = "must hold every value this operator records there, well formed";

    /**
     * Why {@code s} cannot be read back as a checkpoint: each field path with the rule it breaks
     * (never the value), or null when it can be, or holds none yet. A status this operator did not
     * write (restored from a backup of another version, edited by hand) must block the rollback: read
     * as "nothing done yet" or half read, it would start or resume a rollback on a guess.
     */
    public static String unreadable(ReplicaSetRollbackStatus s) {
        if (s instanceof Unreadable u) {
            return u.problem();
        }
        if (s == null || s.getIncidentId() == null && s.getPhase() == null) {
            return null;
        }
        if (s.getIncidentId() == null || s.getPhase() == null) {
            return (s.getPhase() == null ? "status.phase" : "status.incidentId")
                    + ": must be set when status." + (s.getPhase() == null ? "incidentId" : "phase") + " is";
        }
        List<String> found = new ArrayList<>();
        check(found, "status.phase", NOT_A_PHASE, () -> phaseOf(s.getPhase()));
        check(found, "status.reason", NOT_A_REASON, () -> reasonOf(s.getReason()));
        List<String> gates = s.getGates() == null ? List.of() : s.getGates();
        for (int i = 0; i < gates.size(); i++) {
            String g = gates.get(i);
            check(found, "status.gates[" + i + "]", NOT_A_REASON, () -> Reason.valueOf(g));
        }
        int before = found.size();
        check(found, "status.plan", INCOMPLETE, () -> plan(s.getPlan()), s.getPlan());
        if (s.getTail() != null && s.getPlan() == null) {
            found.add("status.tail: must come with status.plan");
        } else if (found.size() == before) { // a tail is read against its plan: judged only when that reads
            check(found, "status.tail", INCOMPLETE, () -> tail(s.getTail(), plan(s.getPlan())), s.getTail());
        }
        check(found, "status.rollbackFile", INCOMPLETE, () -> file(s.getRollbackFile()), s.getRollbackFile());
        List<StepTime> steps = s.getSteps() == null ? List.of() : s.getSteps();
        for (int i = 0; i < steps.size(); i++) {
            StepTime t = steps.get(i);
            check(found, "status.steps[" + i + "].phase", NOT_A_PHASE, () -> phaseOf(t.getPhase()));
            check(found, "status.steps[" + i + "].time", "must be an RFC 3339 time", () -> Instant.parse(t.getTime()));
        }
        List<SupersededPlanStatus> superseded = s.getSupersededPlans() == null ? List.of() : s.getSupersededPlans();
        for (int i = 0; i < superseded.size(); i++) {
            SupersededPlanStatus x = superseded.get(i);
            check(found, "status.supersededPlans[" + i + "]", INCOMPLETE, () -> {
                Plan p = plan(x.getPlan());
                return List.of(p, x.getTail() == null ? p : tail(x.getTail(), p),
                        x.getRollbackFile() == null ? p : file(x.getRollbackFile()));
            });
        }
        if (found.isEmpty()) {
            check(found, "status", "cannot be read back as a checkpoint", () -> fromStatus(s));
        }
        return found.isEmpty() ? null : String.join("; ", found);
    }

    private static Reason reasonOf(String code) {
        return code == null ? null : Reason.valueOf(code);
    }

    /** Adds {@code path: rule} to {@code found} when reading the part fails; a part that is absent is skipped. */
    private static void check(List<String> found, String path, String rule, Supplier<?> read,
            Object part) {
        if (part != null) {
            check(found, path, rule, read);
        }
    }

    private static void check(List<String> found, String path, String rule, Supplier<?> read) {
        try {
            read.get();
        } catch (RuntimeException e) {
            found.add(path + ": " + rule);
        }
    }

    /**
     * {@code stored} kept as it is, with the rollback marked blocked by {@code reason} (status.waiting
     * and the Blocked and Progressing conditions): for a status that cannot be read back as a
     * checkpoint, which stays on record unchanged until someone fixes or deletes it.
     */
    public static ReplicaSetRollbackStatus blockedAsStored(ReplicaSetRollbackStatus stored, BlockReason blocked,
            String message, long generation, Instant now) {
        String reason = blocked.name();
        ReplicaSetRollbackStatus s = Json.MAPPER.convertValue(stored, ReplicaSetRollbackStatus.class);
        s.setWaiting(reason);
        s.setWaitMessage(message);
        List<Condition> old = s.getConditions() == null ? List.of() : s.getConditions();
        List<Condition> out = new ArrayList<>();
        for (Condition c : old) {
            if (!ConditionType.Blocked.name().equals(c.getType())
                    && !ConditionType.Progressing.name().equals(c.getType())) {
                out.add(c);
            }
        }
        out.add(condition(old, ConditionType.Progressing, false, reason, null, generation, now));
        out.add(condition(old, ConditionType.Blocked, true, reason, message, generation, now));
        s.setConditions(out);
        return s;
    }

    /** Whether two statuses say the same, so a write can be skipped. */
    public static boolean same(ReplicaSetRollbackStatus a, ReplicaSetRollbackStatus b) {
        return Objects.equals(Json.write(a), Json.write(b));
    }
}
