package io.dbrollback.operator;

import io.dbrollback.api.AutomaticRollbackStatus;
import io.dbrollback.api.Condition;
import io.dbrollback.api.FailoverReport;
import io.dbrollback.api.LeaderStatus;
import io.dbrollback.api.NodeReport;
import io.dbrollback.api.PolicyMode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.api.RollbackPolicySpec;
import io.dbrollback.api.RollbackPolicyStatus;
import io.dbrollback.coordinator.Divergence;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailSummary;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * One pass of the autopilot over a RollbackPolicy: read the leader; on a change of holder or term,
 * open a failover report; look at every pod that is not the leader (diverged, behind, in sync,
 * unreachable); write the impact report (status, then a Warning Event per diverged pod) before
 * anything can be removed; then, by the policy's mode, create one ReplicaSetRollback per diverged
 * pod (never two for the same pod and term: the name is derived from both, and a pod with a rollback
 * still under way gets none); and follow the rollbacks it created to their end.
 *
 * <p>Every side effect goes through the {@link AutopilotWorld}; each step is written to the status
 * before the next one, so a pass cut anywhere (an operator restart, a refused write) is resumed by
 * the next one from the status. Nothing here reads the Kubernetes client.
 */
public final class Autopilot {

    /** Failover reports kept in the status. */
    static final int MAX_REPORTS = 10;
    static final String DETECTING = "Detecting";
    static final String COMPLETE = "Complete";
    static final String UNREACHABLE = "Unreachable";
    /** The phases a rollback ends in. */
    static final Set<String> ENDED = Set.of("Completed", "DryRunCompleted", "Failed", "Aborted");
    /** A rollback the policy followed that was deleted before it ended. */
    static final String DELETED = "Deleted";

    /** When to look at the policy again. */
    public record Pass(Duration recheck) {
    }

    private final AutopilotWorld world;
    private final PolicyEvents events;
    private final PolicyMetrics metrics;
    private final ReconcileSettings settings;
    private final Clock clock;
    /** The status as last written in this pass (JSON), to write at the end only what changed. */
    private String written;

    public Autopilot(AutopilotWorld world, PolicyEvents events, PolicyMetrics metrics, ReconcileSettings settings,
            Clock clock) {
        this.world = Objects.requireNonNull(world, "world");
        this.events = Objects.requireNonNull(events, "events");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** The problems of a policy's spec (the schema's rules again), empty when it is valid. */
    public static List<String> problems(RollbackPolicy p) {
        List<String> problems = new ArrayList<>();
        RollbackPolicySpec s = p.getSpec();
        if (s == null) {
            problems.add("spec is required");
            return problems;
        }
        if (s.getMode() == null) {
            problems.add("mode must be Automatic, Manual or Observe");
        }
        try {
            coolDown(s);
        } catch (IllegalArgumentException e) {
            problems.add("coolDown must look like 10m, 1h or 1h30m");
        }
        // The rollbacks it would create must be valid: the same checks as a ReplicaSetRollback's.
        for (String problem : SpecValidator.problems(PolicyRollbacks.build(p, "pod", 1,
                ReplicaSetRollbackSpec.Approval.Manual))) {
            problems.add(problem.startsWith("cluster") || problem.startsWith("agentTlsSecret")
                    || problem.startsWith("spec.cluster") ? problem : "rollback." + problem);
        }
        return problems;
    }

    static Duration coolDown(RollbackPolicySpec s) {
        String text = s.getCoolDown() == null ? "10m" : s.getCoolDown();
        if (text.length() < 2 || !SpecValidator.SPAN.matcher(text).matches()) {
            throw new IllegalArgumentException("coolDown");
        }
        return IncidentSpecs.span(text);
    }

