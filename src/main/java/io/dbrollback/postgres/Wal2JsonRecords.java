package io.dbrollback.postgres;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailRecord;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Turns wal2json (format version 2) change messages into tail records: what the PostgreSQL agent
 * keeps of each divergent row change. Pure: no connection, no file.
 *
 * <p>A record's fields (docs/rollback-file.md, "PostgreSQL records"):
 * <ul>
 *   <li>{@code key}: {@code {"schema":S,"table":T,"key":{column:value,...}}}, the primary-key columns
 *       (every column of the row when the table has no primary key), of the new row for an insert
 *       and of the old row for an update or a delete;</li>
 *   <li>{@code before} / {@code after}: the whole old / new row, {@code [{"name":C,"type":TYPE,"value":V},...]}
 *       in the table's column order, with the type as PostgreSQL names it (typmod included) and the value
 *       as wal2json writes it: a JSON number with every digit for numeric types (never a double), a
 *       string for text and most others, true/false, null;</li>
 *   <li>{@code transaction_id}: the xid; {@code lsn}: the end of the transaction's commit record
 *       (every change of a transaction shares it); {@code commit_time}: the commit's time.</li>
 * </ul>
 * An update that left a TOASTed column unchanged does not carry it in wal2json's new columns: the
 * new row takes it from the old row, which REPLICA IDENTITY FULL makes whole. A change that cannot be
 * kept whole (a TRUNCATE, an old row the WAL holds in part, a transaction with no decodable change) is
 * kept as an uncaptured record saying so, never as if it were whole.
 */
final class Wal2JsonRecords {

