package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.PolicyMode;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.operator.LeaderReader;
import io.dbrollback.api.RollbackPolicy;
import io.dbrollback.operator.Autopilot;
import io.dbrollback.operator.SpecValidator;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The examples under deploy/examples are valid and wired together: every ReplicaSetRollback parses
 * into the Java class (unknown fields fail), passes the CRD schema (crds/) and the operator's
 * SpecValidator, and the three modes (automatic, manual approval, dry run) are there; every
 * RollbackPolicy likewise passes its CRD's schema and the autopilot's own checks, one per mode
 * (Automatic, Manual, Observe); every other object is a Kubernetes kind with known fields only; and
 * each rollback and policy names a StatefulSet's pods, their agent port, a data volume holding the
 * rollback directory, and a leader Lease with a term, whose holder is not a rollback's target (or a
 * Patroni scope, whose objects Patroni itself creates).
 */
class ExamplesTest {

    static final Path EXAMPLES = Path.of("deploy", "examples");
    static final Path CRD = Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml");
    static final Path POLICY_CRD = Path.of("crds", "rollbackpolicies.dbrollback.io-v1.yml");
    /** The custom kinds of this project: each is checked against its own CRD, not as a Kubernetes kind. */
    static final Map<String, Path> CUSTOM_KINDS = Map.of("ReplicaSetRollback", CRD, "RollbackPolicy", POLICY_CRD);
    static final ObjectMapper STRICT = Chart.YAML.copy().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    record Doc(Path file, String yaml) {
    }

    static List<Doc> docs() throws Exception {
        List<Doc> docs = new ArrayList<>();
        try (Stream<Path> files = Files.list(EXAMPLES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                for (String doc : Files.readString(f).split("(?m)^---\\s*$")) {
                    if (doc.lines().anyMatch(l -> !l.isBlank() && !l.stripLeading().startsWith("#"))) {
                        docs.add(new Doc(f, doc));
                    }
                }
            }
        }
        return docs;
    }

    static List<ReplicaSetRollback> rollbacks() throws Exception {
        List<ReplicaSetRollback> out = new ArrayList<>();
        for (Doc d : docs()) {
            if (d.yaml().contains("kind: ReplicaSetRollback")) {
                out.add(STRICT.readValue(d.yaml(), ReplicaSetRollback.class));
            }
        }
        return out;
    }

    static List<RollbackPolicy> policies() throws Exception {
        List<RollbackPolicy> out = new ArrayList<>();
        for (Doc d : docs()) {
            if (d.yaml().contains("kind: RollbackPolicy")) {
                out.add(STRICT.readValue(d.yaml(), RollbackPolicy.class));
            }
        }
        return out;
    }

