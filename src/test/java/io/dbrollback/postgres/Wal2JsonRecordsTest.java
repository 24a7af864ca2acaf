package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** What the PostgreSQL agent keeps of each wal2json change (messages as wal2json 2.5 sends them). */
class Wal2JsonRecordsTest {

    static final Wal2JsonRecords.Identity FULL = identity(true, 2);

    static Wal2JsonRecords.Identity identity(boolean full, int columns) {
        return new Wal2JsonRecords.Identity() {
            @Override
            public boolean full(String schema, String table) {
                return full;
            }

            @Override
            public int columns(String schema, String table) {
                return columns;
            }
        };
    }
    static final Instant AT = Instant.parse("2026-12-04T18:56:34.374089Z");

    static TailRecord record(String json, Wal2JsonRecords.Identity identity) throws Wal2JsonRecords.Uncapturable {
        return Wal2JsonRecords.record(Wal2JsonRecords.parse(json), 0x4072A08L, 1, "749", AT, identity);
    }

    static String text(io.dbrollback.model.Bytes b) {
        return new String(b.toByteArray(), StandardCharsets.UTF_8);
    }

    @Test
    void anUpdateKeepsTheWholeOldRowAndExactNumerics() throws Exception {
        TailRecord r = record("{\"action\":\"U\",\"xid\":749,\"lsn\":\"0/4072578\",\"schema\":\"public\",\"table\":\"accounts\","
                + "\"columns\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":10},{\"name\":\"owner\",\"type\":\"text\","
                + "\"value\":\"owner-10\"},{\"name\":\"balance\",\"type\":\"numeric(20,2)\",\"value\":123456789012345678.99}],"
                + "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":10},{\"name\":\"owner\",\"type\":\"text\","
                + "\"value\":\"owner-10\"},{\"name\":\"balance\",\"type\":\"numeric(20,2)\",\"value\":100.00}],"
                + "\"pk\":[{\"name\":\"id\",\"type\":\"integer\"}]}", FULL);
        assertEquals(Operation.UPDATE, r.operation());
        assertEquals(0x4072A08L, r.lsn().value(), "the record is at its transaction's commit end");
        assertEquals("749", r.transactionId());
        assertEquals(AT, r.commitTime());
        assertEquals("{\"schema\":\"public\",\"table\":\"accounts\",\"key\":{\"id\":10}}", text(r.key()));
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"value\":10},{\"name\":\"owner\",\"type\":\"text\",\"value\":"
                + "\"owner-10\"},{\"name\":\"balance\",\"type\":\"numeric(20,2)\",\"value\":100.00}]", text(r.before()),
                "100.00 keeps its scale");
        assertTrue(text(r.after()).contains("\"value\":123456789012345678.99"), "no digit lost to a double: " + text(r.after()));
    }

    @Test
    void anUpdateThatLeftAToastedColumnTakesItFromTheOldRow() throws Exception {
        TailRecord r = record("{\"action\":\"U\",\"schema\":\"public\",\"table\":\"docs\","
                + "\"columns\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"title\",\"type\":\"text\",\"value\":\"new\"}],"
                + "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"body\",\"type\":\"text\",\"value\":\"big\"},"
                + "{\"name\":\"title\",\"type\":\"text\",\"value\":\"old\"}],\"pk\":[{\"name\":\"id\",\"type\":\"integer\"}]}", FULL);
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"body\",\"type\":\"text\",\"value\":\"big\"},"
                + "{\"name\":\"title\",\"type\":\"text\",\"value\":\"new\"}]", text(r.after()),
                "the new row in the table's column order, the unchanged TOASTed value from the old row");
    }

    @Test
    void insertsAndDeletesCarryOneImageAndTheKey() throws Exception {
        TailRecord ins = record("{\"action\":\"I\",\"schema\":\"public\",\"table\":\"kv\",\"columns\":[{\"name\":\"k\","
                + "\"type\":\"text\",\"value\":\"d\"},{\"name\":\"v\",\"type\":\"text\",\"value\":null}],"
                + "\"pk\":[{\"name\":\"k\",\"type\":\"text\"}]}", FULL);
        assertEquals(Operation.INSERT, ins.operation());
        assertNull(ins.before());
        assertEquals("[{\"name\":\"k\",\"type\":\"text\",\"value\":\"d\"},{\"name\":\"v\",\"type\":\"text\",\"value\":null}]",
                text(ins.after()));
        TailRecord del = record("{\"action\":\"D\",\"schema\":\"public\",\"table\":\"log\",\"identity\":[{\"name\":\"at\","
                + "\"type\":\"text\",\"value\":\"x\"},{\"name\":\"n\",\"type\":\"integer\",\"value\":2}]}", FULL);
        assertEquals(Operation.DELETE, del.operation());
        assertNull(del.after());
        assertEquals("{\"schema\":\"public\",\"table\":\"log\",\"key\":{\"at\":\"x\",\"n\":2}}", text(del.key()),
                "a table without a primary key is keyed by its whole row");
    }

    @Test
    void whatCannotBeKeptWholeIsRefusedNeverKeptInPart() {
        Wal2JsonRecords.Uncapturable truncate = assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"T\",\"schema\":\"public\",\"table\":\"wiped\"}", FULL));
        assertTrue(truncate.getMessage().contains("TRUNCATE") && truncate.getMessage().contains("public.wiped"),
                truncate.getMessage());
        Wal2JsonRecords.Uncapturable partial = assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"D\",\"schema\":\"public\",\"table\":\"plain\",\"identity\":[{\"name\":\"id\",\"type\":"
                        + "\"integer\",\"value\":3}]}", identity(false, 2)));
        assertTrue(partial.getMessage().contains("REPLICA IDENTITY FULL"), partial.getMessage());
        assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"U\",\"schema\":\"public\",\"table\":\"t\",\"columns\":[]}", FULL), "an update without its old row");
        // A table made FULL only after the change was written: the WAL's old row is the key alone.
        Wal2JsonRecords.Uncapturable keyOnly = assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"U\",\"schema\":\"public\",\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":"
                        + "\"integer\",\"value\":3},{\"name\":\"v\",\"type\":\"text\",\"value\":\"x\"}],\"identity\":"
                        + "[{\"name\":\"id\",\"type\":\"integer\",\"value\":3}]}", FULL));
        assertTrue(keyOnly.getMessage().contains("only part of the old row"), keyOnly.getMessage());
        assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"D\",\"schema\":\"public\",\"table\":\"t\",\"identity\":[{\"name\":\"id\","
                        + "\"type\":\"integer\",\"value\":3}]}", FULL), "a deleted row shorter than the table");
    }

    @Test
    void commitTimesInEveryOffsetAndPrecision() {
        assertEquals(Instant.parse("2026-12-04T18:56:34.374089Z"), Wal2JsonRecords.commitTime("2026-12-04 18:56:34.374089+00"));
        assertEquals(Instant.parse("2026-12-04T13:26:34Z"), Wal2JsonRecords.commitTime("2026-12-04 18:56:34+05:30"));
    }

    @Test
    void historyFilesAndPassfiles() {
        assertEquals(java.util.Map.of(1, 0x4072278L, 2, 0x5000000L), PgServerControl.switchpoints(
                "1\t0/4072278\tno recovery target specified\n\n2\t0/5000000\tno recovery target specified\n"));
        assertEquals(java.util.List.of("*", "5432", "*", "replicator", "pa:ss\\word"),
                PgServerControl.passfileFields("*:5432:*:replicator:pa\\:ss\\\\word"));
        assertEquals(2L, PgAgent.termAt(java.util.List.of(new long[] {1, 1}, new long[] {2, 0x4072279L}), 0x4072A08L));
        assertEquals(1L, PgAgent.termAt(java.util.List.of(new long[] {1, 1}, new long[] {2, 0x4072279L}), 0x4072278L));
    }
}
