package io.dbrollback.operator;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailSummary;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The autopilot's world in memory: a leader, pods with timelines, agents that may be down or lack
 * SummarizeTail, the namespace's rollbacks, and a policy store that refuses a stale write (409) like
 * the API server. Every side effect is logged in order ({@link #log}).
 */
final class FakeAutopilotWorld implements AutopilotWorld {

    LeaderReader.Leader leader;
    ClusterObserver.Problem leaderProblem;
    ClusterObserver.Problem membersProblem;
    final Map<String, NodeTimeline> timelines = new LinkedHashMap<>();
    final Set<String> down = new HashSet<>();
    final Map<String, TailSummary> summaries = new LinkedHashMap<>();
    final Map<String, ReplicaSetRollback> rollbacks = new LinkedHashMap<>();
    final List<String> log = new ArrayList<>();
    /** Creations refused (as a crash of the operator right before it would create) while above 0. */
    int refuseCreates;
    /** Status writes refused with 409 while above 0 (a lost write, another replica's). */
    int failWrites;
    /** The next status write after a create is refused (the create went through, its record did not). */
    boolean loseWriteAfterCreate;
    private boolean created;
    private RollbackPolicy stored;
    private long version = 1;

    /** Stores {@code p} as the API server would (uid, resourceVersion, generation). */
    RollbackPolicy store(RollbackPolicy p) {
        p.getMetadata().setUid(p.getMetadata().getUid() == null ? "uid-" + p.getMetadata().getName()
                : p.getMetadata().getUid());
        p.getMetadata().setGeneration(1L);
        p.getMetadata().setResourceVersion(Long.toString(version++));
        stored = copy(p);
        return copy(stored);
    }

    RollbackPolicy stored() {
        return copy(stored);
    }

    /** A pod's timeline: term 1 holds LSNs 1..{@code t1Last}; term {@code t} from {@code from} up to {@code last}. */
    static NodeTimeline timeline(String pod, long currentTerm, long last, TermHistory.Entry... history) {
        return new NodeTimeline(pod, NodeRole.REPLICA, Term.of(currentTerm), Lsn.of(last), Lsn.of(Math.min(last, 10)),
                TermHistory.of(history), 0, false, "");
    }

    void lead(String holder, long term) {
        leader = new LeaderReader.Leader(holder, Term.of(term), "Lease orders-leader");
    }

    /** Marks a rollback's phase (as the rollback reconciler would). */
    void phase(String name, String phase) {
        ReplicaSetRollback r = rollbacks.get(name);
        if (r.getStatus() == null) {
            r.setStatus(new ReplicaSetRollbackStatus());
        }
        r.getStatus().setPhase(phase);
    }

    @Override
    public LeaderReader.Reading leader(String namespace, ClusterSpec cluster) {
        return new LeaderReader.Reading(leaderProblem == null ? leader : null, leaderProblem);
    }

    @Override
    public ClusterObserver.MembersReading members(String namespace, ClusterSpec cluster, String tlsSecret) {
        if (membersProblem != null) {
            return new ClusterObserver.MembersReading(null, membersProblem);
        }
        Map<String, String> addresses = new LinkedHashMap<>();
        timelines.keySet().forEach(p -> addresses.put(p, p + ":7000"));
        return new ClusterObserver.MembersReading(new ClusterObserver.Members(
                timelines.keySet().stream().sorted().toList(), addresses, null), null);
    }

    @Override
    public NodeTimeline timeline(ClusterObserver.Members members, String pod) {
        log.add("timeline " + pod);
        if (down.contains(pod)) {
            throw new TransportException("UNAVAILABLE", false, "connection refused");
        }
        return timelines.get(pod);
    }

    @Override
    public Optional<TailSummary> summary(ClusterObserver.Members members, String pod, Lsn fromExclusive,
            Lsn toInclusive) {
        log.add("summary " + pod + " (" + fromExclusive + ", " + toInclusive + "]");
        return Optional.ofNullable(summaries.get(pod));
    }

    @Override
    public RollbackPolicy read(String namespace, String name) {
        return stored();
    }

    @Override
    public List<ReplicaSetRollback> rollbacks(String namespace) {
        return new ArrayList<>(rollbacks.values());
    }

    @Override
    public Created create(ReplicaSetRollback r) {
        if (refuseCreates > 0) {
            refuseCreates--;
            log.add("create refused " + r.getMetadata().getName());
            throw new IllegalStateException("the operator stopped before the create");
        }
        ReplicaSetRollback existing = rollbacks.get(r.getMetadata().getName());
        if (existing != null) {
            log.add("create exists " + r.getMetadata().getName());
            return new Created(existing, false);
        }
        log.add("create " + r.getMetadata().getName());
        created = true;
        r.getMetadata().setCreationTimestamp("2026-12-05T10:00:00Z");
        rollbacks.put(r.getMetadata().getName(), r);
        return new Created(r, true);
    }

    @Override
    public RollbackPolicy writeStatus(RollbackPolicy p) {
        if (failWrites > 0 || loseWriteAfterCreate && created) {
            failWrites = Math.max(0, failWrites - 1);
            if (created) {
                loseWriteAfterCreate = false;
            }
            log.add("status refused");
            throw new KubernetesClientException("the API server lost the write", 409, null);
        }
        if (!p.getMetadata().getResourceVersion().equals(stored.getMetadata().getResourceVersion())) {
            throw new KubernetesClientException("the object has been modified", 409, null);
        }
        log.add("status");
        p.getMetadata().setResourceVersion(Long.toString(version++));
        stored = copy(p);
        return copy(stored);
    }

    private static RollbackPolicy copy(RollbackPolicy p) {
        return Json.MAPPER.convertValue(Json.MAPPER.convertValue(p, Map.class), RollbackPolicy.class);
    }
}
