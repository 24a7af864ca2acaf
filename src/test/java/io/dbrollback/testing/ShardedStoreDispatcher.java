package io.dbrollback.testing;

import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.CustomResourceAware;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.Resetable;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * fabric8's CRUD mock in shards: one store per resource (rollbacks, Leases, ...), and for Pods and Events one per
 * namespace. The CRUD mock finds an object by comparing the request with every stored object under one lock, so
 * each request costs as much as its store holds; a real API server indexes by resource and namespace. With 500
 * clusters (1,500 Pods, 500 Leases, 500 rollbacks, thousands of Events) one store made the harness, not the
 * operator, the bottleneck of the scale benchmark ({@link MockApiServer#startSharded()}, docs/performance.md
 * section 4).
 *
 * <p>Limits, all loud: a request for Pods or Events of every namespace (which would need the shards merged) is
 * answered 501; expectations set on the server are not consulted (the shards have none).
 */
final class ShardedStoreDispatcher extends Dispatcher implements Resetable, CustomResourceAware {

    /** Resources sharded per namespace: the operator and the harness only ever ask for them in one namespace. */
    static final List<String> PER_NAMESPACE = List.of("pods", "events");

    private final Map<String, KubernetesMixedDispatcher> shards = new ConcurrentHashMap<>();
    private final List<CustomResourceDefinitionContext> customResources = new ArrayList<>();

    @Override
    public MockResponse dispatch(RecordedRequest request) {
        String key = shardKey(request.getPath());
        if (key == null) {
            return new MockResponse().setResponseCode(501).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                    + "\"status\":\"Failure\",\"code\":501,\"message\":\"the sharded mock API server does not answer "
                    + "Pods or Events of every namespace: " + request.getPath() + "\"}");
        }
        return shards.computeIfAbsent(key, k -> newShard()).dispatch(request);
    }

    /**
     * The shard of a request path: its resource ({@code group/resource}, "" for the core group), with the namespace
     * for {@link #PER_NAMESPACE} resources; null for a Pods or Events request across namespaces.
     */
    static String shardKey(String path) {
        String p = path == null ? "" : path;
        int query = p.indexOf('?');
        String[] parts = (query < 0 ? p : p.substring(0, query)).split("/");
        // ["", "api", "v1", ...] or ["", "apis", group, version, ...]
        int at = parts.length > 1 && parts[1].equals("apis") ? 4 : 3;
        String group = at == 4 && parts.length > 2 ? parts[2] : "";
        if (parts.length <= at) {
            return group + "/";
        }
        String namespace = null;
        String resource = parts[at];
        if (resource.equals("namespaces") && parts.length > at + 2) {
            namespace = parts[at + 1];
            resource = parts[at + 2];
        }
        if (group.isEmpty() && PER_NAMESPACE.contains(resource)) {
            return namespace == null ? null : group + "/" + resource + "@" + namespace;
        }
        return group + "/" + resource;
    }

    private KubernetesMixedDispatcher newShard() {
        KubernetesMixedDispatcher shard = new KubernetesMixedDispatcher(new HashMap<>());
        synchronized (customResources) {
            customResources.forEach(shard::expectCustomResource);
        }
        return shard;
    }

    @Override
    public void shutdown() {
        shards.values().forEach(KubernetesMixedDispatcher::shutdown);
    }

    @Override
    public void reset() {
        shards.values().forEach(KubernetesMixedDispatcher::reset);
    }

    @Override
    public void expectCustomResource(CustomResourceDefinitionContext rdc) {
        synchronized (customResources) {
            customResources.add(rdc);
            shards.values().forEach(s -> s.expectCustomResource(rdc));
        }
    }
}
