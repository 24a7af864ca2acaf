package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The chart README's values table documents every value of values.yaml (each leaf: a scalar, a list,
 * or an empty map), with its default, and nothing that values.yaml lacks; the chart README says that
 * Helm never upgrades CRDs.
 */
class ChartReadmeTest {

    static final Path README = Chart.DIR.resolve("README.md");
    static final Pattern ROW = Pattern.compile("^\\| `([^`]+)` \\| `([^`]*)` \\| (.+) \\|$");
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyValueIsDocumentedWithItsDefault() throws Exception {
        Map<String, String> values = new LinkedHashMap<>();
        leaves("", Chart.read(Chart.DIR.resolve("values.yaml")), values);
        Map<String, String> documented = new LinkedHashMap<>();
        for (String line : Files.readAllLines(README)) {
            Matcher m = ROW.matcher(line);
            if (m.matches()) {
                documented.put(m.group(1), m.group(2));
            }
        }
        assertEquals(values.keySet(), documented.keySet(), "the values table lists exactly the values of values.yaml");
        values.forEach((key, json) -> assertEquals(json, documented.get(key), "default of " + key));
    }

    @SuppressWarnings("unchecked")
    private static void leaves(String prefix, Map<String, Object> map, Map<String, String> out) throws Exception {
        for (Map.Entry<String, Object> e : map.entrySet()) {
            String key = prefix + e.getKey();
            if (e.getValue() instanceof Map<?, ?> m && !m.isEmpty()) {
                leaves(key + ".", (Map<String, Object>) m, out);
            } else {
                out.put(key, JSON.writeValueAsString(e.getValue()));
            }
        }
    }

    @Test
    void theReadmeExplainsCrdUpgrades() throws Exception {
        String readme = Files.readString(README);
        assertTrue(readme.contains("never upgrades or deletes\nCRDs")
                || readme.contains("never upgrades or deletes CRDs"),
                "README says Helm never upgrades CRDs");
        assertTrue(readme.contains("kubectl apply --server-side --force-conflicts -f helm/rollback-operator/crds/"));
    }
}
