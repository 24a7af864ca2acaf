package io.dbrollback.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Queue;

/**
 * fabric8's {@link KubernetesMockServer} in CRUD mode (expectations still work: they win over CRUD, as with
 * {@code @WithKubernetesTestServer(crud = true)}), with an {@link ExecDispatcher} in front so that pods/exec
 * runs local processes. Plain HTTP on a free loopback port, namespace "test", like Quarkus's
 * {@code KubernetesServerTestResource} with its defaults.
 */
public final class MockApiServer implements AutoCloseable {

    public static final String DEFAULT_NAMESPACE = "test";

    private final KubernetesMockServer server;
    private final ExecDispatcher exec;
    private final NamespacedKubernetesClient client;

    private MockApiServer(KubernetesMockServer server, ExecDispatcher exec) {
        this.server = server;
        this.exec = exec;
        this.client = server.createClient();
    }

    /** Starts a plain-HTTP server on a free loopback port. */
    public static MockApiServer start() {
        return start(false);
    }

    public static MockApiServer start(boolean https) {
        quietRequestLog();
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        ExecDispatcher exec = new ExecDispatcher(new KubernetesMixedDispatcher(responses));
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), responses, exec, https);
        server.init(InetAddress.getLoopbackAddress(), 0);
        return new MockApiServer(server, exec);
    }

    /** System property: set to true to keep the mock's INFO line per request. */
    public static final String VERBOSE_PROPERTY = "mockapi.verbose";
    private static final String MOCK_LOGGER = "io.fabric8.mockwebserver";
    // held strongly: java.util.logging keeps loggers only weakly, and the level would be lost with them
    private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger(MOCK_LOGGER);

    private static void quietRequestLog() {
        if (!Boolean.getBoolean(VERBOSE_PROPERTY)) {
            MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
        }
    }

    /** The fabric8 mock server (expectations: {@code server().expect()...}). */
    public KubernetesMockServer server() {
        return server;
    }

    /** Registry, fault switches and exec log. */
    public ExecDispatcher exec() {
        return exec;
    }

    /** A client of its own, namespace "test" (not the application's client). */
    public NamespacedKubernetesClient client() {
        return client;
    }

    /** e.g. {@code http://localhost:PORT/}. */
    public String url() {
        return client.getConfiguration().getMasterUrl();
    }

    /**
     * What a Kubernetes client needs to talk to this server: the fabric8 system properties that Quarkus's own
     * {@code KubernetesServerTestResource} sets (read by {@code Config.autoConfigure}, which the Quarkus client
     * starts from), plus {@code quarkus.tls.trust-all}.
     */
    public Map<String, String> clientProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(Config.KUBERNETES_MASTER_SYSTEM_PROPERTY, url());
        p.put(Config.KUBERNETES_TRUST_CERT_SYSTEM_PROPERTY, "true");
        p.put(Config.KUBERNETES_AUTH_TRYKUBECONFIG_SYSTEM_PROPERTY, "false");
        p.put(Config.KUBERNETES_AUTH_TRYSERVICEACCOUNT_SYSTEM_PROPERTY, "false");
        p.put(Config.KUBERNETES_NAMESPACE_SYSTEM_PROPERTY, DEFAULT_NAMESPACE);
        p.put(Config.KUBERNETES_HTTP2_DISABLE, "true");
        p.put("quarkus.tls.trust-all", "true");
        return p;
    }

    /**
     * Extra Quarkus configuration: only the mock's per-request INFO log turned off (Quarkus resets log levels
     * when it starts; -Dmockapi.verbose=true keeps it). The {@code quarkus.kubernetes-client.*} keys are
     * deliberately absent: they are build-time fixed, so a test resource setting them gets "Build time property
     * cannot be changed at runtime"; the fabric8 system properties of {@link #clientProperties()} do the job.
     */
    public static Map<String, String> quarkusConfig() {
        Map<String, String> p = new LinkedHashMap<>();
        if (!Boolean.getBoolean(VERBOSE_PROPERTY)) {
            p.put("quarkus.log.category.\"" + MOCK_LOGGER + "\".level", "WARN");
        }
        return p;
    }

    /**
     * Creates a Pod that exec accepts (one container, phase Running, condition Ready=True) and registers
     * {@code localRoot} as its volume mounted at {@code volumePath}. Returns the stored Pod.
     */
    public Pod createExecPod(String namespace, String name, String container, Path localRoot, String volumePath) {
        Pod pod = client.pods().inNamespace(namespace).resource(runningPod(namespace, name, container)).create();
        exec.registerPod(namespace, name, localRoot, volumePath);
        return pod;
    }

    /** A Pod object with one container, phase Running and Ready=True (fabric8's exec waits for ready or terminal). */
    public static Pod runningPod(String namespace, String name, String container) {
        return new PodBuilder()
                .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().addNewContainer().withName(container).withImage("local").endContainer().endSpec()
                .withNewStatus().withPhase("Running")
                .addNewCondition().withType("Ready").withStatus("True").endCondition()
                .endStatus()
                .build();
    }

    @Override
    public void close() {
        try {
            client.close();
        } finally {
            server.destroy(); // also shuts the ExecDispatcher down (kills running execs)
        }
    }
}