    /** One pass over {@code p} (as stored): writes what it finds and does, answers when to look again. */
    public Pass run(RollbackPolicy p) {
        Instant now = clock.instant();
        String ns = p.getMetadata().getNamespace();
        if (p.getStatus() == null) {
            p.setStatus(new RollbackPolicyStatus());
        }
        written = Json.write(p.getStatus());
        List<String> invalid = problems(p);
        if (!invalid.isEmpty()) {
            return blocked(p, "InvalidSpec", "the policy is invalid: " + String.join("; ", invalid)
                    + "; nothing was done");
        }
        RollbackPolicySpec spec = p.getSpec();
        LeaderReader.Reading reading = world.leader(ns, spec.getCluster());
        if (reading.problem() != null) {
            return blocked(p, reading.problem().reason().name(), reading.problem().message());
        }
        LeaderReader.Leader leader = reading.leader();
        if (leader.holder() == null) {
            return blocked(p, "NoLeader", leader.source() + " names no holder: no pod leads the cluster; "
                    + "nothing was done");
        }
        FailoverReport last = latest(p);
        long term = leader.term().value();
        if (last != null && last.getTerm() != null && term <= last.getTerm()
                && !(term == last.getTerm() && leader.holder().equals(last.getLeader()))) {
            // a new holder needs a new term: the term names the failover (and its rollbacks)
            return blocked(p, "TermNotAdvanced", leader.source() + " names " + leader.holder() + " in term " + term
                    + ", not after term " + last.getTerm() + " of " + last.getLeader() + ": a failover the policy "
                    + "cannot tell apart; nothing was done (give the leader's term in the dbrollback.io/term "
                    + "annotation or spec.leaseTransitions)");
        }
        ClusterObserver.MembersReading members = world.members(ns, spec.getCluster(), spec.getAgentTlsSecret());
        if (members.problem() != null) {
            return blocked(p, members.problem().reason().name(), members.problem().message());
        }
        if (!members.members().pods().contains(leader.holder())) {
            return blocked(p, "LeaderNotAPod", leader.source() + " names " + leader.holder() + ", which is not a pod "
                    + "of cluster.podSelector " + spec.getCluster().getPodSelector() + " (" + members.members().pods()
                    .size() + " pods match); nothing was done");
        }
        FailoverReport report = reportFor(p, leader, now);
        setCondition(p, "Blocked", false, "ClusterReadable", null, now);
        detect(p, members.members(), report, now);
        if (COMPLETE.equals(report.getDetection())) {
            setCondition(p, "Ready", true, "FailoverExamined", "every pod of the failover to term " + report.getTerm()
                    + " was looked at", now);
        }
        if (spec.getMode() != PolicyMode.Observe) {
            act(p, report, now);
        }
        follow(p, now);
        if (!Json.write(p.getStatus()).equals(written)) {
            write(p);
        }
        boolean pending = DETECTING.equals(report.getDetection());
        return new Pass(pending ? settings.backoff(report.getAttempts())
                : following(p) ? settings.waitRecheck() : settings.blockedRecheck());
    }

    // ---- the leader --------------------------------------------------------------------------

