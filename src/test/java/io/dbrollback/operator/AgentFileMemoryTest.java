package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dbrollback.testing.IntegrationTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent-writes-the-file path in constant memory: a rollback file four times larger than the
 * heap is streamed to a reference node's agent and read back, operator and agent in one JVM with a
 * 64 MiB heap. Neither side may hold the file: client-side flow control on the write, the agent
 * taking the next message only after writing the previous one, and a flow-controlled read-back.
 */
@IntegrationTest
class AgentFileMemoryTest {

    private static final long RECORDS = 340_000;
    private static final int VALUE_BYTES = 256;
    private static final long MAX_HEAP = 64L << 20;

    @TempDir
    Path dir;

    @Test
    void aFileFourTimesTheHeapIsWrittenAndVerifiedUnderA64MiBHeap() throws Exception {
        Path out = dir.resolve("probe.out");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                AgentFileMemoryProbe.class.getName(), Long.toString(RECORDS), Integer.toString(VALUE_BYTES),
                dir.resolve("work").toString());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            fail("the probe did not finish within 5 minutes:\n" + Files.readString(out));
        }
        String output = Files.readString(out, StandardCharsets.UTF_8);
        System.out.println("AgentFileMemoryProbe (" + RECORDS + " records, -Xmx64m):\n" + output);
        assertEquals(0, p.exitValue(), output);
        Map<String, String> kv = new HashMap<>();
        for (String line : output.split("\\R")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                kv.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        assertEquals("Persisted", kv.get("persist"), output);
        assertEquals(Long.toString(RECORDS), kv.get("records"), output);
        assertEquals(kv.get("bytes"), kv.get("diskBytes"), "the file on disk has every byte: " + output);
        assertEquals("Read", kv.get("verify"), "read back and hashed by the operator: " + output);
        assertTrue(Long.parseLong(kv.get("maxHeapBytes")) <= MAX_HEAP, output);
        assertTrue(Long.parseLong(kv.get("bytes")) > 4 * MAX_HEAP, "the file is far larger than the heap: " + output);
    }
}
