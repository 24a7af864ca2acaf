package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The shipped RBAC grants what the operator calls and nothing dangerous: no wildcard, no Secrets
 * cluster-wide, no nodes/proxy, no escalate, bind or impersonate.
 */
public class RbacTest {

    /** (apiGroup, resource, verb) the operator calls in every namespace it watches; the chart's tests reuse it. */
    public static final String[][] OPERATOR_NEEDS = {
        {"dbrollback.io", "replicasetrollbacks", "watch"}, {"dbrollback.io", "replicasetrollbacks", "patch"},
        {"dbrollback.io", "replicasetrollbacks/status", "update"},
        {"dbrollback.io", "replicasetrollbacks/finalizers", "update"},
        {"coordination.k8s.io", "leases", "watch"}, {"", "pods", "list"}, {"", "events", "create"},
        {"", "events", "update"}, {"", "configmaps", "watch"}, {"", "configmaps", "get"},
        {"", "endpoints", "watch"}, {"", "endpoints", "get"},
        // the autopilot: it creates the rollbacks of its policies and writes each policy's impact report
        {"dbrollback.io", "replicasetrollbacks", "create"}, {"dbrollback.io", "replicasetrollbacks", "list"},
        {"dbrollback.io", "rollbackpolicies", "get"}, {"dbrollback.io", "rollbackpolicies", "list"},
        {"dbrollback.io", "rollbackpolicies", "watch"}, {"dbrollback.io", "rollbackpolicies", "update"},
        {"dbrollback.io", "rollbackpolicies", "patch"}, {"dbrollback.io", "rollbackpolicies/status", "get"},
        {"dbrollback.io", "rollbackpolicies/status", "update"}, {"dbrollback.io", "rollbackpolicies/status", "patch"},
        {"dbrollback.io", "rollbackpolicies/finalizers", "update"}};

    private static List<HasMetadata> load() throws Exception {
        List<HasMetadata> out = new ArrayList<>();
        String yaml = Files.readString(Path.of("deploy", "rbac.yaml"));
        for (String doc : yaml.split("(?m)^---\\s*$")) {
            if (doc.lines().anyMatch(l -> l.startsWith("kind:"))) {
                try (InputStream in = new ByteArrayInputStream(doc.getBytes())) {
                    out.add(Serialization.unmarshal(in));
                }
            }
        }
        return out;
    }

    private static boolean grants(List<PolicyRule> rules, String group, String resource, String verb) {
        return rules.stream().anyMatch(r -> r.getApiGroups().contains(group) && r.getResources().contains(resource)
                && r.getVerbs().contains(verb));
    }

    @Test
    void grantsWhatTheOperatorUsesAndNothingDangerous() throws Exception {
        List<HasMetadata> all = load();
        List<ClusterRole> roles = all.stream().filter(ClusterRole.class::isInstance).map(ClusterRole.class::cast)
                .toList();
        assertEquals(2, roles.size());
        ClusterRole cluster = roles.stream().filter(r -> r.getMetadata().getName().equals("rollback-operator"))
                .findFirst().orElseThrow();
        ClusterRole data = roles.stream().filter(r -> r.getMetadata().getName().equals(
                "rollback-operator-data-access")).findFirst().orElseThrow();
        for (ClusterRole role : roles) {
            for (PolicyRule r : role.getRules()) {
                for (List<String> field : List.of(r.getApiGroups(), r.getResources(), r.getVerbs())) {
                    assertFalse(field.contains("*"), "wildcard in " + role.getMetadata().getName());
                }
                assertFalse(r.getResources().contains("nodes/proxy"));
                assertTrue(r.getVerbs().stream().noneMatch(Set.of("escalate", "bind", "impersonate")::contains));
            }
        }
        for (String[] need : OPERATOR_NEEDS) {
            assertTrue(grants(cluster.getRules(), need[0], need[1], need[2]), String.join(" ", need));
        }
        assertTrue(grants(data.getRules(), "", "pods/exec", "create"));
        assertTrue(grants(data.getRules(), "", "secrets", "get"));
        assertFalse(grants(cluster.getRules(), "", "secrets", "get"), "no cluster-wide secrets");
        for (ClusterRoleBinding b : all.stream().filter(ClusterRoleBinding.class::isInstance)
                .map(ClusterRoleBinding.class::cast).toList()) {
            assertFalse(b.getRoleRef().getName().equals(data.getMetadata().getName()),
                    "exec and Secrets are granted per namespace only");
        }
    }
}
