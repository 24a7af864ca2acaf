package io.dbrollback.operator;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.CopySpec;
import io.dbrollback.api.LeaderSpec;
import io.dbrollback.api.LimitsSpec;
import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.operator.s3.ObjectStoreTargets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The schema's rules again, in the operator: an API server without schema validation (or an old
 * CRD) must not let a bad value reach a node or a pod. Pure; every problem is reported at once.
 */
public final class SpecValidator {

    static final Pattern DNS_SUBDOMAIN = Pattern.compile(
            "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
    static final Pattern DNS_LABEL = Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
    static final Pattern SAFE_PATH = Pattern.compile("^/[A-Za-z0-9._/-]*$");
    static final Pattern LABEL_KEY = Pattern.compile(
            "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*"
                    + "[A-Za-z0-9])?$");
    static final Pattern SPAN = Pattern.compile("^([0-9]{1,6}h)?([0-9]{1,6}m)?([0-9]{1,6}s)?$");
    static final Pattern LABEL_VALUE = Pattern.compile("^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$");

    private SpecValidator() {
    }

    /** The problems of {@code r}'s spec, empty when it is valid. */
    public static List<String> problems(ReplicaSetRollback r) {
        List<String> p = new ArrayList<>();
        ReplicaSetRollbackSpec s = r.getSpec();
        if (s == null) {
            p.add("spec is required");
            return p;
        }
        name(p, "targetPod", s.getTargetPod(), DNS_SUBDOMAIN, 253);
        ClusterSpec c = s.getCluster();
        if (c == null) {
            p.add("spec.cluster is required");
        } else {
            leader(p, c);
            name(p, "cluster.dataContainer", c.getDataContainer(), DNS_LABEL, 63);
            Map<String, String> sel = c.getPodSelector();
            if (sel == null || sel.isEmpty()) {
                p.add("cluster.podSelector needs at least one label");
            } else {
                sel.forEach((k, v) -> {
                    if (k == null || k.length() > 317 || !LABEL_KEY.matcher(k).matches()) {
                        p.add("cluster.podSelector has an invalid label key");
                    }
                    if (v == null || v.length() > 63 || !LABEL_VALUE.matcher(v).matches()) {
                        p.add("cluster.podSelector has an invalid label value for key " + safe(k));
                    }
                });
            }
            if ((c.getAgentPort() == null) == (c.getAgentPortName() == null)) {
                p.add("set exactly one of cluster.agentPort and cluster.agentPortName");
            }
            if (c.getAgentPort() != null && (c.getAgentPort() < 1 || c.getAgentPort() > 65535)) {
                p.add("cluster.agentPort must be 1..65535");
            }
            if (c.getAgentPortName() != null) {
                name(p, "cluster.agentPortName", c.getAgentPortName(), DNS_LABEL, 15);
            }
        }
        String dir = s.getRollbackDirectory();
        if (dir == null || dir.length() < 2 || dir.length() > 200 || !SAFE_PATH.matcher(dir).matches()
                || dir.contains("..") || dir.contains("//")) {
            p.add("rollbackDirectory must be a plain absolute path of letters, digits, '.', '_', '-' and '/', "
                    + "without '..' or '//'");
        }
        if (s.getAgentTlsSecret() != null) {
            name(p, "agentTlsSecret", s.getAgentTlsSecret(), DNS_SUBDOMAIN, 253);
        }
        if (s.getExpectedTerm() != null && s.getExpectedTerm() < 1) {
            p.add("expectedTerm must be at least 1");
        }
        if (s.getMaxReplans() < 0 || s.getMaxReplans() > 20) {
            p.add("maxReplans must be 0..20");
        }
        if (s.getMaxRetries() < 0 || s.getMaxRetries() > 100) {
            p.add("maxRetries must be 0..100");
        }
        LimitsSpec l = s.getLimits();
        if (l != null) {
            if (l.getMaxRecords() < 0 || l.getMaxBytes() < 0) {
                p.add("limits must not be negative");
            }
            String span = l.getMaxSpan();
            if (span == null || span.length() < 2 || !SPAN.matcher(span).matches()) {
                p.add("limits.maxSpan must look like 24h, 90m or 1h30m");
            }
        }
        if (s.getApproval() == null) {
            p.add("approval must be Automatic or Manual");
        }
        copy(p, s.getCopy());
        return p;
    }

    /** spec.copy: a known target and policy; target ObjectStore needs a valid objectStore block. */
    static void copy(List<String> p, CopySpec c) {
        if (c == null) {
            return;
        }
        if (c.getTarget() == null) {
            p.add("copy.target must be Agent, ObjectStore or None");
        }
        if (c.getOnFailure() == null) {
            p.add("copy.onFailure must be Wait or Proceed");
        }
        if (c.getTarget() == CopySpec.Target.ObjectStore) {
            if (c.getObjectStore() == null) {
                p.add("copy.target ObjectStore needs copy.objectStore (bucket and credentialsSecret at least)");
            } else {
                ObjectStoreTargets.problems(c.getObjectStore()).forEach(m -> p.add("copy." + m));
            }
        }
    }

    /** Exactly one of leaseName and leader; inside leader exactly one source, each with its name. */
    private static void leader(List<String> p, ClusterSpec c) {
        LeaderSpec l = c.getLeader();
        if ((c.getLeaseName() == null) == (l == null)) {
            p.add("set exactly one of cluster.leaseName and cluster.leader");
        }
        if (c.getLeaseName() != null) {
            name(p, "cluster.leaseName", c.getLeaseName(), DNS_SUBDOMAIN, 253);
        }
        if (l == null) {
            return;
        }
        if ((l.getLease() == null) == (l.getPatroni() == null)) {
            p.add("set exactly one of cluster.leader.lease and cluster.leader.patroni");
        }
        if (l.getLease() != null) {
            name(p, "cluster.leader.lease.name", l.getLease().getName(), DNS_SUBDOMAIN, 253);
        }
        PatroniLeaderSpec patroni = l.getPatroni();
        if (patroni != null) {
            // 246: the leader ConfigMap's name, <scope>-leader, must still be a name of at most 253
            name(p, "cluster.leader.patroni.scope", patroni.getScope(), DNS_SUBDOMAIN, 246);
            if (patroni.getDcs() == null) {
                p.add("cluster.leader.patroni.dcs must be ConfigMap or Endpoints");
            }
        }
    }

    private static void name(List<String> p, String field, String value, Pattern pattern, int max) {
        if (value == null || value.isEmpty()) {
            p.add(field + " is required");
        } else if (value.length() > max || !pattern.matcher(value).matches()) {
            p.add(field + " must be a lower-case DNS name of at most " + max + " characters");
        }
    }

    /** Never echo a hostile value verbatim: it is shown only as its length. */
    private static String safe(String v) {
        return v == null ? "null" : "(" + v.length() + " characters)";
    }
}