    static List<HasMetadata> objects() throws Exception {
        List<HasMetadata> out = new ArrayList<>();
        for (Doc d : docs()) {
            if (CUSTOM_KINDS.keySet().stream().noneMatch(k -> d.yaml().contains("kind: " + k))) {
                out.add(Chart.KUBE.unmarshal(d.yaml()));
            }
        }
        return out;
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyRollbackPassesTheSchemaAndTheValidator() throws Exception {
        CrdSchema schema = CrdSchema.load(CRD, "v1alpha1");
        int count = 0;
        for (Doc d : docs()) {
            if (!d.yaml().contains("kind: ReplicaSetRollback")) {
                continue;
            }
            count++;
            Map<String, Object> raw = Chart.YAML.readValue(d.yaml(), LinkedHashMap.class);
            assertEquals("dbrollback.io/v1alpha1", raw.get("apiVersion"), d.file().toString());
            assertEquals(List.of(), schema.problems(raw), d.file() + ": against the CRD schema");
            ReplicaSetRollback r = STRICT.readValue(d.yaml(), ReplicaSetRollback.class);
            assertEquals(List.of(), SpecValidator.problems(r), d.file() + ": SpecValidator");
            assertTrue(r.getMetadata().getName() != null && r.getMetadata().getNamespace() != null,
                    d.file().toString());
        }
        assertTrue(count >= 3, "an example per mode");
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyPolicyPassesTheSchemaAndTheAutopilotsChecks() throws Exception {
        CrdSchema schema = CrdSchema.load(POLICY_CRD, "v1alpha1");
        int count = 0;
        for (Doc d : docs()) {
            if (!d.yaml().contains("kind: RollbackPolicy")) {
                continue;
            }
            count++;
            Map<String, Object> raw = Chart.YAML.readValue(d.yaml(), LinkedHashMap.class);
            assertEquals("dbrollback.io/v1alpha1", raw.get("apiVersion"), d.file().toString());
            assertEquals(List.of(), schema.problems(raw), d.file() + ": against the RollbackPolicy CRD schema");
            RollbackPolicy p = STRICT.readValue(d.yaml(), RollbackPolicy.class);
            assertEquals(List.of(), Autopilot.problems(p), d.file() + ": Autopilot.problems");
            assertTrue(p.getMetadata().getName() != null && p.getMetadata().getNamespace() != null,
                    d.file().toString());
            assertTrue(d.file().getFileName().toString().startsWith("policy-"), d.file() + ": policy-*.yaml");
        }
        assertTrue(count >= 3, "a policy example per mode");
    }

    @Test
    void everyPolicyModeHasAnExample() throws Exception {
        List<RollbackPolicy> ps = policies();
        for (PolicyMode mode : PolicyMode.values()) {
            assertTrue(ps.stream().anyMatch(p -> p.getSpec().getMode() == mode), mode.name());
        }
        assertEquals(ps.size(), ps.stream().map(p -> p.getMetadata().getName()).distinct().count(), "unique names");
    }

    @Test
    void theSchemaCheckCatchesPolicyMistakes() throws Exception {
        CrdSchema schema = CrdSchema.load(POLICY_CRD, "v1alpha1");
        Map<String, Object> bad = Chart.YAML.readValue("""
                apiVersion: dbrollback.io/v1alpha1
                kind: RollbackPolicy
                metadata: {name: x}
                spec:
                  cluster: {podSelector: {app: orders}, leaseName: orders-leader, agentPortName: agent}
                  mode: Automatik
                  coolDown: ten minutes
                  rollback: {maxRetries: 101, approval: Manual}
                """, Map.class);
        List<String> p = schema.problems(bad);
        assertTrue(p.stream().anyMatch(x -> x.startsWith("spec.mode:")), p.toString());
        assertTrue(p.stream().anyMatch(x -> x.startsWith("spec.coolDown: does not match")), p.toString());
        assertTrue(p.contains("spec.rollback.maxRetries: above maximum 100.0"), p.toString());
        assertTrue(p.contains("spec.rollback.approval: unknown field (the API server would drop it)"), p.toString());
    }

    @Test
    void theSchemaCheckCatchesMistakes() throws Exception {
        CrdSchema schema = CrdSchema.load(CRD, "v1alpha1");
        Map<String, Object> bad = Chart.YAML.readValue("""
                apiVersion: dbrollback.io/v1alpha1
                kind: ReplicaSetRollback
                metadata: {name: x}
                spec:
                  cluster: {podSelector: {app: orders}, leaseName: orders-leader, agentPort: 70000}
                  targetPod: Orders-0
                  aproval: Manual
                """, Map.class);
        List<String> p = schema.problems(bad);
        assertTrue(p.contains("spec.aproval: unknown field (the API server would drop it)"), p.toString());
        assertTrue(p.stream().anyMatch(x -> x.startsWith("spec.targetPod: does not match")), p.toString());
        assertTrue(p.contains("spec.cluster.agentPort: above maximum 65535.0"), p.toString());
    }

    @Test
    void everyModeHasAnExample() throws Exception {
        List<ReplicaSetRollback> rs = rollbacks();
        assertTrue(rs.stream().anyMatch(r -> !r.getSpec().isDryRun()
                && r.getSpec().getApproval() == ReplicaSetRollbackSpec.Approval.Automatic), "automatic");
        assertTrue(rs.stream().anyMatch(r -> !r.getSpec().isDryRun()
                && r.getSpec().getApproval() == ReplicaSetRollbackSpec.Approval.Manual), "manual approval");
        assertTrue(rs.stream().anyMatch(r -> r.getSpec().isDryRun()), "dry run");
        assertEquals(rs.size(), rs.stream().map(r -> r.getMetadata().getName()).distinct().count(), "unique names");
    }

    @Test
    void everyOtherObjectIsAKnownKind() throws Exception {
        List<HasMetadata> objects = objects();
        assertFalse(objects.isEmpty());
        for (HasMetadata o : objects) {
            assertFalse(o instanceof GenericKubernetesResource, o.getKind() + " is not a known kind");
            assertEquals(List.of(), ChartModelTest.unknownFields(o), o.getKind() + " " + o.getMetadata().getName());
        }
    }

    @Test
    void eachRollbackIsWiredToTheExampleDatabase() throws Exception {
        List<HasMetadata> objects = objects();
        for (ReplicaSetRollback r : rollbacks()) {
            Lease lease = wired(objects, r.getMetadata().getName(), r.getMetadata().getNamespace(),
                    r.getSpec().getCluster(), r.getSpec().getTargetPod(), r.getSpec().getRollbackDirectory());
            if (lease == null) {
                continue;
            }
            long term = Long.parseLong(lease.getMetadata().getAnnotations().get("dbrollback.io/term"));
            if (r.getSpec().getExpectedTerm() != null) {
                assertEquals(term, r.getSpec().getExpectedTerm(), r.getMetadata().getName()
                        + ": expectedTerm is the Lease's term");
            }
        }
    }

    /** A policy watches the example database: its pods, agent port, data volume and Lease, as its rollbacks will. */
    @Test
    void eachPolicyIsWiredToTheExampleDatabase() throws Exception {
        List<HasMetadata> objects = objects();
        for (RollbackPolicy p : policies()) {
            wired(objects, "RollbackPolicy " + p.getMetadata().getName(), p.getMetadata().getNamespace(),
                    p.getSpec().getCluster(), null, p.getSpec().getRollback().getRollbackDirectory());
        }
    }

    /**
     * Checks that {@code c} names a StatefulSet's pods in {@code ns} (and {@code target}, when not null, is one
     * of them but not the leader), their agent port, a data container whose persistent volume holds
     * {@code dir}, and a Lease naming one of the pods with a term; answers the Lease.
     */
    private static Lease wired(List<HasMetadata> objects, String what, String ns, ClusterSpec c, String target,
            String dir) {
        StatefulSet sts = Chart.ofKind(objects, StatefulSet.class).stream()
                .filter(s -> ns.equals(s.getMetadata().getNamespace()) && s.getSpec().getTemplate().getMetadata()
                        .getLabels().entrySet().containsAll(c.getPodSelector().entrySet()))
                .findFirst().orElseThrow(() -> new AssertionError(what + ": no StatefulSet with its pods"));
        List<String> pods = new ArrayList<>();
        for (int i = 0; i < sts.getSpec().getReplicas(); i++) {
            pods.add(sts.getMetadata().getName() + "-" + i);
        }
        if (target != null) {
            assertTrue(pods.contains(target), what + ": the target is a pod of " + pods);
        }
        Container data = sts.getSpec().getTemplate().getSpec().getContainers().stream()
                .filter(x -> x.getName().equals(c.getDataContainer())).findFirst()
                .orElseThrow(() -> new AssertionError(what + ": no container " + c.getDataContainer()));
        boolean agent = sts.getSpec().getTemplate().getSpec().getContainers().stream()
                .flatMap(x -> x.getPorts().stream())
                .anyMatch(p -> c.getAgentPortName() != null ? c.getAgentPortName().equals(p.getName())
                        : c.getAgentPort().equals(p.getContainerPort()));
        assertTrue(agent, what + ": the agent port is a container port");
        VolumeMount mount = data.getVolumeMounts().stream()
                .filter(m -> dir.equals(m.getMountPath()) || dir.startsWith(m.getMountPath() + "/")).findFirst()
                .orElseThrow(() -> new AssertionError(what + ": " + dir + " is on no volume of " + data.getName()));
        assertTrue(sts.getSpec().getVolumeClaimTemplates().stream()
                .anyMatch(v -> v.getMetadata().getName().equals(mount.getName())),
                what + ": the rollback directory is on a persistent volume");
        if (LeaderReader.patroni(c) != null) {
            // Patroni creates its own objects: the example names a scope and reads nothing else
            assertTrue(LeaderReader.patroni(c).getScope() != null, what + ": a Patroni scope");
            return null;
        }
        Lease lease = Chart.ofKind(objects, Lease.class).stream()
                .filter(l -> ns.equals(l.getMetadata().getNamespace())
                        && l.getMetadata().getName().equals(LeaderReader.leaseName(c)))
                .findFirst().orElseThrow(() -> new AssertionError(what + ": no Lease " + LeaderReader.leaseName(c)));
        assertTrue(Long.parseLong(lease.getMetadata().getAnnotations().get("dbrollback.io/term")) >= 1,
                what + ": the Lease's term is a number");
        assertTrue(pods.contains(lease.getSpec().getHolderIdentity()), what + ": the Lease names a pod");
        assertNotEquals(lease.getSpec().getHolderIdentity(), target, what + ": the live primary is never the target");
        return lease;
    }
}
