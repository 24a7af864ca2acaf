package io.dbrollback.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.testing.KubectlDispatcher.ResourceType;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The meta.k8s.io/v1 Tables {@link KubectlDispatcher} answers when kubectl asks for {@code as=Table}: a custom
 * resource's columns are its CRD version's additionalPrinterColumns (after NAME), evaluated with
 * {@link JsonPathLite}; pods, core Events, Leases and Namespaces get the columns kubectl shows for them on a real
 * cluster; any other kind NAME and AGE. Ages are rendered here ("5m"), as the real API server does.
 */
final class KubectlTables {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final String NAME_DESCRIPTION = "Name must be unique within a namespace. Is required when creating "
            + "resources, although some resources may allow a client to request the generation of an appropriate name "
            + "automatically. Name is primarily intended for creation idempotence and configuration "
            + "definition. Cannot be "
            + "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

    private KubectlTables() {
    }

    private record Column(String name, String type, String format, String description, int priority, String jsonPath) {
    }

    static ObjectNode table(ResourceType type, ArrayNode items, String resourceVersion, Map<String, String> query) {
        List<Column> columns = columns(type);
        ObjectNode t = NODES.objectNode().put("kind", "Table").put("apiVersion", "meta.k8s.io/v1");
        t.putObject("metadata").put("resourceVersion", resourceVersion);
        ArrayNode defs = t.putArray("columnDefinitions");
        for (Column c : columns) {
            defs.addObject().put("name", c.name).put("type", c.type).put("format", c.format)
                    .put("description", c.description).put("priority", c.priority);
        }
        ArrayNode rows = t.putArray("rows");
        String include = query.getOrDefault("includeObject", "Metadata");
        Instant now = Instant.now();
        for (JsonNode item : items) {
            ObjectNode row = rows.addObject();
            ArrayNode cells = row.putArray("cells");
            for (Column c : columns) {
                cells.add(cell(type, c, item, now));
            }
            if (include.equals("Object")) {
                row.set("object", item);
            } else if (!include.equals("None")) {
                ObjectNode partial = row.putObject("object").put("kind", "PartialObjectMetadata")
                        .put("apiVersion", "meta.k8s.io/v1");
                partial.set("metadata", item.path("metadata"));
            }
        }
        return t;
    }

    private static Column column(String name, String type, String format, int priority, String jsonPath,
            String description) {
        return new Column(name, type, format, description, priority, jsonPath);
    }

    private static final String AGE_DESCRIPTION =
            "CreationTimestamp is a timestamp representing the server time when this object was created.";

    private static List<Column> columns(ResourceType type) {
        List<Column> cols = new ArrayList<>();
        cols.add(column("Name", "string", "name", 0, ".metadata.name", NAME_DESCRIPTION));
        if (type.crd() != null) {
            JsonNode defs = type.crdVersion().path("additionalPrinterColumns");
            if (defs.isArray() && defs.size() > 0) {
                for (JsonNode d : defs) {
                    cols.add(column(d.path("name").asText(), d.path("type").asText("string"),
                            d.path("format").asText(""),
                            d.path("priority").asInt(0), d.path("jsonPath").asText(),
                            d.path("description").asText("")));
                }
            } else {
                cols.add(column("Age", "date", "", 0, ".metadata.creationTimestamp", AGE_DESCRIPTION));
            }
            return cols;
        }
        switch (type.groupVersion() + "/" + type.plural()) {
            case "v1/pods":
                cols.add(column("Ready", "string", "", 0, "#ready",
                        "The aggregate readiness state of this pod for accepting traffic."));
                cols.add(column("Status", "string", "", 0, "#podStatus",
                        "The aggregate status of the containers in this pod."));
                cols.add(column("Restarts", "string", "", 0, "#restarts",
                        "The number of times the containers in this pod have been restarted."));
                cols.add(column("Age", "string", "", 0, "#age:.metadata.creationTimestamp", AGE_DESCRIPTION));
                cols.add(column("IP", "string", "", 1, "#orNone:.status.podIP", "IP address allocated to the pod."));
                cols.add(column("Node", "string", "", 1, "#orNone:.spec.nodeName",
                        "Name of the Node the Pod is scheduled on."));
                break;
            case "v1/events":
            case "events.k8s.io/v1/events":
                cols.clear();
                cols.add(column("Last Seen", "string", "", 0, "#lastSeen", "Time when last event occurred."));
                cols.add(column("Type", "string", "", 0, ".type", "Type of this event."));
                cols.add(column("Reason", "string", "", 0, ".reason", "Reason is why the action was taken."));
                cols.add(column("Object", "string", "", 0, "#object", "The object this Event is about."));
                cols.add(column("Message", "string", "", 0, "#message",
                        "A human-readable description of the status of this operation."));
                cols.add(column("Source", "string", "", 1, "#source", "The component reporting this event."));
                cols.add(column("Count", "string", "", 1, "#count", "The number of times this event has occurred."));
                cols.add(column("Name", "string", "name", 1, ".metadata.name", NAME_DESCRIPTION));
                break;
            case "v1/namespaces":
                cols.add(column("Status", "string", "", 0, ".status.phase", "The status of the namespace"));
                cols.add(column("Age", "string", "", 0, "#age:.metadata.creationTimestamp", AGE_DESCRIPTION));
                break;
            case "coordination.k8s.io/v1/leases":
                cols.add(column("Holder", "string", "", 0, ".spec.holderIdentity", "The holder of the lease."));
                cols.add(column("Age", "string", "", 0, "#age:.metadata.creationTimestamp", AGE_DESCRIPTION));
                break;
            default:
                cols.add(column("Age", "string", "", 0, "#age:.metadata.creationTimestamp", AGE_DESCRIPTION));
                break;
        }
        return cols;
    }

