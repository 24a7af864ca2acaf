package io.dbrollback.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Queue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * fabric8's {@link KubernetesMockServer} in CRUD mode (expectations still work: they win over CRUD, as with
 * {@code @WithKubernetesTestServer(crud = true)}), with an {@link ExecDispatcher} in front so that pods/exec
 * runs local processes. Plain HTTP on a free loopback port, namespace "test", like Quarkus's
 * {@code KubernetesServerTestResource} with its defaults.
 *
 * <p>{@link #startForKubectl()} also puts a {@link KubectlDispatcher} behind the exec emulation, so that the real
 * {@code kubectl} works against the server (discovery, tables with printer columns, describe with Events, apply);
 * {@link #writeKubeconfig(Path, String)} writes the kubeconfig for it.
 *
 * <p>A {@link FaultDispatcher} sits in front of everything ({@link #faults()}): API server errors, lost
 * answers, expired watches and held-back watch events, injected on demand.
 */
public final class MockApiServer implements AutoCloseable {

    public static final String DEFAULT_NAMESPACE = "test";

    private final KubernetesMockServer server;
    private final FaultDispatcher faults;
    private final ExecDispatcher exec;
    private final KubectlDispatcher kubectl;
    private final boolean https;
    private final NamespacedKubernetesClient client;

    private MockApiServer(KubernetesMockServer server, FaultDispatcher faults, ExecDispatcher exec,
            KubectlDispatcher kubectl, boolean https) {
        this.server = server;
        this.faults = faults;
        this.exec = exec;
        this.kubectl = kubectl;
        this.https = https;
        this.client = server.createClient();
    }

    /** Starts a plain-HTTP server on a free loopback port. */
    public static MockApiServer start() {
        return start(false);
    }

    public static MockApiServer start(boolean https) {
        return start(https, false);
    }

    /**
     * Starts a plain-HTTP server on a free loopback port that the real {@code kubectl} can use (see
     * {@link KubectlDispatcher}); write a kubeconfig for it with {@link #writeKubeconfig(Path, String)}.
     */
    public static MockApiServer startForKubectl() {
        return start(false, true);
    }

    /**
     * @param https   serve HTTPS with the mock's self-signed certificate (a kubeconfig then skips verification)
     * @param kubectl put a {@link KubectlDispatcher} in the chain: faults -> exec emulation -> kubectl support -> CRUD
     *     mock
     */
    public static MockApiServer start(boolean https, boolean kubectl) {
        return start(https, kubectl, false);
    }

    /**
     * Starts a plain-HTTP server whose objects live in a store per resource, Pods and Events in one per namespace
     * ({@link ShardedStoreDispatcher}): a request does not pay for comparing every object of other kinds and
     * namespaces. For runs with many clusters (the scale benchmark); expectations are not consulted.
     */
    public static MockApiServer startSharded() {
        return start(false, false, true);
    }

    private static MockApiServer start(boolean https, boolean kubectl, boolean sharded) {
        quietRequestLog();
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        KubernetesMixedDispatcher crud = new KubernetesMixedDispatcher(responses);
        KubectlDispatcher kubectlDispatcher = kubectl ? new KubectlDispatcher(crud, responses) : null;
        Dispatcher store = sharded ? new ShardedStoreDispatcher() : kubectl ? kubectlDispatcher : crud;
        ExecDispatcher exec = new ExecDispatcher(store);
        FaultDispatcher faults = new FaultDispatcher(exec);
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), responses, faults,
                https);
        server.init(InetAddress.getLoopbackAddress(), 0);
        return new MockApiServer(server, faults, exec, kubectlDispatcher, https);
    }

    /** System property: set to true to keep the mock's INFO line per request. */
    public static final String VERBOSE_PROPERTY = "mockapi.verbose";
    private static final String MOCK_LOGGER = "io.fabric8.mockwebserver";
    // held strongly: java.util.logging keeps loggers only weakly, and the level would be lost with them
    private static final Logger MOCK_LOG = Logger.getLogger(MOCK_LOGGER);

    private static void quietRequestLog() {
        if (!Boolean.getBoolean(VERBOSE_PROPERTY)) {
            MOCK_LOG.setLevel(Level.WARNING);
        }
    }

    /** The fabric8 mock server (expectations: {@code server().expect()...}). */
    public KubernetesMockServer server() {
        return server;
    }

    /** API server faults: errors, lost answers, expired watches, held-back watch events; and the request log. */
    public FaultDispatcher faults() {
        return faults;
    }

    /** Registry, fault switches and exec log. */
    public ExecDispatcher exec() {
        return exec;
    }

    /** The kubectl support, or null when the server was not started for kubectl. */
    public KubectlDispatcher kubectl() {
        return kubectl;
    }

    /** The loopback port the server listens on. */
    public int port() {
        return server.getPort();
    }

    /**
     * Writes a kubeconfig for this server ({@code server: http://127.0.0.1:PORT}, one cluster, user and context
     * named "mock-api-server", the context's namespace {@code namespace}, no credentials; over https a dummy token
     * and no certificate verification), creating parent
     * directories; returns the file. Use it with {@code KUBECONFIG=file kubectl ...} (also set
     * {@code KUBECACHEDIR} to a private directory: kubectl caches discovery per host:port for hours).
     * Meant for a server from {@link #startForKubectl()}: without it kubectl cannot discover anything.
     */
    public Path writeKubeconfig(Path file, String namespace) {
        String name = "mock-api-server";
        String scheme = https ? "https" : "http";
        String yaml = "apiVersion: v1\n"
                + "kind: Config\n"
                + "clusters:\n"
                + "- name: " + name + "\n"
                + "  cluster:\n"
                + "    server: " + scheme + "://127.0.0.1:" + port() + "\n"
                + (https ? "    insecure-skip-tls-verify: true\n" : "")
                + "users:\n"
                + "- name: " + name + "\n"
                // over https kubectl prompts for a username unless the user has some credential; the mock ignores it
                + (https ? "  user:\n    token: mock-api-server\n" : "  user: {}\n")
                + "contexts:\n"
                + "- name: " + name + "\n"
                + "  context:\n"
                + "    cluster: " + name + "\n"
                + "    user: " + name + "\n"
                + "    namespace: " + namespace + "\n"
                + "current-context: " + name + "\n";
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(file, yaml, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write kubeconfig " + file, e);
        }
        return file;
    }

    /** {@link #writeKubeconfig(Path, String)} with namespace {@value #DEFAULT_NAMESPACE}. */
    public Path writeKubeconfig(Path file) {
        return writeKubeconfig(file, DEFAULT_NAMESPACE);
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
