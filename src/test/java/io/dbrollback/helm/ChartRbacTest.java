package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dbrollback.operator.RbacTest;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleRef;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chart's RBAC, for every documented mode, read the way the API server does: what the operator's
 * ServiceAccount may do where (cluster-wide through ClusterRoleBindings, per namespace through
 * RoleBindings). It may do what the operator calls (the list in {@link RbacTest}), pod exec and Secret
 * reads only in the namespaces named in the values (no pod exec at all when the agent writes the
 * rollback file), Lease writes only in its own namespace and only
 * with leader election; no rule anywhere has a wildcard, nodes/proxy, escalate, bind or impersonate.
 */
class ChartRbacTest {

    static final String CLUSTER = "<cluster>";
    static final Set<String> DANGEROUS_VERBS = Set.of("escalate", "bind", "impersonate");
    static final Set<String> WRITE_VERBS = Set.of("create", "update", "patch", "delete", "deletecollection");

    /** One rule granted to the operator, with the namespace it applies in ({@link #CLUSTER}: everywhere). */
    record Grant(String namespace, PolicyRule rule) {
        boolean allows(String group, String resource, String verb) {
            return rule.getApiGroups().contains(group) && rule.getResources().contains(resource)
                    && rule.getVerbs().contains(verb);
        }
    }

    static List<Chart.Mode> modes() {
        return Chart.modes();
    }

    /** What the operator's ServiceAccount is granted, resolving every binding to its role. */
    static List<Grant> operatorGrants(List<HasMetadata> all) {
        Map<String, ClusterRole> clusterRoles = new HashMap<>();
        Chart.ofKind(all, ClusterRole.class).forEach(r -> clusterRoles.put(r.getMetadata().getName(), r));
        Map<String, Role> roles = new HashMap<>();
        Chart.ofKind(all, Role.class).forEach(
                r -> roles.put(r.getMetadata().getNamespace() + "/" + r.getMetadata().getName(), r));
        List<Grant> grants = new ArrayList<>();
        for (ClusterRoleBinding b : Chart.ofKind(all, ClusterRoleBinding.class)) {
            assertOnlyTheOperator(b.getSubjects(), b.getMetadata().getName());
            assertEquals("ClusterRole", b.getRoleRef().getKind());
            ClusterRole role = clusterRoles.get(b.getRoleRef().getName());
            assertTrue(role != null, "ClusterRoleBinding " + b.getMetadata().getName() + " refers to a missing role");
            role.getRules().forEach(r -> grants.add(new Grant(CLUSTER, r)));
        }
        for (RoleBinding b : Chart.ofKind(all, RoleBinding.class)) {
            String ns = b.getMetadata().getNamespace();
            assertOnlyTheOperator(b.getSubjects(), ns + "/" + b.getMetadata().getName());
            RoleRef ref = b.getRoleRef();
            List<PolicyRule> rules = ref.getKind().equals("Role")
                    ? rulesOf(roles.get(ns + "/" + ref.getName()), ns + "/" + b.getMetadata().getName())
                    : rulesOf(clusterRoles.get(ref.getName()), ns + "/" + b.getMetadata().getName());
            rules.forEach(r -> grants.add(new Grant(ns, r)));
        }
        return grants;
    }

    private static List<PolicyRule> rulesOf(HasMetadata role, String binding) {
        if (role instanceof Role r) {
            return r.getRules();
        }
        if (role instanceof ClusterRole r) {
            return r.getRules();
        }
        return fail("RoleBinding " + binding + " refers to a missing role");
    }

    private static void assertOnlyTheOperator(List<Subject> subjects, String binding) {
        assertEquals(1, subjects.size(), binding);
        Subject s = subjects.get(0);
        assertEquals("ServiceAccount", s.getKind(), binding);
        assertEquals(Chart.RELEASE, s.getName(), binding);
        assertEquals(Chart.NAMESPACE, s.getNamespace(), binding);
    }

