package io.dbrollback.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A stored rollback whose spec or status does not fit the classes is read as broken, never as
 * defaults, and survives fabric8's serialization clone (what JOSDK does to every resource before a
 * reconcile) unchanged and still broken.
 */
class LenientPartsTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A valid stored rollback as JSON, changed by {@code edit}. */
    private static String stored(Consumer<ObjectNode> edit) {
        ObjectNode root = JSON.createObjectNode();
        root.put("apiVersion", "dbrollback.io/v1alpha1").put("kind", "ReplicaSetRollback");
        root.putObject("metadata").put("name", "rb").put("namespace", "ns").put("uid", "u-1")
                .put("resourceVersion", "7");
        ObjectNode spec = root.putObject("spec");
        spec.put("targetPod", "orders-0").put("approval", "Manual");
        ObjectNode cluster = spec.putObject("cluster");
        cluster.putObject("podSelector").put("app", "orders");
        cluster.put("leaseName", "orders-leader").put("agentPortName", "agent");
        spec.putObject("limits").put("maxRecords", 10);
        root.putObject("status").put("phase", "Fenced").put("incidentId", "u-1").put("attempts", 1);
        edit.accept(root);
        return root.toString();
    }

    private static ReplicaSetRollback read(String json) {
        return SERIALIZATION.unmarshal(json, ReplicaSetRollback.class);
    }

    @Test
    void aPolicyThatDoesNotFitIsReadAsBrokenAndClonedAsStored() {
        String json = "{\"apiVersion\":\"dbrollback.io/v1alpha1\",\"kind\":\"RollbackPolicy\",\"metadata\":{\"name\":"
                + "\"orders\",\"namespace\":\"ns\",\"uid\":\"u-2\"},"
                + "\"spec\":{\"mode\":\"automatic\",\"coolDown\":\"5m\"},\"status\":{\"divergedNodes\":\"two\"}}";
        RollbackPolicy p = SERIALIZATION.unmarshal(json, RollbackPolicy.class);
        assertEquals("spec.mode: must be one of Automatic, Manual, Observe", p.unreadable());
        assertNull(p.getSpec().getMode(), "never read as any mode");
        assertNull(p.getSpec().getCoolDown(), "nor as a default");
        assertInstanceOf(Unreadable.class, p.getStatus(), "the status does not fit either");
        RollbackPolicy clone = SERIALIZATION.clone(p);
        assertEquals(p.unreadable(), clone.unreadable());
        assertEquals(JSON.valueToTree(SERIALIZATION.unmarshal(json, Object.class)),
                JSON.valueToTree(SERIALIZATION.unmarshal(SERIALIZATION.asJson(clone), Object.class)),
                "written back exactly as stored");
        RollbackPolicy fine = SERIALIZATION.unmarshal(json.replace("\"automatic\"", "\"Observe\"")
                .replace("\"two\"", "2"), RollbackPolicy.class);
        assertNull(fine.unreadable());
        assertEquals(PolicyMode.Observe, fine.getSpec().getMode());
        assertEquals(2, fine.getStatus().getDivergedNodes());
    }

    @Test
    void aReadableRollbackIsReadWholeAndKeepsItsValues() {
        ReplicaSetRollback r = read(stored(root -> { }));
        assertNull(r.unreadable());
        assertEquals(ReplicaSetRollbackSpec.Approval.Manual, r.getSpec().getApproval());
        assertEquals(10, r.getSpec().getLimits().getMaxRecords());
        assertEquals(1, r.getStatus().getAttempts());
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "spec.approval|\"Manul\"|spec.approval: must be one of Automatic, Manual",
        "spec.limits.maxRecords|\"many\"|spec.limits.maxRecords: must be a whole number (64-bit)",
        "spec.maxReplans|\"three\"|spec.maxReplans: must be a whole number (32-bit)",
        "spec.dryRun|\"perhaps\"|spec.dryRun: must be true or false",
        "spec.cluster.podSelector|[\"app\"]|spec.cluster.podSelector: must be an object",
        "spec.cluster.agentPort|{\"n\":1}|spec.cluster.agentPort: must be a whole number (32-bit)",
        "spec.cluster.podSelector.app|{\"nested\":true}|spec.cluster.podSelector[app]: must be a string",
        "spec.limits|\"none\"|spec.limits: must be an object",
        "spec|\"text\"|spec: must be an object",
        "status.attempts|\"twice\"|status.attempts: must be a whole number (32-bit)",
        "status.steps|{\"phase\":\"Fenced\"}|status.steps: must be a list",
        "status.plan.forkLsn|\"ten\"|status.plan.forkLsn: must be a whole number (64-bit)",
    })
    void aPartThatDoesNotFitIsReadAsBrokenNamingTheFieldAndTheRuleButNotTheValue(String path, String value,
            String problem) throws Exception {
        JsonNode bad = JSON.readTree(value);
        String json = stored(root -> set(root, path, bad));
        ReplicaSetRollback r = read(json);
        assertEquals(problem, r.unreadable());
        assertFalse(r.unreadable().contains(value.replace("\"", "")), "the stored value is not shown");
        Unreadable part = (Unreadable) (path.startsWith("spec") ? r.getSpec() : r.getStatus());
        assertEquals(JSON.readTree(json).get(path.startsWith("spec") ? "spec" : "status"), part.json());
        if (path.startsWith("spec")) {
            assertNull(r.getSpec().getApproval(), "never the default Automatic");
            assertNull(r.getSpec().getTargetPod());
            assertNull(r.getSpec().getLimits());
            assertNull(r.getSpec().getCluster());
            assertNull(r.getSpec().getRollbackDirectory());
            assertInstanceOf(ReplicaSetRollbackStatus.class, r.getStatus());
            assertEquals("Fenced", r.getStatus().getPhase(), "the other part is read whole");
        } else {
            assertNull(r.getStatus().getPhase());
            assertNull(r.getStatus().getIncidentId());
            assertEquals(ReplicaSetRollbackSpec.Approval.Manual, r.getSpec().getApproval());
        }

        // JOSDK clones every resource through serialization before a reconcile: the clone is the
        // stored JSON again, so it is just as unreadable, and never a spec of defaults.
        ReplicaSetRollback clone = SERIALIZATION.clone(r);
        assertEquals(problem, clone.unreadable());
        String name = path.startsWith("spec") ? "spec" : "status";
        assertEquals(JSON.readTree(json).get(name), JSON.readTree(SERIALIZATION.asJson(clone)).get(name),
                "the unreadable part is written back as stored");
    }

    @Test
    void aMapKeyThatIsNotALabelKeyIsShownOnlyAsItsLength() {
        String key = "$(rm -rf /)";
        ReplicaSetRollback r = read(stored(root -> ((ObjectNode) root.get("spec").get("cluster").get("podSelector"))
                .putObject(key).put("x", 1)));
        assertEquals("spec.cluster.podSelector[(a key of 11 characters)]: must be a string", r.unreadable());
    }

    @Test
    void aNullSpecIsReadableAsMissing() {
        ReplicaSetRollback r = read(stored(root -> root.putNull("spec")));
        assertNull(r.unreadable());
        assertNull(r.getSpec());
    }

    @Test
    void describeIgnoresFailuresThatAreNotAboutReadingJson() {
        assertNull(LenientParts.describe("", new IllegalStateException("boom", new IOException("reset"))));
    }

    private static void set(ObjectNode root, String path, JsonNode value) {
        String[] parts = path.split("\\.");
        ObjectNode at = root;
        for (int i = 0; i < parts.length - 1; i++) {
            at = at.has(parts[i]) ? (ObjectNode) at.get(parts[i]) : at.putObject(parts[i]);
        }
        at.set(parts[parts.length - 1], value);
    }
}