    /** Exact numbers in and out: a numeric keeps every digit and its scale ({@code 100.00} stays so). */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN)
            .build();

    /** wal2json's timestamps: {@code 2026-12-04 18:56:34.374089+00}. */
    private static final DateTimeFormatter TIMESTAMP = new DateTimeFormatterBuilder()
            .appendPattern("yyyy-MM-dd HH:mm:ss")
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true).optionalEnd()
            .appendOffset("+HH:mm", "+00")
            .toFormatter();

    /** A message wal2json should never send (or a catalog that cannot be read); the tail is refused with it. */
    static final class Uncapturable extends Exception {
        Uncapturable(String message) {
            super(message);
        }
    }

    /** What the catalog says of a table now: whether its replica identity is FULL, how many columns it has. */
    interface Identity {
        boolean full(String schema, String table) throws Uncapturable;

        int columns(String schema, String table) throws Uncapturable;
    }

    private Wal2JsonRecords() {
    }

    static JsonNode parse(String data) {
        try {
            return JSON.readTree(data);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("wal2json sent a message that is not JSON: " + e.getOriginalMessage());
        }
    }

    static Instant commitTime(String text) {
        return OffsetDateTime.parse(text, TIMESTAMP).toInstant();
    }

    /**
     * The record of one change message ({@code I}, {@code U}, {@code D} or {@code T}). A change that cannot
     * be kept whole is kept as an {@link io.dbrollback.model.Operation#UNCAPTURED} record that says what it
     * touched and why it is incomplete ({@link #uncaptured}); only a message wal2json should never send
     * is refused ({@link Uncapturable}).
     *
     * @param lsn the end of the transaction's commit record
     * @param term the node's timeline at that position
     */
    static TailRecord record(JsonNode m, long lsn, long term, String xid, Instant commitTime, Identity identity)
            throws Uncapturable {
        String action = m.path("action").asText();
        String schema = m.path("schema").asText();
        String table = m.path("table").asText();
        String where = "transaction " + xid + ": " + describe(action) + " of " + schema + "." + table;
        switch (action) {
            case "I" -> {
                JsonNode cols = requireArray(m, "columns", where);
                return TailRecord.insert(lsn, term, xid, commitTime, key(schema, table, m.path("pk"), cols),
                        image(cols));
            }
            case "U" -> {
                JsonNode cols = requireArray(m, "columns", where);
                JsonNode old = m.get("identity");
                String incomplete = incompleteOldRow(schema, table, old, identity);
                if (incomplete == null) {
                    Set<String> oldNames = new HashSet<>();
                    old.forEach(c -> oldNames.add(c.path("name").asText()));
                    for (JsonNode c : cols) {
                        if (!oldNames.contains(c.path("name").asText())) {
                            incomplete = "the WAL holds only part of the old row (column " + c.path("name").asText()
                                    + " is missing: the table's REPLICA IDENTITY was not FULL when the change was"
                                    + " written)";
                            break;
                        }
                    }
                }
                if (incomplete != null) {
                    boolean known = old != null && old.isArray();
                    return uncaptured(lsn, term, xid, commitTime,
                            keyNode(schema, table, m.path("pk"), known ? old : cols),
                            "OLD_ROW_INCOMPLETE", incomplete, known ? image(old) : null, image(cols));
                }
                return TailRecord.update(lsn, term, xid, commitTime, key(schema, table, m.path("pk"), old), image(old),
                        image(merge(cols, old)));
            }
            case "D" -> {
                JsonNode old = m.get("identity");
                String incomplete = incompleteOldRow(schema, table, old, identity);
                if (incomplete == null) {
                    int columns;
                    try {
                        columns = identity.columns(schema, table);
                    } catch (Uncapturable e) {
                        columns = Integer.MAX_VALUE;
                        incomplete = e.getMessage();
                    }
                    if (incomplete == null && old.size() < columns) {
                        incomplete = "the WAL holds " + old.size() + " of the table's " + columns + " columns of the"
                                + " deleted row (the table's REPLICA IDENTITY was not FULL when the "
                                + "change was written)";
                    }
                }
                if (incomplete != null) {
                    boolean known = old != null && old.isArray();
                    return uncaptured(lsn, term, xid, commitTime, keyNode(schema, table, m.path("pk"),
                            known ? old : JSON.createArrayNode()), "OLD_ROW_INCOMPLETE", incomplete,
                            known ? image(old) : null, null);
                }
                return TailRecord.delete(lsn, term, xid, commitTime, key(schema, table, m.path("pk"), old), image(old));
            }
            case "T" -> {
                ObjectNode key = JSON.createObjectNode();
                key.put("schema", schema);
                key.put("table", table);
                return uncaptured(lsn, term, xid, commitTime, key, "TRUNCATE",
                        "a TRUNCATE removes rows the WAL does not name: which rows it removed is not known", null,
                        null);
            }
            default -> throw new Uncapturable(where + ": a change wal2json describes as '" + action + "' is not known");
        }
    }

    /**
     * The record of a divergent transaction that committed with no change decoding shows: DDL, a catalog
     * update such as ANALYZE (autovacuum's too), or a transaction whose only writes decoding skips.
     */
    static TailRecord emptyTransaction(long lsn, long term, String xid, Instant commitTime) {
        ObjectNode key = JSON.createObjectNode();
        key.put("uncaptured", "NO_DECODABLE_CHANGE");
        key.put("why", "transaction " + xid + " committed with no row change logical decoding shows: DDL (CREATE,"
                + " ALTER, DROP), a catalog update such as ANALYZE, or writes decoding skips; what it "
                + "did is not known");
        return TailRecord.uncaptured(lsn, term, xid, commitTime, bytes(key), null, null);
    }

    /** Why the old row of an update or delete is not whole, or null when it is (FULL identity, sent). */
    private static String incompleteOldRow(String schema, String table, JsonNode old, Identity identity) {
        try {
            if (!identity.full(schema, table)) {
                return "the table's REPLICA IDENTITY is not FULL, so the WAL holds only part of the old row (ALTER"
                        + " TABLE " + schema + "." + table + " REPLICA IDENTITY FULL)";
            }
        } catch (Uncapturable e) {
            return e.getMessage();
        }
        if (old == null || !old.isArray()) {
            return "wal2json sent no old row";
        }
        return null;
    }

    /**
     * An {@link io.dbrollback.model.Operation#UNCAPTURED} record: the key is
     * {@code {"schema","table","key":{...key columns the WAL holds},"uncaptured":CODE,"why":TEXT}} (no
     * {@code key} for a TRUNCATE); the images are the part of the old and new rows the WAL holds, if any.
     */
    private static TailRecord uncaptured(long lsn, long term, String xid, Instant commitTime, ObjectNode key,
            String code,
            String why, Bytes before, Bytes after) {
        key.put("uncaptured", code);
        key.put("why", why);
        return TailRecord.uncaptured(lsn, term, xid, commitTime, bytes(key), before, after);
    }

    private static String describe(String action) {
        return switch (action) {
            case "I" -> "an insert";
            case "U" -> "an update";
            case "D" -> "a delete";
            case "T" -> "a TRUNCATE";
            default -> "a change";
        };
    }

    private static JsonNode oldRow(JsonNode m, String schema, String table, String where, Identity identity)
            throws Uncapturable {
        if (!identity.full(schema, table)) {
            throw new Uncapturable(where + ": the table's REPLICA IDENTITY is not FULL, so the WAL holds only part of"
                    + " the old row (ALTER TABLE " + schema + "." + table + " REPLICA IDENTITY FULL)");
        }
        return requireArray(m, "identity", where);
    }

    private static JsonNode requireArray(JsonNode m, String field, String where) throws Uncapturable {
        JsonNode a = m.get(field);
        if (a == null || !a.isArray()) {
            throw new Uncapturable(where + ": wal2json sent no '" + field + "'");
        }
        return a;
    }

    /** The new row: the new columns, and the old value of every column the update did not send (TOAST). */
    private static JsonNode merge(JsonNode columns, JsonNode old) {
        Map<String, JsonNode> sent = new LinkedHashMap<>();
        for (JsonNode c : columns) {
            sent.put(c.path("name").asText(), c);
        }
        ArrayNode row = JSON.createArrayNode();
        for (JsonNode c : old) {
            JsonNode now = sent.remove(c.path("name").asText());
            row.add(now == null ? c : now);
        }
        sent.values().forEach(row::add); // a column the old row lacks (cannot happen with FULL): kept
        return row;
    }

    private static Bytes key(String schema, String table, JsonNode pk, JsonNode row) {
        return bytes(keyNode(schema, table, pk, row));
    }

    private static ObjectNode keyNode(String schema, String table, JsonNode pk, JsonNode row) {
        ObjectNode key = JSON.createObjectNode();
        key.put("schema", schema);
        key.put("table", table);
        ObjectNode values = key.putObject("key");
        if (pk != null && pk.isArray() && !pk.isEmpty()) {
            Map<String, JsonNode> byName = new LinkedHashMap<>();
            for (JsonNode c : row) {
                byName.put(c.path("name").asText(), c.get("value"));
            }
            for (JsonNode k : pk) {
                String name = k.path("name").asText();
                values.set(name, byName.getOrDefault(name, JSON.nullNode()));
            }
        } else {
            for (JsonNode c : row) {
                values.set(c.path("name").asText(), c.get("value"));
            }
        }
        return key;
    }

    private static Bytes image(JsonNode row) {
        ArrayNode out = JSON.createArrayNode();
        for (JsonNode c : row) {
            ObjectNode col = out.addObject();
            col.put("name", c.path("name").asText());
            col.put("type", c.path("type").asText());
            col.set("value", c.get("value") == null ? JSON.nullNode() : c.get("value"));
        }
        return bytes(out);
    }

    static Bytes bytes(JsonNode n) {
        try {
            return Bytes.of(JSON.writeValueAsString(n).getBytes(StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
