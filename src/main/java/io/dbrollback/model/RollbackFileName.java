package io.dbrollback.model;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one naming rule of rollback files, shared by the operator (exec mode) and the agent (agent
 * mode): {@code <incident>-plan<N>.rollback.jsonl}, where the incident is the resource's uid. The
 * name is built only from an incident id that is a plain identifier and a positive plan number, so
 * no value can name a path outside the rollback directory ('/', '.', '..' and NUL never pass).
 */
public final class RollbackFileName {

    /**
     * What an incident id may be: a Kubernetes uid qualifies. Upper case is refused, never lower-cased:
     * two spellings of one id would otherwise name one file but two incidents.
     */
    static final Pattern INCIDENT = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final Pattern NAME = Pattern.compile(
            "([a-z0-9][a-z0-9-]{0,62})-plan([1-9][0-9]{0,9})\\.rollback\\.jsonl");
    private static final String SUFFIX = ".rollback.jsonl";

    private RollbackFileName() {
    }

    /** The incident and plan a file name stands for. */
    public record Parsed(String incidentId, int planNumber) {
    }

    /**
     * Whether {@code incidentId} is a plain identifier, {@code [a-z0-9][a-z0-9-]{0,62}}: what every agent
     * RPC that carries an incident id requires (docs/agent-protocol.md).
     */
    public static boolean isIncidentId(String incidentId) {
        return incidentId != null && INCIDENT.matcher(incidentId).matches();
    }

    /**
     * The file name of {@code incidentId}'s plan {@code planNumber}.
     *
     * @throws IllegalArgumentException when the incident id is not a plain identifier (upper case
     *     included) or the plan
     *     number is not positive; the message never echoes the value
     */
    public static String of(String incidentId, long planNumber) {
        if (!isIncidentId(incidentId)) {
            throw new IllegalArgumentException("incident id is not a plain identifier");
        }
        if (planNumber < 1 || planNumber > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("plan number " + planNumber + " is not a positive int");
        }
        return incidentId + "-plan" + planNumber + SUFFIX;
    }

    /** The incident and plan of a name made by {@link #of}; empty for any other string. */
    public static Optional<Parsed> parse(String name) {
        Matcher m = NAME.matcher(name == null ? "" : name);
        if (!m.matches()) {
            return Optional.empty();
        }
        long plan = Long.parseLong(m.group(2));
        return plan > Integer.MAX_VALUE ? Optional.empty() : Optional.of(new Parsed(m.group(1), (int) plan));
    }

    /** The last path segment of {@code location} (a '/'-separated path). */
    public static String lastSegment(String location) {
        return location.substring(location.lastIndexOf('/') + 1);
    }
}
