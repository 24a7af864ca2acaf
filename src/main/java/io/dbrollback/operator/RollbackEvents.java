package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.CopySpec;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.Coordinator;
import io.dbrollback.coordinator.Phase;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.RollbackEvent;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The Events of rollbacks, and what this process still owes: one Event per phase entered, a Warning
 * per kind of failed step, the loud announcement of what was removed (retried until written), and
 * the end Event, owed (and rescheduled for) until it is written even when the answer to the status
 * write that ended the rollback was lost. Events notify; the status is the durable record.
 */
final class RollbackEvents {

    private static final Logger LOG = Logger.getLogger(RollbackEvents.class);

    private final EventRecorder events;
    private final Clock clock;
    /** Rollbacks (uids) this process ended whose end Event is not written yet. */
    private final Set<String> endPending = ConcurrentHashMap.newKeySet();

    RollbackEvents(EventRecorder events, Clock clock) {
        this.events = events;
        this.clock = clock;
    }

    /** A status write is about to end {@code r}: its end Event is owed from now on. */
    void ending(ReplicaSetRollback r) {
        endPending.add(r.getMetadata().getUid());
    }

    /** Whether this process still owes the end Event of {@code r}. */
    boolean endOwed(ReplicaSetRollback r) {
        return endPending.contains(r.getMetadata().getUid());
    }

    /** Forgets a deleted rollback. */
    void forget(ReplicaSetRollback r) {
        endPending.remove(r.getMetadata().getUid());
    }

    /**
     * Writes the end Event of a rollback this process ended, unless it exists: when the answer to the
     * status write that ended it was lost (the API server applied it but the reply failed), the step
     * never announced the end. Only for rollbacks ended here, so that a restarted operator does not
     * announce again every rollback whose Events have expired.
     */
    void settleEnd(ReplicaSetRollback r, Checkpoint cp) {
        if (endOwed(r) && announceEnd(r, cp, false)) {
            endPending.remove(r.getMetadata().getUid());
        }
    }

    /** A problem held the rollback before any step; told once per reason. */
    void blocked(ReplicaSetRollback r, ClusterObserver.Problem p) {
        events.record(r, p.reason().warning() ? EventRecorder.Type.Warning : EventRecorder.Type.Normal,
                EventReason.RollbackBlocked, p.reason() + ": " + p.message(), r.getSpec().getTargetPod(),
                p.reason().name());
    }

    /** The loud announcement the coordinator emits after the recover; thrown (retried) until written. */
    void announce(ReplicaSetRollback r, RollbackEvent e) {
        boolean removed = e.type() == RollbackEvent.Type.ROLLED_BACK;
        if (!events.record(r, removed ? EventRecorder.Type.Warning : EventRecorder.Type.Normal,
                removed ? EventReason.NodeRolledBack : EventReason.NoDivergence, e.message(), e.node(),
                e.type().name())) {
            // The loud announcement is a step of its own: it is retried until it is written.
            throw new TransportException("EventNotWritten", false, "the rollback event could not be written");
        }
        LOG.infof("rollback %s/%s incident %s: %s", r.getMetadata().getNamespace(), r.getMetadata().getName(),
                e.incidentId(), e.message());
    }

    /** The Events of a step from {@code before} to {@code after}, written as stored. */
    void transition(ReplicaSetRollback r, Checkpoint before, Checkpoint after) {
        transition(r, before, after, null);
    }

    /**
     * As {@link #transition(ReplicaSetRollback, Checkpoint, Checkpoint)}, for a step taken on an observation whose
     * Lease holder was {@code leaseHolder} (null: not known): the primary a rejoin streams from.
     */
    void transition(ReplicaSetRollback r, Checkpoint before, Checkpoint after, String leaseHolder) {
        if (after.phase() != before.phase()) {
            entered(r, after, leaseHolder);
        }
        boolean failedNow = after.lastError() != null && after.attempts() > before.attempts();
        String pod = r.getSpec().getTargetPod();
        if (after.waiting() != null && after.waiting() != before.waiting() && !failedNow) {
            events.record(r, EventRecorder.Type.Normal, EventReason.RollbackWaiting, after.waiting().code() + ": "
                    + after.waitMessage(), pod, "wait-" + after.waiting().code());
        }
        copies(r, before, after);
        if (failedNow && after.waiting() == Reason.CopyNotVerified) {
            return; // told by RollbackCopyFailed
        }
        if (failedNow) {
            // One Event per phase and kind of failure (what failed: the observation or the step), whose
            // count rises with every failed attempt: a later failure of another kind never overwrites the
            // message of the first. An answer that broke the protocol has an Event reason of its own,
            // naming the RPC and the rule.
            boolean invalid = after.waiting() == Reason.AgentAnswerInvalid;
            String error = after.lastError();
            String what = error.indexOf(':') > 0 ? error.substring(0, error.indexOf(':')) : "";
            events.record(r, EventRecorder.Type.Warning, invalid ? EventReason.AgentAnswerInvalid
                    : EventReason.StepFailed, error, pod, "error-" + StatusMapper.phaseName(before.phase()) + "-"
                            + what + (invalid ? "-invalid" : ""));
        }
    }

