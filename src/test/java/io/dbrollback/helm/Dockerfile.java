package io.dbrollback.helm;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One of the Dockerfiles in src/main/docker, read as a builder reads it (comment lines dropped, continued
 * lines joined), with what the tests look at: the documented build command, the user, what is copied
 * from the build context and where, the environment, and the exec-form entrypoint and command. No image
 * is built: there is no container engine on the machines this project is developed on.
 */
record Dockerfile(Path file, List<String> comments, List<Instruction> instructions) {

    static final Path DIR = Path.of("src", "main", "docker");
    /** The operator's image, from the Quarkus fast-jar. */
    static final Path OPERATOR = DIR.resolve("Dockerfile.jvm");
    /** The reference node's image. */
    static final Path REFERENCE_NODE = DIR.resolve("Dockerfile.reference-node");
    /** The PostgreSQL image of deploy/examples/postgresql-statefulset.yaml, with the PostgreSQL agent. */
    static final Path POSTGRESQL = DIR.resolve("Dockerfile.postgresql");
    static final List<Path> ALL = List.of(OPERATOR, REFERENCE_NODE, POSTGRESQL);

    /** Where {@code mvn package} writes the Quarkus fast-jar. */
    static final String FAST_JAR = "target/quarkus-app/";

    private static final Pattern BUILD = Pattern.compile("^#\\s+(docker build -f (\\S+) -t (\\S+) \\.)\\s*$");
    private static final Pattern ENV_PAIR = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"([^\"]*)\"|'([^']*)'|(\\S*))");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One instruction: its keyword in upper case and the rest of its (joined) line. */
    record Instruction(String keyword, String args) {
    }

    /** A COPY from the build context: its sources as written, and its destination. */
    record Copy(List<String> sources, String destination) {
    }

    static Dockerfile read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> comments = new ArrayList<>();
        List<Instruction> instructions = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : lines) {
            String t = line.strip();
            if (t.startsWith("#")) {
                comments.add(t);
                continue;
            }
            if (t.isEmpty() && current.isEmpty()) {
                continue;
            }
            boolean continued = t.endsWith("\\");
            current.append(continued ? t.substring(0, t.length() - 1) : t).append(' ');
            if (!continued) {
                String joined = current.toString().strip();
                current.setLength(0);
                int space = joined.indexOf(' ');
                instructions.add(space < 0 ? new Instruction(joined.toUpperCase(), "")
                        : new Instruction(joined.substring(0, space).toUpperCase(),
                                joined.substring(space + 1).strip()));
            }
        }
        return new Dockerfile(file, comments, instructions);
    }

    List<String> all(String keyword) {
        return instructions.stream().filter(i -> i.keyword().equals(keyword)).map(Instruction::args).toList();
    }

    Optional<String> last(String keyword) {
        List<String> all = all(keyword);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** The build command the header documents ({@code docker build -f FILE -t TAG .}), exactly as written. */
    String buildCommand() {
        return build().group(1);
    }

    /** The file the documented build command names with {@code -f}. */
    String buildFile() {
        return build().group(2);
    }

    /** The tag the documented build command gives the image. */
    String tag() {
        return build().group(3);
    }

    private Matcher build() {
        List<Matcher> found = comments.stream().map(BUILD::matcher).filter(Matcher::matches).toList();
        if (found.size() != 1) {
            throw new AssertionError(file + " documents " + found.size() + " build commands, not one");
        }
        return found.get(0);
    }

    /** The user the image runs as: the last USER. */
    String user() {
        return last("USER").orElseThrow(() -> new AssertionError(file + " has no USER"));
    }

    /** The COPY instructions that take files from the build context (not from another stage). */
    List<Copy> copies() {
        List<Copy> out = new ArrayList<>();
        for (String args : all("COPY")) {
            List<String> words = new ArrayList<>(List.of(args.split("\\s+")));
            if (words.stream().anyMatch(w -> w.startsWith("--from"))) {
                continue;
            }
            words.removeIf(w -> w.startsWith("--"));
            String destination = words.remove(words.size() - 1);
            out.add(new Copy(List.copyOf(words), destination));
        }
        return out;
    }

    /** Every ENV variable, the last value winning. */
    Map<String, String> env() {
        Map<String, String> env = new LinkedHashMap<>();
        for (String args : all("ENV")) {
            Matcher m = ENV_PAIR.matcher(args);
            while (m.find()) {
                String v = m.group(3) != null ? m.group(3) : m.group(4) != null ? m.group(4) : m.group(5);
                env.put(m.group(1), v);
            }
        }
        return env;
    }

    /** The exec form (a JSON array) of the last ENTRYPOINT; fails on the shell form. */
    List<String> entrypoint() {
        return execForm("ENTRYPOINT");
    }

    /** The exec form of the last CMD; empty when there is none. */
    List<String> cmd() {
        return last("CMD").isEmpty() ? List.of() : execForm("CMD");
    }

    private List<String> execForm(String keyword) {
        String args = last(keyword).orElseThrow(() -> new AssertionError(file + " has no " + keyword));
        if (!args.startsWith("[")) {
            throw new AssertionError(file + ": " + keyword + " is not in exec form: " + args);
        }
        try {
            return JSON.readValue(args, new TypeReference<List<String>>() { });
        } catch (IOException e) {
            throw new AssertionError(file + ": " + keyword + " is not a JSON array of strings: " + args, e);
        }
    }

    /**
     * The path in the build context that a path of the image comes from, through the COPY instructions
     * (the last one that covers it wins), or empty when none covers it. A trailing {@code *} (a classpath
     * wildcard) stays as it is.
     */
    Optional<String> source(String imagePath) {
        List<Copy> copies = copies();
        for (int i = copies.size() - 1; i >= 0; i--) {
            Copy c = copies.get(i);
            if (!c.destination().endsWith("/")) {
                continue;
            }
            for (String src : c.sources()) {
                if (src.endsWith("/")) {
                    if (imagePath.startsWith(c.destination())) {
                        return Optional.of(src + imagePath.substring(c.destination().length()));
                    }
                } else if (imagePath.startsWith(c.destination())
                        && imagePath.indexOf('/', c.destination().length()) < 0) {
                    String name = imagePath.substring(c.destination().length());
                    int slash = src.lastIndexOf('/');
                    String glob = src.substring(slash + 1);
                    if (FileSystems.getDefault().getPathMatcher("glob:" + glob).matches(Path.of(name))) {
                        return Optional.of(src.substring(0, slash + 1) + name);
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** The classpath given to {@code java -cp} in the entrypoint, split at the colons. */
    List<String> classpath() {
        List<String> e = entrypoint();
        int cp = e.indexOf("-cp");
        if (cp < 0 || cp + 1 >= e.size()) {
            throw new AssertionError(file + ": the entrypoint gives java no -cp: " + e);
        }
        return List.of(e.get(cp + 1).split(":"));
    }

    /** The main class the entrypoint starts: the argument after the classpath. */
    String mainClass() {
        List<String> e = entrypoint();
        return e.get(e.indexOf("-cp") + 2);
    }

    /** The entrypoint's arguments after the main class. */
    List<String> mainArguments() {
        List<String> e = entrypoint();
        return e.subList(e.indexOf("-cp") + 3, e.size());
    }
}
