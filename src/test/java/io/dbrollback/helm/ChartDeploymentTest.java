package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.operator.AgentClients;
import io.dbrollback.operator.CrashPoints;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.quarkus.runtime.configuration.DurationConverter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The rendered operator Deployment, for every documented mode: restricted Pod Security (non-root,
 * read-only root filesystem with an emptyDir /tmp, no privilege escalation, all capabilities
 * dropped, seccomp RuntimeDefault), resources, probes on /q/health, the watch-namespace and
 * leader-election environment, a safe rollout strategy; and the metrics Service, ServiceMonitor,
 * PodDisruptionBudget and NetworkPolicy wired to the operator pods.
 */
class ChartDeploymentTest {

    static List<Chart.Mode> modes() {
        return Chart.modes();
    }

    static Deployment deployment(List<HasMetadata> all) {
        List<Deployment> ds = Chart.ofKind(all, Deployment.class);
        assertEquals(1, ds.size());
        return ds.get(0);
    }

    static Container operator(Deployment d) {
        List<Container> cs = d.getSpec().getTemplate().getSpec().getContainers();
        assertEquals(1, cs.size());
        return cs.get(0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void restrictedPodSecurity(Chart.Mode mode) {
        assertRestricted(deployment(Chart.render(mode)), mode.name());
    }

    @Test
    void valuesCannotWeakenTheBaseline() {
        Deployment d = deployment(Chart.render(Chart.DEFAULT, "podSecurityContext.runAsNonRoot", "false",
                "podSecurityContext.seccompProfile.type", "Unconfined"));
        assertRestricted(d, "weakened values");
    }

    @Test
    void openShiftCanDropTheUid() {
        PodSecurityContext p = deployment(Chart.render(Chart.DEFAULT, "podSecurityContext.runAsUser", "null",
                "podSecurityContext.runAsGroup", "null")).getSpec().getTemplate().getSpec().getSecurityContext();
        assertEquals(null, p.getRunAsUser());
        assertEquals(null, p.getRunAsGroup());
        assertEquals(Boolean.TRUE, p.getRunAsNonRoot());
    }

    static void assertRestricted(Deployment d, String mode) {
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        PodSecurityContext p = pod.getSecurityContext();
        assertEquals(Boolean.TRUE, p.getRunAsNonRoot(), mode);
        assertEquals("RuntimeDefault", p.getSeccompProfile().getType(), mode);
        assertFalse(Boolean.TRUE.equals(pod.getHostNetwork()) || Boolean.TRUE.equals(pod.getHostPID())
                || Boolean.TRUE.equals(pod.getHostIPC()), mode);
        Container c = operator(d);
        SecurityContext s = c.getSecurityContext();
        assertEquals(Boolean.FALSE, s.getAllowPrivilegeEscalation(), mode);
        assertEquals(Boolean.TRUE, s.getReadOnlyRootFilesystem(), mode);
        assertEquals(Boolean.TRUE, s.getRunAsNonRoot(), mode);
        assertFalse(Boolean.TRUE.equals(s.getPrivileged()), mode);
        assertEquals(List.of("ALL"), s.getCapabilities().getDrop(), mode);
        assertTrue(s.getCapabilities().getAdd() == null || s.getCapabilities().getAdd().isEmpty(), mode);
        assertEquals("RuntimeDefault", s.getSeccompProfile().getType(), mode);
        // The read-only root filesystem needs a writable /tmp, from an emptyDir (never a hostPath).
        String tmp = c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/tmp")).findFirst()
                .orElseThrow(() -> new AssertionError(mode + ": no /tmp")).getName();
        Volume v = pod.getVolumes().stream().filter(x -> x.getName().equals(tmp)).findFirst().orElseThrow();
        assertNotNull(v.getEmptyDir(), mode);
        assertTrue(pod.getVolumes().stream().allMatch(x -> x.getHostPath() == null), mode);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void resourcesProbesAndEnvironment(Chart.Mode mode) {
        Map<String, Object> values = mode.values();
        Deployment d = deployment(Chart.render(mode));
        Container c = operator(d);
        assertEquals(((Number) values.get("replicaCount")).intValue(), d.getSpec().getReplicas(), mode.name());
        assertNotNull(c.getResources().getRequests().get("memory"), mode.name());
        assertNotNull(c.getResources().getRequests().get("cpu"), mode.name());
        assertNotNull(c.getResources().getLimits().get("memory"), mode.name());
        assertEquals(8080, c.getPorts().stream().filter(p -> p.getName().equals("http")).findFirst().orElseThrow()
                .getContainerPort());
        assertProbe(c.getLivenessProbe(), "/q/health/live");
        assertProbe(c.getReadinessProbe(), "/q/health/ready");
        assertProbe(c.getStartupProbe(), "/q/health/live");

        Map<String, String> env = ChartRbacTest.env(List.of(d));
        List<String> watched = Chart.list(values, "watchNamespaces");
        // both controllers watch the same namespaces: the RBAC grants nothing elsewhere
        for (String controller : List.of("REPLICASETROLLBACK", "ROLLBACKPOLICY")) {
            assertEquals(watched.isEmpty() ? "JOSDK_ALL_NAMESPACES" : String.join(",", watched),
                    env.get("QUARKUS_OPERATOR_SDK_CONTROLLERS_" + controller + "_NAMESPACES"), mode + " " + controller);
        }
        boolean leader = "true".equals(env.get("DBROLLBACK_LEADER_ELECTION_ENABLED"));
        assertTrue(leader || d.getSpec().getReplicas() == 1, mode + ": several replicas need leader election");
        // Without leader election an upgrade must never run the old and the new operator together.
        assertEquals(leader ? "RollingUpdate" : "Recreate", d.getSpec().getStrategy().getType(), mode.name());
        if (leader) {
            assertEquals("metadata.namespace", c.getEnv().stream()
                    .filter(e -> e.getName().equals("DBROLLBACK_LEADER_ELECTION_LEASE_NAMESPACE")).findFirst()
                    .orElseThrow().getValueFrom().getFieldRef().getFieldPath());
        }
        assertEquals(Chart.RELEASE, d.getSpec().getTemplate().getSpec().getServiceAccountName());
    }

    private static void assertProbe(Probe p, String path) {
        assertNotNull(p, path);
        assertEquals(path, p.getHttpGet().getPath());
        assertEquals("http", p.getHttpGet().getPort().getStrVal());
    }

    /** The crash tests' hooks halt or pause processes on purpose: no mode of the chart, nor deploy/, may set them. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void noTestHookIsEverSet(Chart.Mode mode) throws IOException {
        String rendered = Chart.template(mode);
        String deploy = Files.readString(Path.of("deploy", "rollback-operator.yaml"));
        for (String text : List.of(rendered, deploy)) {
            assertFalse(text.contains(CrashPoints.ENV), mode.name());
            assertFalse(text.contains("DBROLLBACK_NODE_"), mode.name());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void metricsServiceSelectsTheOperator(Chart.Mode mode) {
        List<HasMetadata> all = Chart.render(mode);
        Deployment d = deployment(all);
        Service s = Chart.ofKind(all, Service.class).get(0);
        Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
        assertTrue(podLabels.entrySet().containsAll(s.getSpec().getSelector().entrySet()), mode.name());
        assertEquals(d.getSpec().getSelector().getMatchLabels(), s.getSpec().getSelector(), mode.name());
        ServicePort port = s.getSpec().getPorts().get(0);
        assertEquals("http", port.getTargetPort().getStrVal());
        List<GenericKubernetesResource> monitors = Chart.ofKind(all, GenericKubernetesResource.class).stream()
                .filter(g -> g.getKind().equals("ServiceMonitor")).toList();
        assertEquals(Boolean.TRUE.equals(Chart.at(mode.values(), "metrics.serviceMonitor.enabled")) ? 1 : 0,
                monitors.size(), mode.name());
        for (GenericKubernetesResource m : monitors) {
            assertEquals("monitoring.coreos.com/v1", m.getApiVersion());
            assertEquals(s.getMetadata().getLabels().entrySet().containsAll(
                    ((Map<?, ?>) m.get("spec", "selector", "matchLabels")).entrySet()), true);
            List<?> endpoints = m.get("spec", "endpoints");
            Map<?, ?> endpoint = (Map<?, ?>) endpoints.get(0);
            assertEquals(port.getName(), endpoint.get("port"));
            assertEquals("/q/metrics", endpoint.get("path"));
            assertEquals("prometheus", m.getMetadata().getLabels().get("release"), "serviceMonitor.labels");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void disruptionBudgetAndNetworkPolicyAreOptional(Chart.Mode mode) {
        List<HasMetadata> all = Chart.render(mode);
        Map<String, String> selector = deployment(all).getSpec().getSelector().getMatchLabels();
        List<PodDisruptionBudget> pdbs = Chart.ofKind(all, PodDisruptionBudget.class);
        assertEquals(Boolean.TRUE.equals(Chart.at(mode.values(), "podDisruptionBudget.enabled")) ? 1 : 0,
                pdbs.size(), mode.name());
        for (PodDisruptionBudget pdb : pdbs) {
            assertEquals(selector, pdb.getSpec().getSelector().getMatchLabels());
            assertTrue(pdb.getSpec().getMinAvailable() == null || pdb.getSpec().getMaxUnavailable() == null);
            assertEquals(1, pdb.getSpec().getMinAvailable().getIntVal(), "the pdb mode keeps one of two up");
        }
        List<NetworkPolicy> policies = Chart.ofKind(all, NetworkPolicy.class);
        assertEquals(Boolean.TRUE.equals(Chart.at(mode.values(), "networkPolicy.enabled")) ? 1 : 0,
                policies.size(), mode.name());
        for (NetworkPolicy p : policies) {
            assertEquals(selector, p.getSpec().getPodSelector().getMatchLabels());
            assertEquals(List.of("Ingress"), p.getSpec().getPolicyTypes());
            assertEquals(8080, p.getSpec().getIngress().get(0).getPorts().get(0).getPort().getIntVal());
        }
    }

    @Test
    void pdbDefaultsToMaxUnavailable() {
        PodDisruptionBudget pdb = Chart.ofKind(Chart.render(Chart.DEFAULT, "podDisruptionBudget.enabled", "true"),
                PodDisruptionBudget.class).get(0);
        assertEquals(null, pdb.getSpec().getMinAvailable());
        assertEquals(1, pdb.getSpec().getMaxUnavailable().getIntVal());
    }

    @Test
    void imageTagDefaultsToAppVersionAndDigestWins() {
        assertEquals("localhost/rollback-operator:0.1.0", operator(deployment(Chart.render(Chart.DEFAULT))).getImage());
        String digest = "sha256:" + "a".repeat(64);
        assertEquals("localhost/rollback-operator@" + digest,
                operator(deployment(Chart.render(Chart.DEFAULT, "image.digest", digest))).getImage());
    }

    /** The chart's agent.* values, in the order of {@link AgentClients.Deadlines#PROPERTIES}. */
    static final List<String> AGENT_VALUES = List.of("agent.deadlines.getTimeline", "agent.deadlines.fence",
            "agent.deadlines.recoverToLsn", "agent.deadlines.rejoinAsReplica", "agent.deadlines.quarantineRollbackFile",
            "agent.deadlines.summarizeTail", "agent.progressTimeout", "agent.streamDeadline");

    /** The environment variable of a configuration property, as Quarkus maps it. */
    static String envOf(String property) {
        return property.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
    }

    /** The agent deadlines the rendered Deployment gives the operator, as it parses them. */
    static AgentClients.Deadlines deadlines(List<HasMetadata> all) {
        Map<String, String> env = ChartRbacTest.env(all);
        DurationConverter convert = new io.quarkus.runtime.configuration
                .DurationConverter();
        List<Duration> d = AgentClients.Deadlines.PROPERTIES.stream().map(p -> convert.convert(
                Objects.requireNonNull(env.get(envOf(p)), envOf(p) + " is set"))).toList();
        return new AgentClients.Deadlines(d.get(0), d.get(1), d.get(2), d.get(3), d.get(4), d.get(5), d.get(6),
                d.get(7));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void theAgentDeadlinesComeFromTheValues(Chart.Mode mode) {
        Map<String, String> env = ChartRbacTest.env(Chart.render(mode));
        for (int i = 0; i < AGENT_VALUES.size(); i++) {
            assertEquals(String.valueOf(Chart.at(mode.values(), AGENT_VALUES.get(i))),
                    env.get(envOf(AgentClients.Deadlines.PROPERTIES.get(i))), mode + " " + AGENT_VALUES.get(i));
        }
    }

    @Test
    void theRetryBackoffComesFromTheValuesAndDefaultsToTheOperatorsDefaults() {
        Map<String, String> env = ChartRbacTest.env(Chart.render(Chart.DEFAULT));
        assertEquals("1s", env.get("DBROLLBACK_RETRY_INITIAL_BACKOFF"));
        assertEquals("60s", env.get("DBROLLBACK_RETRY_MAX_BACKOFF"));
        Map<String, String> set = ChartRbacTest.env(Chart.render(Chart.DEFAULT, "retry.initialBackoff", "250ms",
                "retry.maxBackoff", "5m"));
        assertEquals("250ms", set.get("DBROLLBACK_RETRY_INITIAL_BACKOFF"));
        assertEquals("5m", set.get("DBROLLBACK_RETRY_MAX_BACKOFF"));
        assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "retry.maxBackoff", "0s"));
        assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "retry.initialBackoff", "soon"));
    }

