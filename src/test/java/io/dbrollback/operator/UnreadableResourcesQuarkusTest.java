package io.dbrollback.operator;

import static io.dbrollback.operator.RawObjects.ROLLBACKS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.testing.DbCluster;
import io.dbrollback.testing.InjectMockApiServer;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.RollbackChecks;
import io.dbrollback.testing.WithMockApiServer;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The packaged wiring (Quarkus, the operator SDK's build-time filter, the application's Kubernetes
 * client and its serialization) with a ReplicaSetRollback whose approval is outside its enum stored
 * in the API server: it is reported, left untouched, and a rollback of another cluster completes;
 * metrics and both probes say so.
 */
@QuarkusTest
@WithMockApiServer
@IntegrationTest
class UnreadableResourcesQuarkusTest {

    @Inject
    KubernetesClient client;

    @InjectMockApiServer
    MockApiServer api;

    @TestHTTPResource("/q/metrics")
    URL metrics;

    @TestHTTPResource("/q/health/live")
    URL live;

    @TestHTTPResource("/q/health/ready")
    URL ready;

    static HttpResponse<String> fetch(URL url) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(url.toURI()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** dbrollback_unreadable_resources_total{kind="ReplicaSetRollback"} in a scrape. */
    private static double unreadable(String scrape) {
        Matcher m = Pattern.compile(
                "(?m)^dbrollback_unreadable_resources_total\\{kind=\"ReplicaSetRollback\",?\\} (\\S+)$")
                        .matcher(scrape);
        assertTrue(m.find(), "no unreadable counter in the scrape");
        return Double.parseDouble(m.group(1));
    }

    @Test
    void anUnreadableRollbackIsReportedAndLeftAloneWhileAnotherClusterIsRolledBack() throws Exception {
        assertEquals(0.0, unreadable(fetch(metrics).body()), "counted from 0, before any rollback");
        try (DbCluster bad = new DbCluster(api, client, "q-unreadable"); DbCluster good = new DbCluster(api, client,
                "q-readable")) {
            bad.failover();
            good.failover();
            RawObjects objects = new RawObjects(api.client());
            GenericKubernetesResource stored = objects.storeRollback(bad, "rb", "Manul", "spec", "approval");

            client.resources(ReplicaSetRollback.class).inNamespace(good.namespace).resource(good.rollback("rb"))
                    .create();
            assertEquals("Completed", RollbackChecks.awaitPhase(client, good.namespace, "rb", "Completed").getReason());

            Event e = RollbackChecks.awaitEvent(client, bad.namespace, "rb", EventReason.ResourceUnreadable.name())
                    .get(0);
            assertEquals("Warning", e.getType());
            assertTrue(e.getMessage().startsWith("spec.approval: must be one of Automatic, Manual; "), e.getMessage());
            assertEquals(1.0, unreadable(fetch(metrics).body()), "counted once");
            GenericKubernetesResource now = objects.stored(ROLLBACKS, bad.namespace, "rb");
            assertEquals(stored.getMetadata().getResourceVersion(), now.getMetadata().getResourceVersion(),
                    "never written: no finalizer, no status");
            assertFalse(bad.node(0).timeline().getFenced(), "nothing called on its cluster");
            assertEquals(0, bad.node(0).timeline().getRollbackId());

            HttpResponse<String> liveness = fetch(live);
            assertEquals(200, liveness.statusCode(), liveness.body());
            assertTrue(liveness.body().contains("\"" + InformersLiveness.NAME + "\""), liveness.body());
            assertEquals(200, fetch(ready).statusCode(), "ready");

            objects.delete(ROLLBACKS, bad.namespace, "rb");
        }
    }
}
