package io.dbrollback.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The merge patches {@link KubectlDispatcher} applies itself: JSON merge patch and an approximation of strategic merge
 * patch.
 */
final class MergePatches {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private MergePatches() {
    }

    /** RFC 7386 JSON merge patch. */
    static JsonNode merge(JsonNode target, JsonNode patch) {
        if (!patch.isObject()) {
            return patch;
        }
        ObjectNode t = target != null && target.isObject() ? (ObjectNode) target : NODES.objectNode();
        for (Map.Entry<String, JsonNode> e : patch.properties()) {
            if (e.getValue().isNull()) {
                t.remove(e.getKey());
            } else {
                t.set(e.getKey(), merge(t.get(e.getKey()), e.getValue()));
            }
        }
        return t;
    }

    /**
     * An approximation of strategic merge patch good enough for kubectl apply/edit/label on built-in kinds: a merge
     * patch in which lists of objects that all carry a {@code name} are merged by name ({@code $patch: delete}
     * removes an element, {@code $setElementOrder/<list>} orders the result), {@code $deleteFromPrimitiveList/<list>}
     * removes values, {@code $patch: replace} on an object replaces it, and {@code $retainKeys} is ignored.
     */
    static JsonNode strategic(JsonNode target, ObjectNode patch) {
        return StrategicMerge.apply(target, patch);
    }

    private static final class StrategicMerge {
        private StrategicMerge() {
        }

        static JsonNode apply(JsonNode target, ObjectNode patch) {
            if ("replace".equals(patch.path("$patch").asText())) {
                ObjectNode copy = patch.deepCopy();
                copy.remove("$patch");
                return strip(copy);
            }
            if ("delete".equals(patch.path("$patch").asText())) {
                return null;
            }
            ObjectNode t = target != null && target.isObject() ? (ObjectNode) target : NODES.objectNode();
            Map<String, JsonNode> order = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : patch.properties()) {
                String key = e.getKey();
                JsonNode value = e.getValue();
                if (key.startsWith("$setElementOrder/")) {
                    order.put(key.substring("$setElementOrder/".length()), value);
                } else if (key.startsWith("$deleteFromPrimitiveList/")) {
                    String list = key.substring("$deleteFromPrimitiveList/".length());
                    if (t.path(list).isArray()) {
                        ArrayNode kept = NODES.arrayNode();
                        for (JsonNode v : t.get(list)) {
                            boolean drop = false;
                            for (JsonNode d : value) {
                                drop |= d.equals(v);
                            }
                            if (!drop) {
                                kept.add(v);
                            }
                        }
                        t.set(list, kept);
                    }
                } else if (key.startsWith("$")) {
                    continue; // $retainKeys, $patch on a map handled above
                } else if (value.isNull()) {
                    t.remove(key);
                } else if (value.isObject()) {
                    JsonNode merged = apply(t.get(key), (ObjectNode) value);
                    if (merged == null) {
                        t.remove(key);
                    } else {
                        t.set(key, merged);
                    }
                } else if (value.isArray() && byName(value) && (t.get(key) == null || byName(t.get(key)))) {
                    t.set(key, mergeByName(t.get(key), (ArrayNode) value));
                } else {
                    t.set(key, strip(value.deepCopy()));
                }
            }
            for (Map.Entry<String, JsonNode> o : order.entrySet()) {
                if (t.path(o.getKey()).isArray() && byName(t.get(o.getKey()))) {
                    t.set(o.getKey(), reorder((ArrayNode) t.get(o.getKey()), o.getValue()));
                }
            }
            return t;
        }

        private static boolean byName(JsonNode array) {
            if (!array.isArray() || array.size() == 0) {
                return array.isArray();
            }
            for (JsonNode e : array) {
                if (!e.isObject() || !e.path("name").isTextual()) {
                    return false;
                }
            }
            return true;
        }

        private static ArrayNode mergeByName(JsonNode current, ArrayNode patch) {
            ArrayNode out = current == null ? NODES.arrayNode() : ((ArrayNode) current).deepCopy();
            for (JsonNode p : patch) {
                String name = p.path("name").asText();
                int at = -1;
                for (int k = 0; k < out.size(); k++) {
                    if (out.get(k).path("name").asText().equals(name)) {
                        at = k;
                    }
                }
                JsonNode merged = apply(at < 0 ? null : out.get(at), (ObjectNode) p);
                if (merged == null) {
                    if (at >= 0) {
                        out.remove(at);
                    }
                } else if (at < 0) {
                    out.add(merged);
                } else {
                    out.set(at, merged);
                }
            }
            return out;
        }

        private static ArrayNode reorder(ArrayNode list, JsonNode order) {
            ArrayNode out = NODES.arrayNode();
            List<JsonNode> rest = new ArrayList<>();
            list.forEach(rest::add);
            for (JsonNode o : order) {
                for (Iterator<JsonNode> r = rest.iterator(); r.hasNext(); ) {
                    JsonNode e = r.next();
                    if (e.path("name").asText().equals(o.path("name").asText())) {
                        out.add(e);
                        r.remove();
                    }
                }
            }
            rest.forEach(out::add);
            return out;
        }

        private static JsonNode strip(JsonNode n) {
            if (n.isObject()) {
                ObjectNode o = (ObjectNode) n;
                List<String> directives = new ArrayList<>();
                o.fieldNames().forEachRemaining(k -> {
                    if (k.startsWith("$")) {
                        directives.add(k);
                    }
                });
                o.remove(directives);
                o.forEach(StrategicMerge::strip);
            } else if (n.isArray()) {
                n.forEach(StrategicMerge::strip);
            }
            return n;
        }
    }
}
