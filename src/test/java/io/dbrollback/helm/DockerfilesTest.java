package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfiles in src/main/docker build what a user installs: each runs as a numeric non-root user,
 * copies only what {@code mvn package} writes (the Quarkus fast-jar's four layers, let through by
 * .dockerignore), and starts a main class of this project from classpath folders it copied; and the tag
 * each documents is the image the chart (the operator) and the PostgreSQL example (the agent) use, with
 * the build commands in README's Install section. No image is built (there is no container engine on
 * the machines this project is developed on); DockerfilesIT runs the entrypoints' commands on the real
 * build after {@code mvn package}.
 */
class DockerfilesTest {

    /** The fast-jar's layers as {@code mvn package} writes them (Quarkus' default package type). */
    static final List<String> FAST_JAR_LAYERS = List.of("lib/", "*.jar", "app/", "quarkus/");
    /** The classpath folders a plain {@code java -cp} needs to run a main class of the build. */
    static final List<String> FAST_JAR_CLASSPATH = List.of("app/*", "lib/boot/*", "lib/main/*");

    @Test
    void everyImageRunsAsANumericNonRootUser() {
        for (Path f : Dockerfile.ALL) {
            String user = Dockerfile.read(f).user();
            assertTrue(user.matches("[1-9][0-9]*(:[0-9]+)?"), f + ": USER " + user
                    + " is not a numeric non-root user (runAsNonRoot needs a number to check)");
        }
    }

    @Test
    void theOperatorRunsAsTheChartsUserAndThePostgresqlImageAsTheExamples() throws Exception {
        Map<String, Object> values = Chart.read(Chart.DIR.resolve("values.yaml"));
        Object chartUser = ((Map<?, ?>) values.get("podSecurityContext")).get("runAsUser");
        assertEquals(String.valueOf(chartUser), Dockerfile.read(Dockerfile.OPERATOR).user(),
                "the operator image's user is the chart's podSecurityContext.runAsUser");
        PodSpec pod = PostgresExampleTest.example().pod();
        assertEquals(String.valueOf(pod.getSecurityContext().getRunAsUser()),
                Dockerfile.read(Dockerfile.POSTGRESQL).user(),
                "the PostgreSQL image's user is the example's runAsUser");
    }

    @Test
    void everyCopyTakesALayerOfTheFastJar() throws Exception {
        for (Path f : Dockerfile.ALL) {
            List<Dockerfile.Copy> copies = Dockerfile.read(f).copies();
            assertFalse(copies.isEmpty(), f + " copies the build");
            for (Dockerfile.Copy c : copies) {
                for (String src : c.sources()) {
                    assertTrue(src.startsWith(Dockerfile.FAST_JAR)
                            && FAST_JAR_LAYERS.contains(src.substring(Dockerfile.FAST_JAR.length())),
                            f + ": COPY " + src + " is not one of the layers mvn package writes, "
                                    + Dockerfile.FAST_JAR + FAST_JAR_LAYERS);
                }
            }
        }
        // the layout above is the fast-jar's: the build must not switch to another package type
        List<String> settings = new ArrayList<>(Files.readAllLines(Path.of("src", "main", "resources",
                "application.properties")));
        settings.addAll(Files.readAllLines(Path.of("pom.xml")));
        for (String line : settings) {
            String l = line.strip();
            if (l.contains("quarkus.package.jar.type") || l.contains("quarkus.package.type")) {
                assertTrue(l.contains("fast-jar"), "the build packages a fast-jar, which the Dockerfiles copy: " + l);
            }
        }
        // the build context holds only the fast-jar, and holds it whole
        List<String> ignore = Files.readAllLines(Path.of(".dockerignore")).stream().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        assertEquals(List.of("*", "!" + Dockerfile.FAST_JAR + "*"), ignore, ".dockerignore");
    }

    @Test
    void theOperatorImageRunsTheFastJar() {
        Dockerfile d = Dockerfile.read(Dockerfile.OPERATOR);
        assertEquals(List.of("/opt/jboss/container/java/run/run-java.sh"), d.entrypoint(),
                "the base image's launcher, which sizes the heap from the container's memory limit");
        String jar = d.env().get("JAVA_APP_JAR");
        assertEquals(Dockerfile.FAST_JAR + "quarkus-run.jar", d.source(jar).orElse(null),
                "JAVA_APP_JAR " + jar + " is the runner mvn package writes");
        for (String layer : List.of("lib/", "app/", "quarkus/")) {
            assertTrue(d.copies().stream().anyMatch(c -> c.sources().equals(List.of(Dockerfile.FAST_JAR + layer))
                    && c.destination().startsWith(jar.substring(0, jar.lastIndexOf('/') + 1))),
                    "the runner finds " + layer + " next to it");
        }
    }

