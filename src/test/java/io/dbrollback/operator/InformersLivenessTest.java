package io.dbrollback.operator;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.testing.InjectMockApiServer;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.dbrollback.testing.WithMockApiServer;
import io.javaoperatorsdk.operator.processing.event.source.controller.ControllerEventSource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URL;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * /q/health/live goes DOWN when an informer of the operator stops for good, so that Kubernetes
 * restarts the pod: the mock API server sends each watch of the operator an event the client cannot
 * read, which fabric8 does not retry. Readiness alone (the operator SDK's check) would leave the pod
 * running, deaf, forever. The application of this class is not used after this (its informers are
 * dead): Quarkus starts one per class with its own mock API server.
 */
@QuarkusTest
@WithMockApiServer
@IntegrationTest
class InformersLivenessTest {

    /** The operator's watches, in every namespace or in one. */
    private static final String ROLLBACK_WATCH =
            "/apis/dbrollback\\.io/v1alpha1(/namespaces/[^/]+)?/replicasetrollbacks";
    private static final String LEASE_WATCH = "/apis/coordination\\.k8s\\.io/v1(/namespaces/[^/]+)?/leases";
    /**
     * Each is watched twice: by the rollback reconciler and by the autopilot (the Leases its policies
     * read, the rollbacks they own).
     */
    private static final int WATCHES = 2;

    @InjectMockApiServer
    MockApiServer api;

    @TestHTTPResource("/q/health/live")
    URL live;

    @TestHTTPResource("/q/health/ready")
    URL ready;

    @Test
    void anInformerThatStopsForGoodTakesLivenessDown() throws Exception {
        await().atMost(Duration.ofSeconds(30)).until(() -> api.faults().openWatches(ROLLBACK_WATCH) == WATCHES
                && api.faults().openWatches(LEASE_WATCH) == WATCHES);
        HttpResponse<String> up = UnreadableResourcesQuarkusTest.fetch(live);
        assertEquals(200, up.statusCode(), up.body());
        assertTrue(up.body().contains("\"" + InformersLiveness.NAME + "\""), up.body());

        // A Lease watch ended by a 410 is only reconnecting: still alive.
        assertEquals(WATCHES, api.faults().expireWatches(LEASE_WATCH));
        await().atMost(Duration.ofSeconds(30)).until(() -> api.faults().openWatches(LEASE_WATCH) == WATCHES);
        assertEquals(200, UnreadableResourcesQuarkusTest.fetch(live).statusCode(), "reconnected, alive");

        assertEquals(WATCHES, api.faults().sendUnreadableWatchEvent(LEASE_WATCH));
        await().atMost(Duration.ofSeconds(30)).until(() -> UnreadableResourcesQuarkusTest.fetch(live).statusCode()
                == 503);
        String down = UnreadableResourcesQuarkusTest.fetch(live).body();
        assertTrue(down.contains("\"DOWN\"") && down.contains(RollbackReconciler.NAME + "/"
                + RollbackReconciler.LEASE_SOURCE + "/"), down);

        assertEquals(WATCHES, api.faults().sendUnreadableWatchEvent(ROLLBACK_WATCH));
        await().atMost(Duration.ofSeconds(30)).until(() -> UnreadableResourcesQuarkusTest.fetch(live).body()
                .contains(RollbackReconciler.NAME + "/" + ControllerEventSource.NAME + "/"));
        assertEquals(503, UnreadableResourcesQuarkusTest.fetch(ready).statusCode(), "not ready either");
        Thread.sleep(1000); // a stopped informer never comes back by itself: only a restart helps
        assertEquals(503, UnreadableResourcesQuarkusTest.fetch(live).statusCode());
        assertEquals(0, api.faults().openWatches(ROLLBACK_WATCH) + api.faults().openWatches(LEASE_WATCH));
    }
}
