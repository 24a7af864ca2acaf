package io.dbrollback.operator;

import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.v1.GetTimelineRequest;
import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Observation;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.Term;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.StatusRuntimeException;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the world for one rollback: the cluster's pods and their agent addresses, the leader (holder
 * and term, from a Lease or from Patroni: {@link LeaderReader}), the agents' TLS material, and the
 * timelines of the target and of the leader. Finds problems in the resource (missing pod, wrong
 * selector, missing Lease or Patroni object, missing port) before anything is called.
 */
public final class ClusterObserver {

    /** Annotation on the Lease carrying the database's term; else spec.leaseTransitions is the term. */
    public static final String TERM_ANNOTATION = "dbrollback.io/term";

    /**
     * What a rollback acts on, resolved; {@code leader} is where it was read, its holder and term;
     * {@code readyPods} the cluster's pods whose Ready condition is True (the places an off-node copy may go).
     */
    public record Resolved(String targetPod, Map<String, String> agentAddresses, LeaderReader.Leader leader,
            AgentClients.Tls tls, Set<String> readyPods) {

        public Resolved {
            readyPods = readyPods == null ? Set.of() : Set.copyOf(readyPods);
        }

        /** Every pod with an agent address taken as Ready. */
        public Resolved(String targetPod, Map<String, String> agentAddresses, LeaderReader.Leader leader,
                AgentClients.Tls tls) {
            this(targetPod, agentAddresses, leader, tls, agentAddresses.keySet());
        }
    }

    /** A reason the rollback cannot proceed yet; no side effect was made. */
    public record Problem(BlockReason reason, String message) {
    }

    /** Either a resolved view or a problem. */
    public record Resolution(Resolved resolved, Problem problem) {
    }

    /**
     * What was observed, and why the leader's timeline is missing from it when reading it
     * failed (null otherwise): the coordinator only needs it to plan and to rejoin.
     */
    public record Observed(Observation observation, TransportException leaderError) {
    }

    private final KubernetesClient client;
    private final AgentClients clients;
    private final ApiReads reads;
    private final LeaderReader leaders;

    public ClusterObserver(KubernetesClient client, AgentClients clients) {
        this(client, clients, null);
    }

    /** @param metrics counts the reads that found an object they could not read; null for none */
    public ClusterObserver(KubernetesClient client, AgentClients clients, RollbackMetrics metrics) {
        this.client = client;
        this.clients = clients;
        this.reads = new ApiReads(metrics);
        this.leaders = new LeaderReader(client, reads);
    }

    /**
     * Reads the leader and the pods afresh: a cached leader may lag behind a failover. A read that fails
     * (an object that cannot be read, an API server error) is a problem like a missing object.
     */
    public Resolution resolve(ReplicaSetRollback r) {
        try {
            return read(r);
        } catch (ApiReads.Failed e) {
            return new Resolution(null, e.problem());
        }
    }

    private Resolution read(ReplicaSetRollback r) {
        String ns = r.getMetadata().getNamespace();
        ClusterSpec c = r.getSpec().getCluster();
        String target = r.getSpec().getTargetPod();
        LeaderReader.Leader leader = leaders.leader(ns, c);
        List<Pod> pods = pods(ns, c);
        Pod targetPod = pods.stream().filter(p -> p.getMetadata().getName().equals(target)).findFirst().orElse(null);
        if (targetPod == null) {
            boolean exists = reads.read("Pod", BlockReason.PodsUnreadable, "the pod " + ns + "/" + target,
                    () -> client.pods().inNamespace(ns).withName(target).get()) != null;
            return problem(exists ? BlockReason.TargetNotInCluster : BlockReason.TargetPodNotFound, exists
                    ? "pod " + target + " does not carry the labels of cluster.podSelector " + c.getPodSelector()
                    : "the target pod " + ns + "/" + target + " does not exist");
        }
        Map<String, String> addresses = addresses(pods, c);
        if (!addresses.containsKey(target)) {
            return problem(BlockReason.AgentNotReachable, "pod " + target + " has no IP yet or no "
                    + (c.getAgentPortName() != null ? "container port named " + c.getAgentPortName() : "agent port"));
        }
        AgentClients.Tls tls = tls(ns, r.getSpec().getAgentTlsSecret(), addresses.get(target));
        Set<String> ready = new HashSet<>();
        for (Pod p : pods) {
            if (ready(p)) {
                ready.add(p.getMetadata().getName());
            }
        }
        return new Resolution(new Resolved(target, addresses, leader, tls, ready), null);
    }