    @Test
    void theNodeAndAgentImagesStartAMainClassOfThisProjectFromTheCopiedBuild() throws Exception {
        for (Path f : List.of(Dockerfile.REFERENCE_NODE, Dockerfile.POSTGRESQL)) {
            Dockerfile d = Dockerfile.read(f);
            Path source = Path.of("src", "main", "java", d.mainClass().replace('.', '/') + ".java");
            assertTrue(Files.isRegularFile(source),
                    f + ": the main class " + d.mainClass() + " is not in src/main/java");
            assertTrue(Files.readString(source).contains("public static void main(String[] args)"),
                    source + " has a main method");
            List<String> sources = d.classpath().stream().map(e -> d.source(e)
                    .orElseThrow(() -> new AssertionError(f + ": the classpath entry " + e + " is copied by no COPY")))
                    .toList();
            assertEquals(FAST_JAR_CLASSPATH.stream().map(e -> Dockerfile.FAST_JAR + e).toList(), sources,
                    f + ": the classpath is the build's app, lib/boot and lib/main (without lib/boot SLF4J complains)");
        }
    }

    @Test
    void theReferenceNodeListensOnAllAddressesAndKeepsTheOperatorsDefaultRollbackFolder() {
        Dockerfile d = Dockerfile.read(Dockerfile.REFERENCE_NODE);
        List<String> args = d.mainArguments();
        assertEquals("0.0.0.0", after(args, "--host"), "reachable from other pods");
        assertEquals(d.last("EXPOSE").orElse(""), after(args, "--port"));
        String dataDir = after(args, "--data-dir");
        assertEquals(new ReplicaSetRollbackSpec().getRollbackDirectory(), dataDir + "/rollback",
                "the node's rollback folder (DATA_DIR/rollback) is the operator's default spec.rollbackDirectory");
        assertTrue(d.all("VOLUME").stream().anyMatch(v -> v.contains("\"" + dataDir + "\"")),
                "the data dir is a VOLUME");
        assertTrue(d.cmd().contains("--name"), "the default command names the node");
    }

    @Test
    void theChartsDefaultImageIsTheOperatorsDocumentedTag() {
        Dockerfile d = Dockerfile.read(Dockerfile.OPERATOR);
        Map<String, Object> values = Chart.read(Chart.DIR.resolve("values.yaml"));
        Map<?, ?> image = (Map<?, ?>) values.get("image");
        String tag = (String) image.get("tag");
        String appVersion = String.valueOf(Chart.read(Chart.DIR.resolve("Chart.yaml")).get("appVersion"));
        assertEquals(image.get("repository") + ":" + (tag == null || tag.isEmpty() ? appVersion : tag), d.tag(),
                "the chart's default image (image.repository, image.tag or the appVersion) is the tag "
                        + Dockerfile.OPERATOR + " documents");
    }

    @Test
    void thePostgresqlExampleRunsThePostgresqlImage() throws Exception {
        Dockerfile d = Dockerfile.read(Dockerfile.POSTGRESQL);
        PostgresExampleTest.Example example = PostgresExampleTest.example();
        List<Container> containers = new ArrayList<>(example.pod().getInitContainers());
        containers.addAll(example.pod().getContainers());
        for (Container c : containers) {
            assertEquals(d.tag(), c.getImage(), "the example's container " + c.getName() + " runs the image "
                    + Dockerfile.POSTGRESQL + " documents");
        }
        assertEquals(d.entrypoint(), example.postgres().getCommand(),
                "the image's entrypoint is the example's command, so the image runs the agent as the example does");
        assertEquals(List.of(), d.cmd(), "the agent's flags come from the example's args, not from the image");
    }

    @Test
    void theReadmeSaysHowToBuildEachImage() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        int start = readme.indexOf("\n## Install\n");
        assertTrue(start >= 0, "README has an Install section");
        String install = readme.substring(start, readme.indexOf("\n## ", start + 1));
        assertTrue(install.contains("mvn -B package -DskipTests"),
                "README's Install section builds the fast-jar first");
        for (Path f : Dockerfile.ALL) {
            Dockerfile d = Dockerfile.read(f);
            assertEquals(f.toString().replace('\\', '/'), d.buildFile(), f + " documents its own build command");
            assertTrue(install.contains(d.buildCommand()), "README's Install section has `" + d.buildCommand() + "`");
        }
    }

    private static String after(List<String> args, String flag) {
        int i = args.lastIndexOf(flag);
        assertTrue(i >= 0 && i + 1 < args.size(), "the entrypoint gives " + flag);
        return args.get(i + 1);
    }
}
