package io.dbrollback;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The domain model and the coordinator are pure logic: no Kubernetes client, no Quarkus, no gRPC, no
 * injection framework, and no I/O of their own. Everything with side effects goes through
 * {@code RollbackTransport}, so the state machine stays deterministic and testable without a cluster.
 */
class ArchitectureTest {

    private static final String[] PURE = {"io.dbrollback.model..", "io.dbrollback.coordinator.."};

    private static JavaClasses classes;

    @BeforeAll
    static void importMainClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dbrollback");
    }

    @Test
    @DisplayName("the import sees the model and coordinator classes (so the rules below cannot pass vacuously)")
    void importFoundThePureClasses() {
        Set<String> names = classes.stream().map(JavaClass::getName).collect(Collectors.toSet());
        for (String expected : new String[] {"io.dbrollback.coordinator.Coordinator",
                "io.dbrollback.coordinator.ForkPoint", "io.dbrollback.coordinator.RollbackRunner",
                "io.dbrollback.coordinator.TailValidator", "io.dbrollback.model.TermHistory",
                "io.dbrollback.model.CanonicalEncoding"}) {
            assertTrue(names.contains(expected), expected + " was not imported; imported: " + names);
        }
        assertTrue(names.stream().noneMatch(n -> n.endsWith("Test")), "test classes were imported: " + names);
    }

    @Test
    @DisplayName("model and coordinator depend on no framework, client or RPC library")
    void noFrameworkDependencies() {
        noClasses().that().resideInAnyPackage(PURE)
                .should().dependOnClassesThat().resideInAnyPackage(
                        "io.fabric8..", "io.quarkus..", "io.quarkiverse..", "io.javaoperatorsdk..", "io.grpc..",
                        "com.google.protobuf..", "jakarta..", "javax..")
                .because("the rollback logic must stay pure and testable without a cluster")
                .check(classes);
    }

    @Test
    @DisplayName("model and coordinator do no I/O of their own: no network, no file system")
    void noIo() {
        noClasses().that().resideInAnyPackage(PURE)
                .should().dependOnClassesThat().resideInAnyPackage("java.net..", "java.nio.file..", "java.nio.channels..")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.File")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.FileInputStream")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.FileOutputStream")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.RandomAccessFile")
                .because("every side effect goes through RollbackTransport")
                .check(classes);
    }
}
