package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * deploy/rollback-operator.yaml is the chart rendered with its default values (release and namespace
 * rollback-operator), so users without Helm install the same thing; deploy/rbac.yaml (hand-written,
 * commented) grants exactly the chart's rules. Regenerate the manifest after changing the chart with
 * {@code mvn -B test -Dtest=DeployManifestTest -Ddeploy.regenerate=true}.
 */
class DeployManifestTest {

    static final Path MANIFEST = Path.of("deploy", "rollback-operator.yaml");
    static final Path RBAC = Path.of("deploy", "rbac.yaml");
    static final String REGENERATE = "mvn -B test -Dtest=DeployManifestTest -Ddeploy.regenerate=true";

    static final String HEADER = String.join("\n",
            "# rollback-operator for installing without Helm: helm/rollback-operator rendered with its default",
            "# values (release and namespace rollback-operator). Do not edit; after changing the chart, regenerate:",
            "#   " + REGENERATE,
            "#",
            "# Install (the CRD first, from crds/; Helm never upgrades CRDs, and neither does this file):",
            "#   kubectl apply --server-side -f crds/",
            "#   kubectl create namespace rollback-operator",
            "#   kubectl apply -f deploy/rollback-operator.yaml",
            "# No operator image is published yet: set yours with kubectl set image (see deploy/README.md).",
            "# Then let the operator exec into pods and read Secrets in each namespace holding database clusters:",
            "#   kubectl create rolebinding rollback-operator-data-access -n NAMESPACE \\",
            "#     --clusterrole=rollback-operator-data-access --serviceaccount=rollback-operator:rollback-operator",
            "");

    static String expected() {
        return HEADER + Chart.template(Chart.DEFAULT);
    }

    @Test
    void theManifestIsTheChartRenderedWithDefaultValues() throws Exception {
        String rendered = expected();
        if (Boolean.getBoolean("deploy.regenerate")) {
            Files.writeString(MANIFEST, rendered);
        }
        assertTrue(Files.exists(MANIFEST), "missing " + MANIFEST + "; run: " + REGENERATE);
        String committed = Files.readString(MANIFEST);
        assertTrue(rendered.equals(committed), () -> MANIFEST + " is out of date with helm/rollback-operator ("
                + firstDifference(committed, rendered) + "); run: " + REGENERATE);
    }

    /** Where two texts first differ, as a line number and both lines. */
    static String firstDifference(String committed, String rendered) {
        List<String> a = committed.lines().toList();
        List<String> b = rendered.lines().toList();
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            String x = i < a.size() ? a.get(i) : "<end of file>";
            String y = i < b.size() ? b.get(i) : "<end of file>";
            if (!x.equals(y)) {
                return "line " + (i + 1) + ": committed '" + x.strip() + "', rendered '" + y.strip() + "'";
            }
        }
        return "line endings differ";
    }

    @Test
    void theManifestLivesInItsNamespace() throws Exception {
        for (HasMetadata o : Chart.parse(expected())) {
            boolean clusterScoped = o instanceof ClusterRole || o instanceof ClusterRoleBinding;
            assertEquals(clusterScoped ? null : Chart.NAMESPACE, o.getMetadata().getNamespace(), o.getKind());
        }
    }

    /** deploy/rbac.yaml and the chart (all namespaces, data access in "databases") grant the same. */
    @Test
    void theHandWrittenRbacIsTheChartsRbac() throws Exception {
        List<HasMetadata> handWritten = Chart.parse(Files.readString(RBAC));
        List<HasMetadata> chart = Chart.render(Chart.DEFAULT, "rbac.dataAccessNamespaces[0]", "databases");
        for (String name : List.of("rollback-operator", "rollback-operator-data-access")) {
            assertEquals(clusterRole(chart, name).getRules(), clusterRole(handWritten, name).getRules(), name);
        }
        assertEquals(Chart.ofKind(handWritten, ClusterRole.class).size(), 2, "deploy/rbac.yaml has two ClusterRoles");
        ClusterRoleBinding hb = Chart.ofKind(handWritten, ClusterRoleBinding.class).get(0);
        ClusterRoleBinding cb = Chart.ofKind(chart, ClusterRoleBinding.class).get(0);
        assertEquals(cb.getRoleRef(), hb.getRoleRef());
        assertEquals(cb.getSubjects(), hb.getSubjects());
        RoleBinding hr = Chart.ofKind(handWritten, RoleBinding.class).get(0);
        RoleBinding cr = Chart.ofKind(chart, RoleBinding.class).get(0);
        assertEquals(cr.getMetadata().getNamespace(), hr.getMetadata().getNamespace());
        assertEquals(cr.getRoleRef(), hr.getRoleRef());
        assertEquals(cr.getSubjects(), hr.getSubjects());
        ServiceAccount hs = Chart.ofKind(handWritten, ServiceAccount.class).get(0);
        ServiceAccount cs = Chart.ofKind(chart, ServiceAccount.class).get(0);
        assertEquals(cs.getMetadata().getName(), hs.getMetadata().getName());
        assertEquals(cs.getMetadata().getNamespace(), hs.getMetadata().getNamespace());
    }

    private static ClusterRole clusterRole(List<HasMetadata> all, String name) {
        return Chart.ofKind(all, ClusterRole.class).stream().filter(r -> r.getMetadata().getName().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no ClusterRole " + name));
    }
}
