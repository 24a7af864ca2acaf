package io.dbrollback.helm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The chart under helm/rollback-operator, run through the real Helm (helm-java: helm v3 in-process):
 * its documented modes (default values and each ci/*-values.yaml), rendering, linting, and the
 * effective values of a mode.
 */
final class Chart {

    static final Path DIR = Path.of("helm", "rollback-operator");
    static final Path CI = DIR.resolve("ci");
    /** The release name and namespace of every rendering (and of deploy/rollback-operator.yaml). */
    static final String RELEASE = "rollback-operator";
    static final String NAMESPACE = "rollback-operator";
    /**
     * The Kubernetes version to render for: helm-java's Helm assumes v1.20.0 unless told (the helm CLI
     * assumes its client's version), below the chart's kubeVersion.
     */
    static final String KUBE_VERSION = "v1.32.4";

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final KubernetesSerialization KUBE = new KubernetesSerialization();

    private Chart() {
    }

    /** A documented mode: the default values, or the default values plus one ci/ values file. */
    record Mode(String name, Path valuesFile) {
        @Override
        public String toString() {
            return name;
        }

        /** The values Helm uses: values.yaml with the mode's file merged over it. */
        Map<String, Object> values() {
            Map<String, Object> v = read(DIR.resolve("values.yaml"));
            return valuesFile == null ? v : merge(v, read(valuesFile));
        }
    }

    static final Mode DEFAULT = new Mode("default", null);

    /** The default values and every ci/*-values.yaml, sorted by name. */
    static List<Mode> modes() {
        List<Mode> modes = new ArrayList<>();
        modes.add(DEFAULT);
        try (Stream<Path> files = Files.list(CI)) {
            files.filter(f -> f.getFileName().toString().endsWith("-values.yaml")).sorted()
                    .forEach(f -> modes.add(new Mode(f.getFileName().toString().replace("-values.yaml", ""), f)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return modes;
    }

    static Mode mode(String name) {
        return modes().stream().filter(m -> m.name().equals(name)).findFirst().orElseThrow(
                () -> new IllegalArgumentException("no mode " + name + " in " + CI));
    }

    /** {@code helm template} of the mode, CRDs skipped, plus {@code --set} pairs. */
    static String template(Mode mode, String... sets) {
        TemplateCommand t = new Helm(DIR).template().withName(RELEASE).withNamespace(NAMESPACE)
                .withKubeVersion(KUBE_VERSION).skipCrds();
        if (mode.valuesFile() != null) {
            t = t.withValuesFile(mode.valuesFile());
        }
        for (int i = 0; i < sets.length; i += 2) {
            t = t.set(sets[i], sets[i + 1]);
        }
        return t.call();
    }

    /** The rendered objects of the mode, parsed one YAML document at a time. */
    static List<HasMetadata> render(Mode mode, String... sets) {
        return parse(template(mode, sets));
    }

    static List<HasMetadata> parse(String yaml) {
        List<HasMetadata> out = new ArrayList<>();
        for (String doc : yaml.split("(?m)^---\\s*$")) {
            if (doc.lines().anyMatch(l -> !l.isBlank() && !l.stripLeading().startsWith("#"))) {
                out.add(KUBE.unmarshal(doc));
            }
        }
        return out;
    }

    /**
     * {@code helm lint --strict} of the mode. helm-java's lint takes no values, so the chart is copied
     * to {@code work} with the mode's values merged into its values.yaml.
     */
    static LintResult lint(Mode mode, Path work) throws IOException {
        Path chart = DIR;
        if (mode.valuesFile() != null) {
            chart = work.resolve(DIR.getFileName());
            copy(DIR, chart);
            YAML.writeValue(chart.resolve("values.yaml").toFile(), mode.values());
        }
        return new Helm(chart).lint().strict().call();
    }

    static <T extends HasMetadata> List<T> ofKind(List<HasMetadata> all, Class<T> kind) {
        return all.stream().filter(kind::isInstance).map(kind::cast).toList();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> read(Path yaml) {
        try {
            Map<String, Object> m = YAML.readValue(yaml.toFile(), Map.class);
            return m == null ? new LinkedHashMap<>() : m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Helm's merge of user values over defaults: maps merge key by key, anything else replaces. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> over) {
        Map<String, Object> out = new LinkedHashMap<>(base);
        over.forEach((k, v) -> {
            Object b = out.get(k);
            if (b instanceof Map && v instanceof Map) {
                out.put(k, merge((Map<String, Object>) b, (Map<String, Object>) v));
            } else {
                out.put(k, v);
            }
        });
        return out;
    }

    /** The value at a dotted path, or null. */
    @SuppressWarnings("unchecked")
    static Object at(Map<String, Object> values, String path) {
        Object v = values;
        for (String k : path.split("\\.")) {
            if (!(v instanceof Map)) {
                return null;
            }
            v = ((Map<String, Object>) v).get(k);
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    static List<String> list(Map<String, Object> values, String path) {
        Object v = at(values, path);
        return v == null ? List.of() : (List<String>) v;
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(f, target);
                }
            }
        }
    }
}
