package io.dbrollback.testing;

import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.CustomResourceAware;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.Resetable;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.util.HashMap;
import java.util.regex.Pattern;

/**
 * Core v1 Events in a CRUD store of their own, everything else in the main one. fabric8's CRUD mock
 * finds an object by comparing the request with every stored object, under one lock, so each request
 * costs as much as the store holds; in a long run Events are most of it (about ten per rollback), and
 * no request but an Event's looks at them, as in a real API server, which indexes by kind and
 * namespace. The scale benchmark uses it ({@link MockApiServer#startEventsApart()}); Events still
 * answer create, get, update, list and watch, from their own store.
 */
final class EventsApartDispatcher extends Dispatcher implements Resetable, CustomResourceAware {

    private static final Pattern EVENTS = Pattern.compile("/api/v1/(namespaces/[^/]+/)?events([/?].*)?");

    private final Dispatcher main;
    private final KubernetesMixedDispatcher events = new KubernetesMixedDispatcher(new HashMap<>());

    EventsApartDispatcher(Dispatcher main) {
        this.main = main;
    }

    @Override
    public MockResponse dispatch(RecordedRequest request) {
        String path = request.getPath();
        return path != null && EVENTS.matcher(path).matches() ? events.dispatch(request) : main.dispatch(request);
    }

    @Override
    public void shutdown() {
        events.shutdown();
        main.shutdown();
    }

    @Override
    public void reset() {
        events.reset();
        if (main instanceof Resetable r) {
            r.reset();
        }
    }

    @Override
    public void expectCustomResource(CustomResourceDefinitionContext rdc) {
        if (!(main instanceof CustomResourceAware)) {
            throw new UnsupportedOperationException("main is not CustomResourceAware");
        }
        ((CustomResourceAware) main).expectCustomResource(rdc);
    }
}