    /**
     * The Events of the copy step: each copy record that is new or changed since {@code before}, a verified
     * copy (Normal) or a failed attempt (Warning, counted per place and failure); and, when the policy is
     * to proceed without a copy, the Warning that only one copy exists (once per plan).
     */
    private void copies(ReplicaSetRollback r, Checkpoint before, Checkpoint after) {
        String pod = r.getSpec().getTargetPod();
        for (FileCopy c : after.copies()) {
            if (before.copies().contains(c)) {
                continue;
            }
            String where = c.where() == null ? "no pod" : c.where();
            if (c.isVerified()) {
                events.record(r, EventRecorder.Type.Normal, EventReason.RollbackFileCopied, "plan " + c.plan()
                        + ": a copy of the rollback file is on " + where + " at " + c.path() + " (" + c.bytes()
                        + " bytes, SHA-256 " + c.sha256() + "), read back and verified", pod, "copied-plan" + c.plan()
                        + "-" + where);
            } else {
                events.record(r, EventRecorder.Type.Warning, EventReason.RollbackCopyFailed, "plan " + c.plan()
                        + ": the off-node copy to " + where + " failed: " + c.failure() + ": " + c.message(), pod,
                        "copy-failed-plan" + c.plan() + "-" + where + "-" + c.failure());
            }
        }
        boolean proceeding = after.file() != null && after.verifiedCopy() == null && !after.failedCopies().isEmpty()
                && after.waiting() != Reason.CopyNotVerified && r.getSpec().getCopy() != null
                && r.getSpec().getCopy().getOnFailure() == CopySpec.OnFailure.Proceed
                && !after.copies().equals(before.copies());
        if (proceeding) {
            events.record(r, EventRecorder.Type.Warning, EventReason.OnlyOneCopy, "only one copy of the rollback file"
                    + " exists: " + after.file().location() + " on " + pod + " (SHA-256 " + after.file().sha256()
                    + "); no off-node copy verified and spec.copy.onFailure is Proceed, so the rollback goes on",
                    pod, "one-copy-plan" + after.plan().number());
        }
    }

    private void entered(ReplicaSetRollback r, Checkpoint after, String leaseHolder) {
        String pod = r.getSpec().getTargetPod();
        String plan = after.plan() == null ? "" : "plan" + after.plan().number();
        switch (after.phase()) {
            case PLANNED -> events.record(r, EventRecorder.Type.Normal, EventReason.RollbackPlanned, describe(after)
                    + (after.reason() != null ? " (" + after.reason().code() + ")" : ""), pod, plan);
            case FENCED -> events.record(r, EventRecorder.Type.Normal, EventReason.NodeFenced, pod
                    + " refuses writes under term " + after.plan().newTerm(), pod, plan);
            case TAIL_PERSISTED -> events.record(r, EventRecorder.Type.Normal, EventReason.TailPersisted,
                    after.tail().recordCount() + " records (" + after.tail().bytes() + " bytes) saved to "
                            + after.file().location() + " in pod " + pod, pod, plan);
            case VERIFIED -> events.record(r, EventRecorder.Type.Normal, EventReason.RollbackFileVerified,
                    after.file().location() + " read back with SHA-256 " + after.file().sha256(), pod, plan);
            case AWAITING_APPROVAL -> events.record(r, EventRecorder.Type.Warning, EventReason.AwaitingApproval,
                    after.message() != null ? after.message() : describe(after), pod, plan);
            case RECOVERED -> events.record(r, EventRecorder.Type.Warning, EventReason.NodeRecovered, pod
                    + " recovered to LSN " + after.plan().forkLsn() + "; rollback id " + after.rollbackIdBefore()
                    + " -> " + after.rollbackIdAfter(), pod, "recovered");
            // the Lease holder the rejoin was sent to, which is the plan's new primary unless the Lease moved since
            case REJOINED -> events.record(r, EventRecorder.Type.Normal, EventReason.RejoinedAsReplica, pod
                    + " streams from " + (leaseHolder != null ? leaseHolder : after.plan().newPrimary()), pod,
                    "rejoined");
            case COMPLETED, DRY_RUN_COMPLETED, FAILED, ABORTED -> {
                if (announceEnd(r, after, true)) {
                    endPending.remove(r.getMetadata().getUid());
                }
            }
            default -> {
            }
        }
    }

