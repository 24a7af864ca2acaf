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
import java.util.List;
import java.util.Map;

/**
 * Reads the world for one rollback: the cluster's pods and their agent addresses, the leader Lease
 * (holder and term), the agents' TLS material, and the timelines of the target and of the Lease
 * holder. Finds problems in the resource (missing pod, wrong selector, missing Lease or port) before
 * anything is called.
 */
public final class ClusterObserver {

    /** Annotation on the Lease carrying the database's term; else spec.leaseTransitions is the term. */
    public static final String TERM_ANNOTATION = "dbrollback.io/term";

    /** What a rollback acts on, resolved. */
    public record Resolved(String targetPod, Map<String, String> agentAddresses, Lease lease, AgentClients.Tls tls) {
    }

    /** A reason the rollback cannot proceed yet; no side effect was made. */
    public record Problem(BlockReason reason, String message) {
    }

    /** Either a resolved view or a problem. */
    public record Resolution(Resolved resolved, Problem problem) {
    }

    /**
     * What was observed, and why the Lease holder's timeline is missing from it when reading it
     * failed (null otherwise): the coordinator only needs it to plan and to rejoin.
     */
    public record Observed(Observation observation, TransportException leaderError) {
    }

    private final KubernetesClient client;
    private final AgentClients clients;
    private final ApiReads reads;

    public ClusterObserver(KubernetesClient client, AgentClients clients) {
        this(client, clients, null);
    }

    /** @param metrics counts the reads that found an object they could not read; null for none */
    public ClusterObserver(KubernetesClient client, AgentClients clients, RollbackMetrics metrics) {
        this.client = client;
        this.clients = clients;
        this.reads = new ApiReads(metrics);
    }

    /**
     * Reads the Lease and the pods afresh: a cached Lease may lag behind a failover. A read that fails
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
        Lease lease = reads.read("Lease", BlockReason.LeaseUnreadable,
                "the leader Lease " + ns + "/" + c.getLeaseName(),
                () -> client.leases().inNamespace(ns).withName(c.getLeaseName()).get());
        if (lease == null) {
            return problem(BlockReason.LeaseNotFound,
                    "the leader Lease " + ns + "/" + c.getLeaseName() + " does not exist");
        }
        String termText = lease.getMetadata().getAnnotations() == null ? null
                : lease.getMetadata().getAnnotations().get(TERM_ANNOTATION);
        if (termText != null && !termText.trim().matches("[0-9]{1,18}")) {
            return problem(BlockReason.InvalidLeaseTerm,
                    "the Lease's " + TERM_ANNOTATION + " annotation is not a whole number");
        }
        List<Pod> pods = reads.read("Pod", BlockReason.PodsUnreadable,
                "the pods of " + ns + " with labels " + c.getPodSelector(),
                () -> client.pods().inNamespace(ns).withLabels(c.getPodSelector()).list().getItems());
        Pod targetPod = pods.stream().filter(p -> p.getMetadata().getName().equals(target)).findFirst().orElse(null);
        if (targetPod == null) {
            boolean exists = reads.read("Pod", BlockReason.PodsUnreadable, "the pod " + ns + "/" + target,
                    () -> client.pods().inNamespace(ns).withName(target).get()) != null;
            return problem(exists ? BlockReason.TargetNotInCluster : BlockReason.TargetPodNotFound, exists
                    ? "pod " + target + " does not carry the labels of cluster.podSelector " + c.getPodSelector()
                    : "the target pod " + ns + "/" + target + " does not exist");
        }
        Map<String, String> addresses = new HashMap<>();
        for (Pod p : pods) {
            String address = address(p, c);
            if (address != null) {
                addresses.put(p.getMetadata().getName(), address);
            }
        }
        if (!addresses.containsKey(target)) {
            return problem(BlockReason.AgentNotReachable, "pod " + target + " has no IP yet or no "
                    + (c.getAgentPortName() != null ? "container port named " + c.getAgentPortName() : "agent port"));
        }
        AgentClients.Tls tls = null;
        String secretName = r.getSpec().getAgentTlsSecret();
        if (secretName != null) {
            Secret secret = reads.read("Secret", BlockReason.TlsSecretUnreadable,
                    "the agent TLS Secret " + ns + "/" + secretName,
                    () -> client.secrets().inNamespace(ns).withName(secretName).get());
            if (secret == null || secret.getData() == null || !secret.getData().containsKey("ca.crt")) {
                return problem(BlockReason.TlsSecretNotFound, "the agent TLS Secret " + ns + "/" + secretName
                        + " does not exist or has no ca.crt");
            }
            Map<String, String> d = secret.getData();
            try {
                tls = new AgentClients.Tls(decode(d.get("ca.crt")), decode(d.get("tls.crt")), decode(d.get("tls.key")));
                // Builds (or finds) the channel: unusable material is a problem of the resource, found
                // before any call, not an error of a step.
                clients.channel(addresses.get(target), tls);
            } catch (IllegalArgumentException e) {
                return problem(BlockReason.TlsSecretInvalid, "the agent TLS Secret " + ns + "/" + secretName
                        + " cannot be used: " + e.getMessage());
            }
        }
        return new Resolution(new Resolved(target, addresses, lease, tls), null);
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

    /**
     * Reads both timelines; the target's is required (a failure is thrown), the leader's may be
     * missing (the coordinator waits when it needs it, and {@link Observed#leaderError()} says why).
     */
    public Observed observe(Resolved r) {
        String holder = leaseHolder(r.lease());
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
        return new Observed(new Observation(holder, leaseTerm(r.lease()), target, leader, leaderAddress, leaderError),
                leaderError);
    }

    private NodeTimeline timeline(Resolved r, String pod) {
        try {
            return AgentAnswers.timeline(AgentClients.Deadlines.within(clients.stub(r.agentAddresses().get(pod),
                    r.tls()), clients.deadlines().getTimeline()).getTimeline(GetTimelineRequest.getDefaultInstance()),
                    pod);
        } catch (StatusRuntimeException e) {
            throw GrpcRollbackTransport.translate("GetTimeline", pod, e, false);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("GetTimeline", pod, e);
        }
    }
}
