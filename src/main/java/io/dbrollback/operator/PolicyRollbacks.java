package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.api.RollbackPolicySpec;
import io.dbrollback.api.RollbackTemplate;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The ReplicaSetRollback a policy makes for a diverged pod. Its name is derived from the pod and the
 * term of the failover alone ({@code <pod>-rollback-t<term>}), so that any operator, restarted or not,
 * one replica or two, names the same rollback the same and the API server keeps it to one.
 */
public final class PolicyRollbacks {

    private static final int MAX_NAME = 253;
    private static final int MAX_LABEL = 63;

    private PolicyRollbacks() {
    }

    /** The name of the rollback of {@code pod} after the failover to {@code term}: at most 253 characters. */
    public static String name(String pod, long term) {
        String suffix = "-rollback-t" + term;
        if (pod.length() + suffix.length() <= MAX_NAME) {
            return pod + suffix;
        }
        String hash = "-" + hash(pod);
        String head = pod.substring(0, MAX_NAME - suffix.length() - hash.length());
        while (head.endsWith("-") || head.endsWith(".")) {
            head = head.substring(0, head.length() - 1);
        }
        return head + hash + suffix;
    }

    /** A label value for {@code value}: itself when it fits, else a prefix and a hash. */
    static String labelValue(String value) {
        if (value.length() <= MAX_LABEL && !value.contains(".")) {
            return value;
        }
        String hash = hash(value);
        String head = value.replace('.', '-');
        head = head.substring(0, Math.min(head.length(), MAX_LABEL - hash.length() - 1));
        while (head.endsWith("-")) {
            head = head.substring(0, head.length() - 1);
        }
        return head + "-" + hash;
    }

    /** The labels of the rollback of {@code pod} after the failover to {@code term}, made by {@code policy}. */
    public static Map<String, String> labels(RollbackPolicy policy, String pod, long term) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(RollbackPolicy.POLICY_LABEL, labelValue(policy.getMetadata().getName()));
        labels.put(RollbackPolicy.TARGET_LABEL, labelValue(pod));
        labels.put(RollbackPolicy.TERM_LABEL, Long.toString(term));
        return labels;
    }

    /** Whether {@code policy} made {@code r} (its owner reference names the policy's uid). */
    public static boolean madeBy(ReplicaSetRollback r, RollbackPolicy policy) {
        List<OwnerReference> owners = r.getMetadata().getOwnerReferences();
        return owners != null && owners.stream().anyMatch(o -> policy.getMetadata().getUid() != null
                && policy.getMetadata().getUid().equals(o.getUid()));
    }

    /**
     * The rollback of {@code pod} after the failover to {@code term}: the policy's cluster, TLS Secret and
     * rollback settings, approval {@code approval}, owned by the policy.
     */
    public static ReplicaSetRollback build(RollbackPolicy policy, String pod, long term,
            ReplicaSetRollbackSpec.Approval approval) {
        RollbackPolicySpec ps = policy.getSpec();
        RollbackTemplate t = ps.getRollback() == null ? new RollbackTemplate() : ps.getRollback();
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.getMetadata().setName(name(pod, term));
        r.getMetadata().setNamespace(policy.getMetadata().getNamespace());
        r.getMetadata().setLabels(labels(policy, pod, term));
        r.getMetadata().setAnnotations(Map.of(ReplicaSetRollback.GROUP + "/created-by",
                "RollbackPolicy " + policy.getMetadata().getName() + " after the failover to term " + term));
        r.getMetadata().setOwnerReferences(List.of(new OwnerReferenceBuilder()
                .withApiVersion(policy.getApiVersion()).withKind(policy.getKind())
                .withName(policy.getMetadata().getName()).withUid(policy.getMetadata().getUid())
                .withController(true).withBlockOwnerDeletion(false).build()));
        ReplicaSetRollbackSpec s = new ReplicaSetRollbackSpec();
        s.setCluster(ps.getCluster());
        s.setTargetPod(pod);
        s.setApproval(approval);
        s.setAgentTlsSecret(ps.getAgentTlsSecret());
        if (t.getLimits() != null) {
            s.setLimits(t.getLimits());
        }
        s.setRollbackDirectory(t.getRollbackDirectory());
        s.setMaxReplans(t.getMaxReplans());
        s.setMaxRetries(t.getMaxRetries());
        if (t.getCopy() != null) {
            s.setCopy(t.getCopy());
        }
        r.setSpec(s);
        return r;
    }

    private static String hash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 5);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
