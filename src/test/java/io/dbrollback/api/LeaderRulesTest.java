package io.dbrollback.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.generator.annotation.ValidationRule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The CEL rules of the leader (no API server evaluates them in the tests; SpecValidatorTest checks the
 * operator's own copy of the exactly-one rules): they are on the classes and in the committed CRD, and
 * the rule that keeps the leader's identity fixed tests every optional field with has() before reading
 * it, so that it is valid CEL for a rollback with leaseName as for one with a leader block.
 */
class LeaderRulesTest {

    private static List<String> rules(Class<?> c) {
        return Arrays.stream(c.getAnnotationsByType(ValidationRule.class)).map(ValidationRule::value).toList();
    }

    @Test
    void exactlyOneSourceRulesAreOnTheClasses() {
        assertTrue(rules(ClusterSpec.class).contains("has(self.leaseName) != has(self.leader)"));
        assertEquals(List.of("has(self.lease) != has(self.patroni)"), rules(LeaderSpec.class));
        assertTrue(rules(ReplicaSetRollbackSpec.class).contains(ReplicaSetRollbackSpec.SAME_LEADER));
    }

    @Test
    void theSameLeaderRuleReadsNoOptionalFieldUntested() {
        String rule = ReplicaSetRollbackSpec.SAME_LEADER;
        Matcher m = Pattern.compile("(?<!has\\()((?:self|oldSelf)\\.cluster\\.[A-Za-z.]+)").matcher(rule);
        int reads = 0;
        while (m.find()) {
            String path = m.group(1);
            reads++;
            // every optional step of the path is tested with has() somewhere before it is read
            String[] parts = path.split("\\.");
            String prefix = parts[0] + "." + parts[1];
            for (int i = 2; i < parts.length; i++) {
                prefix += "." + parts[i];
                boolean required = prefix.endsWith(".lease.name") || prefix.endsWith(".patroni.scope");
                assertTrue(required || rule.substring(0, m.start()).contains("has(" + prefix + ")"),
                        prefix + " is read before has(" + prefix + ") in " + rule);
            }
        }
        assertEquals(6, reads, rule);
        assertTrue(rule.contains("'Lease/' + self.cluster.leaseName") && rule.contains("'Lease/' + self.cluster"
                + ".leader.lease.name"), "leaseName and leader.lease are the same identity");
        assertTrue(!rule.contains("dcs"), "the dcs may be corrected");
    }

    @Test
    void theCommittedCrdHasTheRulesAndLeaseNameIsOptional() throws Exception {
        String crd = Files.readString(Path.of("crds", "replicasetrollbacks.dbrollback.io-v1.yml"));
        assertTrue(crd.contains("rule: \"has(self.leaseName) != has(self.leader)\""));
        assertTrue(crd.contains("rule: \"has(self.lease) != has(self.patroni)\""));
        assertTrue(!crd.contains("self.cluster.leaseName == oldSelf.cluster.leaseName"), "the old rule is gone");
        assertTrue(!crd.contains("- \"leaseName\""), "leaseName is not required");
        assertTrue(crd.contains("has(oldSelf.cluster.leader.patroni) ? 'Patroni/' + oldSelf.cluster.leader.patroni"
                + ".scope"), "the same-leader rule");
    }
}
