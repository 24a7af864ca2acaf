package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.Helm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chart carries the committed CRDs (crds/: ReplicaSetRollback and RollbackPolicy) byte for byte,
 * and the packaged chart holds both where Helm installs them from. After regenerating crds/
 * (CrdDriftTest), copy: cp crds/*.yml helm/rollback-operator/crds/
 */
class ChartCrdTest {

    static final Path COMMITTED = Path.of("crds");
    static final Path IN_CHART = Chart.DIR.resolve("crds");
    /** The kinds the operator reconciles: ReplicaSetRollback, and RollbackPolicy (the autopilot). */
    static final List<String> CRDS = List.of("replicasetrollbacks.dbrollback.io-v1.yml",
            "rollbackpolicies.dbrollback.io-v1.yml");

    static List<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void theChartCrdsAreTheCommittedCrds() throws Exception {
        List<String> committed = names(COMMITTED);
        assertEquals(CRDS, committed, "crds/ holds the CRD of every kind the operator reconciles");
        assertEquals(committed, names(IN_CHART), "the chart's crds/ holds the same files as crds/");
        for (String name : committed) {
            assertArrayEquals(Files.readAllBytes(COMMITTED.resolve(name)), Files.readAllBytes(IN_CHART.resolve(name)),
                    IN_CHART.resolve(name) + " differs from " + COMMITTED.resolve(name) + "; run: cp "
                            + COMMITTED.resolve(name) + " " + IN_CHART + "/");
        }
    }

    @Test
    void thePackagedChartInstallsTheCrds(@TempDir Path out) throws Exception {
        new Helm(Chart.DIR).packageIt().withDestination(out).call();
        Path tgz = out.resolve("rollback-operator-0.1.0.tgz");
        assertTrue(Files.exists(tgz), names(out).toString());
        String shown = Helm.show(tgz.toString()).crds().call();
        for (String name : CRDS) {
            String crd = Files.readString(COMMITTED.resolve(name)).strip();
            assertTrue(shown.contains(crd), "helm show crds of the package lacks " + name);
        }
    }
}
