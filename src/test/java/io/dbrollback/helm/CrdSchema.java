package io.dbrollback.helm;

import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Checks an object against a CRD version's openAPIV3Schema the way the API server's structural
 * schema does, for what a test can check without a server: unknown fields (which the server would
 * silently prune), types, required fields, enums, patterns, lengths, bounds and property counts.
 * CEL rules (x-kubernetes-validations) are not evaluated; the operator's SpecValidator repeats them.
 */
final class CrdSchema {

    private final Map<String, Object> schema;

    private CrdSchema(Map<String, Object> schema) {
        this.schema = schema;
    }

    /** The schema of the CRD file's version {@code version}. */
    @SuppressWarnings("unchecked")
    static CrdSchema load(Path crd, String version) {
        Map<String, Object> doc = Chart.read(crd);
        for (Object v : (List<Object>) Chart.at(doc, "spec.versions")) {
            Map<String, Object> ver = (Map<String, Object>) v;
            if (version.equals(ver.get("name"))) {
                return new CrdSchema((Map<String, Object>) Chart.at(ver, "schema.openAPIV3Schema"));
            }
        }
        throw new IllegalArgumentException("no version " + version + " in " + crd);
    }

    /** The problems of {@code object} (apiVersion, kind and metadata are the server's), empty when valid. */
    List<String> problems(Map<String, Object> object) {
        List<String> p = new ArrayList<>();
        Map<String, Object> rest = new LinkedHashMap<>(object);
        rest.remove("apiVersion");
        rest.remove("kind");
        rest.remove("metadata");
        check("", rest, schema, p);
        return p;
    }

    @SuppressWarnings("unchecked")
    private static void check(String path, Object value, Map<String, Object> s, List<String> p) {
        String where = path.isEmpty() ? "<root>" : path;
        if (value == null) {
            if (!Boolean.TRUE.equals(s.get("nullable"))) {
                p.add(where + ": null");
            }
            return;
        }
        String type = (String) s.get("type");
        if (type != null && !hasType(value, type)) {
            p.add(where + ": expected " + type + ", got " + value.getClass().getSimpleName());
            return;
        }
        if (s.containsKey("enum") && !((List<Object>) s.get("enum")).contains(value)) {
            p.add(where + ": " + value + " is not one of " + s.get("enum"));
        }
        if (value instanceof String str) {
            if (s.containsKey("pattern") && !Pattern.compile((String) s.get("pattern")).matcher(str).find()) {
                p.add(where + ": does not match " + s.get("pattern"));
            }
            bound(where, str.length(), s, "minLength", "maxLength", p);
        }
        if (value instanceof Number n) {
            bound(where, n.doubleValue(), s, "minimum", "maximum", p);
        }
        if (value instanceof Map<?, ?> map) {
            bound(where, map.size(), s, "minProperties", "maxProperties", p);
            Map<String, Object> props = (Map<String, Object>) s.get("properties");
            Object additional = s.get("additionalProperties");
            for (String req : (List<String>) s.getOrDefault("required", List.of())) {
                if (!map.containsKey(req)) {
                    p.add(where + ": missing required " + req);
                }
            }
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String key = String.valueOf(e.getKey());
                String child = path.isEmpty() ? key : path + "." + key;
                if (props != null && props.containsKey(key)) {
                    check(child, e.getValue(), (Map<String, Object>) props.get(key), p);
                } else if (additional instanceof Map) {
                    check(child, e.getValue(), (Map<String, Object>) additional, p);
                } else if (!Boolean.TRUE.equals(s.get("x-kubernetes-preserve-unknown-fields"))) {
                    p.add(child + ": unknown field (the API server would drop it)");
                }
            }
        }
        if (value instanceof List<?> list && s.get("items") instanceof Map) {
            for (int i = 0; i < list.size(); i++) {
                check(path + "[" + i + "]", list.get(i), (Map<String, Object>) s.get("items"), p);
            }
        }
    }

    private static boolean hasType(Object v, String type) {
        return switch (type) {
            case "object" -> v instanceof Map;
            case "array" -> v instanceof List;
            case "string" -> v instanceof String;
            case "boolean" -> v instanceof Boolean;
            case "integer" -> v instanceof Integer || v instanceof Long || v instanceof BigInteger;
            case "number" -> v instanceof Number;
            default -> true;
        };
    }

    private static void bound(String where, double actual, Map<String, Object> s, String min, String max,
            List<String> p) {
        if (s.get(min) instanceof Number n && actual < n.doubleValue()) {
            p.add(where + ": below " + min + " " + n);
        }
        if (s.get(max) instanceof Number n && actual > n.doubleValue()) {
            p.add(where + ": above " + max + " " + n);
        }
    }
}
