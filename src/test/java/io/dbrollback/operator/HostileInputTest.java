package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import io.dbrollback.coordinator.TestStreams;
import io.dbrollback.testing.IntegrationTest;
import io.dbrollback.testing.Seeds;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generated corpus of hostile values (shell metacharacters, option-like values, path traversal,
 * unicode tricks, very long strings), 10,000 per string field, through the operator's validation
 * and the exec argv builder: a value is either refused with a message that does not echo it, or it
 * is plain; accepted values reach argv unchanged, each as its own element; no file is written
 * outside the rollback directory. Seed: -Dhostile.seed (default fixed, or {@code random}); values per field:
 * -Dhostile.perField (default 10,000).
 */
@IntegrationTest
class HostileInputTest {

    static final int PER_FIELD = Integer.getInteger("hostile.perField", 10_000);
    static final long SEED = Seeds.of("hostile.seed", 424242L);
    static final String[] NASTY = {";", "|", "&", "$(", ")", "`", "<", ">", "*", "?", "'", "\"", "\\", "!", "{", "}",
        "[", "]", "#", "~", " ", "\t", "\n", "\r", "\u0000", "..", "../", "/./", "//", "-", "--", "=", ",", "%", "@",
        "\u202e", "\u200b", "\u0301", "é", "漢", "🙂", "\uFEFF", "${IFS}", "$HOME", "rm -rf /", "--help", "-rf"};
    static final String PLAIN = "abcdefghijklmnopqrstuvwxyz0123456789-";

    @TempDir
    Path root;

    static String hostile(Random rnd) {
        StringBuilder b = new StringBuilder();
        int kind = rnd.nextInt(6);
        if (kind == 0) {
            b.append('-').append(rnd.nextBoolean() ? "-" : "").append(word(rnd, 1 + rnd.nextInt(8)));
        } else if (kind == 1) {
            for (int i = 0; i < 1 + rnd.nextInt(4); i++) {
                b.append(rnd.nextBoolean() ? "../" : "/..").append(word(rnd, rnd.nextInt(5)));
            }
        } else if (kind == 2) {
            int len = 64 + rnd.nextInt(10_000);
            for (int i = 0; i < len; i++) {
                b.append(PLAIN.charAt(rnd.nextInt(PLAIN.length())));
            }
        } else {
            for (int i = 0; i < 1 + rnd.nextInt(6); i++) {
                b.append(rnd.nextInt(3) == 0 ? word(rnd, 1 + rnd.nextInt(6)) : NASTY[rnd.nextInt(NASTY.length)]);
            }
        }
        if (rnd.nextInt(4) == 0) {
            b.insert(0, '/');
        }
        return b.toString();
    }

