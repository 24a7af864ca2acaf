package io.dbrollback.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The story the PostgreSQL agent must handle, on a {@link PgCluster}: committed writes every standby receives, a
 * logical slot made before them, the primary cut off from its standbys while it keeps taking writes (inserts,
 * updates and deletes over several tables, a transaction of 50,000 rows, one that began before the cut and commits
 * after it, and the changes decoding cannot replay: a TRUNCATE, DDL, an unlogged table, a sequence, a table without
 * {@code REPLICA IDENTITY FULL}), a standby promoted, the other following it, and the new primary's own writes.
 *
 * <p>Every transaction is recorded with its xid and the changes it made, counted per action and table (the row
 * counts JDBC reported), so that a test can compare them with what decoding returns.
 */
public final class DivergentFailover {

    /** The logical slot made on the primary before the shared writes. */
    public static final String SLOT = "dbrollback";
    /** Rows of the large divergent transaction. */
    public static final int BIG_ROWS = 50_000;
    /** A numeric value with more digits than a double holds. */
    public static final String WIDE_NUMERIC = "123456789012345678.99";

    /**
     * A transaction the story committed: its label, xid (32 bits, as decoding shows it) and changes per
     * {@code "<action> <schema.table>"} (e.g. {@code "I public.accounts"} = 5).
     */
    public record Written(String label, long xid, Map<String, Integer> changes) {

        public int changeCount() {
            return changes.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    /** A range of WAL a statement wrote that has no transaction (a sequence's nextval). */
    public record WalWindow(String label, PgLsn from, PgLsn to) {
    }

    public final PgCluster cluster;
    /** Committed before the cut (so on every standby), after the slot. */
    public final List<Written> shared = new ArrayList<>();
    /**
     * Committed on the former primary after the cut, in commit order, the straddling one last; all but
     * {@link #unloggedOnly}, which logical decoding cannot see.
     */
    public final List<Written> divergent = new ArrayList<>();
    /** Committed on the new primary after the failover. */
    public final List<Written> newPrimaryWrites = new ArrayList<>();
    /** Began (and wrote) before the cut, committed after it; also in {@link #divergent}. */
    public Written straddling;
    /** A committed transaction that only inserted into an unlogged table, after the cut (not in {@link #divergent}). */
    public Written unloggedOnly;
    /** Sequence WAL written outside any transaction, after the cut. */
    public WalWindow sequenceOnly;
    /** Where the slot was created. */
    public PgLsn slotLsn;
    /** The WAL position the primary had before the straddling transaction's first write. */
    public PgLsn straddlingFirstWriteAfter;
    public PgCluster.Cut cut;
    public PgCluster.Failover failover;
    /** The former primary's WAL end (flush LSN) after all its divergent writes. */
    public PgLsn formerPrimaryEnd;

    private DivergentFailover(PgCluster cluster) {
        this.cluster = cluster;
    }

    /** Runs the whole story on a freshly started cluster. */
    public static DivergentFailover run(PgCluster cluster) throws Exception {
        DivergentFailover story = new DivergentFailover(cluster);
        story.play();
        return story;
    }

    private void play() throws Exception {
        PgServer p = cluster.primary();
        try (Connection c = p.connect(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance "
                    + "numeric(20,2) NOT NULL)");
            st.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int NOT NULL, note text, "
                    + "placed_at timestamptz NOT NULL DEFAULT now())");
            st.execute("CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL, payload jsonb)");
            st.execute("CREATE TABLE docs (id int PRIMARY KEY, tag text, body text)");
            st.execute("CREATE TABLE plain (id int PRIMARY KEY, v text)"); // REPLICA IDENTITY DEFAULT: the key only
            st.execute("CREATE TABLE wiped (id int PRIMARY KEY)");
            st.execute("CREATE UNLOGGED TABLE scratch (id int)");
            st.execute("CREATE SEQUENCE tickets");
            for (String t : List.of("accounts", "orders", "events", "docs", "wiped")) {
                st.execute("ALTER TABLE " + t + " REPLICA IDENTITY FULL");
            }
            st.execute("INSERT INTO accounts SELECT g, 'owner-' || g, g * 10 FROM generate_series(1, 100) g");
            st.execute("INSERT INTO plain SELECT g, 'p' || g FROM generate_series(1, 10) g");
            st.execute("INSERT INTO wiped SELECT generate_series(1, 5)");
            // a value stored out of line (TOAST): 96,000 hex characters
            st.execute("INSERT INTO docs SELECT 1, 'draft', string_agg(md5(g::text), '') FROM "
                    + "generate_series(1, 3000) g");
            slotLsn = Wal2Json.createSlot(c, SLOT);
        }
        try (Connection c = p.connect()) {
            shared.add(write(c, "shared insert", "INSERT INTO accounts VALUES (101, 'shared', 1.00)"));
            shared.add(write(c, "shared update", "UPDATE accounts SET owner = 'shared-update' WHERE id = 1"));
            shared.add(write(c, "shared delete", "DELETE FROM accounts WHERE id = 2"));
        }
        Connection open = p.connect(); // the transaction that straddles the cut
        try {
            open.setAutoCommit(false);
            long straddlingXid = xid(open);
            straddlingFirstWriteAfter = p.queryLsn("SELECT pg_current_wal_insert_lsn()");
            Map<String, Integer> straddlingChanges = new LinkedHashMap<>();
            count(straddlingChanges, "I", "accounts",
                    update(open, "INSERT INTO accounts VALUES (500, 'straddling', 5.00)"));
            count(straddlingChanges, "U", "accounts", update(open, "UPDATE accounts SET balance = 3.33 WHERE id = 3"));

            cut = cluster.cutOff();

            try (Connection c = p.connect()) {
                divergent.add(write(c, "insert 5 accounts",
                        "INSERT INTO accounts SELECT g, 'divergent-' || g, g FROM generate_series(201, 205) g"));
                divergent.add(write(c, "update 10 accounts",
                        "UPDATE accounts SET balance = balance + 1 WHERE id BETWEEN 10 AND 19"));
                divergent.add(write(c, "delete 5 accounts", "DELETE FROM accounts WHERE id BETWEEN 20 AND 24"));
                divergent.add(write(c, "insert 3 orders (bigserial)",
                        "INSERT INTO orders (account_id, note) SELECT g, 'order-' || g FROM generate_series(1, 3) g"));
                divergent.add(write(c, "insert 50,000 events", "INSERT INTO events SELECT g, 'kind-' || (g % 7), "
                        + "jsonb_build_object('n', g) FROM generate_series(1, " + BIG_ROWS + ") g"));
                divergent.add(write(c, "three tables' changes in one transaction",
                        "INSERT INTO accounts VALUES (300, 'multi', 30.00)",
                        "INSERT INTO orders (account_id, note) VALUES (300, 'multi')",
                        "DELETE FROM accounts WHERE id = 25"));
                divergent.add(write(c, "update and delete without REPLICA IDENTITY FULL",
                        "UPDATE plain SET v = 'changed' WHERE id = 1", "DELETE FROM plain WHERE id = 2"));
                divergent.add(write(c, "update beside a TOASTed value", "UPDATE docs SET tag = 'final' WHERE id = 1"));
                divergent.add(write(c, "numeric wider than a double",
                        "INSERT INTO accounts VALUES (400, 'wide', " + WIDE_NUMERIC + ")"));
                divergent.add(write(c, "truncate", "TRUNCATE wiped"));
                divergent.add(write(c, "ddl", "CREATE TABLE made_after_cut (id int)"));
                // an unlogged table's rows are not in the WAL: decoding never hears of this transaction
                unloggedOnly = write(c, "unlogged insert", "INSERT INTO scratch VALUES (1)");
                PgLsn before = p.queryLsn("SELECT pg_current_wal_insert_lsn()");
                try (Statement st = c.createStatement()) {
                    st.execute("SELECT nextval('tickets')"); // no transaction id: WAL for the sequence only
                }
                sequenceOnly = new WalWindow("nextval only", before, p.queryLsn("SELECT pg_current_wal_insert_lsn()"));
            }
            open.commit();
            straddling = new Written("began before the cut, committed after it", straddlingXid, straddlingChanges);
            divergent.add(straddling);
        } finally {
            open.close();
        }
        formerPrimaryEnd = p.queryLsn("SELECT pg_current_wal_flush_lsn()");

        failover = cluster.failover();
        try (Connection c = failover.newPrimary().connect()) {
            newPrimaryWrites.add(write(c, "new primary insert",
                    "INSERT INTO accounts VALUES (900, 'new-primary', 9.00)"));
            newPrimaryWrites.add(write(c, "new primary update",
                    "UPDATE accounts SET owner = 'new-primary' WHERE id = 5"));
        }
        cluster.awaitCaughtUp();
    }

