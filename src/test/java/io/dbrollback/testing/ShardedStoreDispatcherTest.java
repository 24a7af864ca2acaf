package io.dbrollback.testing;

import io.dbrollback.api.ReplicaSetRollback;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The sharded mock API server of the scale benchmark answers like one store for what the operator asks. */
@IntegrationTest
class ShardedStoreDispatcherTest {

    @Test
    void requestsGoToTheStoreOfTheirResourceAndPodsAndEventsToTheirNamespace() {
        assertEquals("/pods@a", ShardedStoreDispatcher.shardKey("/api/v1/namespaces/a/pods/p-0/status"));
        assertEquals("/pods@a", ShardedStoreDispatcher.shardKey("/api/v1/namespaces/a/pods?labelSelector=x%3Dy"));
        assertEquals("/events@b", ShardedStoreDispatcher.shardKey("/api/v1/namespaces/b/events"));
        assertEquals("dbrollback.io/replicasetrollbacks",
                ShardedStoreDispatcher.shardKey("/apis/dbrollback.io/v1/namespaces/a/replicasetrollbacks/rb/status"));
        assertEquals("dbrollback.io/replicasetrollbacks",
                ShardedStoreDispatcher.shardKey("/apis/dbrollback.io/v1/replicasetrollbacks?watch=true"));
        assertEquals("coordination.k8s.io/leases",
                ShardedStoreDispatcher.shardKey("/apis/coordination.k8s.io/v1/namespaces/a/leases/db-leader"));
        assertEquals("/namespaces", ShardedStoreDispatcher.shardKey("/api/v1/namespaces/a"));
        assertEquals("/configmaps", ShardedStoreDispatcher.shardKey("/api/v1/configmaps?watch=true"));
        assertNull(ShardedStoreDispatcher.shardKey("/api/v1/pods"));
        assertNull(ShardedStoreDispatcher.shardKey("/api/v1/events?fieldSelector=a"));
    }

    @Test
    void objectsOfEveryShardAreReadWrittenAndWatchedAsInOneStore() {
        try (MockApiServer api = MockApiServer.startSharded()) {
            KubernetesClient client = api.client();
            List<String> seen = new CopyOnWriteArrayList<>();
            client.resources(ReplicaSetRollback.class).inAnyNamespace().watch(new Watcher<>() {
                @Override
                public void eventReceived(Action action, ReplicaSetRollback r) {
                    seen.add(action + " " + r.getMetadata().getNamespace() + "/" + r.getMetadata().getName());
                }

                @Override
                public void onClose(WatcherException cause) {
                }
            });
            for (String ns : List.of("a", "b")) {
                client.pods().inNamespace(ns).resource(new PodBuilder().withNewMetadata().withName("db-0")
                        .addToLabels("app", "db").endMetadata().build()).create();
                client.leases().inNamespace(ns).resource(new LeaseBuilder().withNewMetadata().withName("leader")
                        .endMetadata().withNewSpec().withHolderIdentity("db-0").endSpec().build()).create();
                ReplicaSetRollback r = new ReplicaSetRollback();
                r.setMetadata(new ObjectMetaBuilder().withName("rb").withNamespace(ns).build());
                client.resources(ReplicaSetRollback.class).inNamespace(ns).resource(r).create();
            }
            client.pods().inNamespace("b").withName("db-0").edit(p -> new PodBuilder(p).editMetadata()
                    .addToLabels("role", "replica").endMetadata().build());

            assertEquals(1, client.pods().inNamespace("a").withLabel("app", "db").list().getItems().size());
            assertNull(client.pods().inNamespace("a").withName("db-0").get().getMetadata().getLabels().get("role"));
            assertEquals("replica",
                    client.pods().inNamespace("b").withName("db-0").get().getMetadata().getLabels().get("role"));
            assertEquals(2, client.leases().inAnyNamespace().list().getItems().size());
            assertEquals(2, client.resources(ReplicaSetRollback.class).inAnyNamespace().list().getItems().size());
            Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> seen.containsAll(List.of("ADDED a/rb", "ADDED b/rb")));
            KubernetesClientException across = assertThrows(KubernetesClientException.class,
                    () -> client.pods().inAnyNamespace().list());
            assertEquals(501, across.getCode());
        }
    }
}