    static boolean allowed(List<Grant> grants, String ns, String group, String resource, String verb) {
        return grants.stream().anyMatch(g -> (g.namespace().equals(CLUSTER) || g.namespace().equals(ns))
                && g.allows(group, resource, verb));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void noRuleIsDangerous(Chart.Mode mode) {
        List<HasMetadata> all = Chart.render(mode);
        List<PolicyRule> rules = new ArrayList<>();
        Chart.ofKind(all, ClusterRole.class).forEach(r -> rules.addAll(r.getRules()));
        Chart.ofKind(all, Role.class).forEach(r -> rules.addAll(r.getRules()));
        assertFalse(rules.isEmpty());
        for (PolicyRule r : rules) {
            for (List<String> field : List.of(r.getApiGroups(), r.getResources(), r.getVerbs())) {
                assertFalse(field.contains("*"), mode + ": wildcard in " + r);
            }
            assertFalse(r.getResources().stream().anyMatch(x -> x.startsWith("nodes")), mode + ": nodes in " + r);
            assertTrue(r.getVerbs().stream().noneMatch(DANGEROUS_VERBS::contains), mode + ": " + r);
            assertTrue(r.getNonResourceURLs() == null || r.getNonResourceURLs().isEmpty(), mode + ": " + r);
            assertFalse(r.getResources().stream().anyMatch(x -> x.startsWith("clusterrole") || x.startsWith("role")),
                    mode + ": RBAC objects in " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void theOperatorMayDoWhatItCallsWhereItWatches(Chart.Mode mode) {
        Map<String, Object> values = mode.values();
        List<Grant> grants = operatorGrants(Chart.render(mode));
        List<String> watched = Chart.list(values, "watchNamespaces");
        if (watched.isEmpty()) {
            for (String[] need : RbacTest.OPERATOR_NEEDS) {
                assertTrue(grants.stream().anyMatch(g -> g.namespace().equals(CLUSTER)
                        && g.allows(need[0], need[1], need[2])), mode + ": cluster-wide " + String.join(" ", need));
            }
        } else {
            assertTrue(grants.stream().noneMatch(g -> g.namespace().equals(CLUSTER)),
                    mode + ": a namespace list grants nothing cluster-wide");
            for (String ns : watched) {
                for (String[] need : RbacTest.OPERATOR_NEEDS) {
                    assertTrue(grants.stream().anyMatch(g -> g.namespace().equals(ns)
                            && g.allows(need[0], need[1], need[2])),
                            mode + ": in " + ns + " " + String.join(" ", need));
                }
            }
            assertTrue(grants.stream().allMatch(g -> watched.contains(g.namespace())
                    || g.namespace().equals(Chart.NAMESPACE)), mode + ": grants outside the watched namespaces");
        }
    }

    static boolean agentWriter(Map<String, Object> values) {
        return "agent".equals(Chart.at(values, "rollbackFile.writer"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void podExecAndSecretsOnlyInTheListedNamespaces(Chart.Mode mode) {
        Map<String, Object> values = mode.values();
        List<Grant> grants = operatorGrants(Chart.render(mode));
        List<String> watched = Chart.list(values, "watchNamespaces");
        List<String> dataAccess = watched.isEmpty() ? Chart.list(values, "rbac.dataAccessNamespaces") : watched;
        boolean agent = agentWriter(values);
        Set<String> secrets = new TreeSet<>();
        Set<String> exec = new TreeSet<>();
        for (Grant g : grants) {
            if (g.rule().getResources().contains("secrets") || g.rule().getResources().contains("pods/exec")) {
                assertFalse(g.namespace().equals(CLUSTER), mode + ": cluster-wide " + g.rule());
            }
            if (g.rule().getResources().contains("secrets")) {
                secrets.add(g.namespace());
            }
            if (g.rule().getResources().contains("pods/exec")) {
                exec.add(g.namespace());
            }
        }
        assertEquals(new TreeSet<>(dataAccess), secrets, mode.name());
        assertEquals(agent ? Set.of() : new TreeSet<>(dataAccess), exec,
                mode + (agent ? ": the agent writes the rollback file, so no pods/exec anywhere" : ""));
        for (String ns : dataAccess) {
            assertEquals(!agent, allowed(grants, ns, "", "pods/exec", "create"), mode + ": pods/exec create in " + ns);
            assertEquals(!agent, allowed(grants, ns, "", "pods/exec", "get"), mode + ": pods/exec get in " + ns);
            assertTrue(allowed(grants, ns, "", "secrets", "get"), mode + ": secrets get in " + ns);
            assertFalse(allowed(grants, ns, "", "secrets", "list"), mode + ": secrets list in " + ns);
        }
    }

    /** Every (namespace, group, resource, verb, resourceNames) a set of grants allows. */
    static Set<String> permissions(List<Grant> grants) {
        Set<String> out = new TreeSet<>();
        for (Grant g : grants) {
            for (String group : g.rule().getApiGroups()) {
                for (String resource : g.rule().getResources()) {
                    for (String verb : g.rule().getVerbs()) {
                        out.add(g.namespace() + " " + group + "/" + resource + " " + verb + " "
                                + g.rule().getResourceNames());
                    }
                }
            }
        }
        return out;
    }

    /**
     * rollbackFile.writer agent, in every mode: the operator's permissions are the exec mode's minus
     * pods/exec, with nothing added, and the Deployment tells the operator which writer to use.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void theAgentWriterTakesPodExecAwayAndAddsNothing(Chart.Mode mode) {
        List<HasMetadata> execMode = Chart.render(mode, "rollbackFile.writer", "exec");
        List<HasMetadata> agentMode = Chart.render(mode, "rollbackFile.writer", "agent");
        Set<String> withExec = permissions(operatorGrants(execMode));
        Set<String> withAgent = permissions(operatorGrants(agentMode));
        Set<String> expected = new TreeSet<>(withExec);
        expected.removeIf(p -> p.contains(" /pods/exec "));
        assertEquals(expected, withAgent, mode + ": the exec mode's permissions without pods/exec");
        assertTrue(withAgent.stream().noneMatch(p -> p.contains("pods/exec")), mode + ": " + withAgent);
        List<String> dataAccess = Chart.list(mode.values(), "watchNamespaces").isEmpty()
                ? Chart.list(mode.values(), "rbac.dataAccessNamespaces") : Chart.list(mode.values(), "watchNamespaces");
        if (Boolean.TRUE.equals(Chart.at(mode.values(), "rbac.create")) && !dataAccess.isEmpty()) {
            assertTrue(withExec.stream().anyMatch(p -> p.contains(" /pods/exec ")), mode + ": exec mode has pods/exec");
        }
        assertEquals("agent", env(agentMode).get("DBROLLBACK_ROLLBACK_FILE_WRITER"), mode.name());
        assertFalse(env(execMode).containsKey("DBROLLBACK_ROLLBACK_FILE_WRITER"),
                mode + ": the exec mode is the operator's default; the variable is not rendered");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void leaseWritesOnlyForLeaderElectionInTheOperatorNamespace(Chart.Mode mode) {
        Map<String, Object> values = mode.values();
        List<HasMetadata> all = Chart.render(mode);
        List<Grant> grants = operatorGrants(all);
        boolean leader = Boolean.TRUE.equals(Chart.at(values, "leaderElection.enabled"))
                || ((Number) Chart.at(values, "replicaCount")).intValue() > 1;
        List<Grant> leaseWrites = grants.stream().filter(g -> g.rule().getApiGroups().contains("coordination.k8s.io")
                && g.rule().getResources().contains("leases")
                && g.rule().getVerbs().stream().anyMatch(WRITE_VERBS::contains)).toList();
        Map<String, String> env = env(all);
        assertEquals(String.valueOf(leader), env.get("DBROLLBACK_LEADER_ELECTION_ENABLED"), mode.name());
        if (!leader) {
            assertTrue(leaseWrites.isEmpty(), mode + ": no Lease writes without leader election: " + leaseWrites);
            return;
        }
        assertFalse(leaseWrites.isEmpty(), mode.name());
        assertTrue(leaseWrites.stream().allMatch(g -> g.namespace().equals(Chart.NAMESPACE)),
                mode + ": Lease writes outside the operator namespace: " + leaseWrites);
        assertTrue(leaseWrites.stream().noneMatch(g -> g.rule().getVerbs().contains("delete")), mode.name());
        // JOSDK's own start-up check: in the Lease's namespace, rules naming no resource or the Lease
        // must together allow create, update and get.
        String lease = env.get("DBROLLBACK_LEADER_ELECTION_LEASE_NAME");
        Set<String> verbs = new HashSet<>();
        grants.stream().filter(g -> g.namespace().equals(Chart.NAMESPACE) || g.namespace().equals(CLUSTER))
                .map(Grant::rule)
                .filter(r -> r.getApiGroups().contains("coordination.k8s.io") && r.getResources().contains("leases"))
                .filter(r -> r.getResourceNames() == null || r.getResourceNames().isEmpty()
                        || r.getResourceNames().contains(lease))
                .forEach(r -> verbs.addAll(r.getVerbs()));
        assertTrue(verbs.containsAll(Set.of("create", "update", "get")), mode + ": " + verbs);
        // Updates name the one Lease.
        assertTrue(leaseWrites.stream().filter(g -> g.rule().getVerbs().contains("update"))
                .allMatch(g -> List.of(lease).equals(g.rule().getResourceNames())), mode + ": " + leaseWrites);
    }

    @Test
    void leaderElectionFollowsTheValues() {
        assertEquals("false", env(Chart.render(Chart.DEFAULT)).get("DBROLLBACK_LEADER_ELECTION_ENABLED"));
        Map<String, String> one = env(Chart.render(Chart.DEFAULT, "leaderElection.enabled", "true"));
        assertEquals("true", one.get("DBROLLBACK_LEADER_ELECTION_ENABLED"));
        assertEquals("rollback-operator-leader", one.get("DBROLLBACK_LEADER_ELECTION_LEASE_NAME"));
        Map<String, String> named = env(Chart.render(Chart.mode("leader-election"), "leaderElection.leaseName",
                "ops-lock"));
        assertEquals("ops-lock", named.get("DBROLLBACK_LEADER_ELECTION_LEASE_NAME"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void usersGetAggregatedRoles(Chart.Mode mode) {
        List<ClusterRole> roles = Chart.ofKind(Chart.render(mode), ClusterRole.class);
        for (String[] r : new String[][] {{"admin", "true"}, {"edit", "true"}, {"view", "false"}}) {
            ClusterRole role = roles.stream().filter(c -> c.getMetadata().getName().equals(Chart.RELEASE + "-" + r[0]))
                    .findFirst().orElseThrow(() -> new AssertionError(mode + ": no " + r[0] + " role"));
            assertEquals("true", role.getMetadata().getLabels().get("rbac.authorization.k8s.io/aggregate-to-" + r[0]));
            for (PolicyRule rule : role.getRules()) {
                assertEquals(List.of("dbrollback.io"), rule.getApiGroups(), role.getMetadata().getName());
                assertFalse(rule.getResources().stream().anyMatch(x -> x.endsWith("/status"))
                        && rule.getVerbs().stream().anyMatch(WRITE_VERBS::contains),
                        "users never write a status (the operator's audit record and impact reports)");
            }
            for (String resource : List.of("replicasetrollbacks", "rollbackpolicies")) {
                String what = role.getMetadata().getName() + " " + resource;
                boolean writes = role.getRules().stream().anyMatch(x -> x.getResources().contains(resource)
                        && x.getVerbs().containsAll(List.of("create", "patch", "delete")));
                assertEquals(Boolean.parseBoolean(r[1]), writes, what);
                assertTrue(role.getRules().stream().anyMatch(x -> x.getResources().contains(resource)
                        && x.getVerbs().containsAll(List.of("get", "list", "watch"))), what);
                assertTrue(role.getRules().stream().anyMatch(x -> x.getResources().contains(resource + "/status")
                        && x.getVerbs().contains("get")), what + "/status");
            }
        }
    }

    /**
     * The operator creates ReplicaSetRollbacks (the autopilot) but deletes nothing of its own kinds: the
     * rollbacks a deleted policy owned are removed by the garbage collector, not by the operator.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void theOperatorCreatesRollbacksButDeletesNone(Chart.Mode mode) {
        List<Grant> grants = operatorGrants(Chart.render(mode));
        for (Grant g : grants) {
            if (g.rule().getApiGroups().contains("dbrollback.io")) {
                assertTrue(g.rule().getVerbs().stream().noneMatch(v -> v.startsWith("delete")), mode + ": " + g);
                assertFalse(g.rule().getResources().contains("rollbackpolicies")
                        && g.rule().getVerbs().contains("create"), mode + ": the operator never creates a policy");
            }
        }
    }

    @Test
    void rbacCanBeLeftToTheUser() {
        List<HasMetadata> all = Chart.render(Chart.DEFAULT, "rbac.create", "false", "rbac.aggregateToDefaultRoles",
                "false");
        assertTrue(all.stream().noneMatch(o -> o.getApiVersion().startsWith("rbac.authorization.k8s.io")),
                "no RBAC objects");
    }

    static Map<String, String> env(List<HasMetadata> all) {
        Deployment d = Chart.ofKind(all, Deployment.class).get(0);
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar e : d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv()) {
            env.put(e.getName(), e.getValue());
        }
        return env;
    }
}
