package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;

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

/** README's Events table names every Event reason the operator writes, and no other. */
class EventVocabularyTest {

    @Test
    void theReadmeEventsTableIsTheOperatorsVocabulary() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("README.md"));
        int start = lines.indexOf("### Events");
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
        Set<String> written = Arrays.stream(EventReason.values()).map(Enum::name)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(written, documented, "README.md, ### Events");
    }
}
