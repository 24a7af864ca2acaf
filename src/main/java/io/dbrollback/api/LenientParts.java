package io.dbrollback.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads the spec and the status of a ReplicaSetRollback or a RollbackPolicy without ever failing: a part that
 * does not fit its class becomes an {@link Unreadable} part that names the field and the rule. One
 * unreadable object must not end the informer's watch of every object of its kind: fabric8 stops an informer
 * for good on a watch event it cannot deserialize, and a relist fails again while the object is in
 * the list, so the object has to be readable as broken.
 */
public final class LenientParts {

    /** A map key is shown in a path only when it looks like a label key; anything else only as its length. */
    private static final Pattern PLAIN_KEY = Pattern.compile("[A-Za-z0-9][-A-Za-z0-9_./]{0,62}");

    private LenientParts() {
    }

    /** The deserializer of {@code spec}. */
    public static final class Spec extends Part<ReplicaSetRollbackSpec> {
        public Spec() {
            super(ReplicaSetRollbackSpec.class, "spec", UnreadableSpec::new);
        }
    }

    /** The deserializer of {@code status}. */
    public static final class Status extends Part<ReplicaSetRollbackStatus> {
        public Status() {
            super(ReplicaSetRollbackStatus.class, "status", UnreadableStatus::new);
        }
    }

    /** The deserializer of a RollbackPolicy's {@code spec}. */
    public static final class PolicySpec extends Part<RollbackPolicySpec> {
        public PolicySpec() {
            super(RollbackPolicySpec.class, "spec", UnreadablePolicySpec::new);
        }
    }

    /** The deserializer of a RollbackPolicy's {@code status}. */
    public static final class PolicyStatus extends Part<RollbackPolicyStatus> {
        public PolicyStatus() {
            super(RollbackPolicyStatus.class, "status", UnreadablePolicyStatus::new);
        }
    }

    /** Reads the part as a tree, then into its class; a failure yields the unreadable part instead. */
    abstract static class Part<T> extends StdDeserializer<T> {
        private final Class<T> type;
        private final String root;
        private final BiFunction<JsonNode, String, ? extends T> unreadable;

        Part(Class<T> type, String root, BiFunction<JsonNode, String, ? extends T> unreadable) {
            super(type);
            this.type = type;
            this.root = root;
            this.unreadable = unreadable;
        }

        @Override
        public T deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            JsonNode tree = ctxt.readTree(p);
            try {
                return ctxt.readTreeAsValue(tree, type);
            } catch (IOException | RuntimeException e) {
                String problem = describe(root, e);
                return unreadable.apply(tree, problem != null ? problem
                        : root + ": cannot be read (" + e.getClass().getSimpleName() + ")");
            }
        }
    }

    /**
     * {@code root.path: rule} for a failure to read JSON into a class (a {@link JsonMappingException}
     * anywhere in the chain of causes), or null when {@code failure} is something else (an I/O error,
     * an HTTP error of the API server). The stored value is never part of it.
     *
     * @param root the path of the JSON that was read, e.g. "spec"; empty for a whole object
     */
    public static String describe(String root, Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof JsonMappingException e) {
                return path(root, e) + ": " + rule(e);
            }
        }
        return null;
    }

    private static String path(String root, JsonMappingException e) {
        StringBuilder b = new StringBuilder(root);
        for (JsonMappingException.Reference ref : e.getPath()) {
            String name = ref.getFieldName();
            if (name == null) {
                b.append('[').append(ref.getIndex()).append(']');
            } else if (ref.getFrom() instanceof Map) {
                b.append('[').append(PLAIN_KEY.matcher(name).matches() ? name : "(a key of " + name.length()
                        + " characters)").append(']');
            } else {
                b.append(b.isEmpty() ? "" : ".").append(name);
            }
        }
        return b.isEmpty() ? "(the object)" : b.toString();
    }

    /** The rule the value breaks, from the type it had to be read as. */
    private static String rule(JsonMappingException e) {
        Class<?> t = e instanceof MismatchedInputException m ? m.getTargetType() : null;
        if (t == null) {
            return "cannot be read (" + e.getClass().getSimpleName() + ")";
        }
        if (t.isEnum()) {
            return "must be one of " + Arrays.stream(t.getEnumConstants()).map(String::valueOf)
                    .collect(Collectors.joining(", "));
        }
        if (t == long.class || t == Long.class) {
            return "must be a whole number (64-bit)";
        }
        if (t == int.class || t == Integer.class || t == short.class || t == Short.class) {
            return "must be a whole number (32-bit)";
        }
        if (t == BigInteger.class) {
            return "must be a whole number";
        }
        if (t == double.class || t == Double.class || t == float.class || t == Float.class
                || t == BigDecimal.class) {
            return "must be a number";
        }
        if (t == boolean.class || t == Boolean.class) {
            return "must be true or false";
        }
        if (t == String.class) {
            return "must be a string";
        }
        if (Collection.class.isAssignableFrom(t) || t.isArray()) {
            return "must be a list";
        }
        return "must be an object";
    }
}
