package io.dbrollback.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * A PostgreSQL primary as a replay target (docs/rollback-file.md, "PostgreSQL records"): one SQL
 * transaction per original transaction, every statement guarded by the old row.
 * <ul>
 *   <li>INSERT: {@code INSERT ... ON CONFLICT DO NOTHING}, which must insert the row;</li>
 *   <li>UPDATE: {@code UPDATE ... SET <every column of after> WHERE <the key> AND <every column of before
 *       matches>}, which must change exactly one row;</li>
 *   <li>DELETE: {@code DELETE ... WHERE <the key> AND <every column of before matches>}, likewise.</li>
 * </ul>
 * A guard that matches no row (or more than one) rolls the transaction back: a conflict. A column
 * matches when its text equals the image value cast to the column's type and back to text (so
 * {@code 100.0} matches a {@code numeric(20,2)} holding {@code 100.00}, and NULL matches NULL).
 * Values are always bound as parameters; names are quoted identifiers and types must look like type names.
 */
public final class PostgresTarget implements ReplayTarget {

    private static final Pattern TYPE = Pattern.compile("[A-Za-z_][A-Za-z0-9_ ,.()\\[\\]\"]{0,127}");

    private final Connection conn;

    /** Connects to {@code url}; the user and password come from the URL, or PGUSER and PGPASSWORD. */
    public PostgresTarget(String url, Map<String, String> env) throws SQLException {
        Properties p = new Properties();
        if (!url.contains("user=") && env.get("PGUSER") != null) {
            p.setProperty("user", env.get("PGUSER"));
        }
        if (!url.contains("password=") && env.get("PGPASSWORD") != null) {
            p.setProperty("password", env.get("PGPASSWORD"));
        }
        this.conn = DriverManager.getConnection(url, p);
        this.conn.setAutoCommit(true);
    }

    /** One column of an image. */
    record Column(String name, String type, String value) {
    }

    /** The key of a record: its table and key columns (with their types, from {@code sample}'s images). */
    record Key(String table, List<Column> columns) {
    }

