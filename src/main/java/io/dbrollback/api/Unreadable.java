package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * A part of a stored ReplicaSetRollback or RollbackPolicy (its spec or its status) that could not be read into this
 * operator's classes: a value outside an enum, a type mismatch. A real API server refuses such a
 * value at admission, but a CRD change, a restored backup or a server that does not validate can
 * store one. The part keeps the JSON exactly as stored and is written back unchanged (JOSDK clones a
 * resource by serializing it, so a clone is unreadable again in the same way); every value the
 * operator would act on is null, so that nothing reads it as a default. See {@link LenientParts}.
 */
public interface Unreadable {

    /**
     * @param json the part as stored
     * @param problem the field path and the rule it breaks, e.g.
     *     {@code spec.approval: must be one of Automatic, Manual}; never the value
     */
    record Stored(JsonNode json, String problem) {
    }

    Stored stored();

    /** The problem of the first of {@code parts} (a spec, a status) that could not be read, or null when all were. */
    static String problemOf(Object... parts) {
        for (Object part : parts) {
            if (part instanceof Unreadable u) {
                return u.problem();
            }
        }
        return null;
    }

    /** The field path and the rule it breaks; never the value. */
    default String problem() {
        return stored().problem();
    }

    /** The part as stored, which is what it is written back as. */
    @JsonValue
    default JsonNode json() {
        return stored().json();
    }
}