    /**
     * Writes the Events that announce how a rollback ended: the loud NodeRolledBack first when the node
     * removed (or began removing) a plan's range and the rollback ended before announcing it (whatever
     * the answers said later, the Event names the file that holds what was removed), then the end
     * Event. True when both exist afterwards.
     *
     * @param repeat whether an Event that exists already counts again (false when making up for an
     *     Event whose write may have been lost)
     */
    private boolean announceEnd(ReplicaSetRollback r, Checkpoint cp, boolean repeat) {
        String pod = r.getSpec().getTargetPod();
        boolean written = true;
        Coordinator coordinator = new Coordinator(clock);
        RollbackEvent removal = coordinator.removalEvent(r.getMetadata().getNamespace() + "/"
                + LeaderReader.clusterName(r.getSpec().getCluster()), cp);
        if (removal != null) {
            written = write(repeat, r, EventRecorder.Type.Warning, EventReason.NodeRolledBack, removal.message(), pod,
                    removal.type().name());
        }
        String unknown = coordinator.unknownRemovalMessage(cp);
        if (unknown != null) {
            // Whether the node removed the range is not known: never claimed, never denied; the file is named.
            written = write(repeat, r, EventRecorder.Type.Warning, EventReason.RollbackOutcomeUnknown, unknown, pod,
                    "outcome-unknown") && written;
        }
        String message = cp.message() != null ? cp.message() : describe(cp);
        EventReason end = endReason(cp);
        EventRecorder.Type type = end == EventReason.RollbackCompleted || end == EventReason.DryRunCompleted
                ? EventRecorder.Type.Normal : EventRecorder.Type.Warning;
        return write(repeat, r, type, end, message, pod, endKey(end)) && written;
    }

    private boolean write(boolean repeat, ReplicaSetRollback r, EventRecorder.Type type, EventReason reason,
            String message, String pod, String dedupKey) {
        return repeat ? events.record(r, type, reason, message, pod, dedupKey)
                : events.recordIfAbsent(r, type, reason, message, pod, dedupKey);
    }

    /** The reason of the Event that announces how a rollback ended. */
    static EventReason endReason(Checkpoint cp) {
        return switch (cp.phase()) {
            case COMPLETED -> EventReason.RollbackCompleted;
            case DRY_RUN_COMPLETED -> EventReason.DryRunCompleted;
            case FAILED -> EventReason.RollbackFailed;
            case ABORTED -> EventReason.RollbackAborted;
            default -> throw new IllegalArgumentException("not an end: " + cp.phase());
        };
    }

    private static String endKey(EventReason end) {
        return switch (end) {
            case RollbackCompleted -> "completed";
            case DryRunCompleted -> "dryrun";
            case RollbackFailed -> "failed";
            default -> "aborted";
        };
    }

    /** A defect no step foresaw, told by a Warning. */
    void unexpected(ReplicaSetRollback r, RuntimeException e, Duration after) {
        events.record(r, EventRecorder.Type.Warning, EventReason.ReconcileFailed, "the operator failed unexpectedly ("
                + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": "
                        + GrpcRollbackTransport.agentText(e.getMessage())) + "); it looks again in "
                + after.toSeconds() + " s", r.getSpec() == null ? null : r.getSpec().getTargetPod(), "unexpected");
    }

    /** Deleted before anything was removed, after the node was fenced. */
    void deletedFenced(ReplicaSetRollback r, Checkpoint cp) {
        events.record(r, EventRecorder.Type.Warning, EventReason.RollbackDeleted, "deleted in phase "
                + StatusMapper.phaseName(cp.phase()) + " before anything was removed; pod "
                + r.getSpec().getTargetPod() + " stays fenced", r.getSpec().getTargetPod(), "deleted");
    }

    /** Deleted during or after the recover: the resource is kept until the rollback ends. */
    void deletionDeferred(ReplicaSetRollback r, Phase phase) {
        events.record(r, EventRecorder.Type.Normal, EventReason.DeletionDeferred, "the node is being recovered (phase "
                + StatusMapper.phaseName(phase) + "); the resource is kept until the rollback ends",
                r.getSpec().getTargetPod(), "deferred");
    }

    static String describe(Checkpoint cp) {
        if (cp.plan() == null) {
            return "phase " + StatusMapper.phaseName(cp.phase());
        }
        return "plan " + cp.plan().number() + ": save and remove " + Coordinator.records(cp.plan()) + " ("
                + cp.plan().forkLsn() + ", " + cp.plan().targetLastLsn() + "] of " + cp.plan().targetNode()
                + "; new primary " + cp.plan().newPrimary() + " in term " + cp.plan().newTerm();
    }
}
