package io.dbrollback.operator;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.model.Term;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Patroni's leader as its Kubernetes DCS records it, read from the annotations Patroni writes (checked
 * against Patroni 4.1.4, patroni/dcs/kubernetes.py and patroni/ha.py). Pure: the objects are read by
 * {@link LeaderReader}.
 *
 * <ul>
 *   <li>holder: the annotation {@code leader} of the leader object (ConfigMap {@code <scope>-leader}, or
 *       Endpoints {@code <scope>}); absent or empty when nobody holds the leader key (Patroni removes it
 *       when the leader steps down). It is the member name, which Patroni on Kubernetes requires to be
 *       the pod name.</li>
 *   <li>term, the leader's PostgreSQL timeline, first from the {@code status} annotation Patroni writes on
 *       the leader's pod: when its {@code role} is {@code primary} (or {@code master}, before Patroni 4),
 *       its {@code timeline} (a whole number, written only while PostgreSQL runs). Otherwise from the
 *       annotation {@code history} of {@code <scope>-config} (a JSON list of
 *       {@code [timeline, lsn, reason, timestamp, new_leader]}, one line per promotion): its last line's
 *       timeline + 1, but only when that line's {@code new_leader} is the holder, i.e. the history records
 *       the holder's own promotion. A holder that is still promoting (its status not yet primary, the
 *       history not yet naming it) has no term yet: a guess would be the former primary's timeline.</li>
 * </ul>
 */
final class PatroniLeader {

    /** The annotations Patroni writes. */
    static final String LEADER = "leader";
    static final String HISTORY = "history";
    static final String STATUS = "status";
    /** PostgreSQL's timeline IDs are unsigned 32-bit numbers. */
    static final long MAX_TIMELINE = 0xFFFF_FFFFL;
    /** More than Patroni ever writes (one short line per promotion); larger is refused unparsed. */
    static final int MAX_JSON = 256 * 1024;
    private static final Set<String> PRIMARY_ROLES = Set.of("primary", "master");
    private static final Pattern POD_NAME = SpecValidator.DNS_SUBDOMAIN;
    private static final Pattern DIGITS = Pattern.compile("[0-9]{1,10}");

    private PatroniLeader() {
    }

    /** The holder (null: nobody leads) and term read, and what the term was read from. */
    record Parsed(String holder, Term term, String termFrom) {
    }

    /** Why Patroni's objects give no leader; the reader turns it into a Problem. */
    static final class Unusable extends Exception {
        private static final long serialVersionUID = 1L;
        private final BlockReason reason;

        Unusable(BlockReason reason, String message) {
            super(message, null, false, false);
            this.reason = reason;
        }

        BlockReason reason() {
            return reason;
        }
    }

    /**
     * The holder named by the leader object's annotations: null when there is none (or it is empty).
     *
     * @throws Unusable {@link BlockReason#PatroniLeaderInvalid} when it cannot be a pod's name
     */
    static String holder(Map<String, String> leaderAnnotations, String where) throws Unusable {
        String leader = leaderAnnotations == null ? null : leaderAnnotations.get(LEADER);
        if (leader == null || leader.isEmpty()) {
            return null;
        }
        String name = leader;
        if (name.length() > 253 || !POD_NAME.matcher(name).matches()) {
            throw new Unusable(BlockReason.PatroniLeaderInvalid, "the " + LEADER + " annotation of " + where
                    + " is not a pod name (" + Quote.of(name) + ")");
        }
        return name;
    }