    /** The report of the current leader: the latest one, or a new one when the holder or term changed. */
    private FailoverReport reportFor(RollbackPolicy p, LeaderReader.Leader leader, Instant now) {
        RollbackPolicyStatus s = p.getStatus();
        FailoverReport last = s.getFailovers().isEmpty() ? null : s.getFailovers().get(s.getFailovers().size() - 1);
        long term = leader.term().value();
        if (last != null && Objects.equals(last.getTerm(), term) && leader.holder().equals(last.getLeader())) {
            return last;
        }
        FailoverReport r = new FailoverReport();
        r.setTerm(term);
        r.setLeader(leader.holder());
        LeaderStatus before = s.getLeader();
        if (before != null) {
            r.setPreviousLeader(before.getHolder());
            r.setPreviousTerm(before.getTerm());
        }
        r.setDetectedAt(now.toString());
        r.setDetection(DETECTING);
        s.getFailovers().add(r);
        while (s.getFailovers().size() > MAX_REPORTS) {
            s.getFailovers().remove(0);
        }
        LeaderStatus l = new LeaderStatus();
        l.setHolder(leader.holder());
        l.setTerm(term);
        l.setSource(leader.source());
        l.setSince(now.toString());
        s.setLeader(l);
        if (before != null) {
            s.setFailoversDetected(s.getFailoversDetected() + 1);
        }
        setCondition(p, "Blocked", false, "ClusterReadable", null, now);
        RollbackPolicy stored = write(p);
        String ns = p.getMetadata().getNamespace();
        String name = p.getMetadata().getName();
        if (before != null) {
            metrics.failoverDetected(ns, name);
            events.record(stored, EventRecorder.Type.Normal, PolicyEventReason.FailoverDetected,
                    "the leader moved from " + before.getHolder() + " (term " + before.getTerm() + ") to "
                    + leader.holder() + " (term " + term + ", " + leader.source()
                    + "); looking at every other pod for writes the new leader lacks",
                    leader.holder(), "t" + term + "/" + leader.holder());
        } else {
            events.record(stored, EventRecorder.Type.Normal, PolicyEventReason.LeaderObserved, leader.holder()
                    + " leads in term " + term + " (" + leader.source() + "); looking at every other pod",
                    leader.holder(), "t" + term + "/" + leader.holder());
        }
        return latest(p);
    }

    // ---- detection ---------------------------------------------------------------------------

    private void detect(RollbackPolicy p, ClusterObserver.Members members, FailoverReport report, Instant now) {
        if (!DETECTING.equals(report.getDetection())) {
            return;
        }
        // The pods first, the leader last: a replica read after the leader may hold records the leader
        // wrote after it was read, which would look like a tail the leader lacks.
        boolean pending = false;
        List<NodeReport> unreachable = new ArrayList<>();
        Map<String, NodeTimeline> looked = new LinkedHashMap<>();
        for (String pod : members.pods()) {
            if (pod.equals(report.getLeader())) {
                continue;
            }
            NodeReport n = node(report, pod);
            if (n.getState() != null && !UNREACHABLE.equals(n.getState())) {
                continue; // looked at already for this failover
            }
            try {
                looked.put(pod, world.timeline(members, pod));
            } catch (TransportException e) {
                pending = true;
                if (!UNREACHABLE.equals(n.getState())) {
                    unreachable.add(n);
                }
                n.setState(UNREACHABLE);
                n.setMessage(pod + " could not be asked for its timeline: " + clip(e.getMessage())
                        + "; looked at again with backoff");
            }
        }
        NodeTimeline leader;
        try {
            leader = world.timeline(members, report.getLeader());
        } catch (TransportException e) {
            report.setAttempts(report.getAttempts() + 1);
            setCondition(p, "Ready", false, "LeaderUnreachable", "the leader " + report.getLeader()
                    + "'s timeline could not be read (" + e.getMessage() + "); looked at again with backoff", now);
            RollbackPolicy stored = write(p);
            events.record(stored, EventRecorder.Type.Warning, PolicyEventReason.NodeUnreachable, "the leader "
                    + report.getLeader() + " could not be asked for its history: " + e.getMessage()
                    + "; the pods are looked at again with backoff", report.getLeader(),
                    "t" + report.getTerm() + "/" + report.getLeader());
            return;
        }
        report.setLeaderLastLsn(leader.lastLsn().value());
        List<NodeReport> diverged = new ArrayList<>();
        List<NodeReport> inconsistent = new ArrayList<>();
        for (Map.Entry<String, NodeTimeline> e : looked.entrySet()) {
            String pod = e.getKey();
            NodeTimeline tl = e.getValue();
            NodeReport n = node(report, pod);
            Divergence.Verdict v = Divergence.of(tl, leader);
            n.setState(v.state().name());
            n.setMessage(v.message());
            n.setLastLsn(tl.lastLsn().value());
            n.setForkLsn(v.forkLsn() == null ? null : v.forkLsn().value());
            if (v.state() == Divergence.State.Diverged) {
                n.setRecords(v.records());
                summarize(n, members, pod, v.forkLsn(), tl.lastLsn());
                diverged.add(n);
            } else if (v.state() == Divergence.State.Inconsistent) {
                inconsistent.add(n);
            }
        }
        report.setDetection(pending ? DETECTING : COMPLETE);
        if (pending) {
            report.setAttempts(report.getAttempts() + 1);
        }
        setCondition(p, "Ready", !pending, pending ? "NodesUnreachable" : "FailoverExamined", pending
                ? "some pods could not be looked at yet; looked at again with backoff"
                : "every pod of the failover to term " + report.getTerm() + " was looked at", now);
        RollbackPolicy stored = write(p);
        for (NodeReport n : diverged) {
            events.record(stored, EventRecorder.Type.Warning, PolicyEventReason.DivergedNode, impact(report, n),
                    n.getPod(), "t" + report.getTerm() + "/" + n.getPod());
        }
        for (NodeReport n : unreachable) {
            events.record(stored, EventRecorder.Type.Warning, PolicyEventReason.NodeUnreachable, n.getMessage(),
                    n.getPod(), "t" + report.getTerm() + "/" + n.getPod());
        }
        for (NodeReport n : inconsistent) {
            events.record(stored, EventRecorder.Type.Warning, PolicyEventReason.HistoryInconsistent, n.getMessage()
                    + "; no rollback is created for it", n.getPod(), "t" + report.getTerm() + "/" + n.getPod());
        }
    }