    @Test
    void thePacingComesFromTheValuesAndTheInstanceIsThePodsName() {
        Map<String, String> env = ChartRbacTest.env(Chart.render(Chart.DEFAULT));
        assertEquals("40", env.get("DBROLLBACK_RECONCILE_MAX_STEPS"));
        assertEquals("10s", env.get("DBROLLBACK_RECONCILE_WAIT_RECHECK"));
        assertEquals("20s", env.get("DBROLLBACK_RECONCILE_BLOCKED_RECHECK"));
        Map<String, String> set = ChartRbacTest.env(Chart.render(Chart.DEFAULT, "reconcile.maxSteps", "5",
                "reconcile.waitRecheck", "30s", "reconcile.blockedRecheck", "1m"));
        assertEquals("5", set.get("DBROLLBACK_RECONCILE_MAX_STEPS"));
        assertEquals("30s", set.get("DBROLLBACK_RECONCILE_WAIT_RECHECK"));
        assertEquals("1m", set.get("DBROLLBACK_RECONCILE_BLOCKED_RECHECK"));
        assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "reconcile.maxSteps", "0"));
        assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "reconcile.waitRecheck", "0s"));
        String deployment = Chart.template(Chart.DEFAULT);
        assertTrue(deployment.contains("- name: DBROLLBACK_INSTANCE\n              valueFrom:\n              "
                + "  fieldRef:\n                  fieldPath: metadata.name"), "the instance is the pod's name");
    }

    @Test
    void theChartsDefaultDeadlinesAreTheOperatorsDefaults() {
        assertEquals(AgentClients.Deadlines.DEFAULT, deadlines(Chart.render(Chart.DEFAULT)));
    }

    @Test
    void deadlinesCanBeSetAndZeroOrMalformedOnesAreRefused() {
        AgentClients.Deadlines d = deadlines(Chart.render(Chart.DEFAULT, "agent.progressTimeout", "90s",
                "agent.deadlines.fence", "1500ms", "agent.deadlines.recoverToLsn", "1h"));
        assertEquals(Duration.ofSeconds(90), d.progressTimeout());
        assertEquals(Duration.ofMillis(1500), d.fence());
        assertEquals(Duration.ofHours(1), d.recoverToLsn());
        for (String bad : List.of("-5s", "soon", "1.5s", "30", "")) {
            assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "agent.progressTimeout", bad),
                    "agent.progressTimeout=" + bad);
        }
        for (String path : AGENT_VALUES) {
            assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, path, "0s"), path + "=0s");
        }
    }

    @Test
    void badValuesAreRefused() {
        // values.schema.json: namespace names, unknown keys.
        assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "watchNamespaces[0]", "Bad_NS"));
        assertThrows(IllegalStateException.class, () -> Chart.template(Chart.DEFAULT, "watchNamespace", "x"));
        // Data access is per watched namespace in a namespace list: a second list would be ignored.
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Chart.template(
                Chart.mode("namespace-list"), "rbac.dataAccessNamespaces[0]", "other"));
        assertTrue(e.getMessage().contains("rbac.dataAccessNamespaces applies only"), e.getMessage());
    }
}
