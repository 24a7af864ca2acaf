package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
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

    static String text(Bytes b) {
        return new String(b.toByteArray(), StandardCharsets.UTF_8);
    }

    @Test
    void anUpdateKeepsTheWholeOldRowAndExactNumerics() throws Exception {
        TailRecord r = record("{\"action\":\"U\",\"xid\":749,\"lsn\":\"0/4072578\",\"schema\":\"public\","
                + "\"table\":\"accounts\",\"columns\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":10},"
                + "{\"name\":\"owner\",\"type\":\"text\",\"value\":\"owner-10\"},{\"name\":\"balance\","
                + "\"type\":\"numeric(20,2)\",\"value\":123456789012345678.99}],\"identity\":[{\"name\":\"id\","
                + "\"type\":\"integer\",\"value\":10},{\"name\":\"owner\",\"type\":\"text\",\"value\":\"owner-10\"},"
                + "{\"name\":\"balance\",\"type\":\"numeric(20,2)\",\"value\":100.00}],\"pk\":[{\"name\":\"id\","
                + "\"type\":\"integer\"}]}", FULL);
        assertEquals(Operation.UPDATE, r.operation());
        assertEquals(0x4072A08L, r.lsn().value(), "the record is at its transaction's commit end");
        assertEquals("749", r.transactionId());
        assertEquals(AT, r.commitTime());
        assertEquals("{\"schema\":\"public\",\"table\":\"accounts\",\"key\":{\"id\":10}}", text(r.key()));
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"value\":10},{\"name\":\"owner\","
                + "\"type\":\"text\",\"value\":\"owner-10\"},{\"name\":\"balance\",\"type\":\"numeric(20,2)\","
                + "\"value\":100.00}]", text(r.before()),
                "100.00 keeps its scale");
        assertTrue(text(r.after()).contains("\"value\":123456789012345678.99"),
                "no digit lost to a double: " + text(r.after()));
    }

    @Test
    void anUpdateThatLeftAToastedColumnTakesItFromTheOldRow() throws Exception {
        TailRecord r = record("{\"action\":\"U\",\"schema\":\"public\",\"table\":\"docs\","
                + "\"columns\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"title\","
                + "\"type\":\"text\",\"value\":\"new\"}],\"identity\":[{\"name\":\"id\",\"type\":\"integer\","
                + "\"value\":1},{\"name\":\"body\",\"type\":\"text\",\"value\":\"big\"},{\"name\":\"title\","
                + "\"type\":\"text\",\"value\":\"old\"}],\"pk\":[{\"name\":\"id\",\"type\":\"integer\"}]}", FULL);
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"body\",\"type\":\"text\","
                + "\"value\":\"big\"},{\"name\":\"title\",\"type\":\"text\",\"value\":\"new\"}]", text(r.after()),
                "the new row in the table's column order, the unchanged TOASTed value from the old row");
    }

    @Test
    void insertsAndDeletesCarryOneImageAndTheKey() throws Exception {
        TailRecord ins = record("{\"action\":\"I\",\"schema\":\"public\",\"table\":\"kv\",\"columns\":[{\"name\":\"k\","
                + "\"type\":\"text\",\"value\":\"d\"},{\"name\":\"v\",\"type\":\"text\",\"value\":null}],"
                + "\"pk\":[{\"name\":\"k\",\"type\":\"text\"}]}", FULL);
        assertEquals(Operation.INSERT, ins.operation());
        assertNull(ins.before());
        assertEquals("[{\"name\":\"k\",\"type\":\"text\",\"value\":\"d\"},{\"name\":\"v\",\"type\":\"text\","
                + "\"value\":null}]",
                text(ins.after()));
        TailRecord del = record("{\"action\":\"D\",\"schema\":\"public\",\"table\":\"log\","
                + "\"identity\":[{\"name\":\"at\",\"type\":\"text\",\"value\":\"x\"},{\"name\":\"n\","
                + "\"type\":\"integer\",\"value\":2}]}", FULL);
        assertEquals(Operation.DELETE, del.operation());
        assertNull(del.after());
        assertEquals("{\"schema\":\"public\",\"table\":\"log\",\"key\":{\"at\":\"x\",\"n\":2}}", text(del.key()),
                "a table without a primary key is keyed by its whole row");
    }

    static JsonNode json(Bytes b) {
        return Wal2JsonRecords.parse(text(b));
    }

    @Test
    void whatCannotBeKeptWholeIsKeptAsUncapturedSayingWhatAndWhy() throws Exception {
        TailRecord truncate = record("{\"action\":\"T\",\"schema\":\"public\",\"table\":\"wiped\"}", FULL);
        assertEquals(Operation.UNCAPTURED, truncate.operation());
        assertEquals(0x4072A08L, truncate.lsn().value(), "at its transaction's commit end, like every change");
        assertEquals("TRUNCATE", json(truncate.key()).get("uncaptured").asText());
        assertEquals("wiped", json(truncate.key()).get("table").asText());
        assertTrue(json(truncate.key()).get("why").asText().contains("rows the WAL does not name"));
        assertNull(truncate.before());
        assertNull(truncate.after());

        // REPLICA IDENTITY DEFAULT: the deleted row's key is all the WAL holds, kept as what it is
        TailRecord partial = record("{\"action\":\"D\",\"schema\":\"public\",\"table\":\"plain\",\"identity\":"
                + "[{\"name\":\"id\",\"type\":\"integer\",\"value\":3}],\"pk\":[{\"name\":\"id\","
                + "\"type\":\"integer\"}]}",
                identity(false, 2));
        assertEquals(Operation.UNCAPTURED, partial.operation());
        assertEquals("{\"schema\":\"public\",\"table\":\"plain\",\"key\":{\"id\":3},"
                + "\"uncaptured\":\"OLD_ROW_INCOMPLETE\",\"why\":\"the table's REPLICA IDENTITY is not FULL, so the "
                + "WAL holds only part of the old row (ALTER TABLE public.plain REPLICA IDENTITY FULL)\"}",
                text(partial.key()));
        assertEquals("[{\"name\":\"id\",\"type\":\"integer\",\"value\":3}]", text(partial.before()),
                "the part it holds");
        assertNull(partial.after());

        // an update of such a table whose key did not change: no old row at all, the new row whole
        TailRecord noOld = record("{\"action\":\"U\",\"schema\":\"public\",\"table\":\"plain\",\"columns\":"
                + "[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},{\"name\":\"v\",\"type\":\"text\","
                + "\"value\":\"c\"}],\"pk\":[{\"name\":\"id\",\"type\":\"integer\"}]}", identity(false, 2));
        assertEquals(Operation.UNCAPTURED, noOld.operation());
        assertEquals(1, json(noOld.key()).get("key").get("id").asInt(), "keyed by the new row's key");
        assertNull(noOld.before());
        assertTrue(text(noOld.after()).contains("\"value\":\"c\""));

        // a table made FULL only after the change was written: the WAL's old row is the key alone
        TailRecord keyOnly = record("{\"action\":\"U\",\"schema\":\"public\",\"table\":\"t\",\"columns\":[{\"name\":"
                + "\"id\",\"type\":\"integer\",\"value\":3},{\"name\":\"v\",\"type\":\"text\",\"value\":\"x\"}],"
                + "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":3}]}", FULL);
        assertEquals(Operation.UNCAPTURED, keyOnly.operation());
        assertTrue(json(keyOnly.key()).get("why").asText().contains("only part of the old row"), text(keyOnly.key()));
        TailRecord shortRow = record("{\"action\":\"D\",\"schema\":\"public\",\"table\":\"t\",\"identity\":[{\"name\":"
                + "\"id\",\"type\":\"integer\",\"value\":3}]}", FULL);
        assertEquals(Operation.UNCAPTURED, shortRow.operation(), "a deleted row shorter than the table");
        assertTrue(json(shortRow.key()).get("why").asText().contains("1 of the table's 2 columns"),
                text(shortRow.key()));

        // a table dropped since: its identity cannot be checked
        Wal2JsonRecords.Identity dropped = new Wal2JsonRecords.Identity() {
            @Override
            public boolean full(String schema, String table) throws Wal2JsonRecords.Uncapturable {
                throw new Wal2JsonRecords.Uncapturable("the table public.gone of a divergent change no longer exists");
            }

            @Override
            public int columns(String schema, String table) {
                return 1;
            }
        };
        TailRecord gone = record("{\"action\":\"D\",\"schema\":\"public\",\"table\":\"gone\",\"identity\":[{\"name\":"
                + "\"id\",\"type\":\"integer\",\"value\":3}]}", dropped);
        assertEquals(Operation.UNCAPTURED, gone.operation());
        assertTrue(json(gone.key()).get("why").asText().contains("no longer exists"));

        TailRecord ddl = Wal2JsonRecords.emptyTransaction(0x4072A08L, 1, "812", AT);
        assertEquals(Operation.UNCAPTURED, ddl.operation());
        assertEquals("NO_DECODABLE_CHANGE", json(ddl.key()).get("uncaptured").asText());
        assertEquals("812", ddl.transactionId());

        // what wal2json should never send is still refused
        assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"U\",\"schema\":\"public\",\"table\":\"t\"}", FULL), "an update without its new row");
        assertThrows(Wal2JsonRecords.Uncapturable.class, () -> record(
                "{\"action\":\"X\",\"schema\":\"public\",\"table\":\"t\"}", FULL), "an unknown action");
    }

    @Test
    void commitTimesInEveryOffsetAndPrecision() {
        assertEquals(Instant.parse("2026-12-04T18:56:34.374089Z"),
                Wal2JsonRecords.commitTime("2026-12-04 18:56:34.374089+00"));
        assertEquals(Instant.parse("2026-12-04T13:26:34Z"), Wal2JsonRecords.commitTime("2026-12-04 18:56:34+05:30"));
    }

    @Test
    void historyFilesAndPassfiles() {
        assertEquals(Map.of(1, 0x4072278L, 2, 0x5000000L), PgServerControl.switchpoints(
                "1\t0/4072278\tno recovery target specified\n\n2\t0/5000000\tno recovery target specified\n"));
        assertEquals(List.of("*", "5432", "*", "replicator", "pa:ss\\word"),
                PgServerControl.passfileFields("*:5432:*:replicator:pa\\:ss\\\\word"));
        assertEquals(2L, PgAgent.termAt(List.of(new long[] {1, 1}, new long[] {2, 0x4072279L}), 0x4072A08L));
        assertEquals(1L, PgAgent.termAt(List.of(new long[] {1, 1}, new long[] {2, 0x4072279L}), 0x4072278L));
    }
}
