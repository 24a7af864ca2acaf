package io.dbrollback.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * The subset of Kubernetes JSONPath that printer columns use: {@code .a.b}, {@code ['a.b']}, {@code [0]},
 * {@code [*]}, {@code [?(@.k=="v")]} (also {@code !=}, single quotes, a nested {@code @.a.b}); first match wins.
 */
final class JsonPathLite {
    private JsonPathLite() {
    }

    static JsonNode first(JsonNode root, String path) {
        List<JsonNode> r = all(root, path);
        return r.isEmpty() ? null : r.get(0);
    }

    static List<JsonNode> all(JsonNode root, String path) {
        String p = path.trim();
        if (p.startsWith("{") && p.endsWith("}")) {
            p = p.substring(1, p.length() - 1);
        }
        if (p.startsWith("$")) {
            p = p.substring(1);
        }
        List<JsonNode> cur = new ArrayList<>(List.of(root));
        int i = 0;
        while (i < p.length() && !cur.isEmpty()) {
            char c = p.charAt(i);
            List<JsonNode> next = new ArrayList<>();
            if (c == '.') {
                int j = i + 1;
                while (j < p.length() && p.charAt(j) != '.' && p.charAt(j) != '[') {
                    j++;
                }
                String key = p.substring(i + 1, j);
                for (JsonNode n : cur) {
                    if (key.equals("*")) {
                        n.elements().forEachRemaining(next::add);
                    } else if (n.has(key)) {
                        next.add(n.get(key));
                    }
                }
                i = j;
            } else if (c == '[') {
                int j = closing(p, i);
                String inner = p.substring(i + 1, j).trim();
                for (JsonNode n : cur) {
                    select(n, inner, next);
                }
                i = j + 1;
            } else {
                throw new IllegalArgumentException("unsupported JSONPath: " + path);
            }
            cur = next;
        }
        return cur;
    }

    private static int closing(String p, int open) {
        int depth = 0;
        char quote = 0;
        for (int k = open; k < p.length(); k++) {
            char c = p.charAt(k);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '[') {
                depth++;
            } else if (c == ']' && --depth == 0) {
                return k;
            }
        }
        throw new IllegalArgumentException("unbalanced [ in JSONPath: " + p);
    }

    private static void select(JsonNode n, String inner, List<JsonNode> out) {
        if (inner.equals("*")) {
            n.elements().forEachRemaining(out::add);
        } else if (inner.startsWith("'") || inner.startsWith("\"")) {
            String key = inner.substring(1, inner.length() - 1);
            if (n.has(key)) {
                out.add(n.get(key));
            }
        } else if (inner.startsWith("?(") && inner.endsWith(")")) {
            String expr = inner.substring(2, inner.length() - 1).trim();
            boolean not = expr.contains("!=");
            String[] sides = expr.split(not ? "!=" : "==", 2);
            if (sides.length != 2 || !sides[0].trim().startsWith("@")) {
                throw new IllegalArgumentException("unsupported JSONPath filter: " + inner);
            }
            String field = sides[0].trim().substring(1);
            String want = sides[1].trim().replaceAll("^['\"]|['\"]$", "");
            for (JsonNode e : n) {
                JsonNode v = first(e, field);
                boolean eq = v != null && v.isValueNode() && v.asText().equals(want);
                if (eq != not) {
                    out.add(e);
                }
            }
        } else {
            int idx = Integer.parseInt(inner);
            if (n.isArray()) {
                int k = idx < 0 ? n.size() + idx : idx;
                if (k >= 0 && k < n.size()) {
                    out.add(n.get(k));
                }
            }
        }
    }
}
