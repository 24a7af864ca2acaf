package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ConditionType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The operator's vocabulary is documented as it is: README's Events table names every Event reason
 * the operator writes about a rollback and no other, and its table of a RollbackPolicy's Events every
 * {@link PolicyEventReason} and no other, each with its type; docs/operator.md's table of block
 * reasons names every {@link BlockReason} and no other, and it names every condition type.
 */
class EventVocabularyTest {

    /** The rows of the table that follows the heading line {@code heading} (up to the next heading). */
    private static List<String> rows(Path file, String heading) throws Exception {
        List<String> lines = Files.readAllLines(file);
        int start = lines.indexOf(heading);
        assertTrue(start >= 0, file + " has " + heading);
        List<String> rows = new ArrayList<>();
        for (String line : lines.subList(start + 1, lines.size())) {
            if (line.startsWith("#")) {
                break;
            }
            if (line.startsWith("| `")) {
                rows.add(line);
            }
        }
        return rows;
    }

    /** The names in the first column of the table that follows {@code heading} (up to the next heading). */
    private static Set<String> firstColumn(Path file, String heading) throws Exception {
        Set<String> documented = new TreeSet<>();
        Pattern name = Pattern.compile("`([A-Za-z]+)`");
        for (String line : rows(file, heading)) {
            Matcher m = name.matcher(line.split("\\|")[1]);
            while (m.find()) {
                documented.add(m.group(1));
            }
        }
        return documented;
    }

    private static Set<String> names(Enum<?>[] values) {
        return Arrays.stream(values).map(Enum::name).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void theReadmeEventsTableIsTheOperatorsVocabulary() throws Exception {
        assertEquals(names(EventReason.values()), firstColumn(Path.of("README.md"), "### Events"),
                "README.md, ### Events");
    }

    @Test
    void theReadmePolicyEventsTableIsTheAutopilotsVocabulary() throws Exception {
        Path readme = Path.of("README.md");
        String heading = "### Events of a RollbackPolicy";
        assertEquals(names(PolicyEventReason.values()), firstColumn(readme, heading), "README.md, " + heading);
        for (String row : rows(readme, heading)) {
            String type = row.split("\\|")[2].strip();
            assertTrue(type.equals("Normal") || type.equals("Warning"), "README.md, " + heading + ": the type of "
                    + row);
        }
    }

    @Test
    void theMaintainersPageListsEveryBlockReasonAndConditionType() throws Exception {
        Path page = Path.of("docs/operator.md");
        assertEquals(names(BlockReason.values()), firstColumn(page, "## The vocabulary"), "docs/operator.md");
        String text = Files.readString(page);
        for (ConditionType t : ConditionType.values()) {
            assertTrue(text.contains("`" + t.name() + "`"), "docs/operator.md names condition " + t);
        }
    }
}
