package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every object the chart renders, in every mode, is made of fields the Kubernetes API knows: fabric8's
 * model keeps an unknown field (a misspelt key in a template, which the API server would reject or
 * drop) in additionalProperties, and none may be there. Only the ServiceMonitor, whose kind fabric8
 * does not model, is left generic.
 */
class ChartModelTest {

    static final Set<String> GENERIC_KINDS = Set.of("ServiceMonitor");

    static List<Chart.Mode> modes() {
        return Chart.modes();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void everyFieldIsKnownToTheApi(Chart.Mode mode) throws Exception {
        for (HasMetadata o : Chart.render(mode)) {
            String what = mode + " " + o.getKind() + " " + o.getMetadata().getName();
            if (o instanceof GenericKubernetesResource) {
                assertTrue(GENERIC_KINDS.contains(o.getKind()), what + " is not a kind fabric8 knows");
                continue;
            }
            assertEquals(List.of(), unknownFields(o), what);
        }
    }

    /** The paths of the fields of {@code o} that the Kubernetes model does not know. */
    static List<String> unknownFields(HasMetadata o) throws Exception {
        List<String> unknown = new ArrayList<>();
        walk(o, o.getKind(), unknown);
        return unknown;
    }

    /** Collects the paths of unknown fields below {@code o}. */
    private static void walk(Object o, String path, List<String> unknown) throws Exception {
        if (o instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                walk(list.get(i), path + "[" + i + "]", unknown);
            }
            return;
        }
        if (o instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                walk(e.getValue(), path + "." + e.getKey(), unknown);
            }
            return;
        }
        if (!(o instanceof KubernetesResource)) {
            return;
        }
        for (Method m : o.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || !m.getName().startsWith("get") || m.getDeclaringClass() == Object.class) {
                continue;
            }
            Object v = m.invoke(o);
            if (m.getName().equals("getAdditionalProperties")) {
                if (v instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    unknown.add(path + ": " + extra.keySet());
                }
            } else if (v != null) {
                walk(v, path + "." + m.getName().substring(3), unknown);
            }
        }
    }
}
