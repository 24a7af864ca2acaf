package io.dbrollback;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The layers (issue 13, rule 6): the operator knows no database (neither the reference node nor the
 * PostgreSQL agent), and nothing below it (API types, agents, model, coordinator) depends on it. And
 * the domain model and the coordinator are pure logic: no Kubernetes client, no Quarkus, no gRPC, no
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
                .should().dependOnClassesThat().resideInAnyPackage("java.net..", "java.nio.file..",
                        "java.nio.channels..")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.File")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.FileInputStream")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.FileOutputStream")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.io.RandomAccessFile")
                .because("every side effect goes through RollbackTransport")
                .check(classes);
    }

    @Test
    @DisplayName("the operator knows no database: neither the reference node nor the PostgreSQL agent")
    void theOperatorKnowsNoDatabase() {
        noClasses().that().resideInAPackage("io.dbrollback.operator..")
                .should().dependOnClassesThat().resideInAnyPackage("io.dbrollback.node..", "io.dbrollback.postgres..")
                .because("it speaks only the agent protocol to the database's agents")
                .check(classes);
    }

    @Test
    @DisplayName("the agents and the API types do not depend on the operator")
    void nothingBelowTheOperatorDependsOnIt() {
        noClasses().that().resideInAnyPackage("io.dbrollback.api..", "io.dbrollback.node..", "io.dbrollback.postgres..",
                "io.dbrollback.agent..", "io.dbrollback.model..", "io.dbrollback.coordinator..")
                .should().dependOnClassesThat().resideInAPackage("io.dbrollback.operator..")
                .because("the agents run in database pods, and the CRD types are what users write")
                .check(classes);
    }

    @Test
    @DisplayName("the reference node and the PostgreSQL agent do not depend on each other's database")
    void theAgentsAreIndependentOfEachOthersDatabase() {
        noClasses().that().resideInAPackage("io.dbrollback.node..")
                .should().dependOnClassesThat().resideInAPackage("io.dbrollback.postgres..")
                .because("the reference node is one database, PostgreSQL another")
                .check(classes);
    }

    /** What a test starts that makes it an integration test: servers, processes, shells, Quarkus. */
    private static final Set<String> STARTS_THINGS = Set.of("io.dbrollback.testing.MockApiServer",
            "io.dbrollback.testing.DbCluster", "io.dbrollback.testing.OperatorProcess",
            "io.dbrollback.operator.TestOperator", "io.dbrollback.operator.InProcessOperator",
            "io.dbrollback.operator.LocalPodExec", "io.dbrollback.node.NodeProcess", "io.dbrollback.node.ReplicaNode",
            "io.dbrollback.postgres.PgCluster", "io.grpc.Server", "io.grpc.ServerBuilder",
            "io.quarkus.test.junit.QuarkusTest", "java.lang.ProcessBuilder");

    @Test
    @DisplayName("a *Test class that starts servers, processes or the mock API server is tagged @IntegrationTest")
    void theFastTierStartsNothing() {
        JavaClasses tests = new ClassFileImporter().withImportOption(ImportOption.Predefined.ONLY_INCLUDE_TESTS)
                .importPackages("io.dbrollback");
        Set<String> untagged = new TreeSet<>();
        for (JavaClass c : tests) {
            JavaClass top = c;
            while (top.getEnclosingClass().isPresent()) {
                top = top.getEnclosingClass().get();
            }
            if (!top.getSimpleName().endsWith("Test") || top.isAnnotatedWith("io.dbrollback.testing.IntegrationTest")) {
                continue;
            }
            boolean starts = c.getDirectDependenciesFromSelf().stream()
                    .anyMatch(d -> STARTS_THINGS.contains(d.getTargetClass().getName()))
                    || c.isAnnotatedWith("io.quarkus.test.junit.QuarkusTest");
            if (starts) {
                untagged.add(top.getName());
            }
        }
        assertTrue(untagged.isEmpty(), "tag these @IntegrationTest or name them *IT: " + untagged);
    }
}
