package io.dbrollback.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dbrollback.model.TailDigest;
import io.dbrollback.testing.IntegrationTest;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A divergent tail of ten million records passes through the coordinator's persist step in a JVM with
 * a 64 MiB heap: the tail is streamed, validated and digested, never held. (Ten million records of
 * about 250 canonical bytes are some 2.5 GB; held in memory they would need far more than 64 MiB.)
 */
@IntegrationTest
class TailMemoryTest {

    private static final long RECORDS = 10_000_000L;
    private static final long MAX_HEAP = 64L << 20;
    private static final long TIMEOUT_MINUTES = 5;

    @Test
    @DisplayName("the probe's scenario reaches TAIL_PERSISTED in-process on a small tail")
    void smallTailInProcess() {
        TailMemoryProbe.Result r = TailMemoryProbe.run(10_000);
        assertEquals(Phase.TAIL_PERSISTED, r.phase(), r.reason());
        assertEquals(10_000, r.records());
        assertEquals(r.writerTailSha256(), r.tailSha256());
        assertNotEquals(TailDigest.emptySha256(), r.tailSha256());
    }

    @Test
    @DisplayName("10,000,000 records pass the persist step under -Xmx64m")
    void tenMillionRecordsUnderA64MiBHeap() throws Exception {
        Path out = Files.createTempFile("tail-memory-probe", ".out");
        try {
            String classpath = childClasspath();
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx64m", "-XX:+UseSerialGC",
                    "-cp", classpath,
                    TailMemoryProbe.class.getName(), Long.toString(RECORDS)));
            String shown = String.join(" ", command).replace(classpath,
                    "<" + classpath.split(File.pathSeparator).length + " classpath entries>");
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            long started = System.nanoTime();
            boolean finished = p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES);
            if (!finished) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("the probe did not finish within " + TIMEOUT_MINUTES + " minutes: " + shown + "\noutput:\n"
                        + read(out));
            }
            String output = read(out);
            long seconds = (System.nanoTime() - started) / 1_000_000_000L;
            System.out.println("TailMemoryProbe (" + RECORDS + " records, -Xmx64m) took " + seconds + " s:\n" + output);
            assertEquals(0, p.exitValue(), "exit code of " + shown + "\noutput:\n" + output);

            Map<String, String> kv = parse(output);
            assertEquals("TAIL_PERSISTED", kv.get("phase"), output);
            assertEquals(Long.toString(RECORDS), kv.get("records"), output);
            String tailSha = kv.get("tailSha256");
            assertTrue(tailSha != null && tailSha.matches("[0-9a-f]{64}"), output);
            assertEquals(tailSha, kv.get("writerTailSha256"), "the writer's own digest differs: " + output);
            assertNotEquals(TailDigest.emptySha256(), tailSha, output);
            // Each record is well over 100 canonical bytes, so the tail is far larger than the heap.
            assertTrue(Long.parseLong(kv.get("bytes")) > 100 * RECORDS, output);
            // The heap limit really applied to the child.
            long maxHeap = Long.parseLong(kv.get("maxHeapBytes"));
            assertTrue(maxHeap <= MAX_HEAP, "the child's max heap was " + maxHeap + ": " + output);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /**
     * The test classpath for the child. Surefire sets {@code java.class.path} to the test classpath
     * even when it boots from a manifest-only jar; should it ever name only the booter, fall back to
     * the two directories the probe needs (it uses nothing but the pure model and coordinator).
     */
    static String childClasspath() throws Exception {
        String cp = System.getProperty("java.class.path");
        String testClasses = codeSource(TailMemoryProbe.class);
        String mainClasses = codeSource(RollbackRunner.class);
        List<String> entries = List.of(cp.split(File.pathSeparator));
        if (entries.contains(testClasses) && entries.contains(mainClasses)) {
            return cp;
        }
        return testClasses + File.pathSeparator + mainClasses;
    }

    private static String codeSource(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    private static Map<String, String> parse(String output) {
        Map<String, String> kv = new HashMap<>();
        for (String line : output.split("\\R")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                kv.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return kv;
    }

    private static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }
}
