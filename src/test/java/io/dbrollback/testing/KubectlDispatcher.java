package io.dbrollback.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import io.fabric8.kubernetes.client.server.mock.CustomResourceAware;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.Resetable;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.internal.SimpleRequest;

import io.fabric8.zjsonpatch.JsonPatch;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * Makes the fabric8 CRUD mock answer the real {@code kubectl} (verified with 1.32 over plain HTTP): a dispatcher
 * in front of a {@link KubernetesMixedDispatcher} that adds what kubectl needs and the CRUD mock lacks, and
 * passes everything else through (the fabric8 client, informers and the operator work through it unchanged).
 * {@link MockApiServer#startForKubectl()} puts it in the chain.
 *
 * <ul>
 *   <li>Discovery: {@code /version}, {@code /api}, {@code /api/v1}, {@code /apis}, {@code /apis/G},
 *       {@code /apis/G/V} (legacy JSON, not aggregated discovery). Built-in kinds come from a fixed table
 *       ({@link #BUILT_INS}); custom resources (plural, singular, short names, categories, status/scale
 *       subresources) from the CustomResourceDefinitions stored in the mock, read on every request, so a CRD
 *       created through the API appears at once (kubectl re-discovers when a name is unknown to its cache).</li>
 *   <li>Tables: a GET asking for {@code as=Table;g=meta.k8s.io} gets a meta.k8s.io/v1 Table. Custom resources
 *       use their version's {@code additionalPrinterColumns} (priority &gt; 0 columns show with {@code -o wide};
 *       JSONPath subset: {@code .a.b}, {@code ['a']}, {@code [0]}, {@code [*]}, {@code [?(@.type=="Ready")]});
 *       pods, core Events, Leases and Namespaces get kubectl's usual columns, other kinds NAME and AGE. A
 *       {@code date} column is turned into an age ("5m") here, as the real API server does: kubectl prints
 *       whatever the cell holds, so a raw timestamp would be printed as a timestamp.</li>
 *   <li>Field selectors on lists: every term is stripped before the CRUD mock sees it (it answers an empty list
 *       for e.g. {@code involvedObject.name=x}) and applied here on the JSON ({@code =}, {@code ==},
 *       {@code !=}; a missing field is ""), which {@code kubectl describe} needs for the Events section.</li>
 *   <li>Lists come back as {@code <Kind>List} with the request's apiVersion instead of the mock's
 *       {@code kind: List}; every JSON answer carries {@code Content-Type: application/json}; an empty 404
 *       becomes a NotFound Status (so kubectl prints {@code Error from server (NotFound): ...}); the mock's
 *       {@code status: null} (left by a patch of a resource that has no status yet) is dropped on reads.</li>
 *   <li>Namespaces: the mock never requires them, so every namespace exists: a GET of an unknown one answers an
 *       Active Namespace (kubectl checks it after a NotFound), and the list adds "default" and every namespace
 *       a stored object is in.</li>
 *   <li>OpenAPI v3 ({@code /openapi/v3}, {@code /openapi/v3/apis/G/V}, {@code /openapi/v3/api/v1}): custom
 *       resources get their CRD schema (for {@code kubectl explain}); every kind gets its paths with a
 *       {@code fieldValidation} parameter so that kubectl's validation probe is satisfied and never asks for
 *       the protobuf-only OpenAPI v2 (answered 404). The mock itself validates nothing.</li>
 *   <li>Patches: merge patches get real RFC 7386 semantics (null removes a field; the mock's own merge does
 *       not remove); strategic merge patches from kubectl on built-in kinds (415 in the mock) are applied as
 *       merge patches, except that lists of objects with a {@code name} merge by name and the {@code $patch},
 *       {@code $setElementOrder}, {@code $retainKeys} and {@code $deleteFromPrimitiveList} directives are
 *       honoured or dropped. The result goes to the mock as a JSON patch, so its resourceVersion, generation,
 *       status-subresource and watch handling still apply. Query parameters are not passed on writes (the mock
 *       takes {@code .../status?fieldManager=x} for the main resource).</li>
 *   <li>Dry run ({@code dryRun=All}, also in a DeleteOptions body): POST, PUT, PATCH and DELETE answer what
 *       they would do and store nothing, so {@code kubectl diff} and {@code --dry-run=server} work.</li>
 * </ul>
 *
 * <p>Not emulated, each with a clear error rather than a hang: HTTP streaming watches ({@code kubectl get -w};
 * {@code kubectl wait} works only when the condition already holds), server-side apply, protobuf request bodies
 * ({@code kubectl create configmap}, {@code kubectl auth can-i}; {@code --dry-run=client -o yaml | kubectl apply
 * -f -} works), {@code kubectl exec/attach/port-forward} (kubectl 1.32 insists on the v5.channel.k8s.io
 * websocket protocol, which the fabric8 mock web server does not offer) and {@code kubectl logs}. Also not
 * emulated: aggregated discovery, OpenAPI schemas of built-in kinds ({@code kubectl explain pod}), schema
 * validation, defaulting and CEL rules of custom resources, cascading deletion of custom resources with their
 * CRD.
 */
public final class KubectlDispatcher extends Dispatcher implements Resetable, CustomResourceAware {

    /** The version /version reports: the same minor as the kubectl on the project's machines. */
    public static final String SERVER_MAJOR = "1";
    public static final String SERVER_MINOR = "32";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String CRD_LIST_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    private static final List<String> ALL_VERBS =
            List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");

    /** A resource type this server serves: a built-in one from {@link #BUILT_INS} or one from a stored CRD. */
    public record ResourceType(String group, String version, String plural, String singular, String kind,
                               boolean namespaced, List<String> shortNames, List<String> categories,
                               List<String> subresources, JsonNode crd) {

        String groupVersion() {
            return group.isEmpty() ? version : group + "/" + version;
        }

        /** The CRD's entry for this version (schema, printer columns); an empty object for built-in kinds. */
        JsonNode crdVersion() {
            if (crd != null) {
                for (JsonNode v : crd.path("spec").path("versions")) {
                    if (v.path("name").asText().equals(version)) {
                        return v;
                    }
                }
            }
            return JsonNodeFactory.instance.objectNode();
        }

        /** "replicasetrollbacks.dbrollback.io", "pods": how a real server names it in Status messages. */
        String qualifiedName() {
            return group.isEmpty() ? plural : plural + "." + group;
        }
    }

    private static ResourceType builtIn(String group, String version, String plural, String kind, boolean namespaced,
                                        String shortNames, String subresources) {
        return new ResourceType(group, version, plural, kind.toLowerCase(Locale.ROOT), kind, namespaced,
                split(shortNames), IN_ALL.contains(plural) ? List.of("all") : List.of(), split(subresources), null);
    }

    /** The built-in kinds in the "all" category ({@code kubectl get all}). */
    private static final Set<String> IN_ALL =
            Set.of("pods", "services", "deployments", "statefulsets", "replicasets", "daemonsets", "jobs");

    private static List<String> split(String s) {
        return s.isEmpty() ? List.of() : List.of(s.split(","));
    }

    /**
     * The built-in kinds announced by discovery. The CRUD mock stores any kind; these are the ones kubectl users
     * expect.
     */
    public static final List<ResourceType> BUILT_INS = List.of(
            builtIn("", "v1", "pods", "Pod", true, "po", "status,log,exec"),
            builtIn("", "v1", "events", "Event", true, "ev", ""),
            builtIn("", "v1", "namespaces", "Namespace", false, "ns", "status"),
            builtIn("", "v1", "configmaps", "ConfigMap", true, "cm", ""),
            builtIn("", "v1", "secrets", "Secret", true, "", ""),
            builtIn("", "v1", "services", "Service", true, "svc", "status"),
            builtIn("", "v1", "serviceaccounts", "ServiceAccount", true, "sa", ""),
            builtIn("", "v1", "endpoints", "Endpoints", true, "ep", ""),
            builtIn("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, "pvc", "status"),
            builtIn("", "v1", "persistentvolumes", "PersistentVolume", false, "pv", "status"),
            builtIn("", "v1", "nodes", "Node", false, "no", "status"),
            builtIn("apps", "v1", "deployments", "Deployment", true, "deploy", "status,scale"),
            builtIn("apps", "v1", "statefulsets", "StatefulSet", true, "sts", "status,scale"),
            builtIn("apps", "v1", "replicasets", "ReplicaSet", true, "rs", "status,scale"),
            builtIn("apps", "v1", "daemonsets", "DaemonSet", true, "ds", "status"),
            builtIn("batch", "v1", "jobs", "Job", true, "", "status"),
            builtIn("coordination.k8s.io", "v1", "leases", "Lease", true, "", ""),
            builtIn("events.k8s.io", "v1", "events", "Event", true, "", ""),
            builtIn("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, "pdb", "status"),
            builtIn("rbac.authorization.k8s.io", "v1", "roles", "Role", true, "", ""),
            builtIn("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, "", ""),
            builtIn("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, "", ""),
            builtIn("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, "", ""),
            builtIn("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false,
                    "crd,crds", "status"));

    private final Dispatcher delegate;
    private final Map<ServerRequest, Queue<ServerResponse>> expectations;
    /** Serializes the writes that read before they write (merge and strategic merge patches) with all other writes. */
    private final ReentrantLock writeLock = new ReentrantLock();

    public KubectlDispatcher(Dispatcher delegate) {
        this(delegate, Map.of());
    }

    /**
     * @param expectations the mock server's expectations (the map given to {@link KubernetesMixedDispatcher}): a
     *                     request that one of them matches goes to the delegate untouched, so that expectations
     *                     still win over everything else; the mock's own {@code /version} (0.0) is the exception
     */
    public KubectlDispatcher(Dispatcher delegate, Map<ServerRequest, Queue<ServerResponse>> expectations) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.expectations = Objects.requireNonNull(expectations, "expectations");
    }

    // ------------------------------------------------------------------ Dispatcher

    @Override
    public MockResponse dispatch(RecordedRequest request) {
        String full = request.getPath() == null ? "/" : request.getPath();
        int q = full.indexOf('?');
        String path = q < 0 ? full : full.substring(0, q);
        Map<String, String> query = parseQuery(q < 0 ? "" : full.substring(q + 1));
        if (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        if (!path.equals("/version")) {
            Queue<ServerResponse> expected = expectations.get(new SimpleRequest(request.method(), full));
            if (expected != null && !expected.isEmpty()) {
                return jsonContentType(delegate.dispatch(request));
            }
        }
        try {
            if (request.method() == HttpMethod.GET) {
                MockResponse discovery = discovery(path, request);
                if (discovery != null) {
                    return discovery;
                }
            }
            ResourcePath rp = ResourcePath.parse(path);
            if (rp == null) {
                return jsonContentType(delegate.dispatch(request));
            }
            String bodyType = request.getHeader("Content-Type");
            if (bodyType != null && bodyType.contains("protobuf") && request.getBody() != null
                    && request.getBody().size() > 0) {
                return status(415, "UnsupportedMediaType", "the mock API server reads JSON bodies only, not "
                        + bodyType, null);
            }
            ResourceType type = find(rp.group, rp.version, rp.plural);
            if (rp.subresource != null && !rp.subresource.equals("status") && !rp.subresource.equals("scale")) {
                return unsupportedSubresource(rp);
            }
            switch (request.method()) {
                case GET:
                    if (Boolean.parseBoolean(query.get("watch"))) {
                        String upgrade = request.getHeader("Upgrade");
                        if (upgrade == null || !upgrade.equalsIgnoreCase("websocket")) {
                            return status(400, "BadRequest", "the mock API server watches over websockets only, "
                                    + "not over HTTP streaming: kubectl get -w and kubectl wait do not "
                                    + "work; poll instead", null);
                        }
                        return delegate.dispatch(request); // websocket watch (fabric8 informers): untouched
                    }
                    return get(request, rp, type, query);
                case PATCH:
                    return patch(request, rp, type, query);
                case POST:
                case PUT:
                case DELETE:
                    if (query.containsKey("dryRun") || deleteDryRun(request)) {
                        return write(() -> dryRun(request, rp, type));
                    }
                    // the mock misreads some paths with a query (".../status?fieldManager=x" is not a status path)
                    RecordedRequest forward = new RecordedRequest(request.getHttpVersion(), request.method(),
                            rebuildPath(rp.rawPath, query, k -> k.equals("labelSelector")), request.getHeaders(),
                            request.getBody());
                    return write(() -> finish(delegate.dispatch(forward), rp, type));
                default:
                    return jsonContentType(delegate.dispatch(request));
            }
        } catch (IllegalArgumentException e) {
            return status(400, "BadRequest", e.getMessage(), null);
        } catch (RuntimeException e) {
            return status(500, "InternalError", "mock API server: " + e, null);
        }
    }

    @Override
    public void shutdown() {
        delegate.shutdown();
    }

    @Override
    public void reset() {
        if (delegate instanceof Resetable) {
            ((Resetable) delegate).reset();
        }
    }

    @Override
    public void expectCustomResource(CustomResourceDefinitionContext rdc) {
        if (!(delegate instanceof CustomResourceAware)) {
            throw new UnsupportedOperationException("delegate is not CustomResourceAware");
        }
        ((CustomResourceAware) delegate).expectCustomResource(rdc);
    }

    // ------------------------------------------------------------------ resource types

    /** Built-in types plus one per served version of every stored CRD. */
    public List<ResourceType> resourceTypes() {
        List<ResourceType> all = new ArrayList<>(BUILT_INS);
        all.addAll(customResourceTypes());
        return all;
    }

    private List<ResourceType> customResourceTypes() {
        MockResponse r = delegate.dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.GET, CRD_LIST_PATH,
                Headers.builder().build(), new Buffer()));
        List<ResourceType> out = new ArrayList<>();
        if (r == null || r.code() != 200 || r.getBody() == null) {
            return out;
        }
        JsonNode list = readTree(r.getBody().readUtf8());
        for (JsonNode crd : list.path("items")) {
            JsonNode spec = crd.path("spec");
            JsonNode names = spec.path("names");
            String plural = names.path("plural").asText();
            String kind = names.path("kind").asText();
            String singular = names.path("singular").asText(kind.toLowerCase(Locale.ROOT));
            boolean namespaced = !"Cluster".equals(spec.path("scope").asText());
            for (JsonNode v : spec.path("versions")) {
                if (!v.path("served").asBoolean(true)) {
                    continue;
                }
                List<String> subresources = new ArrayList<>();
                v.path("subresources").fieldNames().forEachRemaining(subresources::add);
                out.add(new ResourceType(spec.path("group").asText(), v.path("name").asText(), plural,
                        singular.isEmpty() ? kind.toLowerCase(Locale.ROOT) : singular, kind, namespaced,
                        texts(names.path("shortNames")), texts(names.path("categories")), subresources, crd));
            }
        }
        return out;
    }

    private ResourceType find(String group, String version, String plural) {
        for (ResourceType t : resourceTypes()) {
            if (t.group.equals(group) && t.version.equals(version) && t.plural.equals(plural)) {
                return t;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ discovery

    private MockResponse discovery(String path, RecordedRequest request) {
        switch (path) {
            case "/version":
                ObjectNode v = NODES.objectNode();
                v.put("major", SERVER_MAJOR).put("minor", SERVER_MINOR)
                        .put("gitVersion", "v" + SERVER_MAJOR + "." + SERVER_MINOR + ".0-fabric8-mock")
                        .put("gitCommit", "0000000000000000000000000000000000000000").put("gitTreeState", "clean")
                        .put("buildDate", "2024-12-11T00:00:00Z").put("goVersion", "go1.23.4")
                        .put("compiler", "gc").put("platform", "linux/amd64");
                return ok(v);
            case "/api":
                ObjectNode versions = NODES.objectNode().put("kind", "APIVersions");
                versions.putArray("versions").add("v1");
                ObjectNode cidr = versions.putArray("serverAddressByClientCIDRs").addObject();
                cidr.put("clientCIDR", "0.0.0.0/0").put("serverAddress", hostOf(request));
                return ok(versions);
            case "/apis":
                ObjectNode groupList = NODES.objectNode().put("kind", "APIGroupList").put("apiVersion", "v1");
                ArrayNode groups = groupList.putArray("groups");
                for (Map.Entry<String, List<String>> g : groupVersions(resourceTypes()).entrySet()) {
                    if (!g.getKey().isEmpty()) {
                        groups.add(apiGroup(g.getKey(), g.getValue()));
                    }
                }
                return ok(groupList);
            case "/openapi/v3":
                return ok(openApiIndex());
            case "/openapi/v2":
                // v2 is protobuf-only in kubectl's eyes; without it kubectl falls back to its compiled-in schemas
                return notFoundPath();
            default:
                break;
        }
        if (path.equals("/api/v1")) {
            return ok(resourceList("", "v1"));
        }
        if (path.startsWith("/openapi/v3/apis/") || path.startsWith("/openapi/v3/api/")) {
            String[] gv = path.substring("/openapi/v3/".length()).split("/");
            ObjectNode doc = null;
            if (gv.length == 2 && gv[0].equals("api")) {
                doc = openApiDocument("", gv[1]);
            } else if (gv.length == 3 && gv[0].equals("apis")) {
                doc = openApiDocument(gv[1], gv[2]);
            }
            return doc == null ? notFoundPath() : ok(doc);
        }
        if (path.startsWith("/apis/")) {
            String[] parts = path.substring("/apis/".length()).split("/");
            if (parts.length == 1) {
                List<String> vs = groupVersions(resourceTypes()).get(parts[0]);
                return vs == null ? notFoundPath()
                        : ok(apiGroup(parts[0], vs).put("kind", "APIGroup").put("apiVersion", "v1"));
            }
            if (parts.length == 2) {
                ObjectNode list = resourceList(parts[0], parts[1]);
                return list == null ? notFoundPath() : ok(list);
            }
        }
        return null;
    }

    private static String hostOf(RecordedRequest request) {
        String host = request.getHeader("Host");
        return host == null ? "127.0.0.1" : host;
    }

    /** group -> versions, in first-seen order (the preferred version first). */
    private static Map<String, List<String>> groupVersions(List<ResourceType> types) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (ResourceType t : types) {
            List<String> vs = out.computeIfAbsent(t.group, k -> new ArrayList<>());
            if (!vs.contains(t.version)) {
                if (t.crd != null && isStorageVersion(t)) {
                    vs.add(0, t.version);
                } else {
                    vs.add(t.version);
                }
            }
        }
        return out;
    }

    private static boolean isStorageVersion(ResourceType t) {
        for (JsonNode v : t.crd.path("spec").path("versions")) {
            if (v.path("name").asText().equals(t.version)) {
                return v.path("storage").asBoolean(false);
            }
        }
        return false;
    }

    private static ObjectNode apiGroup(String group, List<String> versions) {
        ObjectNode g = NODES.objectNode().put("name", group);
        ArrayNode vs = g.putArray("versions");
        for (String v : versions) {
            vs.addObject().put("groupVersion", group + "/" + v).put("version", v);
        }
        g.putObject("preferredVersion").put("groupVersion", group + "/" + versions.get(0))
                .put("version", versions.get(0));
        return g;
    }

    private ObjectNode resourceList(String group, String version) {
        List<ResourceType> types = new ArrayList<>();
        for (ResourceType t : resourceTypes()) {
            if (t.group.equals(group) && t.version.equals(version)) {
                types.add(t);
            }
        }
        if (types.isEmpty()) {
            return null;
        }
        ObjectNode list = NODES.objectNode().put("kind", "APIResourceList").put("apiVersion", "v1")
                .put("groupVersion", group.isEmpty() ? version : group + "/" + version);
        ArrayNode resources = list.putArray("resources");
        for (ResourceType t : types) {
            ObjectNode r = resources.addObject().put("name", t.plural).put("singularName", t.singular)
                    .put("namespaced", t.namespaced).put("kind", t.kind);
            strings(r.putArray("verbs"), ALL_VERBS);
            if (!t.shortNames.isEmpty()) {
                strings(r.putArray("shortNames"), t.shortNames);
            }
            if (!t.categories.isEmpty()) {
                strings(r.putArray("categories"), t.categories);
            }
            for (String sub : t.subresources) {
                ObjectNode s = resources.addObject().put("name", t.plural + "/" + sub).put("singularName", "")
                        .put("namespaced", t.namespaced).put("kind", t.kind);
                List<String> verbs = switch (sub) {
                    case "log" -> List.of("get");
                    case "exec" -> List.of("create", "get");
                    default -> List.of("get", "patch", "update");
                };
                strings(s.putArray("verbs"), verbs);
                if (sub.equals("scale")) {
                    s.put("group", "autoscaling").put("version", "v1").put("kind", "Scale");
                }
            }
        }
        return list;
    }

    private static MockResponse notFoundPath() {
        return status(404, "NotFound", "the server could not find the requested resource", null);
    }

    // ------------------------------------------------------------------ OpenAPI v3

    private ObjectNode openApiIndex() {
        ObjectNode index = NODES.objectNode();
        ObjectNode paths = index.putObject("paths");
        Set<String> seen = new LinkedHashSet<>();
        for (ResourceType t : resourceTypes()) {
            String gv = t.group.isEmpty() ? "api/" + t.version : "apis/" + t.group + "/" + t.version;
            if (seen.add(gv)) {
                ObjectNode doc = openApiDocument(t.group, t.version);
                String hash = Integer.toHexString(Objects.hashCode(doc == null ? "" : doc.toString()));
                paths.putObject(gv).put("serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash);
            }
        }
        return index;
    }

    /**
     * The OpenAPI v3 document of one group-version: for custom resources each kind's CRD schema (plus apiVersion,
     * kind, metadata) under components.schemas with x-kubernetes-group-version-kind; for every kind the resource
     * paths with a {@code fieldValidation} query parameter on PATCH, which is what kubectl's field-validation probe
     * looks for (so kubectl leaves validation to the server and never asks for the protobuf-only OpenAPI v2). The
     * PATCH operations declare no request body, so {@code kubectl apply} computes strategic merge patches for
     * built-in kinds from its compiled-in types.
     */
    private ObjectNode openApiDocument(String group, String version) {
        List<ResourceType> types = new ArrayList<>();
        for (ResourceType t : resourceTypes()) {
            if (t.group.equals(group) && t.version.equals(version)) {
                types.add(t);
            }
        }
        if (types.isEmpty()) {
            return null;
        }
        ObjectNode doc = NODES.objectNode().put("openapi", "3.0.0");
        doc.putObject("info").put("title", "Kubernetes CRD Swagger").put("version", "v0.1.0");
        ObjectNode paths = doc.putObject("paths");
        ObjectNode schemas = doc.putObject("components").putObject("schemas");
        String reversedGroup = reverseDomain(group);
        for (ResourceType t : types) {
            ObjectNode gvk = NODES.objectNode().put("group", group).put("kind", t.kind).put("version", version);
            String base = (group.isEmpty() ? "/api/" : "/apis/" + group + "/") + version
                    + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
            if (t.crd == null) {
                paths.putObject(base + "/{name}").set("patch", operation("patch", t, gvk, null));
                continue;
            }
            String schemaName = reversedGroup + "." + version + "." + t.kind;
            JsonNode crdVersion = t.crdVersion();
            ObjectNode schema = crdVersion.path("schema").path("openAPIV3Schema").isObject()
                    ? ((ObjectNode) crdVersion.path("schema").path("openAPIV3Schema")).deepCopy()
                    : NODES.objectNode().put("type", "object");
            ObjectNode props = schema.has("properties") ? (ObjectNode) schema.get("properties")
                    : schema.putObject("properties");
            ObjectNode withMeta = NODES.objectNode();
            withMeta.putObject("apiVersion").put("type", "string").put("description", "APIVersion defines the "
                    + "versioned schema of this representation of an object.");
            withMeta.putObject("kind").put("type", "string").put("description", "Kind is a string value "
                    + "representing the REST resource this object represents.");
            withMeta.putObject("metadata").put("type", "object").put("description", "Standard object's metadata. "
                    + "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
            props.properties().forEach(e -> {
                if (!withMeta.has(e.getKey())) {
                    withMeta.set(e.getKey(), e.getValue());
                }
            });
            schema.set("properties", withMeta);
            schema.putArray("x-kubernetes-group-version-kind").add(gvk);
            schemas.set(schemaName, schema);

            String ref = "#/components/schemas/" + schemaName;
            ObjectNode collection = paths.putObject(base);
            collection.set("get", operation("list", t, gvk, ref));
            collection.set("post", operation("post", t, gvk, ref));
            ObjectNode item = paths.putObject(base + "/{name}");
            item.set("get", operation("get", t, gvk, ref));
            item.set("put", operation("put", t, gvk, ref));
            item.set("patch", operation("patch", t, gvk, ref));
            item.set("delete", operation("delete", t, gvk, null));
            if (t.subresources.contains("status")) {
                ObjectNode status = paths.putObject(base + "/{name}/status");
                status.set("get", operation("get", t, gvk, ref));
                status.set("put", operation("put", t, gvk, ref));
                status.set("patch", operation("patch", t, gvk, ref));
            }
        }
        return doc;
    }

    private static ObjectNode operation(String action, ResourceType t, ObjectNode gvk, String ref) {
        ObjectNode op = NODES.objectNode().put("operationId", action + t.kind);
        ArrayNode params = op.putArray("parameters");
        if (action.equals("post") || action.equals("put") || action.equals("patch")) {
            for (String p : List.of("dryRun", "fieldManager", "fieldValidation")) {
                params.addObject().put("name", p).put("in", "query").put("description", p)
                        .putObject("schema").put("type", "string").put("uniqueItems", true);
            }
        }
        ObjectNode ok = op.putObject("responses").putObject("200").put("description", "OK");
        if (ref != null) {
            ok.putObject("content").putObject("application/json").putObject("schema").put("$ref", ref);
        }
        op.put("x-kubernetes-action", action);
        op.set("x-kubernetes-group-version-kind", gvk.deepCopy());
        return op;
    }

    private static String reverseDomain(String group) {
        String[] parts = group.split("\\.");
        StringBuilder b = new StringBuilder();
        for (int i = parts.length - 1; i >= 0; i--) {
            b.append(parts[i]);
            if (i > 0) {
                b.append('.');
            }
        }
        return b.toString();
    }


    // ------------------------------------------------------------------ GET

    private MockResponse get(RecordedRequest request, ResourcePath rp, ResourceType type, Map<String, String> query) {
        boolean table = wantsTable(request.getHeader("Accept"));
        if (rp.name != null) {
            MockResponse r = finish(delegate.dispatch(request), rp, type);
            if (r.code() == 404 && rp.group.isEmpty() && rp.plural.equals("namespaces") && rp.subresource == null) {
                r = ok(implicitNamespace(rp.name)); // as if every namespace existed (the mock needs none)
            }
            if (r.code() != 200 || type == null || rp.subresource != null || r.getBody() == null) {
                return r;
            }
            JsonNode obj = withoutNullStatus(readTree(r.getBody().readUtf8()));
            if (!table) {
                return ok(obj);
            }
            ArrayNode items = NODES.arrayNode().add(obj);
            return ok(KubectlTables.table(type, items, obj.path("metadata").path("resourceVersion").asText(""), query));
        }
        List<String[]> selector = parseFieldSelector(query.get("fieldSelector"));
        String forward = rebuildPath(rp.rawPath, query, k -> !k.equals("fieldSelector"));
        MockResponse r = delegate.dispatch(new RecordedRequest(request.getHttpVersion(), request.method(), forward,
                request.getHeaders(), new Buffer()));
        if (r == null) {
            return notFoundPath();
        }
        if (r.code() != 200 || r.getBody() == null) {
            return finish(r, rp, type);
        }
        if (type == null) { // unknown type: leave the body alone
            return jsonContentType(r.setBody(r.getBody().readUtf8()));
        }
        JsonNode body = readTree(r.getBody().readUtf8());
        if (!body.isObject() || !body.has("items")) {
            return jsonContentType(r.setBody(body.toString()));
        }
        ObjectNode list = (ObjectNode) body;
        ArrayNode kept = NODES.arrayNode();
        for (JsonNode item : list.path("items")) {
            if (matches(item, selector)) {
                kept.add(withoutNullStatus(item));
            }
        }
        if (rp.group.isEmpty() && rp.plural.equals("namespaces")) {
            addImplicitNamespaces(kept, selector);
        }
        list.set("items", kept);
        if ("List".equals(list.path("kind").asText())) {
            list.put("kind", type.kind + "List").put("apiVersion", type.groupVersion());
        }
        if (table) {
            return ok(KubectlTables.table(type, kept, list.path("metadata").path("resourceVersion").asText(""), query));
        }
        return ok(list);
    }

    /** A Namespace for a name the mock has no object for: the mock never requires namespaces to exist. */
    private static ObjectNode implicitNamespace(String name) {
        ObjectNode ns = NODES.objectNode().put("apiVersion", "v1").put("kind", "Namespace");
        ns.putObject("metadata").put("name", name).put("creationTimestamp", STARTED.toString())
                .putObject("labels").put("kubernetes.io/metadata.name", name);
        ns.putObject("spec").putArray("finalizers").add("kubernetes");
        ns.putObject("status").put("phase", "Active");
        return ns;
    }

    private static final Instant STARTED = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    /** Adds "default" and every namespace some stored object is in, unless a Namespace of that name is stored. */
    private void addImplicitNamespaces(ArrayNode namespaces, List<String[]> selector) {
        Set<String> names = new TreeSet<>();
        names.add("default");
        Set<String> listed = new LinkedHashSet<>();
        for (ResourceType t : resourceTypes()) {
            if (!t.namespaced || !listed.add(t.group + "/" + t.plural)) {
                continue;
            }
            String path = (t.group.isEmpty() ? "/api/" : "/apis/" + t.group + "/") + t.version + "/" + t.plural;
            MockResponse r = delegate.dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.GET, path,
                    Headers.builder().build(), new Buffer()));
            if (r != null && r.code() == 200 && r.getBody() != null) {
                for (JsonNode item : readTree(r.getBody().readUtf8()).path("items")) {
                    String ns = item.path("metadata").path("namespace").asText("");
                    if (!ns.isEmpty()) {
                        names.add(ns);
                    }
                }
            }
        }
        for (JsonNode n : namespaces) {
            names.remove(n.path("metadata").path("name").asText());
        }
        for (String name : names) {
            ObjectNode ns = implicitNamespace(name);
            if (matches(ns, selector)) {
                namespaces.add(ns);
            }
        }
    }

    /** The mock stores {@code status: null} after a patch of a resource with a status subresource but no status yet. */
    private static JsonNode withoutNullStatus(JsonNode obj) {
        if (obj.isObject() && obj.has("status") && obj.get("status").isNull()) {
            ((ObjectNode) obj).remove("status");
        }
        return obj;
    }

    private static boolean wantsTable(String accept) {
        if (accept == null) {
            return false;
        }
        String first = accept.split(",")[0];
        return first.contains("as=Table") && first.contains("g=meta.k8s.io");
    }

    // ------------------------------------------------------------------ field selectors

    /** Terms of a field selector as {key, op, value}; op is "=" or "!=". */
    static List<String[]> parseFieldSelector(String selector) {
        List<String[]> terms = new ArrayList<>();
        if (selector == null || selector.isBlank()) {
            return terms;
        }
        for (String term : splitUnescaped(selector, ',')) {
            term = term.trim();
            if (term.isEmpty()) {
                continue;
            }
            int ne = term.indexOf("!=");
            int eq = term.indexOf('=');
            if (ne >= 0 && ne < eq) {
                terms.add(new String[] {term.substring(0, ne).trim(), "!=", unescape(term.substring(ne + 2).trim())});
            } else if (eq >= 0) {
                int valueStart = term.startsWith("==", eq) ? eq + 2 : eq + 1;
                terms.add(new String[] {term.substring(0, eq).trim(), "=",
                        unescape(term.substring(valueStart).trim())});
            } else {
                throw new IllegalArgumentException("invalid field selector term: " + term);
            }
        }
        return terms;
    }

    private static List<String> splitUnescaped(String s, char sep) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                cur.append(c).append(s.charAt(++i));
            } else if (c == sep) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    private static String unescape(String s) {
        return s.replaceAll("\\\\(.)", "$1");
    }

    private static boolean matches(JsonNode item, List<String[]> selector) {
        for (String[] term : selector) {
            JsonNode n = item;
            for (String part : term[0].split("\\.")) {
                n = n.path(part);
            }
            String actual = n.isValueNode() ? n.asText() : "";
            boolean equal = actual.equals(term[2]);
            if (term[1].equals("=") != equal) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ subresources, dry run

    private static MockResponse unsupportedSubresource(ResourcePath rp) {
        switch (rp.subresource) {
            case "log":
                return status(400, "BadRequest", "the mock API server runs no containers: there are no logs of pod "
                        + rp.name, null);
            case "exec":
            case "attach":
            case "portforward":
                return status(400, "BadRequest", "kubectl " + rp.subresource + " needs the v5.channel.k8s.io websocket "
                        + "protocol (or SPDY), which the fabric8 mock does not offer; the fabric8 client's exec works "
                        + "(ExecDispatcher)", null);
            default:
                return notFoundPath();
        }
    }

    /** kubectl delete --dry-run=server sends the dry run in the DeleteOptions body, not in the query. */
    private static boolean deleteDryRun(RecordedRequest request) {
        if (request.method() != HttpMethod.DELETE || request.getBody() == null || request.getBody().size() == 0) {
            return false;
        }
        // getBytes() does not consume the buffer: the delegate can still read it
        JsonNode options = readTree(new String(request.getBody().getBytes(), StandardCharsets.UTF_8));
        return options.path("dryRun").isArray() && options.path("dryRun").size() > 0;
    }

    /**
     * dryRun=All on POST, PUT, DELETE (kubectl apply/create/delete --dry-run=server, kubectl diff): nothing is stored.
     */
    private MockResponse dryRun(RecordedRequest request, ResourcePath rp, ResourceType type) {
        if (request.method() == HttpMethod.DELETE) {
            return finish(getObject(rp, rp.rawPath), rp, type);
        }
        JsonNode body = readTree(request.getBody().readUtf8());
        if (!body.isObject() || !body.path("metadata").isObject()) {
            return status(422, "Invalid", "the object has no metadata", null);
        }
        ObjectNode obj = (ObjectNode) body;
        ObjectNode meta = (ObjectNode) obj.get("metadata");
        if (request.method() == HttpMethod.POST) {
            String name = meta.path("name").asText("");
            if (name.isEmpty()) {
                name = meta.path("generateName").asText("") + UUID.randomUUID().toString().substring(0, 5);
                meta.put("name", name);
            }
            MockResponse existing = getObject(rp, rp.rawPath + "/" + name);
            if (existing != null && existing.code() == 200) {
                ObjectNode details = NODES.objectNode().put("name", name).put("group", rp.group).put("kind", rp.plural);
                return status(409, "AlreadyExists", (type != null ? type.qualifiedName() : rp.plural) + " \"" + name
                        + "\" already exists", details);
            }
            if (rp.namespace != null) {
                meta.put("namespace", rp.namespace);
            }
            meta.put("uid", UUID.randomUUID().toString())
                    .put("creationTimestamp", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
                    .put("generation", 1);
            if (type != null && type.subresources.contains("status")) {
                obj.remove("status");
            }
            return ok(obj).setResponseCode(201);
        }
        MockResponse current = getObject(rp, objectPath(rp));
        if (current == null || current.code() != 200) {
            return finish(current, rp, type);
        }
        return ok(withStatusRules(readTree(current.getBody().readUtf8()), obj, rp, type));
    }

    private MockResponse getObject(ResourcePath rp, String path) {
        return delegate.dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.GET, path, Headers.builder().build(),
                new Buffer()));
    }

    private static String objectPath(ResourcePath rp) {
        return rp.subresource == null ? rp.rawPath : rp.rawPath.substring(0, rp.rawPath.lastIndexOf('/'));
    }

    /** What a write of {@code after} leaves when the type has a status subresource: status only via /status. */
    private static JsonNode withStatusRules(JsonNode before, JsonNode after, ResourcePath rp, ResourceType type) {
        if ("status".equals(rp.subresource)) {
            ObjectNode result = before.deepCopy();
            if (after.has("status")) {
                result.set("status", after.get("status"));
            } else {
                result.remove("status");
            }
            return result;
        }
        if (type != null && type.subresources.contains("status") && after.isObject()) {
            ObjectNode result = after.deepCopy();
            if (before.has("status")) {
                result.set("status", before.get("status"));
            } else {
                result.remove("status");
            }
            return result;
        }
        return after;
    }

    // ------------------------------------------------------------------ PATCH

    private MockResponse patch(RecordedRequest request, ResourcePath rp, ResourceType type, Map<String, String> query) {
        String contentType = request.getHeader("Content-Type");
        String subtype = contentType == null ? "" : contentType.split(";")[0].trim().toLowerCase(Locale.ROOT);
        boolean strategic = subtype.equals("application/strategic-merge-patch+json");
        boolean merge = subtype.equals("application/merge-patch+json");
        boolean json = subtype.equals("application/json-patch+json");
        boolean dryRun = query.containsKey("dryRun");
        String forwardPath = rebuildPath(rp.rawPath, query, k -> k.equals("labelSelector"));
        if (subtype.equals("application/apply-patch+yaml") || subtype.equals("application/apply-patch+cbor")) {
            return status(415, "UnsupportedMediaType", "server-side apply is not supported by the mock API server: "
                    + "use client-side kubectl apply (without --server-side)", null);
        }
        if (strategic && type != null && type.crd != null) {
            return status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                    + "media types include: application/json-patch+json, application/merge-patch+json, "
                    + "application/apply-patch+yaml", null);
        }
        if (!strategic && !merge && !json) {
            return write(() -> finish(delegate.dispatch(new RecordedRequest(request.getHttpVersion(), HttpMethod.PATCH,
                    forwardPath, request.getHeaders(), request.getBody())), rp, type));
        }
        JsonNode patch = readTree(request.getBody().readUtf8());
        if (json && !dryRun) { // the mock's own JSON patch, unchanged
            return write(() -> finish(delegate.dispatch(new RecordedRequest(request.getHttpVersion(), HttpMethod.PATCH,
                    forwardPath, request.getHeaders(), new Buffer(patch.toString().getBytes(StandardCharsets.UTF_8)))),
                    rp, type));
        }
        if (!json && !patch.isObject()) {
            return status(400, "BadRequest", "a merge patch must be a JSON object", null);
        }
        return write(() -> {
            MockResponse current = getObject(rp, objectPath(rp));
            if (current == null || current.code() != 200) {
                return finish(current == null ? new MockResponse().setResponseCode(404) : current, rp, type);
            }
            JsonNode before = readTree(current.getBody().readUtf8());
            JsonNode after;
            try {
                after = json ? JsonPatch.apply(patch, before.deepCopy())
                        : strategic ? MergePatches.strategic(before.deepCopy(), (ObjectNode) patch)
                        : MergePatches.merge(before.deepCopy(), patch);
            } catch (RuntimeException e) {
                return status(422, "Invalid", "the patch cannot be applied: " + e.getMessage(), null);
            }
            if (dryRun) {
                return ok(withStatusRules(before, after, rp, type));
            }
            // Replace each changed top-level field: the mock's JSON-patch path keeps its own checks (name,
            // namespace, resourceVersion conflict, status subresource, generation, watch events).
            ArrayNode ops = NODES.arrayNode();
            Set<String> keys = new LinkedHashSet<>();
            before.fieldNames().forEachRemaining(keys::add);
            after.fieldNames().forEachRemaining(keys::add);
            for (String k : keys) {
                if (!after.has(k)) {
                    ops.addObject().put("op", "remove").put("path", "/" + k);
                } else if (!after.get(k).equals(before.get(k))) {
                    ops.addObject().put("op", "add").put("path", "/" + k).set("value", after.get(k));
                }
            }
            Headers headers = request.getHeaders().newBuilder()
                    .set("Content-Type", "application/json-patch+json").build();
            return finish(delegate.dispatch(new RecordedRequest(request.getHttpVersion(), HttpMethod.PATCH, forwardPath,
                    headers, new Buffer(ops.toString().getBytes(StandardCharsets.UTF_8)))), rp, type);
        });
    }

    // ------------------------------------------------------------------ responses

    private interface Write {
        MockResponse run();
    }

    private MockResponse write(Write w) {
        writeLock.lock();
        try {
            return w.run();
        } finally {
            writeLock.unlock();
        }
    }

    /** JSON content type on every answer; a body-less 404 on a named object becomes a NotFound Status. */
    private static MockResponse finish(MockResponse r, ResourcePath rp, ResourceType type) {
        if (r == null) {
            return notFoundPath();
        }
        boolean empty = r.getBody() == null || r.getBody().size() == 0;
        if (r.code() == 404 && empty) {
            if (rp.name != null) {
                String what = type != null ? type.qualifiedName() : rp.plural;
                ObjectNode details = NODES.objectNode().put("name", rp.name).put("group", rp.group)
                        .put("kind", rp.plural);
                return status(404, "NotFound", what + " \"" + rp.name + "\" not found", details);
            }
            return notFoundPath();
        }
        return jsonContentType(r);
    }

    private static MockResponse jsonContentType(MockResponse r) {
        if (r != null && r.getWebSocketListener() == null && r.header("Content-Type") == null) {
            r.setHeader("Content-Type", "application/json");
        }
        return r;
    }

    private static MockResponse ok(JsonNode body) {
        return new MockResponse().setResponseCode(200).setHeader("Content-Type", "application/json")
                .setBody(body.toString());
    }

    private static MockResponse status(int code, String reason, String message, ObjectNode details) {
        ObjectNode s = NODES.objectNode().put("kind", "Status").put("apiVersion", "v1");
        s.putObject("metadata");
        s.put("status", "Failure").put("message", message).put("reason", reason);
        if (details != null) {
            s.set("details", details);
        }
        s.put("code", code);
        return new MockResponse().setResponseCode(code).setHeader("Content-Type", "application/json")
                .setBody(s.toString());
    }

    // ------------------------------------------------------------------ paths and JSON

    /** /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] or /apis/G/V[/namespaces/NS]/PLURAL[/NAME[/SUB]]. */
    private record ResourcePath(String rawPath, String group, String version, String namespace, String plural,
                                String name, String subresource) {

        static ResourcePath parse(String rawPath) {
            String[] s = rawPath.split("/");
            // s[0] is "" (leading slash)
            int i;
            String group;
            String version;
            if (s.length >= 4 && s[1].equals("api")) {
                group = "";
                version = s[2];
                i = 3;
            } else if (s.length >= 5 && s[1].equals("apis")) {
                group = s[2];
                version = s[3];
                i = 4;
            } else {
                return null;
            }
            String ns = null;
            boolean namespaceSubresource = group.isEmpty() && s.length - i == 3 && s[i].equals("namespaces")
                    && (s[i + 2].equals("status") || s[i + 2].equals("finalize"));
            if (s.length - i >= 3 && s[i].equals("namespaces") && !namespaceSubresource) {
                ns = decode(s[i + 1]);
                i += 2;
            }
            String plural = s[i];
            String name = s.length > i + 1 ? decode(s[i + 1]) : null;
            String sub = s.length > i + 2 ? s[i + 2] : null;
            if (s.length > i + 3) {
                return null;
            }
            return new ResourcePath(rawPath, group, version, ns, plural, name, sub);
        }
    }

    private static Map<String, String> parseQuery(String q) {
        Map<String, String> out = new LinkedHashMap<>();
        if (q == null || q.isEmpty()) {
            return out;
        }
        for (String pair : q.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            out.put(decode(eq < 0 ? pair : pair.substring(0, eq)), eq < 0 ? "" : decode(pair.substring(eq + 1)));
        }
        return out;
    }

    private static String rebuildPath(String path, Map<String, String> query, Predicate<String> keep) {
        StringBuilder b = new StringBuilder(path);
        char sep = '?';
        for (Map.Entry<String, String> e : query.entrySet()) {
            if (!keep.test(e.getKey())) {
                continue;
            }
            b.append(sep).append(URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8)).append('=')
                    .append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
            sep = '&';
        }
        return b.toString();
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    private static JsonNode readTree(String s) {
        try {
            return s == null || s.isEmpty() ? NODES.objectNode() : JSON.readTree(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("not JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) {
            out.add(n.asText());
        }
        return out;
    }

    private static void strings(ArrayNode a, List<String> values) {
        values.forEach(a::add);
    }
}