    /** The divergent transactions decoding shows changes for (not the DDL one: it decodes as an empty transaction). */
    public List<Written> divergentWithChanges() {
        return divergent.stream().filter(w -> w.changeCount() > 0).toList();
    }

    /** Rows the divergent transactions inserted, updated or deleted (JDBC's counts), TRUNCATE not included. */
    public int divergentRows() {
        return divergent.stream().flatMap(w -> w.changes().entrySet().stream())
                .filter(e -> !e.getKey().startsWith("T ")).mapToInt(Map.Entry::getValue).sum();
    }

    /**
     * One committed transaction of {@code sql} statements; each counted under its action and table as JDBC reports
     * its rows (an INSERT ... SELECT or UPDATE of n rows counts n).
     */
    private static Written write(Connection c, String label, String... sql) throws SQLException {
        c.setAutoCommit(false);
        try {
            long xid = xid(c);
            Map<String, Integer> changes = new LinkedHashMap<>();
            for (String s : sql) {
                String[] w = s.trim().split("\\s+");
                String verb = w[0].toUpperCase();
                switch (verb) {
                    case "INSERT" -> count(changes, "I", w[2], update(c, s));
                    case "UPDATE" -> count(changes, "U", w[1], update(c, s));
                    case "DELETE" -> count(changes, "D", w[2], update(c, s));
                    case "TRUNCATE" -> {
                        update(c, s);
                        count(changes, "T", w[1], 1);
                    }
                    case "CREATE" -> update(c, s);
                    default -> throw new IllegalArgumentException(s);
                }
            }
            c.commit();
            return new Written(label, xid, changes);
        } finally {
            c.setAutoCommit(true);
        }
    }

    private static void count(Map<String, Integer> changes, String action, String table, int rows) {
        changes.merge(action + " public." + table, rows, Integer::sum);
    }

    private static int update(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            return st.executeUpdate(sql);
        }
    }

    private static long xid(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); var rs = st.executeQuery("SELECT txid_current() % 4294967296")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