    private void summarize(NodeReport n, ClusterObserver.Members members, String pod, Lsn fork, Lsn last) {
        try {
            Optional<TailSummary> summary = world.summary(members, pod, fork, last);
            if (summary.isEmpty()) {
                n.setSummaryMissing("the agent of " + pod + " does not summarize tails (SummarizeTail)");
                return;
            }
            TailSummary s = summary.get();
            n.setRecords(s.records());
            n.setBytes(s.bytes());
            n.setFirstCommit(s.firstCommit() == null ? null : s.firstCommit().toString());
            n.setLastCommit(s.lastCommit() == null ? null : s.lastCommit().toString());
            List<String> touches = new ArrayList<>();
            for (TailSummary.Touch t : s.touches()) {
                touches.add(t.name() + " (" + t.records() + ")");
            }
            if (s.touchesTruncated()) {
                touches.add("and more");
            }
            n.setTouches(touches);
            n.setSummaryMissing(null);
        } catch (TransportException e) {
            n.setSummaryMissing("the agent of " + pod + " could not summarize its tail: " + clip(e.getMessage()));
        }
    }

    /** The impact report of one diverged pod, as the Warning Event says it. */
    static String impact(FailoverReport report, NodeReport n) {
        StringBuilder b = new StringBuilder();
        b.append(n.getPod()).append(" diverged: after the failover to ").append(report.getLeader()).append(" (term ")
                .append(report.getTerm()).append(") it holds writes the leader never received, LSNs (")
                .append(n.getForkLsn()).append(", ").append(n.getLastLsn()).append("]");
        if (n.getRecords() != null) {
            b.append(", ").append(n.getRecords()).append(" records");
        }
        if (n.getBytes() != null) {
            b.append(", ").append(n.getBytes()).append(" bytes");
        }
        if (n.getFirstCommit() != null) {
            b.append(", committed ").append(n.getFirstCommit()).append(" to ").append(n.getLastCommit());
        }
        if (n.getTouches() != null && !n.getTouches().isEmpty()) {
            b.append(", touching ").append(String.join(", ", n.getTouches()));
        }
        if (n.getSummaryMissing() != null) {
            b.append(" (").append(n.getSummaryMissing()).append(")");
        }
        return b.append(". Nothing has been removed.").toString();
    }

