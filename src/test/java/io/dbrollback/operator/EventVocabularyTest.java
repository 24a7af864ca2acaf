package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ConditionType;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * the operator writes and no other; docs/operator.md's table of block reasons names every
 * {@link BlockReason} and no other, and it names every condition type.
 */
class EventVocabularyTest {

    /** The names in the first column of the table that follows {@code heading} (up to the next heading). */
    private static Set<String> firstColumn(Path file, String heading) throws Exception {
        List<String> lines = Files.readAllLines(file);
        int start = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(heading)) {
                start = i;
                break;
            }
        }
        assertTrue(start >= 0, file + " has " + heading);
        Set<String> documented = new TreeSet<>();
        Pattern name = Pattern.compile("`([A-Za-z]+)`");
        for (String line : lines.subList(start + 1, lines.size())) {
            if (line.startsWith("#")) {
                break;
            }
            if (line.startsWith("| `")) {
                Matcher m = name.matcher(line.split("\\|")[1]);
                while (m.find()) {
                    documented.add(m.group(1));
                }
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
    void theMaintainersPageListsEveryBlockReasonAndConditionType() throws Exception {
        Path page = Path.of("docs/operator.md");
        assertEquals(names(BlockReason.values()), firstColumn(page, "## The vocabulary"), "docs/operator.md");
        String text = Files.readString(page);
        for (ConditionType t : ConditionType.values()) {
            assertTrue(text.contains("`" + t.name() + "`"), "docs/operator.md names condition " + t);
        }
    }
}
