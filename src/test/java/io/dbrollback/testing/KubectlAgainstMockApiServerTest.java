package io.dbrollback.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real kubectl (1.32, {@code /usr/bin/kubectl}) against {@link MockApiServer#startForKubectl()}: what a user of
 * the sandbox types (get, get -o wide, describe with Events, apply, annotate, jsonpath, explain) works and shows
 * the ReplicaSetRollback's printer columns, status, conditions and Events. The CRD is created through the API,
 * from the YAML the build generates, so discovery is proven to come from the stored CRDs. No Quarkus.
 */
@IntegrationTest
class KubectlAgainstMockApiServerTest {

    private static final String NS = "rollbacks";
    private static final String NAME = "rb-1";
    private static final String CRD_FILE = "replicasetrollbacks.dbrollback.io-v1.yml";
    private static final ResourceDefinitionContext RSRB = new ResourceDefinitionContext.Builder()
            .withGroup("dbrollback.io").withVersion("v1alpha1").withPlural("replicasetrollbacks")
            .withKind("ReplicaSetRollback").withNamespaced(true).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    private static MockApiServer api;
    private static NamespacedKubernetesClient client;
    private static Kubectl kubectl;
    private static CustomResourceDefinition crd;
    private static GenericKubernetesResource rollback;

    @BeforeAll
    static void start() throws IOException {
        Kubectl.binary(); // fails the class, with instructions, when kubectl is missing
        api = MockApiServer.startForKubectl();
        client = api.client();
        crd = client.apiextensions().v1().customResourceDefinitions().load(crdFile().toFile()).item();
        client.apiextensions().v1().customResourceDefinitions().resource(crd).create();

        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion("dbrollback.io/v1alpha1");
        r.setKind("ReplicaSetRollback");
        r.setMetadata(new ObjectMetaBuilder().withName(NAME).withNamespace(NS).build());
        r.setAdditionalProperty("spec", Map.of(
                "targetPod", "db-2",
                "cluster", Map.of("leaseName", "db-leader", "podSelector", Map.of("app", "db"), "agentPort", 7070)));
        GenericKubernetesResource created = client.genericKubernetesResources(RSRB).inNamespace(NS).resource(r)
                .create();
        created.setAdditionalProperty("status", Map.of(
                "phase", "AwaitingApproval",
                "plan", Map.of("forkLsn", 1234, "lastLsn", 1300, "oldTerm", 4, "newTerm", 5, "newPrimary", "db-0"),
                "tail", Map.of("records", 66, "bytes", 4096, "fromLsn", 1235, "toLsn", 1300),
                "gates", List.of("ManualApprovalRequired"),
                "conditions", List.of(Map.of("type", "Ready", "status", "False", "reason", "AwaitingApproval",
                        "message", "the verified rollback file awaits approval",
                        "lastTransitionTime", "2026-01-01T00:00:00Z", "observedGeneration", 1))));
        rollback = client.genericKubernetesResources(RSRB).inNamespace(NS).resource(created).updateStatus();
        assertEquals("AwaitingApproval", ((Map<?, ?>) rollback.getAdditionalProperties().get("status")).get("phase"),
                "status written through the status subresource");

        String uid = rollback.getMetadata().getUid();
        event("rb-1.tail-persisted", "ReplicaSetRollback", NAME, uid, "Normal", "TailPersisted",
                "66 records (4096 bytes) persisted to /var/lib/dbrollback/rollback/x.rbk");
        event("rb-1.approval", "ReplicaSetRollback", NAME, uid, "Warning", "AwaitingApproval",
                "annotate dbrollback.io/approve with the file's SHA-256 to proceed");
        // same reason-space, another object: describe must not show it
        event("rb-9.replanned", "ReplicaSetRollback", "rb-9", "00000000-0000-0000-0000-000000000999", "Normal",
                "Replanned", "not about rb-1");

        kubectl = Kubectl.against(api, dir, NS);
    }

    @AfterAll
    static void stop() {
        if (api != null) {
            api.close();
        }
    }

    private static Path crdFile() {
        for (Path p : List.of(Path.of("crds", CRD_FILE), Path.of("target", "kubernetes", CRD_FILE))) {
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return fail("no " + CRD_FILE + " in crds/ or target/kubernetes/: run mvn package once (the Quarkus build "
                + "generates it)");
    }

    private static void event(String name, String kind, String objectName, String uid, String type, String reason,
                              String message) {
        String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        Event e = new EventBuilder()
                .withNewMetadata().withName(name).withNamespace(NS).endMetadata()
                .withNewInvolvedObject().withApiVersion("dbrollback.io/v1alpha1").withKind(kind).withName(objectName)
                .withNamespace(NS).withUid(uid).endInvolvedObject()
                .withType(type).withReason(reason).withMessage(message)
                .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                .withNewSource().withComponent("rollback-operator").endSource()
                .build();
        client.v1().events().inNamespace(NS).resource(e).create();
    }

    // ------------------------------------------------------------------ get

    @Test
    void getPrintsThePrinterColumnsOfTheCrdAndTheRowValues() throws IOException {
        Kubectl.Result r = kubectl.run("get", "rsrb", "-n", NS).assertOk();
        List<String> lines = lines(r.stdout());
        List<CustomResourceColumnDefinition> columns = printerColumns(0);
        assertEquals(headers(columns), cells(lines.get(0)), "header in CRD order\n" + r);
        assertTrue(cells(lines.get(0)).containsAll(List.of("NAME", "PHASE", "TARGET", "FORK LSN", "RECORDS", "AGE")),
                "the columns the README promises\n" + r);
        assertRow(row(lines, NAME, r), columns, r);
    }

    @Test
    void getWideShowsEveryPrinterColumn() throws IOException {
        Kubectl.Result r = kubectl.run("get", "rsrb", "-n", NS, "-o", "wide").assertOk();
        List<String> lines = lines(r.stdout());
        List<CustomResourceColumnDefinition> columns = printerColumns(Integer.MAX_VALUE);
        assertEquals(headers(columns), cells(lines.get(0)), "header\n" + r);
        assertRow(row(lines, NAME, r), columns, r);
    }

    @Test
    void getByShortNameSingularAndFullNameAlike() {
        String byShort = kubectl.run("get", "rsrb", NAME, "-n", NS).assertOk().stdout();
        assertEquals(byShort.replaceAll("\\d+s\\b", "AGE"),
                kubectl.run("get", "replicasetrollback.dbrollback.io", NAME, "-n", NS).assertOk().stdout()
                        .replaceAll("\\d+s\\b", "AGE"));
        assertTrue(byShort.contains(NAME), byShort);
    }

    @Test
    void jsonpathReadsOneField() {
        assertEquals("db-2", kubectl.run("get", "rsrb", NAME, "-n", NS, "-o", "jsonpath={.spec.targetPod}").assertOk()
                .stdout());
        assertEquals("1234", kubectl.run("get", "rsrb", NAME, "-n", NS, "-o", "jsonpath={.status.plan.forkLsn}")
                .assertOk().stdout());
    }

    @Test
    void unknownRollbackIsNotFoundLikeOnARealServer() {
        Kubectl.Result r = kubectl.run("get", "rsrb", "nope", "-n", NS);
        assertEquals(1, r.exitCode(), r.toString());
        assertTrue(r.stderr().contains("Error from server (NotFound): replicasetrollbacks.dbrollback.io "
                + "\"nope\" not found"),
                r.toString());
    }

    @Test
    void discoveryComesFromTheStoredCrd() {
        Kubectl.Result r = kubectl.run("api-resources", "--api-group=dbrollback.io").assertOk();
        List<String> row = cells(lines(r.stdout()).get(1));
        assertEquals(List.of("replicasetrollbacks", "rsrb", "dbrollback.io/v1alpha1", "true", "ReplicaSetRollback"),
                row,
                r.toString());
    }

    // ------------------------------------------------------------------ describe

    @Test
    void describeShowsStatusConditionsAndTheRollbacksEvents() {
        Kubectl.Result r = kubectl.run("describe", "rsrb", NAME, "-n", NS).assertOk();
        String out = r.stdout();
        assertTrue(out.matches("(?s)Name:\\s+rb-1\n.*"), out);
        assertContainsLine(out, "Kind:\\s+ReplicaSetRollback");
        assertContainsLine(out, "Target Pod:\\s+db-2");
        assertContainsLine(out, "Status:");
        assertContainsLine(out, "Phase:\\s+AwaitingApproval");
        assertContainsLine(out, "Fork Lsn:\\s+1234");
        assertContainsLine(out, "Records:\\s+66");
        assertContainsLine(out, "Conditions:");
        assertContainsLine(out, "Type:\\s+Ready");
        assertContainsLine(out, "Reason:\\s+AwaitingApproval");
        assertContainsLine(out, "Message:\\s+the verified rollback file awaits approval");
        String events = out.substring(out.indexOf("\nEvents:"));
        assertContainsLine(events, "Type\\s+Reason\\s+Age\\s+From\\s+Message");
        assertContainsLine(events, "Normal\\s+TailPersisted\\s+\\d+s\\s+rollback-operator\\s+66 records \\(4096 "
                + "bytes\\) persisted .*");
        assertContainsLine(events, "Warning\\s+AwaitingApproval\\s+\\d+s\\s+rollback-operator\\s+annotate "
                + "dbrollback.io/approve .*");
        assertFalse(events.contains("Replanned"), "an Event about another rollback leaked in\n" + out);
    }

    @Test
    void eventsOfTheRollbackByFieldSelector() {
        Kubectl.Result r = kubectl.run("get", "events", "-n", NS, "--field-selector",
                "involvedObject.kind=ReplicaSetRollback,involvedObject.name=" + NAME).assertOk();
        List<String> lines = lines(r.stdout());
        assertEquals(List.of("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), cells(lines.get(0)), r.toString());
        assertEquals(3, lines.size(), r.toString());
        assertTrue(r.stdout().contains("replicasetrollback/rb-1"), r.toString());
        assertFalse(r.stdout().contains("Replanned"), r.toString());
    }

    // ------------------------------------------------------------------ apply, annotate, explain

    @Test
    void applyCreatesThenUpdatesThenLeavesUnchanged() throws IOException {
        Path file = dir.resolve("rollback.yaml");
        Files.writeString(file, rollbackYaml("rb-applied", "maxRecords: 10", "  approval: Manual\n"));
        Kubectl.Result created = kubectl.run("apply", "-f", file.toString()).assertOk();
        assertEquals("replicasetrollback.dbrollback.io/rb-applied created\n", created.stdout(), created.toString());
        GenericKubernetesResource stored = client.genericKubernetesResources(RSRB).inNamespace(NS)
                .withName("rb-applied").get();
        assertEquals("db-0", spec(stored).get("targetPod"));
        assertEquals("Manual", spec(stored).get("approval"));
        assertEquals(10, ((Map<?, ?>) spec(stored).get("limits")).get("maxRecords"));
        assertEquals(1L, stored.getMetadata().getGeneration());

        Files.writeString(file, rollbackYaml("rb-applied", "maxRecords: 20", ""));
        Kubectl.Result configured = kubectl.run("apply", "-f", file.toString()).assertOk();
        assertEquals("replicasetrollback.dbrollback.io/rb-applied configured\n", configured.stdout(),
                configured.toString());
        GenericKubernetesResource updated = client.genericKubernetesResources(RSRB).inNamespace(NS)
                .withName("rb-applied").get();
        assertEquals(20, ((Map<?, ?>) spec(updated).get("limits")).get("maxRecords"));
        assertNull(spec(updated).get("approval"), "a field dropped from the file is removed (RFC 7386 null)");
        assertEquals(stored.getMetadata().getUid(), updated.getMetadata().getUid());
        assertEquals(2L, updated.getMetadata().getGeneration());
        assertNotEquals(stored.getMetadata().getResourceVersion(), updated.getMetadata().getResourceVersion());

        Kubectl.Result unchanged = kubectl.run("apply", "-f", file.toString()).assertOk();
        assertEquals("replicasetrollback.dbrollback.io/rb-applied unchanged\n", unchanged.stdout(),
                unchanged.toString());
        assertEquals("20", kubectl.run("get", "rsrb", "rb-applied", "-n", NS, "-o",
                "jsonpath={.spec.limits.maxRecords}")
                .assertOk().stdout());
        assertEquals("db-0", kubectl.run("get", "rsrb", "rb-applied", "-o", "jsonpath={.spec.targetPod}").assertOk()
                .stdout(),
                "the kubeconfig's namespace applies");

        Kubectl.Result deleted = kubectl.run("delete", "-f", file.toString()).assertOk();
        assertEquals("replicasetrollback.dbrollback.io \"rb-applied\" deleted\n", deleted.stdout(), deleted.toString());
        assertNull(client.genericKubernetesResources(RSRB).inNamespace(NS).withName("rb-applied").get());
    }

    @Test
    void serverDryRunAndDiffStoreNothing() throws IOException {
        Path file = dir.resolve("dry.yaml");
        Files.writeString(file, rollbackYaml("rb-dry", "maxRecords: 10", ""));
        Kubectl.Result dry = kubectl.run("apply", "--dry-run=server", "-f", file.toString()).assertOk();
        assertEquals("replicasetrollback.dbrollback.io/rb-dry created (server dry run)\n", dry.stdout(),
                dry.toString());
        assertNull(client.genericKubernetesResources(RSRB).inNamespace(NS).withName("rb-dry").get());

        kubectl.run("apply", "-f", file.toString()).assertOk();
        Files.writeString(file, rollbackYaml("rb-dry", "maxRecords: 20", ""));
        Kubectl.Result diff = kubectl.run("diff", "-f", file.toString());
        assertEquals(1, diff.exitCode(), "kubectl diff exits 1 when there are differences\n" + diff);
        assertContainsLine(diff.stdout(), "-\\s+maxRecords: 10");
        assertContainsLine(diff.stdout(), "\\+\\s+maxRecords: 20");
        Kubectl.Result deleted = kubectl.run("delete", "--dry-run=server", "-f", file.toString()).assertOk();
        assertEquals("replicasetrollback.dbrollback.io \"rb-dry\" deleted (server dry run)\n", deleted.stdout(),
                deleted.toString());
        GenericKubernetesResource stored = client.genericKubernetesResources(RSRB).inNamespace(NS).withName("rb-dry")
                .get();
        assertEquals(10, ((Map<?, ?>) spec(stored).get("limits")).get("maxRecords"),
                "diff and dry runs changed nothing");
    }

    @Test
    void statusIsWrittenOnlyThroughTheStatusSubresource() {
        createRollback("rb-status", "db-1");
        kubectl.run("patch", "rsrb", "rb-status", "--subresource=status", "--type=merge",
                "-p", "{\"status\":{\"phase\":\"Completed\"}}").assertOk();
        kubectl.run("patch", "rsrb", "rb-status", "--type=merge", "-p", "{\"status\":{\"phase\":\"Failed\"}}")
                .assertOk();
        GenericKubernetesResource r = client.genericKubernetesResources(RSRB).inNamespace(NS).withName("rb-status")
                .get();
        assertEquals("Completed", ((Map<?, ?>) r.getAdditionalProperties().get("status")).get("phase"));
        assertEquals(1L, r.getMetadata().getGeneration(), "a status write is no spec change");
        assertEquals("Completed", kubectl.run("get", "rsrb", "rb-status", "-o", "jsonpath={.status.phase}").assertOk()
                .stdout());
    }

    @Test
    void everyNamespaceExists() {
        Kubectl.Result r = kubectl.run("get", "namespaces").assertOk();
        List<String> lines = lines(r.stdout());
        assertEquals(List.of("NAME", "STATUS", "AGE"), cells(lines.get(0)), r.toString());
        assertEquals("Active", row(lines, NS, r).get(1));
        assertEquals("Active", row(lines, "default", r).get(1));
    }

    @Test
    void aFabric8WatchSeesWhatKubectlDoes() throws Exception {
        createRollback("rb-watched", "db-1");
        CompletableFuture<String> seen = new CompletableFuture<>();
        try (Watch w = client.genericKubernetesResources(RSRB).inNamespace(NS).withName("rb-watched")
                .watch(new Watcher<>() {
            @Override
            public void eventReceived(Action action, GenericKubernetesResource resource) {
                Map<String, String> a = resource.getMetadata().getAnnotations();
                if (action == Action.MODIFIED && a != null && a.containsKey(ReplicaSetRollbackApprove.KEY)) {
                    seen.complete(a.get(ReplicaSetRollbackApprove.KEY));
                }
            }

            @Override
            public void onClose(WatcherException cause) {
                seen.completeExceptionally(cause);
            }
        })) {
            kubectl.run("annotate", "rsrb", "rb-watched", ReplicaSetRollbackApprove.KEY + "=feedface").assertOk();
            assertEquals("feedface", seen.get(10, TimeUnit.SECONDS));
        }
    }

    /** The approval annotation, spelled out here so that this test does not depend on the operator's classes. */
    private static final class ReplicaSetRollbackApprove {
        static final String KEY = "dbrollback.io/approve";
    }

    @Test
    void annotateApprovesAndKeepsTheStatus() {
        kubectl.run("annotate", "rsrb", NAME, "-n", NS, "dbrollback.io/approve=0123456789abcdef").assertOk();
        GenericKubernetesResource r = client.genericKubernetesResources(RSRB).inNamespace(NS).withName(NAME).get();
        assertEquals("0123456789abcdef", r.getMetadata().getAnnotations().get("dbrollback.io/approve"));
        assertEquals("AwaitingApproval", ((Map<?, ?>) r.getAdditionalProperties().get("status")).get("phase"));
        kubectl.run("annotate", "rsrb", NAME, "-n", NS, "dbrollback.io/approve-").assertOk();
        r = client.genericKubernetesResources(RSRB).inNamespace(NS).withName(NAME).get();
        assertFalse(r.getMetadata().getAnnotations() != null
                && r.getMetadata().getAnnotations().containsKey("dbrollback.io/approve"), "annotation removed");
    }

    @Test
    void explainUsesTheCrdSchema() {
        Kubectl.Result r = kubectl.run("explain", "rsrb.spec.approval").assertOk();
        assertContainsLine(r.stdout(), "KIND:\\s+ReplicaSetRollback");
        assertContainsLine(r.stdout(), "FIELD: approval <string>");
        assertContainsLine(r.stdout(), "Manual");
    }

    // ------------------------------------------------------------------ core kinds

    @Test
    void podsAndLeases() {
        client.pods().inNamespace(NS).resource(MockApiServer.runningPod(NS, "db-0", "database")).create();
        client.leases().inNamespace(NS).resource(new LeaseBuilder().withNewMetadata().withName("db-leader")
                .endMetadata()
                .withNewSpec().withHolderIdentity("db-0").withLeaseDurationSeconds(15).endSpec().build()).create();

        Kubectl.Result pods = kubectl.run("get", "pods", "-n", NS).assertOk();
        assertEquals(List.of("NAME", "READY", "STATUS", "RESTARTS", "AGE"), cells(lines(pods.stdout()).get(0)),
                pods.toString());
        assertEquals("db-0", cells(lines(pods.stdout()).get(1)).get(0), pods.toString());
        assertEquals("Running", cells(lines(pods.stdout()).get(1)).get(2), pods.toString());

        Kubectl.Result leases = kubectl.run("get", "leases", "-n", NS).assertOk();
        assertEquals(List.of("NAME", "HOLDER", "AGE"), cells(lines(leases.stdout()).get(0)), leases.toString());
        assertEquals(List.of("db-leader", "db-0"), cells(lines(leases.stdout()).get(1)).subList(0, 2),
                leases.toString());
    }

    // ------------------------------------------------------------------ helpers

    private static void createRollback(String name, String targetPod) {
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion("dbrollback.io/v1alpha1");
        r.setKind("ReplicaSetRollback");
        r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
        r.setAdditionalProperty("spec", Map.of("targetPod", targetPod,
                "cluster", Map.of("leaseName", "db-leader", "podSelector", Map.of("app", "db"), "agentPort", 7070)));
        client.genericKubernetesResources(RSRB).inNamespace(NS).resource(r).create();
    }

    private static String rollbackYaml(String name, String limits, String extraSpec) {
        return "apiVersion: dbrollback.io/v1alpha1\n"
                + "kind: ReplicaSetRollback\n"
                + "metadata:\n"
                + "  name: " + name + "\n"
                + "  namespace: " + NS + "\n"
                + "spec:\n"
                + "  targetPod: db-0\n"
                + extraSpec
                + "  cluster:\n"
                + "    leaseName: db-leader\n"
                + "    podSelector:\n"
                + "      app: db\n"
                + "    agentPort: 7070\n"
                + "  limits:\n"
                + "    " + limits + "\n";
    }

    private static Map<?, ?> spec(GenericKubernetesResource r) {
        return (Map<?, ?>) r.getAdditionalProperties().get("spec");
    }

    /** The printer columns of the served version with priority &lt;= maxPriority, in CRD order. */
    private static List<CustomResourceColumnDefinition> printerColumns(int maxPriority) {
        CustomResourceDefinitionVersion v = crd.getSpec().getVersions().stream()
                .filter(x -> x.getName().equals("v1alpha1")).findFirst().orElseThrow();
        List<CustomResourceColumnDefinition> out = new ArrayList<>();
        for (CustomResourceColumnDefinition c : v.getAdditionalPrinterColumns()) {
            if (c.getPriority() == null || c.getPriority() <= maxPriority) {
                out.add(c);
            }
        }
        assertFalse(out.isEmpty(), "the CRD has printer columns");
        return out;
    }

    private static List<String> headers(List<CustomResourceColumnDefinition> columns) {
        List<String> h = new ArrayList<>(List.of("NAME"));
        columns.forEach(c -> h.add(c.getName().toUpperCase(Locale.ROOT)));
        return h;
    }

    /** Each printed cell equals the column's JSONPath evaluated on the stored object (a date column: an age). */
    private static void assertRow(List<String> row, List<CustomResourceColumnDefinition> columns, Kubectl.Result r)
            throws IOException {
        JsonNode stored = JSON.readTree(new KubernetesSerialization().asJson(
                client.genericKubernetesResources(RSRB).inNamespace(NS).withName(NAME).get()));
        assertEquals(columns.size() + 1, row.size(), "one cell per column\n" + r);
        assertEquals(NAME, row.get(0));
        for (int i = 0; i < columns.size(); i++) {
            CustomResourceColumnDefinition c = columns.get(i);
            String cell = row.get(i + 1);
            if ("date".equals(c.getType())) {
                assertTrue(cell.matches("\\d+s|\\d+m(\\d+s)?"), c.getName() + " is an age, was " + cell + "\n" + r);
            } else {
                JsonNode v = JsonPathLite.first(stored, c.getJsonPath());
                assertTrue(v != null && v.isValueNode(), c.getJsonPath() + " is set on the test object");
                assertEquals(v.asText(), cell, c.getName() + "\n" + r);
            }
        }
    }

    private static void assertContainsLine(String text, String lineRegex) {
        for (String line : text.split("\n")) {
            if (line.strip().matches(lineRegex)) {
                return;
            }
        }
        fail("no line matching /" + lineRegex + "/ in\n" + text);
    }

    private static List<String> row(List<String> lines, String name, Kubectl.Result r) {
        for (String l : lines.subList(1, lines.size())) {
            if (cells(l).get(0).equals(name)) {
                return cells(l);
            }
        }
        return fail("no row for " + name + "\n" + r);
    }

    private static List<String> lines(String s) {
        List<String> out = new ArrayList<>();
        for (String l : s.split("\n")) {
            if (!l.isBlank()) {
                out.add(l);
            }
        }
        return out;
    }

    /** kubectl's table cells: columns are separated by at least two spaces (a header like "FORK LSN" has one). */
    private static List<String> cells(String line) {
        return Arrays.asList(line.strip().split("\\s{2,}"));
    }
}
