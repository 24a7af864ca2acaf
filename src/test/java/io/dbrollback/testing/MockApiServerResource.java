package io.dbrollback.testing;

import io.fabric8.kubernetes.client.NamespacedKubernetesClient;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.util.HashMap;
import java.util.Map;

/**
 * Quarkus test resource: starts a {@link MockApiServer} (CRUD + local exec) before the application and
 * points the application's Kubernetes client at it, the way {@code KubernetesServerTestResource} does
 * (fabric8 system properties, which {@code Config.autoConfigure} reads, returned as config too).
 * Use it through {@link WithMockApiServer}. The previous values of the system properties are restored on stop.
 *
 * <p>Access from the test: a field {@code @InjectMockApiServer MockApiServer server;} or the static
 * {@link #server()}.
 */
public class MockApiServerResource implements QuarkusTestResourceLifecycleManager {

    private static volatile MockApiServer current;

    private final Map<String, String> previous = new HashMap<>();
    private MockApiServer server;

    @Override
    public Map<String, String> start() {
        server = MockApiServer.start();
        current = server;
        Map<String, String> props = server.clientProperties();
        for (Map.Entry<String, String> e : props.entrySet()) {
            previous.put(e.getKey(), System.getProperty(e.getKey()));
            // these have to be system properties: fabric8 reads them directly, not from Quarkus config
            System.setProperty(e.getKey(), e.getValue());
        }
        Map<String, String> config = new HashMap<>(props);
        config.putAll(MockApiServer.quarkusConfig());
        return config;
    }

    @Override
    public void inject(TestInjector testInjector) {
        testInjector.injectIntoFields(server,
                new TestInjector.AnnotatedAndMatchesType(InjectMockApiServer.class, MockApiServer.class));
    }

    @Override
    public void stop() {
        for (Map.Entry<String, String> e : previous.entrySet()) {
            if (e.getValue() == null) {
                System.clearProperty(e.getKey());
            } else {
                System.setProperty(e.getKey(), e.getValue());
            }
        }
        previous.clear();
        if (server != null) {
            if (current == server) {
                current = null;
            }
            server.close();
            server = null;
        }
    }

    /** The running server (throws if none). */
    public static MockApiServer server() {
        MockApiServer s = current;
        if (s == null) {
            throw new IllegalStateException("no MockApiServer running: annotate the test class with "
                    + "@WithMockApiServer");
        }
        return s;
    }

    public static ExecDispatcher exec() {
        return server().exec();
    }

    /** The server's own client (namespace "test"); the application's client is the injected KubernetesClient bean. */
    public static NamespacedKubernetesClient client() {
        return server().client();
    }
}