    /**
     * The term of {@code holder} by the rule above.
     *
     * @param status the holder pod's {@code status} annotation (null: no pod or no annotation)
     * @param history the {@code history} annotation of {@code <scope>-config} (null: no object or annotation)
     * @param configName {@code <scope>-config}, for the messages
     * @throws Unusable {@link BlockReason#PatroniTermUnknown} when neither gives the holder's timeline
     */
    static Parsed term(String holder, String status, String history, String configName) throws Unusable {
        if (holder == null) {
            // Nobody leads: the coordinator waits for a holder; the term is only shown.
            Long last = lastTimeline(history).timeline();
            return new Parsed(null, Term.of(last == null ? 0 : last + 1), "the history of " + configName);
        }
        StatusTimeline s = statusTimeline(status);
        if (s.timeline() != null) {
            return new Parsed(holder, Term.of(s.timeline()), "the status of pod " + holder);
        }
        HistoryLine h = lastTimeline(history);
        if (h.timeline() != null && holder.equals(h.newLeader())) {
            return new Parsed(holder, Term.of(h.timeline() + 1), "the history of " + configName);
        }
        throw new Unusable(BlockReason.PatroniTermUnknown, "the timeline of the Patroni leader " + holder
                + " is not known yet: its pod's " + STATUS + " annotation " + s.why() + ", and the " + HISTORY
                + " of " + configName + " " + (h.timeline() == null ? h.why()
                        : "does not record its promotion (its last line names " + Quote.of(h.newLeader()) + ")"));
    }

    /** The timeline of a {@code status} annotation when its role is primary, or why there is none. */
    record StatusTimeline(Long timeline, String why) {
    }

    static StatusTimeline statusTimeline(String status) {
        if (status == null) {
            return new StatusTimeline(null, "is missing");
        }
        JsonNode s = parse(status);
        if (s == null || !s.isObject()) {
            return new StatusTimeline(null, "is not a JSON object");
        }
        JsonNode role = s.get("role");
        if (role == null || !role.isTextual() || !PRIMARY_ROLES.contains(role.asText())) {
            return new StatusTimeline(null, "has role " + (role == null ? "none" : Quote.of(role.asText()))
                    + ", not primary");
        }
        Long timeline = timeline(s.get("timeline"), false);
        return timeline == null ? new StatusTimeline(null, "has no timeline (a whole number from 1)")
                : new StatusTimeline(timeline, null);
    }

    /** The last line of a {@code history} annotation: its timeline and new leader, or why there is none. */
    record HistoryLine(Long timeline, String newLeader, String why) {
    }

    static HistoryLine lastTimeline(String history) {
        if (history == null) {
            return new HistoryLine(null, null, "is missing");
        }
        JsonNode h = parse(history);
        if (h == null || !h.isArray()) {
            return new HistoryLine(null, null, "is not a JSON list");
        }
        if (h.isEmpty()) {
            // Patroni writes [] while the cluster is on timeline 1: no promotion, no new leader.
            return new HistoryLine(0L, null, null);
        }
        JsonNode last = h.get(h.size() - 1);
        Long timeline = last != null && last.isArray() && !last.isEmpty() ? timeline(last.get(0), true) : null;
        if (timeline == null || timeline >= MAX_TIMELINE) {
            return new HistoryLine(null, null, "has a last line that does not start with a timeline");
        }
        JsonNode newLeader = last.size() >= 5 ? last.get(4) : null;
        return new HistoryLine(timeline, newLeader != null && newLeader.isTextual() ? newLeader.asText() : null,
                null);
    }

    /** A timeline: a whole JSON number 1..2^32-1 (or, in the history, the same as a string, as Patroni reads it). */
    private static Long timeline(JsonNode n, boolean textToo) {
        long v;
        if (n == null) {
            return null;
        } else if (n.isIntegralNumber() && n.canConvertToLong()) {
            v = n.asLong();
        } else if (textToo && n.isTextual() && DIGITS.matcher(n.asText()).matches()) {
            v = Long.parseLong(n.asText());
        } else {
            return null;
        }
        return v >= 1 && v <= MAX_TIMELINE ? v : null;
    }

    private static JsonNode parse(String json) {
        if (json.length() > MAX_JSON) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /** A value from an annotation, quoted and cut short for a message. */
    static final class Quote {
        private Quote() {
        }

        static String of(String s) {
            if (s == null) {
                return "none";
            }
            String cut = s.length() > 64 ? s.substring(0, 64) + "..." : s;
            return "'" + cut.replaceAll("[^\\x20-\\x7E]", "?") + "'";
        }
    }
}