    static Key key(Bytes key, TailRecord sample) throws IOException {
        JsonNode k = Display.pgKey(key);
        if (k == null || !k.hasNonNull("table")) {
            throw new IOException("LSN " + sample.lsn() + ": the key is not a PostgreSQL row key");
        }
        List<Column> image = columns(sample.before() != null ? sample.before() : sample.after());
        List<Column> cols = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = k.path("key").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String type = image.stream().filter(c -> c.name().equals(e.getKey())).map(Column::type).findFirst()
                    .orElseThrow(() -> new IOException("LSN " + sample.lsn() + ": key column " + e.getKey()
                            + " is not in the row image"));
            cols.add(new Column(e.getKey(), type, literal(e.getValue())));
        }
        if (cols.isEmpty()) {
            throw new IOException("LSN " + sample.lsn() + ": the key names no column");
        }
        return new Key(ident(k.path("schema").asText("public")) + "." + ident(k.get("table").asText()), cols);
    }

    static List<Column> columns(Bytes image) throws IOException {
        if (image == null) {
            return List.of();
        }
        JsonNode n = RollbackFileReader.JSON.readTree(new String(image.toByteArray(), StandardCharsets.UTF_8));
        List<Column> out = new ArrayList<>();
        for (JsonNode c : n) {
            String type = c.path("type").asText();
            if (!TYPE.matcher(type).matches()) {
                throw new IOException("a column type that does not look like a type name");
            }
            out.add(new Column(c.path("name").asText(), type, literal(c.get("value"))));
        }
        return out;
    }

    /** A wal2json value as the text PostgreSQL casts from; null for SQL NULL. Numbers keep every digit. */
    static String literal(JsonNode v) {
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isBigDecimal()) {
            return v.decimalValue().toPlainString();
        }
        if (v.isValueNode()) {
            return v.asText();
        }
        return v.toString();
    }

    static String ident(String name) {
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    private static void keyCondition(StringBuilder sql, List<String> params, Key k) {
        String and = "";
        for (Column c : k.columns()) {
            sql.append(and).append(ident(c.name()));
            if (c.value() == null) {
                sql.append(" IS NULL");
            } else {
                sql.append(" = CAST(? AS ").append(c.type()).append(')');
                params.add(c.value());
            }
            and = " AND ";
        }
    }

    private static void rowCondition(StringBuilder sql, List<String> params, List<Column> row) {
        for (Column c : row) {
            sql.append(" AND ").append(ident(c.name())).append("::text IS NOT DISTINCT FROM CAST(CAST(? AS ")
                    .append(c.type()).append(") AS text)");
            params.add(c.value());
        }
    }

    private int count(String sql, List<String> params) throws SQLException {
        try (PreparedStatement s = conn.prepareStatement(sql)) {
            bind(s, params);
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static void bind(PreparedStatement s, List<String> params) throws SQLException {
        for (int i = 0; i < params.size(); i++) {
            s.setString(i + 1, params.get(i));
        }
    }

    @Override
    public int holds(Bytes key, TailRecord sample, List<Bytes> states) throws IOException {
        Key k = key(key, sample);
        try {
            for (int i = states.size() - 1; i >= 0; i--) {
                StringBuilder sql = new StringBuilder("SELECT count(*) FROM ").append(k.table()).append(" WHERE ");
                List<String> params = new ArrayList<>();
                keyCondition(sql, params, k);
                Bytes state = states.get(i);
                if (state != null) {
                    rowCondition(sql, params, columns(state));
                }
                int n = count(sql.toString(), params);
                if (state == null ? n == 0 : n == 1) {
                    return i;
                }
            }
            return -1;
        } catch (SQLException e) {
            throw new IOException("reading " + k.table() + " on the primary failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String current(Bytes key, TailRecord sample) throws IOException {
        Key k = key(key, sample);
        StringBuilder sql = new StringBuilder("SELECT row_to_json(x)::text FROM ").append(k.table())
                .append(" x WHERE ");
        List<String> params = new ArrayList<>();
        keyCondition(sql, params, k);
        try (PreparedStatement s = conn.prepareStatement(sql.toString())) {
            bind(s, params);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? rs.getString(1) : Display.ABSENT;
            }
        } catch (SQLException e) {
            throw new IOException("reading " + k.table() + " on the primary failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String apply(List<TailRecord> group) throws IOException {
        try {
            conn.setAutoCommit(false);
            try {
                for (TailRecord r : group) {
                    String refused = applyOne(r);
                    if (refused != null) {
                        conn.rollback();
                        return refused;
                    }
                }
                conn.commit();
                return null;
            } catch (SQLException e) {
                conn.rollback();
                return "LSN " + group.get(0).lsn() + ": PostgreSQL refused the transaction (" + e.getSQLState()
                        + "): " + e.getMessage();
            } catch (IOException | RuntimeException e) {
                // Roll back first: turning auto-commit on below would commit the part already made.
                conn.rollback();
                throw e;
            } finally {
                conn.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new IOException("the transaction on the primary failed: " + e.getMessage(), e);
        }
    }

    private String applyOne(TailRecord r) throws SQLException, IOException {
        Key k = key(r.key(), r);
        List<String> params = new ArrayList<>();
        StringBuilder sql = new StringBuilder();
        if (r.operation() == Operation.INSERT) {
            List<Column> after = columns(r.after());
            sql.append("INSERT INTO ").append(k.table()).append(" (");
            StringBuilder values = new StringBuilder();
            String comma = "";
            for (Column c : after) {
                sql.append(comma).append(ident(c.name()));
                values.append(comma).append("CAST(? AS ").append(c.type()).append(')');
                params.add(c.value());
                comma = ", ";
            }
            sql.append(") VALUES (").append(values).append(") ON CONFLICT DO NOTHING");
        } else if (r.operation() == Operation.UPDATE) {
            sql.append("UPDATE ").append(k.table()).append(" SET ");
            String comma = "";
            for (Column c : columns(r.after())) {
                sql.append(comma).append(ident(c.name())).append(" = CAST(? AS ").append(c.type()).append(')');
                params.add(c.value());
                comma = ", ";
            }
            sql.append(" WHERE ");
            keyCondition(sql, params, k);
            rowCondition(sql, params, columns(r.before()));
        } else {
            sql.append("DELETE FROM ").append(k.table()).append(" WHERE ");
            keyCondition(sql, params, k);
            rowCondition(sql, params, columns(r.before()));
        }
        try (PreparedStatement s = conn.prepareStatement(sql.toString())) {
            bind(s, params);
            int n = s.executeUpdate();
            if (n != 1) {
                return "LSN " + r.lsn() + " " + r.operation() + ": the guard on the old row matched " + n
                        + " rows, not 1";
            }
        }
        return null;
    }

    @Override
    public boolean transactional() {
        return true;
    }

    @Override
    public void close() throws IOException {
        try {
            conn.close();
        } catch (SQLException e) {
            throw new IOException(e);
        }
    }
}