    /** An agent's words, bounded: the status must stay small whatever an agent answers. */
    static String clip(String text) {
        return text == null || text.length() <= 300 ? text : text.substring(0, 297) + "...";
    }

    private static NodeReport node(FailoverReport report, String pod) {
        for (NodeReport n : report.getNodes()) {
            if (pod.equals(n.getPod())) {
                return n;
            }
        }
        NodeReport n = new NodeReport();
        n.setPod(pod);
        report.getNodes().add(n);
        return n;
    }

    // ---- action ------------------------------------------------------------------------------

    private void act(RollbackPolicy p, FailoverReport report, Instant now) {
        for (NodeReport n : report.getNodes()) {
            if (!Divergence.State.Diverged.name().equals(n.getState()) || n.getRollback() != null) {
                continue;
            }
            String ns = p.getMetadata().getNamespace();
            List<ReplicaSetRollback> all = world.rollbacks(ns);
            String mine = PolicyRollbacks.name(n.getPod(), report.getTerm());
            ReplicaSetRollback own = all.stream().filter(r -> mine.equals(r.getMetadata().getName())).findFirst()
                    .orElse(null);
            // Its own name first: a rollback this policy created whose status write was lost is this
            // failover's rollback (and may set the cool-down), not another one under way.
            ReplicaSetRollback underWay = own != null ? null : underWay(all, n.getPod());
            if (underWay != null) {
                n.setRollback(underWay.getMetadata().getName());
                n.setApproval(underWay.getSpec() == null || underWay.getSpec().getApproval() == null ? null
                        : underWay.getSpec().getApproval().name());
                n.setRollbackPhase(phase(underWay));
                RollbackPolicy stored = write(p);
                events.record(stored, EventRecorder.Type.Normal, PolicyEventReason.RollbackCreated, "a rollback of "
                        + n.getPod() + " is under way already (" + underWay.getMetadata().getName()
                        + "); it goes on against the new leader and no second one is created", n.getPod(),
                        "t" + report.getTerm() + "/" + n.getPod());
                continue;
            }
            ReplicaSetRollbackSpec.Approval approval = approval(p, report, now);
            AutopilotWorld.Created made = own != null ? new AutopilotWorld.Created(own, false)
                    : world.create(PolicyRollbacks.build(p, n.getPod(), report.getTerm(), approval));
            ReplicaSetRollback r = made.rollback();
            boolean ours = made.created() || PolicyRollbacks.madeBy(r, p);
            ReplicaSetRollbackSpec.Approval actual = r.getSpec() == null || r.getSpec().getApproval() == null
                    ? approval : r.getSpec().getApproval();
            n.setRollback(r.getMetadata().getName());
            n.setApproval(actual.name());
            n.setRollbackPhase(phase(r));
            if (ours && actual == ReplicaSetRollbackSpec.Approval.Automatic) {
                AutomaticRollbackStatus a = new AutomaticRollbackStatus();
                a.setName(r.getMetadata().getName());
                a.setTerm(report.getTerm());
                a.setCreatedAt(r.getMetadata().getCreationTimestamp() != null && !made.created()
                        ? r.getMetadata().getCreationTimestamp() : now.toString());
                p.getStatus().setLastAutomaticRollback(a);
            }
            RollbackPolicy stored = write(p);
            if (ours) {
                events.record(stored, EventRecorder.Type.Normal, PolicyEventReason.RollbackCreated, "created "
                        + r.getMetadata().getName() + " for " + n.getPod() + " with approval " + actual.name()
                        + why(p, actual), n.getPod(), "t" + report.getTerm() + "/" + n.getPod());
            } else {
                events.record(stored, EventRecorder.Type.Warning, PolicyEventReason.RollbackAdopted, "a "
                        + "ReplicaSetRollback named " + r.getMetadata().getName() + " exists already and was not "
                        + "created by this policy; it is followed, and no second one is created", n.getPod(),
                        "t" + report.getTerm() + "/" + n.getPod());
            }
        }
    }

