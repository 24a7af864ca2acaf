package io.dbrollback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.EndpointsBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How the plugin's {@code replay NAME} finds the current primary ({@link KubeCommands#primaryPod}): the
 * holder of the leader Lease, or Patroni's leader (the annotation {@code leader} of the ConfigMap
 * {@code <scope>-leader}, or of the Endpoints {@code <scope>} with dcs Endpoints), read from fabric8's mock
 * API server.
 */
@IntegrationTest
class PrimaryPodTest {

    static final String NS = "primary";

    private MockApiServer api;
    private KubernetesClient client;

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    /** A rollback whose spec.cluster reads the leader from Patroni's scope (dcs null: not given). */
    private static JsonNode patroni(String scope, String dcs) throws IOException {
        return RollbackFileReader.JSON.readTree("{\"metadata\":{\"name\":\"rb\"},\"spec\":{\"cluster\":{\"leader\":"
                + "{\"patroni\":{\"scope\":\"" + scope + "\"" + (dcs == null ? "" : ",\"dcs\":\"" + dcs + "\"")
                + "}}}}}");
    }

    private void configMap(String name, Map<String, String> annotations) {
        client.configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata().withName(name)
                .withNamespace(NS).withAnnotations(annotations).endMetadata().build()).create();
    }

    private void endpoints(String name, Map<String, String> annotations) {
        client.endpoints().inNamespace(NS).resource(new EndpointsBuilder().withNewMetadata().withName(name)
                .withNamespace(NS).withAnnotations(annotations).endMetadata().build()).create();
    }

    private String failure(JsonNode rb) {
        return assertThrows(IllegalStateException.class, () -> KubeCommands.primaryPod(client, NS, rb)).getMessage();
    }

    @Test
    void patroniConfigMapLeaderIsThePrimaryWithDcsConfigMapOrByDefault() throws Exception {
        configMap("orders-leader", Map.of("leader", "orders-1", "ttl", "30"));
        // Patroni's Endpoints of the same scope names another pod: with dcs ConfigMap it is not read
        endpoints("orders", Map.of("leader", "orders-2"));
        assertEquals("orders-1", KubeCommands.primaryPod(client, NS, patroni("orders", "ConfigMap")));
        assertEquals("orders-1", KubeCommands.primaryPod(client, NS, patroni("orders", null)), "ConfigMap by default");
    }

    @Test
    void patroniEndpointsLeaderIsThePrimaryWithDcsEndpoints() throws Exception {
        endpoints("orders", Map.of("leader", "orders-2", "ttl", "30"));
        configMap("orders-leader", Map.of("leader", "orders-1"));
        assertEquals("orders-2", KubeCommands.primaryPod(client, NS, patroni("orders", "Endpoints")));
    }

    @Test
    void aMissingLeaderObjectIsNamed() throws Exception {
        endpoints("orders", Map.of("leader", "orders-2"));
        assertEquals("there is no ConfigMap primary/orders-leader, Patroni's leader object of scope orders",
                failure(patroni("orders", "ConfigMap")));
        configMap("orders-leader", Map.of("leader", "orders-1"));
        assertEquals("there is no Endpoints primary/other, Patroni's leader object of scope other",
                failure(patroni("other", "Endpoints")));
    }

    @Test
    void aLeaderObjectWithoutALeaderNamesNoPrimary() throws Exception {
        // Patroni removes the leader annotation when its leader steps down; an empty one names nobody either
        configMap("orders-leader", Map.of("ttl", "30", "optime", "0"));
        endpoints("orders", Map.of("leader", ""));
        client.configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata().withName("bare-leader")
                .withNamespace(NS).endMetadata().build()).create();
        assertEquals("Patroni's leader object of scope orders (ConfigMap primary/orders-leader) names no leader: "
                + "nobody holds the leader key now; name the primary with --primary or --postgres",
                failure(patroni("orders", null)));
        assertEquals("Patroni's leader object of scope orders (Endpoints primary/orders) names no leader: nobody holds"
                + " the leader key now; name the primary with --primary or --postgres",
                failure(patroni("orders", "Endpoints")));
        assertEquals("Patroni's leader object of scope bare (ConfigMap primary/bare-leader) names no leader: nobody "
                + "holds the leader key now; name the primary with --primary or --postgres",
                failure(patroni("bare", null)), "no annotations at all");
    }

    @Test
    void theLeaseHolderIsThePrimaryWhenTheClusterNamesALease() throws Exception {
        client.leases().inNamespace(NS).resource(new LeaseBuilder().withNewMetadata().withName("orders-leader")
                .withNamespace(NS).endMetadata().withNewSpec().withHolderIdentity("orders-1").endSpec().build())
                .create();
        client.leases().inNamespace(NS).resource(new LeaseBuilder().withNewMetadata().withName("released")
                .withNamespace(NS).endMetadata().withNewSpec().endSpec().build()).create();
        assertEquals("orders-1", KubeCommands.primaryPod(client, NS,
                RollbackFileReader.JSON.readTree("{\"spec\":{\"cluster\":{\"leaseName\":\"orders-leader\"}}}")));
        assertEquals("orders-1", KubeCommands.primaryPod(client, NS, RollbackFileReader.JSON.readTree(
                "{\"spec\":{\"cluster\":{\"leader\":{\"lease\":{\"name\":\"orders-leader\"}}}}}")));
        assertEquals("the leader Lease released names no holder", failure(RollbackFileReader.JSON.readTree(
                "{\"spec\":{\"cluster\":{\"leaseName\":\"released\"}}}")));
        assertEquals("spec.cluster names no leader Lease and no Patroni scope",
                failure(RollbackFileReader.JSON.readTree("{\"spec\":{\"cluster\":{}}}")));
    }
}
