package io.dbrollback.cli;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The header line of a rollback file as the tool reads it (docs/rollback-file.md): where the file came
 * from and the range it holds.
 *
 * @param oldTerm null when the header has none
 * @param expectedRecords null when the LSNs are positions (the count is known from the records only)
 */
public record FileHeader(String format, String cluster, String node, String incident, int plan, long forkLsn,
        long lastLsn, Long oldTerm, long newTerm, String newPrimary, Long expectedRecords, String createdAt,
        boolean positions) {

    /** Reads a header line's JSON; IllegalArgumentException naming the first missing or malformed field. */
    static FileHeader of(JsonNode n) {
        return new FileHeader(text(n, "format"), n.path("cluster").asText(null), text(n, "node"), text(n, "incident"),
                (int) number(n, "plan"), number(n, "forkLsn"), number(n, "lastLsn"),
                n.hasNonNull("oldTerm") ? number(n, "oldTerm") : null, number(n, "newTerm"),
                n.path("newPrimary").asText(null),
                n.hasNonNull("expectedRecords") ? number(n, "expectedRecords") : null, text(n, "createdAt"),
                "positions".equals(n.path("lsnKind").asText(null)));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("the header's " + field + " is missing or not a string");
        }
        return v.asText();
    }

    private static long number(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) {
            throw new IllegalArgumentException("the header's " + field + " is missing or not a count");
        }
        return v.asLong();
    }
}
