package io.dbrollback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A dry run of a rollback file of 300,000 records (about 100 MB, some 18,750 keys written twice half a
 * file apart) in a JVM with a 32 MiB heap ({@link ReplayMemoryProbe}, in a child JVM): the replay keeps
 * what it knows of the keys on disk, so its heap does not grow with the file. (Before, it held every
 * key's chain: this file did not replay under a 64 MiB heap.) The outcomes are the exact ones the
 * conflict rules give, in the summary, in the report's counts and in its records, and the replay's
 * directory is gone afterwards.
 */
class ReplayMemoryIT {

    private static final long RECORDS = 300_000;
    private static final long MAX_HEAP = 32L << 20;
    private static final long TIMEOUT_MINUTES = 10;

    @Test
    void aFileOfThreeHundredThousandRecordsReplaysUnderA32MiBHeap() throws Exception {
        Path dir = Files.createTempDirectory("replay-memory");
        Path out = Files.createTempFile("replay-memory", ".out");
        try {
            String classpath = System.getProperty("java.class.path");
            for (Class<?> c : List.of(ReplayMemoryProbe.class, Replayer.class)) {
                String from = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
                assertTrue(List.of(classpath.split(File.pathSeparator)).contains(from),
                        "the child needs " + from + " on its classpath; java.class.path is " + classpath);
            }
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx32m", "-XX:+UseSerialGC", "-cp", classpath,
                    ReplayMemoryProbe.class.getName(), Long.toString(RECORDS), dir.toString()));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("the probe did not finish within " + TIMEOUT_MINUTES + " minutes:\n" + read(out));
            }
            String output = read(out);
            System.out.println("ReplayMemoryProbe (" + RECORDS + " records, -Xmx32m):\n" + output);
            assertEquals(0, p.exitValue(), output);
            Map<String, String> kv = new HashMap<>();
            for (String line : output.split("\\R")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    kv.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
            Map<String, Long> counts = Map.of("applied", 0L, "wouldApply", 240_000L, "alreadyApplied", 30_000L,
                    "conflict", 28_125L, "skippedDependent", 1_875L, "needsPerson", 0L);
            for (Map.Entry<String, Long> c : counts.entrySet()) {
                for (String where : List.of("count.", "reportCount.", "reportRecords.")) {
                    assertEquals(c.getValue().toString(), kv.get(where + c.getKey()),
                            where + c.getKey() + "\n" + output);
                }
            }
            assertTrue(Long.parseLong(kv.get("maxHeapBytes")) <= MAX_HEAP, "the heap limit applied: " + output);
            assertTrue(Long.parseLong(kv.get("fileBytes")) > 3 * MAX_HEAP, "the file is far larger than the heap: "
                    + output);
            assertEquals("0", kv.get("leftInDir"), "the replay's directory is removed: " + output);
        } finally {
            Files.deleteIfExists(out);
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static String read(Path p) throws Exception {
        return Files.readString(p, StandardCharsets.UTF_8);
    }
}
