package io.dbrollback.postgres;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Logical decoding with wal2json, format version 2, as the PostgreSQL agent is to read it: one row per message, a
 * {@code B} (begin) and a {@code C} (commit) around each transaction's changes ({@code I}, {@code U}, {@code D},
 * {@code T} for a truncate), in commit order.
 */
public final class Wal2Json {

    /** The slot's output plugin. */
    public static final String PLUGIN = "wal2json";

    /**
     * The plugin options, as name/value pairs: {@code format-version} 2 (one JSON object per message),
     * {@code include-xids}, {@code include-timestamp} (the commit time), {@code include-lsn} ({@code lsn} and
     * {@code nextlsn}), {@code include-type-oids} (next to the type names, {@code include-types} being on by
     * default), {@code include-pk} (the primary key's columns).
     */
    public static final List<String> OPTIONS = List.of("format-version", "2", "include-xids", "1", "include-timestamp",
            "1", "include-lsn", "1", "include-type-oids", "1", "include-pk", "1");

    /**
     * JSON numbers (numeric columns are written as bare numbers) read exactly, as BigDecimal and BigInteger, with
     * their scale ({@code 100.00} stays {@code 100.00}, not {@code 1E+2}).
     */
    static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES).build();

    private Wal2Json() {
    }

    /**
     * One row of {@code pg_logical_slot_peek_changes}: the function's own {@code lsn} and {@code xid} columns, and the
     * message as wal2json wrote it and parsed.
     */
    public record Message(PgLsn rowLsn, long rowXid, String raw, JsonNode data) {

        public String action() {
            return data.path("action").asText();
        }

        /** The message's {@code lsn} field: a change's own record for I/U/D/T, the commit record's start for B/C. */
        public PgLsn lsn() {
            return PgLsn.parse(data.path("lsn").asText());
        }

        /** The message's {@code nextlsn} field (B and C only): the end of the commit record. */
        public PgLsn nextLsn() {
            return PgLsn.parse(data.path("nextlsn").asText());
        }

        /** {@code schema.table} of a change. */
        public String table() {
            return data.path("schema").asText() + "." + data.path("table").asText();
        }

        public boolean isChange() {
            return !action().equals("B") && !action().equals("C");
        }
    }

    /** One decoded transaction: its begin, changes and commit messages. */
    public record Txn(Message begin, List<Message> changes, Message commit) {

        public long xid() {
            return begin.data().path("xid").asLong();
        }

        /** The start of the commit record ({@code lsn} of B and C). */
        public PgLsn commitLsn() {
            return commit.lsn();
        }

        /** The end of the commit record ({@code nextlsn} of B and C). */
        public PgLsn commitEndLsn() {
            return commit.nextLsn();
        }

        /** Whether the commit record ends after the switchpoint: the transaction is not on the new timeline. */
        public boolean divergentAfter(PgLsn switchpoint) {
            return commitEndLsn().isAfter(switchpoint);
        }
    }

    /** Creates a logical slot with this plugin ({@code pg_create_logical_replication_slot}); returns its LSN. */
    public static PgLsn createSlot(Connection c, String slot) throws SQLException {
        try (PreparedStatement st = c.prepareStatement(
                "SELECT lsn FROM pg_create_logical_replication_slot(?, '" + PLUGIN + "')")) {
            st.setString(1, slot);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return PgLsn.parse(rs.getString(1));
            }
        }
    }

    /**
     * {@code pg_logical_slot_peek_changes(slot, NULL, NULL, OPTIONS...)}: every message from the slot's confirmed
     * position to the end of the WAL, without consuming anything; streamed in a transaction with a fetch size.
     */
    public static List<Message> peek(Connection c, String slot) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT lsn, xid, data FROM pg_logical_slot_peek_changes(?, NULL, NULL");
        for (String option : OPTIONS) {
            sql.append(", '").append(option).append('\'');
        }
        sql.append(')');
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        List<Message> out = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement(sql.toString())) {
            st.setFetchSize(2000);
            st.setString(1, slot);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    String raw = rs.getString(3);
                    out.add(new Message(PgLsn.parse(rs.getString(1)), rs.getLong(2), raw, JSON.readTree(raw)));
                }
            }
            c.commit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            c.setAutoCommit(auto);
        }
        return out;
    }

    /** Groups messages into transactions; fails on a message outside a B..C pair. */
    public static List<Txn> transactions(List<Message> messages) {
        List<Txn> txns = new ArrayList<>();
        Message begin = null;
        List<Message> changes = new ArrayList<>();
        for (Message m : messages) {
            switch (m.action()) {
                case "B" -> {
                    if (begin != null) {
                        throw new AssertionError("B inside a transaction: " + m);
                    }
                    begin = m;
                    changes = new ArrayList<>();
                }
                case "C" -> {
                    if (begin == null) {
                        throw new AssertionError("C outside a transaction: " + m);
                    }
                    txns.add(new Txn(begin, changes, m));
                    begin = null;
                }
                default -> {
                    if (begin == null) {
                        throw new AssertionError("change outside a transaction: " + m);
                    }
                    changes.add(m);
                }
            }
        }
        if (begin != null) {
            throw new AssertionError("transaction without its C: " + begin);
        }
        return txns;
    }
}