    static String word(Random rnd, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(PLAIN.charAt(rnd.nextInt(PLAIN.length() - 1)));
        }
        return b.toString();
    }

    static ReplicaSetRollback valid() {
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.getMetadata().setName("rb");
        r.getMetadata().setNamespace("db");
        ReplicaSetRollbackSpec s = new ReplicaSetRollbackSpec();
        ClusterSpec c = new ClusterSpec();
        c.setPodSelector(new HashMap<>(Map.of("app", "orders")));
        c.setLeaseName("orders-leader");
        c.setAgentPortName("agent");
        s.setCluster(c);
        s.setTargetPod("orders-0");
        r.setSpec(s);
        return r;
    }

    /** The string fields, how to set each, and what an accepted value must look like. */
    static Map<String, Map.Entry<BiConsumer<ReplicaSetRollbackSpec, String>, Pattern>> fields() {
        Pattern dns = Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
        Map<String, Map.Entry<BiConsumer<ReplicaSetRollbackSpec, String>, Pattern>> f = new LinkedHashMap<>();
        f.put("targetPod", Map.entry(ReplicaSetRollbackSpec::setTargetPod, dns));
        f.put("cluster.leaseName", Map.entry((s, v) -> s.getCluster().setLeaseName(v), dns));
        f.put("cluster.dataContainer", Map.entry((s, v) -> s.getCluster().setDataContainer(v), dns));
        f.put("cluster.agentPortName", Map.entry((s, v) -> s.getCluster().setAgentPortName(v), dns));
        f.put("agentTlsSecret", Map.entry(ReplicaSetRollbackSpec::setAgentTlsSecret, dns));
        f.put("rollbackDirectory", Map.entry(ReplicaSetRollbackSpec::setRollbackDirectory,
                Pattern.compile("^/[A-Za-z0-9._/-]*$")));
        f.put("podSelector.key", Map.entry((s, v) -> s.getCluster().setPodSelector(Map.of(v, "x")),
                Pattern.compile("^[A-Za-z0-9._/-]+$")));
        f.put("podSelector.value", Map.entry((s, v) -> s.getCluster().setPodSelector(Map.of("app", v)),
                Pattern.compile("^[A-Za-z0-9._-]*$")));
        f.put("limits.maxSpan", Map.entry((s, v) -> s.getLimits().setMaxSpan(v), Pattern.compile("^[0-9hms]*$")));
        return f;
    }

    @Test
    void everyHostileValueIsRefusedInWordsOrIsPlain() {
        Random rnd = new Random(SEED);
        int refused = 0;
        int accepted = 0;
        for (var field : fields().entrySet()) {
            for (int i = 0; i < PER_FIELD; i++) {
                String v = hostile(rnd);
                ReplicaSetRollback r = valid();
                field.getValue().getKey().accept(r.getSpec(), v);
                List<String> problems = SpecValidator.problems(r);
                String ctx = "seed " + SEED + ", field " + field.getKey() + ", value #" + i;
                if (problems.isEmpty()) {
                    accepted++;
                    // ".." is harmless in a label key (it never reaches a path) but never allowed in a path.
                    assertTrue(field.getValue().getValue().matcher(v).matches()
                            && !(field.getKey().equals("rollbackDirectory") && v.contains("..")),
                            "accepted a value that is not plain: " + ctx);
                } else {
                    refused++;
                    for (String p : problems) {
                        assertFalse(v.length() >= 4 && p.contains(v), "a refusal echoes the value: " + ctx);
                        assertTrue(p.chars().allMatch(c -> c >= 0x20 && c < 0x7f), "a refusal is plain text: " + ctx);
                    }
                }
            }
        }
        System.out.printf("hostile corpus: %d values, %d refused, %d plain and accepted (seed %d)%n",
                refused + accepted, refused, accepted, SEED);
        assertEquals(PER_FIELD * fields().size(), refused + accepted);
        assertTrue(refused > accepted * 5, "the corpus is mostly hostile");
    }

    @Test
    void acceptedDirectoriesReachArgvUnchangedAndNoFileLandsOutsideThem() throws Exception {
        Random rnd = new Random(SEED + 1);
        List<String> accepted = new ArrayList<>();
        for (int i = 0; i < PER_FIELD; i++) {
            String v = hostile(rnd);
            if (rnd.nextInt(3) == 0) {
                v = "/data/" + word(rnd, 1 + rnd.nextInt(10)) + (rnd.nextBoolean() ? "/" + word(rnd, 4) : "");
            }
            ReplicaSetRollback r = valid();
            r.getSpec().setRollbackDirectory(v);
            if (!SpecValidator.problems(r).isEmpty()) {
                continue;
            }
            accepted.add(v);
            List<String> argv = ExecRollbackFileStore.argv("begin", v, "x.rollback.jsonl", "attempt");
            assertEquals(ExecRollbackFileStore.SHELL, argv.subList(0, 4), "the script never changes");
            assertEquals(List.of("begin", v, "x.rollback.jsonl", "attempt"), argv.subList(4, argv.size()),
                    "each value is one argv element, unchanged");
        }
        assertTrue(accepted.size() > Math.max(40, PER_FIELD / 100), "enough accepted directories: " + accepted.size());
        LocalPodExec exec = new LocalPodExec(root.resolve("volume"), "/data");
        ExecRollbackFileStore store = new ExecRollbackFileStore(exec, 1 << 16, Duration.ofSeconds(30));
        int written = 0;
        for (String dir : accepted.subList(0, 40)) {
            if (!dir.startsWith("/data/")) {
                continue; // only paths on the pod's volume can be run locally
            }
            PersistResult result = store.persist("db-0", "database", dir, "x.rollback.jsonl", header(), tail());
            assertTrue(result instanceof PersistResult.Persisted, dir + ": " + result);
            written++;
        }
        assertTrue(written > 5, "several directories written: " + written);
        try (Stream<Path> all = Files.walk(root)) {
            all.filter(Files::isRegularFile).forEach(p -> assertTrue(p.normalize().startsWith(root.resolve("volume")),
                    "a file outside the volume: " + root.relativize(p)));
        }
    }

    private static RollbackFileHeader header() {
        return new RollbackFileHeader("inc", 1, "c", "db-0", Lsn.of(0), Lsn.of(2), Term.of(1), Term.of(2), "db-1", 2,
                Instant.EPOCH);
    }

    private static TailStream tail() {
        return TestStreams.of(List.of(
                TailRecord.insert(1, 1, "t1", Instant.EPOCH, Bytes.utf8("$(reboot)"), Bytes.utf8("`id`")),
                TailRecord.insert(2, 1, "t2\"; rm -rf /", Instant.EPOCH, Bytes.utf8("--help"), Bytes.utf8("-rf"))));
    }
}