    private String why(RollbackPolicy p, ReplicaSetRollbackSpec.Approval approval) {
        if (approval == ReplicaSetRollbackSpec.Approval.Automatic) {
            return ": it proceeds within the policy's limits";
        }
        if (p.getSpec().getMode() == PolicyMode.Manual) {
            return " (mode Manual): it saves and verifies the tail, then waits for the dbrollback.io/approve "
                    + "annotation";
        }
        AutomaticRollbackStatus last = p.getStatus().getLastAutomaticRollback();
        if (last == null) {
            return " (as the existing rollback asks): it saves and verifies the tail, then waits for the "
                    + "dbrollback.io/approve annotation";
        }
        return " (inside the cool-down of " + coolDown(p.getSpec()).toString().substring(2).toLowerCase() + " after "
                + last.getName() + "): it saves and verifies the tail, then waits for the dbrollback.io/approve "
                + "annotation";
    }

    /** Automatic unless the mode is Manual or an automatic rollback of another failover is inside the cool-down. */
    private static ReplicaSetRollbackSpec.Approval approval(RollbackPolicy p, FailoverReport report, Instant now) {
        if (p.getSpec().getMode() == PolicyMode.Manual) {
            return ReplicaSetRollbackSpec.Approval.Manual;
        }
        AutomaticRollbackStatus last = p.getStatus().getLastAutomaticRollback();
        if (last == null || Objects.equals(last.getTerm(), report.getTerm())) {
            return ReplicaSetRollbackSpec.Approval.Automatic;
        }
        Instant created;
        try {
            created = Instant.parse(String.valueOf(last.getCreatedAt()));
        } catch (DateTimeParseException e) {
            return ReplicaSetRollbackSpec.Approval.Manual; // unknown: the careful answer
        }
        // measured at the failover's detection: a pod looked at late does not leave the cool-down by waiting
        Instant failover = parse(report.getDetectedAt(), now);
        return failover.isBefore(created.plus(coolDown(p.getSpec()))) ? ReplicaSetRollbackSpec.Approval.Manual
                : ReplicaSetRollbackSpec.Approval.Automatic;
    }

    /** A rollback of {@code pod} among {@code all} that has not ended, if any. */
    private static ReplicaSetRollback underWay(List<ReplicaSetRollback> all, String pod) {
        for (ReplicaSetRollback r : all) {
            if (r.getSpec() != null && pod.equals(r.getSpec().getTargetPod()) && !ENDED.contains(phase(r))
                    && r.getMetadata().getDeletionTimestamp() == null && !r.getSpec().isDryRun()) {
                return r;
            }
        }
        return null;
    }

    private static String phase(ReplicaSetRollback r) {
        return r.getStatus() == null || r.getStatus().getPhase() == null ? "Pending" : r.getStatus().getPhase();
    }

    // ---- following the rollbacks -------------------------------------------------------------

    private void follow(RollbackPolicy p, Instant now) {
        String ns = p.getMetadata().getNamespace();
        List<ReplicaSetRollback> all = null;
        List<Runnable> ends = new ArrayList<>();
        for (FailoverReport report : p.getStatus().getFailovers()) {
            for (NodeReport n : report.getNodes()) {
                if (n.getRollback() == null || n.getEndCounted() != null) {
                    continue;
                }
                if (all == null) {
                    all = world.rollbacks(ns);
                }
                ReplicaSetRollback r = all.stream().filter(x -> n.getRollback().equals(x.getMetadata().getName()))
                        .findFirst().orElse(null);
                String phase = r == null ? DELETED : phase(r);
                n.setRollbackPhase(phase);
                if (r == null || ENDED.contains(phase)) {
                    n.setEndCounted(now.toString());
                    if (r != null) {
                        Duration took = Duration.between(parse(report.getDetectedAt(), now), now);
                        ends.add(() -> metrics.rollbackEnded(ns, p.getMetadata().getName(), phase, took));
                    }
                }
            }
        }
        if (!ends.isEmpty()) {
            write(p); // the ends are counted once they are stored as counted: never twice
            ends.forEach(Runnable::run);
        }
        int diverged = divergedNow(p);
        metrics.divergedNodes(ns, p.getMetadata().getName(), diverged);
        p.getStatus().setDivergedNodes(diverged);
        p.getStatus().setObservedGeneration(p.getMetadata().getGeneration());
    }