    /** Whether {@code p} is Ready (condition Ready True) and not being deleted. */
    static boolean ready(Pod p) {
        if (p.getMetadata().getDeletionTimestamp() != null || p.getStatus() == null
                || p.getStatus().getConditions() == null) {
            return false;
        }
        return p.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType())
                && "True".equals(c.getStatus()));
    }

    private List<Pod> pods(String ns, ClusterSpec c) {
        return reads.read("Pod", BlockReason.PodsUnreadable, "the pods of " + ns + " with labels " + c.getPodSelector(),
                () -> client.pods().inNamespace(ns).withLabels(c.getPodSelector()).list().getItems());
    }

    private static Map<String, String> addresses(List<Pod> pods, ClusterSpec c) {
        Map<String, String> addresses = new HashMap<>();
        for (Pod p : pods) {
            String address = address(p, c);
            if (address != null) {
                addresses.put(p.getMetadata().getName(), address);
            }
        }
        return addresses;
    }

    /**
     * The agents' TLS material from {@code secretName} (null: plaintext), checked by building the channel
     * to {@code probeAddress}: unusable material is a problem of the resource, found before any call.
     */
    private AgentClients.Tls tls(String ns, String secretName, String probeAddress) {
        if (secretName == null) {
            return null;
        }
        Secret secret = reads.read("Secret", BlockReason.TlsSecretUnreadable,
                "the agent TLS Secret " + ns + "/" + secretName,
                () -> client.secrets().inNamespace(ns).withName(secretName).get());
        if (secret == null || secret.getData() == null || !secret.getData().containsKey("ca.crt")) {
            throw new ApiReads.Failed(new Problem(BlockReason.TlsSecretNotFound, "the agent TLS Secret " + ns + "/"
                    + secretName + " does not exist or has no ca.crt"));
        }
        Map<String, String> d = secret.getData();
        try {
            AgentClients.Tls tls = new AgentClients.Tls(decode(d.get("ca.crt")), decode(d.get("tls.crt")),
                    decode(d.get("tls.key")));
            if (probeAddress != null) {
                clients.channel(probeAddress, tls);
            }
            return tls;
        } catch (IllegalArgumentException e) {
            throw new ApiReads.Failed(new Problem(BlockReason.TlsSecretInvalid, "the agent TLS Secret " + ns + "/"
                    + secretName + " cannot be used: " + e.getMessage()));
        }
    }

    /**
     * A cluster as the autopilot sees it: every pod that carries the selector's labels (sorted by name),
     * the agent address of each that has one, and the agents' TLS material.
     */
    public record Members(List<String> pods, Map<String, String> addresses, AgentClients.Tls tls) {
    }

    /** Either the members or the problem that kept them from being read. */
    public record MembersReading(Members members, Problem problem) {
    }

    /** Reads the pods of {@code c} and the agents' TLS Secret; a failed read is a problem, not an exception. */
    public MembersReading members(String ns, ClusterSpec c, String tlsSecret) {
        try {
            List<Pod> pods = pods(ns, c);
            Map<String, String> addresses = addresses(pods, c);
            AgentClients.Tls tls = tls(ns, tlsSecret, addresses.values().stream().sorted().findFirst().orElse(null));
            List<String> names = pods.stream().map(p -> p.getMetadata().getName()).sorted().toList();
            return new MembersReading(new Members(names, Map.copyOf(addresses), tls), null);
        } catch (ApiReads.Failed e) {
            return new MembersReading(null, e.problem());
        }
    }

    /**
     * The timeline of a member, checked like every agent answer.
     *
     * @throws TransportException when it cannot be read (no address, no answer, an invalid answer)
     */
    public NodeTimeline timeline(Members m, String pod) {
        String address = m.addresses().get(pod);
        if (address == null) {
            throw new TransportException("UNAVAILABLE", false, "pod " + pod + " has no IP yet or no agent port");
        }
        return timeline(address, m.tls(), pod);
    }

    private static byte[] decode(String base64) {
        return base64 == null || base64.isEmpty() ? null : Base64.getDecoder().decode(base64);
    }

    private static Resolution problem(BlockReason reason, String message) {
        return new Resolution(null, new Problem(reason, message));
    }

    /** host:port of a pod's agent, or null when the pod has no IP or no such port. */
    static String address(Pod p, ClusterSpec c) {
        String ip = p.getStatus() == null ? null : p.getStatus().getPodIP();
        if (ip == null || ip.isBlank()) {
            return null;
        }
        Integer port = c.getAgentPort();
        if (port == null && p.getSpec() != null) {
            for (Container container : p.getSpec().getContainers()) {
                for (ContainerPort cp : container.getPorts() == null
                        ? List.<ContainerPort>of() : container.getPorts()) {
                    if (c.getAgentPortName().equals(cp.getName())) {
                        port = cp.getContainerPort();
                    }
                }
            }
        }
        if (port == null) {
            return null;
        }
        return (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + port;
    }

    /** The Lease's term: the dbrollback.io/term annotation, else spec.leaseTransitions, else 0. */
    public static Term leaseTerm(Lease lease) {
        Map<String, String> a = lease.getMetadata().getAnnotations();
        if (a != null && a.containsKey(TERM_ANNOTATION)) {
            try {
                return Term.of(Long.parseLong(a.get(TERM_ANNOTATION).trim()));
            } catch (NumberFormatException e) {
                return Term.of(0);
            }
        }
        Integer transitions = lease.getSpec() == null ? null : lease.getSpec().getLeaseTransitions();
        return Term.of(transitions == null ? 0 : transitions);
    }

    public static String leaseHolder(Lease lease) {
        String holder = lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
        return holder == null || holder.isBlank() ? null : holder;
    }

    /** Reads clusters' leaders with the same reads (and metrics) as this observer. */
    public LeaderReader leaders() {
        return leaders;
    }

    /**
     * Reads both timelines; the target's is required (a failure is thrown), the leader's may be
     * missing (the coordinator waits when it needs it, and {@link Observed#leaderError()} says why).
     */
    public Observed observe(Resolved r) {
        String holder = r.leader() == null ? null : r.leader().holder();
        Term term = r.leader() == null ? Term.of(0) : r.leader().term();
        // The target first, then the leader, one after the other: read later, the leader holds every record a
        // replica of it could have received by then, so a replica in sync never looks ahead of the leader (and
        // diverged) because the two answers crossed. Autopilot reads its pods in the same order.
        NodeTimeline target = timeline(r, r.targetPod());
        NodeTimeline leader = null;
        TransportException leaderError = null;
        String leaderAddress = holder == null ? null : r.agentAddresses().get(holder);
        if (holder != null && !holder.equals(r.targetPod()) && leaderAddress != null) {
            try {
                leader = timeline(r, holder);
            } catch (TransportException e) {
                leaderError = e;
            }
        }
        return new Observed(new Observation(holder, term, target, leader, leaderAddress, leaderError),
                leaderError);
    }

    private NodeTimeline timeline(Resolved r, String pod) {
        return timeline(r.agentAddresses().get(pod), r.tls(), pod);
    }

    private NodeTimeline timeline(String address, AgentClients.Tls tls, String pod) {
        try {
            return AgentAnswers.timeline(AgentClients.Deadlines.within(clients.stub(address, tls),
                    clients.deadlines().getTimeline()).getTimeline(GetTimelineRequest.getDefaultInstance()), pod);
        } catch (StatusRuntimeException e) {
            throw GrpcRollbackTransport.translate("GetTimeline", pod, e, false);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("GetTimeline", pod, e);
        }
    }
}