    private static JsonNode cell(ResourceType type, Column c, JsonNode item, Instant now) {
        if (c.jsonPath.startsWith("#")) {
            return NODES.textNode(computedCell(c.jsonPath, item, now));
        }
        JsonNode v = JsonPathLite.first(item, c.jsonPath);
        if (v == null || v.isNull() || v.isMissingNode()) {
            return NODES.nullNode();
        }
        switch (c.type) {
            case "integer":
                return v.isNumber() ? NODES.numberNode(v.asLong()) : NODES.nullNode();
            case "number":
                return v.isNumber() ? NODES.numberNode(v.asDouble()) : NODES.nullNode();
            case "boolean":
                return v.isBoolean() ? v : NODES.nullNode();
            case "date":
                // as the real API server does for CRD date columns: kubectl prints the cell as it comes
                return v.isTextual() ? NODES.textNode(age(v.asText(), now)) : NODES.nullNode();
            default:
                return NODES.textNode(v.isValueNode() ? v.asText() : v.toString());
        }
    }

    private static String computedCell(String what, JsonNode item, Instant now) {
        JsonNode status = item.path("status");
        switch (what) {
            case "#ready": {
                int total = item.path("spec").path("containers").size();
                int ready = 0;
                for (JsonNode cs : status.path("containerStatuses")) {
                    if (cs.path("ready").asBoolean(false)) {
                        ready++;
                    }
                }
                return ready + "/" + total;
            }
            case "#podStatus": {
                if (item.path("metadata").hasNonNull("deletionTimestamp")) {
                    return "Terminating";
                }
                String reason = status.path("reason").asText("");
                return !reason.isEmpty() ? reason : status.path("phase").asText("");
            }
            case "#restarts": {
                long restarts = 0;
                for (JsonNode cs : status.path("containerStatuses")) {
                    restarts += cs.path("restartCount").asLong(0);
                }
                return Long.toString(restarts);
            }
            case "#lastSeen": {
                String ts = firstText(item, "lastTimestamp", "eventTime", "deprecatedLastTimestamp", "firstTimestamp");
                JsonNode series = item.path("series");
                if (series.hasNonNull("lastObservedTime")) {
                    ts = series.path("lastObservedTime").asText();
                }
                return age(ts, now);
            }
            case "#object": {
                JsonNode ref = item.has("involvedObject") ? item.path("involvedObject") : item.path("regarding");
                return ref.path("kind").asText("").toLowerCase(Locale.ROOT) + "/" + ref.path("name").asText("");
            }
            case "#message":
                return item.has("message") ? item.path("message").asText("").trim()
                        : item.path("note").asText("").trim();
            case "#source": {
                String component = item.path("source").path("component").asText("");
                if (component.isEmpty()) {
                    component = item.path("reportingController").asText(item.path("reportingComponent").asText(""));
                }
                String host = item.path("source").path("host").asText("");
                return host.isEmpty() ? component : component + ", " + host;
            }
            case "#count":
                return Long.toString(Math.max(1,
                        item.path("count").asLong(item.path("series").path("count").asLong(1))));
            default:
                if (what.startsWith("#orNone:")) {
                    JsonNode v = JsonPathLite.first(item, what.substring("#orNone:".length()));
                    return v == null || !v.isValueNode() || v.asText().isEmpty() ? "<none>" : v.asText();
                }
                if (what.startsWith("#age:")) {
                    JsonNode v = JsonPathLite.first(item, what.substring("#age:".length()));
                    return age(v == null ? null : v.asText(null), now);
                }
                return "";
        }
    }

    private static String firstText(JsonNode item, String... fields) {
        for (String f : fields) {
            if (item.hasNonNull(f) && !item.path(f).asText().isEmpty()) {
                return item.path(f).asText();
            }
        }
        return null;
    }

    /**
     * kubectl's age text for an RFC 3339 timestamp (k8s.io/apimachinery duration.HumanDuration); "&lt;unknown&gt;" if
     * none.
     */
    static String age(String timestamp, Instant now) {
        if (timestamp == null || timestamp.isEmpty()) {
            return "<unknown>";
        }
        Instant t;
        try {
            t = Instant.parse(timestamp);
        } catch (DateTimeParseException e) {
            try {
                t = OffsetDateTime.parse(timestamp).toInstant();
            } catch (DateTimeParseException e2) {
                return "<invalid>";
            }
        }
        return humanDuration(Duration.between(t, now));
    }

    /** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
    static String humanDuration(Duration d) {
        long seconds = d.getSeconds();
        if (seconds < -1) {
            return "<invalid>";
        } else if (seconds < 0) {
            return "0s";
        } else if (seconds < 60 * 2) {
            return seconds + "s";
        }
        long minutes = seconds / 60;
        if (minutes < 10) {
            long s = seconds % 60;
            return s == 0 ? minutes + "m" : minutes + "m" + s + "s";
        } else if (minutes < 60 * 3) {
            return minutes + "m";
        }
        long hours = minutes / 60;
        if (hours < 8) {
            long m = minutes % 60;
            return m == 0 ? hours + "h" : hours + "h" + m + "m";
        } else if (hours < 48) {
            return hours + "h";
        } else if (hours < 24 * 8) {
            long h = hours % 24;
            return h == 0 ? hours / 24 + "d" : hours / 24 + "d" + h + "h";
        } else if (hours < 24 * 365 * 2) {
            return hours / 24 + "d";
        } else if (hours < 24 * 365 * 8) {
            long dy = (hours / 24) % 365;
            return dy == 0 ? hours / 24 / 365 + "y" : hours / 24 / 365 + "y" + dy + "d";
        }
        return hours / 24 / 365 + "y";
    }
}