    /** Diverged pods of the latest failover whose rollback has not completed (all diverged ones in Observe). */
    private static int divergedNow(RollbackPolicy p) {
        FailoverReport last = latest(p);
        if (last == null) {
            return 0;
        }
        int count = 0;
        for (NodeReport n : last.getNodes()) {
            if (Divergence.State.Diverged.name().equals(n.getState()) && !"Completed".equals(n.getRollbackPhase())) {
                count++;
            }
        }
        return count;
    }

    private static boolean following(RollbackPolicy p) {
        for (FailoverReport report : p.getStatus().getFailovers()) {
            for (NodeReport n : report.getNodes()) {
                if (n.getRollback() != null && n.getEndCounted() == null) {
                    return true;
                }
            }
        }
        return false;
    }

    private static Instant parse(String time, Instant otherwise) {
        try {
            return Instant.parse(String.valueOf(time));
        } catch (DateTimeParseException e) {
            return otherwise;
        }
    }

    // ---- status ------------------------------------------------------------------------------

    private static FailoverReport latest(RollbackPolicy p) {
        List<FailoverReport> all = p.getStatus().getFailovers();
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    /** Writes the status; the next writes go on from the stored version. */
    private RollbackPolicy write(RollbackPolicy p) {
        RollbackPolicy stored = world.writeStatus(p);
        written = Json.write(p.getStatus());
        copyInto(p, stored);
        return stored == null ? p : stored;
    }

    /** Goes on with the stored resource's version (its status is the one just written). */
    private static void copyInto(RollbackPolicy p, RollbackPolicy stored) {
        if (stored != null && stored != p) {
            p.getMetadata().setResourceVersion(stored.getMetadata().getResourceVersion());
        }
    }

    private Pass blocked(RollbackPolicy p, String reason, String message) {
        Instant now = clock.instant();
        List<Condition> before = copy(p.getStatus().getConditions());
        setCondition(p, "Blocked", true, reason, message, now);
        setCondition(p, "Ready", false, reason, message, now);
        if (!Json.write(before).equals(Json.write(p.getStatus().getConditions()))) {
            RollbackPolicy stored = write(p);
            events.record(stored, EventRecorder.Type.Warning, PolicyEventReason.PolicyBlocked, message, null, reason);
            copyInto(p, stored);
        }
        return new Pass(settings.blockedRecheck());
    }

    private static List<Condition> copy(List<Condition> conditions) {
        List<Condition> out = new ArrayList<>();
        for (Condition c : conditions) {
            Condition d = new Condition();
            d.setType(c.getType());
            d.setStatus(c.getStatus());
            d.setReason(c.getReason());
            d.setMessage(c.getMessage());
            d.setLastTransitionTime(c.getLastTransitionTime());
            d.setObservedGeneration(c.getObservedGeneration());
            out.add(d);
        }
        return out;
    }

    private static void setCondition(RollbackPolicy p, String type, boolean status, String reason, String message,
            Instant now) {
        List<Condition> all = p.getStatus().getConditions();
        String value = status ? "True" : "False";
        Condition c = all.stream().filter(x -> type.equals(x.getType())).findFirst().orElse(null);
        if (c == null) {
            c = new Condition();
            c.setType(type);
            all.add(c);
        }
        if (!value.equals(c.getStatus())) {
            c.setLastTransitionTime(now.toString());
        }
        c.setStatus(value);
        c.setReason(reason);
        c.setMessage(message);
        c.setObservedGeneration(p.getMetadata().getGeneration());
    }
}
