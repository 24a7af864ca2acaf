package io.dbrollback.coordinator;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Which pod holds the off-node copy. The rule, deterministic so that a restarted operator picks the
 * same pod: among the cluster's pods other than the target that are Ready and have an agent address,
 * the leader's followers (every pod but the leader) first, then the leader; each group by name. A
 * follower is preferred because the leader is the pod most likely to be replaced next, and its disk
 * serves the live database's writes.
 */
public final class CopyTargets {

    private CopyTargets() {
    }

    /** One pod of the cluster as the choice sees it. */
    public record Candidate(String pod, boolean ready, boolean hasAgent) {
    }

    /**
     * The pods that may hold the copy, best first.
     *
     * @param source the target pod (the file's own pod): never a copy target
     * @param leader the leader (Lease holder), or null when unknown
     */
    public static List<String> order(Collection<Candidate> pods, String source, String leader) {
        List<String> out = new ArrayList<>();
        pods.stream().filter(c -> c.ready() && c.hasAgent() && !c.pod().equals(source))
                .sorted(Comparator.comparing((Candidate c) -> c.pod().equals(leader)).thenComparing(Candidate::pod))
                .forEach(c -> out.add(c.pod()));
        return out;
    }
}
