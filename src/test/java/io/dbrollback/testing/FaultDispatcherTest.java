package io.dbrollback.testing;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The API server fault layer against the real fabric8 client and informers, no operator. */
@IntegrationTest
class FaultDispatcherTest {

    private static final AtomicInteger NAMESPACES = new AtomicInteger();

    private static MockApiServer api;
    private static FaultDispatcher faults;

    private String ns;
    private KubernetesClient client;

    @BeforeAll
    static void start() {
        api = MockApiServer.start();
        faults = api.faults();
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    @AfterEach
    void clear() {
        faults.clear();
        if (client != null) {
            client.close();
        }
    }

    /**
     * A client that retries 5xx answers {@code retries} times (fabric8's default is 10), 10 ms apart, and
     * reconnects a watch after 100 ms (default 1 s).
     */
    private KubernetesClient client(int retries) {
        ns = "faults-" + NAMESPACES.incrementAndGet();
        client = new KubernetesClientBuilder().withConfig(new ConfigBuilder(api.client().getConfiguration())
                .withRequestRetryBackoffLimit(retries).withRequestRetryBackoffInterval(10)
                .withWatchReconnectInterval(100).build()).build();
        return client;
    }

    private String path(String name) {
        return "/api/v1/namespaces/" + ns + "/configmaps" + (name == null ? "" : "/" + name);
    }

    private ConfigMap configMap(String name, String value) {
        return new ConfigMapBuilder().withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .addToData("v", value).build();
    }

    private String stored(String name) {
        ConfigMap cm = api.client().configMaps().inNamespace(ns).withName(name).get();
        return cm == null ? null : cm.getData().get("v");
    }

    /** A read, then a PUT (not locked on the resource version). */
    private void set(String name, String value) {
        ConfigMap cm = client.configMaps().inNamespace(ns).withName(name).get();
        cm.getData().put("v", value);
        cm.getMetadata().setResourceVersion(null);
        client.configMaps().inNamespace(ns).resource(cm).update();
    }

    @Test
    void aRefusedWriteIsNotAppliedAndTheClientSeesTheCode() {
        client(0);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        FaultDispatcher.Rule conflict = faults.refuseNext(1, HttpMethod.PUT, path("cm"), 409);
        KubernetesClientException e = assertThrows(KubernetesClientException.class, () -> set("cm", "2"));
        assertEquals(409, e.getCode());
        assertEquals("Conflict", e.getStatus().getReason());
        assertEquals("1", stored("cm"), "a refused write is not applied");
        assertEquals(1, conflict.served());
        assertEquals(0, conflict.remaining());
        set("cm", "3");
        assertEquals("3", stored("cm"), "only the next one is refused");
        assertEquals(1, faults.count(HttpMethod.PUT, path("cm"), false, 409));
    }

    @Test
    void fabric8RetriesServerErrorsUpToItsLimitThenReportsThem() {
        client(2);
        FaultDispatcher.Rule twice = faults.refuseNext(2, HttpMethod.POST, path(null), 500);
        client.configMaps().inNamespace(ns).resource(configMap("retried", "1")).create();
        assertEquals("1", stored("retried"), "two 500s are hidden by the client's two retries");
        assertEquals(2, twice.served());

        FaultDispatcher.Rule thrice = faults.refuseNext(3, HttpMethod.POST, path(null), 500);
        KubernetesClientException e = assertThrows(KubernetesClientException.class,
                () -> client.configMaps().inNamespace(ns).resource(configMap("lost", "1")).create());
        assertEquals(500, e.getCode());
        assertEquals(3, thrice.served());
        assertNull(stored("lost"));
    }

    @Test
    void aBodyPredicateSelectsWhichWriteFails() {
        client(0);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        FaultDispatcher.Rule rule = faults.refuseNext(1, HttpMethod.PUT, path("cm"), b -> b.contains("\"v\":\"bad\""),
                500);
        set("cm", "good");
        assertEquals(0, rule.served(), "a write whose body does not match passes");
        assertThrows(KubernetesClientException.class, () -> set("cm", "bad"));
        assertEquals("good", stored("cm"));
        assertEquals(1, rule.served());
        assertTrue(rule.bodies().get(0).contains("\"v\":\"bad\""), "the refused body is kept");
    }

    @Test
    void aWriteAppliedButAnsweredWithAnErrorLeavesTheOutcomeUnknownToTheClient() {
        client(0);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        faults.applyThenFailNext(1, HttpMethod.PUT, path("cm"), null, 504);
        KubernetesClientException e = assertThrows(KubernetesClientException.class, () -> set("cm", "2"));
        assertEquals(504, e.getCode());
        assertEquals("2", stored("cm"), "the server applied it all the same");
    }

    @Test
    void aStatusWriteFromAStaleResourceVersionIsRefusedAsARealApiServerDoes() {
        client(0);
        Pod created = client.pods().inNamespace(ns)
                .resource(MockApiServer.runningPod(ns, "p", "c")).create();
        created.getStatus().setMessage("first");
        client.pods().inNamespace(ns).resource(created).lockResourceVersion().updateStatus();
        created.getStatus().setMessage("from a stale copy");
        KubernetesClientException e = assertThrows(KubernetesClientException.class,
                () -> client.pods().inNamespace(ns).resource(created).lockResourceVersion().updateStatus());
        assertEquals(409, e.getCode());
        assertTrue(e.getMessage().contains("the object has been modified"), e.getMessage());
        assertEquals("first", api.client().pods().inNamespace(ns).withName("p").get().getStatus().getMessage());
        created.getMetadata().setResourceVersion(null);
        client.pods().inNamespace(ns).resource(created).updateStatus();
        assertEquals("from a stale copy", api.client().pods().inNamespace(ns).withName("p").get().getStatus()
                .getMessage(), "a write without a resource version is unconditional");
    }

    private SharedIndexInformer<ConfigMap> informer() {
        return client.configMaps().inNamespace(ns).inform();
    }

    private static String cached(SharedIndexInformer<ConfigMap> informer, String key) {
        ConfigMap cm = informer.getStore().getByKey(key);
        return cm == null ? null : cm.getData().get("v");
    }

    @Test
    void anExpiredWatchEndsWithA410AndTheInformerListsAgain() {
        client(10);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        try (SharedIndexInformer<ConfigMap> informer = informer()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.openWatches(path(null)) == 1);
            long lists = faults.count(HttpMethod.GET, path(null), false, 200);
            assertEquals(1, faults.expireWatches(path(null)));
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.count(HttpMethod.GET, path(null), false, 200)
                    == lists + 1 && faults.openWatches(path(null)) == 1);
            set("cm", "2");
            await().atMost(Duration.ofSeconds(20)).until(() -> "2".equals(cached(informer, ns + "/cm")));
        }
    }

    @Test
    void eventsMissedWhileAWatchWasDownAreFoundByTheRelist() {
        client(10);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        try (SharedIndexInformer<ConfigMap> informer = informer()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> "1".equals(cached(informer, ns + "/cm")));
            faults.holdWatchEvents(path(null));
            set("cm", "missed");
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.heldEvents(path(null)) == 1);
            assertEquals("1", cached(informer, ns + "/cm"), "the event is held: the cache is stale");
            faults.expireWatches(path(null)); // the held event is lost with its watch
            await().atMost(Duration.ofSeconds(20)).until(() -> "missed".equals(cached(informer, ns + "/cm")));
        }
    }

    @Test
    void aWatchEventTheClientCannotReadStopsTheInformerForGood() throws InterruptedException {
        client(10);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        try (SharedIndexInformer<ConfigMap> informer = informer()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.openWatches(path(null)) == 1);
            assertTrue(informer.isRunning());
            assertEquals(1, faults.sendUnreadableWatchEvent(path(null)));
            await().atMost(Duration.ofSeconds(20)).until(() -> !informer.isRunning());
            assertTrue(informer.stopped().toCompletableFuture().isCompletedExceptionally(),
                    "stopped by the error, not by a caller");
            long watches = faults.count(HttpMethod.GET, path(null), true, null);
            set("cm", "2");
            Thread.sleep(1000); // a running informer (reconnecting after 100 ms) would have seen it by now
            assertEquals("1", cached(informer, ns + "/cm"), "it hears of nothing any more");
            assertEquals(watches, faults.count(HttpMethod.GET, path(null), true, null), "and never watches again");
        }
    }

    @Test
    void aWatchRequestAnswered410IsRetriedByTheClient() {
        client(10);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "1")).create();
        try (SharedIndexInformer<ConfigMap> informer = informer()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.openWatches(path(null)) == 1);
            FaultDispatcher.Rule gone = faults.goneOnNextWatch(2, path(null));
            faults.expireWatches(path(null));
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> gone.served() == 2 && faults.openWatches(path(null)) == 1);
            assertEquals(2, faults.count(HttpMethod.GET, path(null), true, 410));
            set("cm", "after");
            await().atMost(Duration.ofSeconds(20)).until(() -> "after".equals(cached(informer, ns + "/cm")));
        }
    }

    @Test
    void heldWatchEventsKeepTheCacheStaleUntilReleasedInOrder() {
        client(10);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "v1")).create();
        try (SharedIndexInformer<ConfigMap> informer = informer()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> "v1".equals(cached(informer, ns + "/cm")));
            faults.holdWatchEventsAfter(path(null), json -> json.contains("\"v\":\"v2\""));
            set("cm", "v2");
            set("cm", "v3");
            set("cm", "v4");
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.heldEvents(path(null)) == 2);
            await().atMost(Duration.ofSeconds(20)).until(() -> "v2".equals(cached(informer, ns + "/cm")));
            assertEquals("v4", stored("cm"));
            assertEquals(2, faults.releaseWatchEvents(path(null)));
            await().atMost(Duration.ofSeconds(20)).until(() -> "v4".equals(cached(informer, ns + "/cm")));
            set("cm", "v5");
            await().atMost(Duration.ofSeconds(20)).until(() -> "v5".equals(cached(informer, ns + "/cm")));
            assertEquals(0, faults.heldEvents(path(null)));
        }
    }

    @Test
    void eventsHeldFromAMatchingOneNeverShowThatChangeUntilReleased() {
        client(10);
        client.configMaps().inNamespace(ns).resource(configMap("cm", "v1")).create();
        try (SharedIndexInformer<ConfigMap> informer = informer()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> "v1".equals(cached(informer, ns + "/cm")));
            faults.holdWatchEventsFrom(path(null), json -> json.contains("\"v\":\"v3\""));
            set("cm", "v2");
            await().atMost(Duration.ofSeconds(20)).until(() -> "v2".equals(cached(informer, ns + "/cm")));
            set("cm", "v3");
            set("cm", "v4");
            await().atMost(Duration.ofSeconds(20)).until(() -> faults.heldEvents(path(null)) == 2);
            assertEquals("v2", cached(informer, ns + "/cm"), "the matching change and what follows are held");
            assertEquals("v4", stored("cm"));
            assertEquals(2, faults.releaseWatchEvents(path(null)));
            await().atMost(Duration.ofSeconds(20)).until(() -> "v4".equals(cached(informer, ns + "/cm")));
        }
    }
}
