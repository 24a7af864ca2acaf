package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.LintResult;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The real {@code helm lint --strict} passes for the default values and for every documented mode
 * (ci/*-values.yaml): templates, Chart.yaml, and the values against values.schema.json.
 */
class ChartLintTest {

    static List<Chart.Mode> modes() {
        return Chart.modes();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modes")
    void lintStrictPasses(Chart.Mode mode, @TempDir Path work) throws Exception {
        LintResult r = Chart.lint(mode, work);
        assertFalse(r.isFailed(), mode + ": " + String.join("\n", r.getMessages()));
        assertTrue(r.getMessages().stream().noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]")),
                mode + ": " + String.join("\n", r.getMessages()));
    }
}
