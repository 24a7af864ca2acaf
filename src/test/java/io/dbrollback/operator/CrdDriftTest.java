package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.RollbackPolicy;
import io.fabric8.crdv2.generator.CRDGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The committed CRD (crds/) is exactly what the Java classes generate (the same generator the build
 * uses). Regenerate after changing the API classes with
 * {@code mvn -B test -Dtest=CrdDriftTest -Dcrd.regenerate=true}.
 */
class CrdDriftTest {

    static final Path COMMITTED = Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml");
    static final Path COMMITTED_POLICY = Path.of("crds", "rollbackpolicies.dbrollback.io-v1.yml");

    @TempDir
    Path out;

    @Test
    void theCommittedCrdIsWhatTheClassesGenerate() throws Exception {
        new CRDGenerator().inOutputDir(out.toFile()).forCRDVersions("v1")
                .customResourceClasses(ReplicaSetRollback.class, RollbackPolicy.class).generate();
        check(COMMITTED);
        check(COMMITTED_POLICY);
    }

    private void check(Path committed) throws Exception {
        Path generated = out.resolve(committed.getFileName());
        assertTrue(Files.exists(generated), "the generator wrote " + generated.getFileName());
        if (Boolean.getBoolean("crd.regenerate")) {
            Files.createDirectories(committed.getParent());
            Files.copy(generated, committed, StandardCopyOption.REPLACE_EXISTING);
        }
        assertTrue(Files.exists(committed), "missing " + committed + "; run: mvn -B test -Dtest=CrdDriftTest "
                + "-Dcrd.regenerate=true");
        assertEquals(Files.readString(generated), Files.readString(committed), committed + " drifted from the Java "
                + "classes; run: mvn -B test -Dtest=CrdDriftTest -Dcrd.regenerate=true, then copy it into the chart");
    }
}
