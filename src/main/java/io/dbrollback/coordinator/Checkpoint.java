package io.dbrollback.coordinator;

import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.RollbackFile;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Everything recorded about one incident: what is done, the plan, the digest of the tail read, the
 * file, the rollback ids, the times of every step and the outcome. It is the durable audit record
 * (written to the custom resource's status after every step) and the only memory the coordinator
 * has: a restarted operator resumes from it.
 *
 * @param gates why the incident awaits approval (empty unless {@link Phase#AWAITING_APPROVAL})
 * @param rollbackIdBefore the target's rollback id when the recover intent was recorded
 * @param rollbackIdAfter the target's rollback id after the recover
 * @param reason why the incident ended (terminal phases), or what last happened to it (a gate, a
 *     re-plan); never overwritten by a wait
 * @param message a human sentence for {@code reason}
 * @param waiting why the incident waits right now, or null; cleared by progress
 * @param waitMessage a human sentence for {@code waiting}
 * @param lastError the last failed attempt at a step, cleared by progress
 * @param attempts failed attempts at the current step
 * @param retries counted failures and repeated fences in the current plan (see {@link Failure}); the
 *     plan's bound is {@link IncidentSpec#maxRetries()}; cleared by a re-plan, never by progress
 * @param recoverAnswer what the node answered to this plan's recover call (null before an answer); the
 *     phase stays {@link Phase#RECOVERING} until the node's own timeline confirms what it claims
 * @param removedPlan the number of the plan whose range the node removed, or began removing, for this
 *     incident (the current plan, or a superseded one whose delayed recover landed); null while no
 *     recover of this incident is known: the end record names that plan's file
 * @param removalUnknown the incident ended without knowing whether the node removed the current plan's
 *     range: a recover call may have taken effect, but the node's own record never showed it (the
 *     end record then names the file that holds the range, as it does for a known removal)
 * @param replans how often the plan was redone
 * @param supersededPlans earlier plans of the incident with their tails and files (never deleted)
 * @param phaseTimes when each phase was first entered
 * @param copies the off-node copies of the incident's files: one record per plan and place, verified
 *     (with its digest) or the last failure there
 */
public record Checkpoint(
        String incidentId,
        Phase phase,
        Plan plan,
        DivergentTail tail,
        RollbackFile file,
        Set<Reason> gates,
        Long rollbackIdBefore,
        Long rollbackIdAfter,
        Reason reason,
        String message,
        Reason waiting,
        String waitMessage,
        String lastError,
        int attempts,
        int retries,
        RecoverResult recoverAnswer,
        Integer removedPlan,
        boolean removalUnknown,
        int replans,
        List<SupersededPlan> supersededPlans,
        Map<Phase, Instant> phaseTimes,
        List<FileCopy> copies) {

    public Checkpoint {
        Objects.requireNonNull(incidentId, "incidentId");
        Objects.requireNonNull(phase, "phase");
        gates = gates == null || gates.isEmpty() ? Set.of() : Collections.unmodifiableSet(
                EnumSet.copyOf(gates));
        supersededPlans = supersededPlans == null ? List.of() : List.copyOf(supersededPlans);
        phaseTimes = phaseTimes == null || phaseTimes.isEmpty() ? Map.of()
                : Collections.unmodifiableMap(new EnumMap<>(phaseTimes));
        copies = copies == null ? List.of() : List.copyOf(copies);
    }

    /** A new incident with nothing done. */
    public static Checkpoint start(String incidentId, Instant now) {
        return new Checkpoint(incidentId, Phase.PENDING, null, null, null, Set.of(), null, null, null, null, null, null,
                null, 0, 0, null, null, false, 0, List.of(), Map.of(Phase.PENDING, now), List.of());
    }

    /** The rollback files of superseded plans, in order. */
    public List<RollbackFile> supersededFiles() {
        return supersededPlans.stream().map(SupersededPlan::file).filter(Objects::nonNull).toList();
    }

    /** The verified copy of the current plan's file, or null when there is none. */
    public FileCopy verifiedCopy() {
        if (plan == null || file == null) {
            return null;
        }
        for (FileCopy c : copies) {
            if (c.plan() == plan.number() && c.isVerified() && c.sha256().equals(file.sha256())
                    && c.bytes() == file.bytes()) {
                return c;
            }
        }
        return null;
    }

    /** The records of the current plan's copies that failed (their last attempt), in the order recorded. */
    public List<FileCopy> failedCopies() {
        if (plan == null) {
            return List.of();
        }
        return copies.stream().filter(c -> c.plan() == plan.number() && !c.isVerified()).toList();
    }

    /** Whether the node answered this plan's recover call. */
    public boolean recoverAnswered() {
        return recoverAnswer != null;
    }

    /** Whether the recover has taken effect on the node (recorded). */
    public boolean recovered() {
        return rollbackIdAfter != null;
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Copy-and-change for the coordinator's transitions. */
    public static final class Builder {
        private final String incidentId;
        private Phase phase;
        private Plan plan;
        private DivergentTail tail;
        private RollbackFile file;
        private Set<Reason> gates;
        private Long rollbackIdBefore;
        private Long rollbackIdAfter;
        private Reason reason;
        private String message;
        private Reason waiting;
        private String waitMessage;
        private String lastError;
        private int attempts;
        private int retries;
        private RecoverResult recoverAnswer;
        private Integer removedPlan;
        private boolean removalUnknown;
        private int replans;
        private final List<SupersededPlan> supersededPlans;
        private final Map<Phase, Instant> phaseTimes;
        private final List<FileCopy> copies;

        private Builder(Checkpoint c) {
            incidentId = c.incidentId;
            phase = c.phase;
            plan = c.plan;
            tail = c.tail;
            file = c.file;
            gates = c.gates;
            rollbackIdBefore = c.rollbackIdBefore;
            rollbackIdAfter = c.rollbackIdAfter;
            reason = c.reason;
            message = c.message;
            waiting = c.waiting;
            waitMessage = c.waitMessage;
            lastError = c.lastError;
            attempts = c.attempts;
            retries = c.retries;
            recoverAnswer = c.recoverAnswer;
            removedPlan = c.removedPlan;
            removalUnknown = c.removalUnknown;
            replans = c.replans;
            supersededPlans = new ArrayList<>(c.supersededPlans);
            phaseTimes = c.phaseTimes.isEmpty() ? new EnumMap<>(Phase.class) : new EnumMap<>(c.phaseTimes);
            copies = new ArrayList<>(c.copies);
        }

        /** Records {@code copy}, replacing the record of the same plan and place. */
        public Builder copy(FileCopy copy) {
            copies.removeIf(c -> c.samePlace(copy));
            copies.add(copy);
            return this;
        }

        /** Enters {@code next} at {@code now}; keeps the first time a phase was entered. */
        public Builder phase(Phase next, Instant now) {
            phase = next;
            phaseTimes.putIfAbsent(next, now);
            return this;
        }

        public Builder plan(Plan value) {
            plan = value;
            return this;
        }

        public Builder tail(DivergentTail value) {
            tail = value;
            return this;
        }

        public Builder file(RollbackFile value) {
            file = value;
            return this;
        }

        public Builder gates(Set<Reason> value) {
            gates = value;
            return this;
        }

        public Builder rollbackIdBefore(Long value) {
            rollbackIdBefore = value;
            return this;
        }

        public Builder rollbackIdAfter(Long value) {
            rollbackIdAfter = value;
            return this;
        }

        public Builder reason(Reason value, String text) {
            reason = value;
            message = text;
            return this;
        }

        /** Records why the incident waits now (cleared by progress). */
        public Builder waiting(Reason value, String text) {
            waiting = value;
            waitMessage = text;
            return this;
        }

        /** Records a failed attempt at the current step. */
        public Builder failedAttempt(String error) {
            lastError = error;
            attempts++;
            return this;
        }

        /** Counts a failure (or a repeated fence) against the plan's retry bound. */
        public Builder retried() {
            retries++;
            return this;
        }

        /** The node answered this plan's recover call with {@code answer}. */
        public Builder recoverAnswer(RecoverResult answer) {
            recoverAnswer = answer;
            return this;
        }

        /** The node removed, or began removing, the range of plan {@code number}. */
        public Builder removedPlan(Integer number) {
            removedPlan = number;
            return this;
        }

        /** The incident ends without knowing whether the node removed the current plan's range. */
        public Builder removalUnknown() {
            removalUnknown = true;
            return this;
        }

        /** Clears the attempt counter after progress. */
        public Builder progressed() {
            lastError = null;
            attempts = 0;
            waiting = null;
            waitMessage = null;
            return this;
        }

        /** Starts plan {@code next}; the current plan, its tail and its file are kept as superseded. */
        public Builder replan(Plan next, String why, Instant now) {
            supersededPlans.add(new SupersededPlan(plan, tail, file, why));
            replans++;
            plan = next;
            tail = null;
            file = null;
            gates = Set.of();
            rollbackIdBefore = null;
            retries = 0;
            recoverAnswer = null;
            phase = Phase.PLANNED;
            phaseTimes.put(Phase.PLANNED, now);
            for (Phase p : Phase.values()) {
                if (p.ordinal() > Phase.PLANNED.ordinal()) {
                    phaseTimes.remove(p);
                }
            }
            return this;
        }

        public Checkpoint build() {
            return new Checkpoint(incidentId, phase, plan, tail, file, gates, rollbackIdBefore, rollbackIdAfter, reason,
                    message, waiting, waitMessage, lastError, attempts, retries, recoverAnswer, removedPlan,
                    removalUnknown, replans, supersededPlans, phaseTimes, copies);
        }
    }
}
