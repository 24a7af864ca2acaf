package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.operator.LeaderReader;
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
 * SpecValidator, and the three modes (automatic, manual approval, dry run) are there; every other
 * object is a Kubernetes kind with known fields only; and each rollback names a StatefulSet pod, its
 * agent port, a data volume holding the rollback directory, and a leader Lease with a term, whose
 * holder is not the target (or a Patroni scope, whose objects Patroni itself creates).
 */
class ExamplesTest {

    static final Path EXAMPLES = Path.of("deploy", "examples");
    static final Path CRD = Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml");
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

    static List<HasMetadata> objects() throws Exception {
        List<HasMetadata> out = new ArrayList<>();
        for (Doc d : docs()) {
            if (!d.yaml().contains("kind: ReplicaSetRollback")) {
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
            String what = r.getMetadata().getName();
            String ns = r.getMetadata().getNamespace();
            ClusterSpec c = r.getSpec().getCluster();
            StatefulSet sts = Chart.ofKind(objects, StatefulSet.class).stream()
                    .filter(s -> ns.equals(s.getMetadata().getNamespace()) && s.getSpec().getTemplate().getMetadata()
                            .getLabels().entrySet().containsAll(c.getPodSelector().entrySet()))
                    .findFirst().orElseThrow(() -> new AssertionError(what + ": no StatefulSet with its pods"));
            List<String> pods = new ArrayList<>();
            for (int i = 0; i < sts.getSpec().getReplicas(); i++) {
                pods.add(sts.getMetadata().getName() + "-" + i);
            }
            assertTrue(pods.contains(r.getSpec().getTargetPod()), what + ": the target is a pod of " + pods);

            Container data = sts.getSpec().getTemplate().getSpec().getContainers().stream()
                    .filter(x -> x.getName().equals(c.getDataContainer())).findFirst()
                    .orElseThrow(() -> new AssertionError(what + ": no container " + c.getDataContainer()));
            boolean agent = sts.getSpec().getTemplate().getSpec().getContainers().stream()
                    .flatMap(x -> x.getPorts().stream())
                    .anyMatch(p -> c.getAgentPortName() != null ? c.getAgentPortName().equals(p.getName())
                            : c.getAgentPort().equals(p.getContainerPort()));
            assertTrue(agent, what + ": the agent port is a container port");
            String dir = r.getSpec().getRollbackDirectory();
            VolumeMount mount = data.getVolumeMounts().stream()
                    .filter(m -> dir.equals(m.getMountPath()) || dir.startsWith(m.getMountPath() + "/")).findFirst()
                    .orElseThrow(() -> new AssertionError(what + ": " + dir + " is on no volume of " + data.getName()));
            assertTrue(sts.getSpec().getVolumeClaimTemplates().stream()
                    .anyMatch(v -> v.getMetadata().getName().equals(mount.getName())),
                    what + ": the rollback directory is on a persistent volume");

            if (LeaderReader.patroni(c) != null) {
                // Patroni creates its own objects: the example names a scope and reads nothing else
                assertTrue(LeaderReader.patroni(c).getScope() != null, what + ": a Patroni scope");
                continue;
            }
            Lease lease = Chart.ofKind(objects, Lease.class).stream()
                    .filter(l -> ns.equals(l.getMetadata().getNamespace())
                            && l.getMetadata().getName().equals(LeaderReader.leaseName(c)))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError(what + ": no Lease " + LeaderReader.leaseName(c)));
            long term = Long.parseLong(lease.getMetadata().getAnnotations().get("dbrollback.io/term"));
            assertTrue(pods.contains(lease.getSpec().getHolderIdentity()), what + ": the Lease names a pod");
            assertNotEquals(lease.getSpec().getHolderIdentity(), r.getSpec().getTargetPod(),
                    what + ": the live primary is never the target");
            if (r.getSpec().getExpectedTerm() != null) {
                assertEquals(term, r.getSpec().getExpectedTerm(), what + ": expectedTerm is the Lease's term");
            }
        }
    }
}
