package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Pins the bytes of a rollback file (format {@value RollbackFileFormat#FORMAT}) for a small tail: the
 * formatter may be rewritten for speed, never change a byte. The golden files were written by the
 * formatter as it was before the hand-written byte encoder (Jackson tree header and trailer, record
 * lines through a StringBuilder, {@code Instant.toString}, {@code Base64.Encoder}). On a mismatch the
 * actual bytes are written to {@code target/golden-actual-NAME} for a diff.
 */
class RollbackFileGoldenTest {

    private static final Instant CREATED = Instant.parse("2024-03-01T10:00:00.5Z");

    /** Dense LSNs: every operation, escaping and unicode in transaction ids and keys, every commit-time shape. */
    static List<TailRecord> denseTail() {
        return List.of(
                TailRecord.insert(11, 3, "tx-1", Instant.parse("2024-02-29T12:34:56Z"),
                        Bytes.utf8("customer:00000001"), Bytes.of(bytes(0, 64))),
                TailRecord.update(12, 3, "quote\"back\\slash/", Instant.parse("2024-02-29T12:34:56.123Z"),
                        Bytes.utf8("ключ/é漢字🙂"), Bytes.utf8("{\"v\":1}"), Bytes.of(bytes(200, 56))),
                TailRecord.delete(13, 3, "new\nline\ttab\rcr\u0001\u001f\u007f\b\f", Instant.parse(
                        "2024-02-29T12:34:56.123456Z"), Bytes.EMPTY, Bytes.of(bytes(7, 3))),
                TailRecord.uncaptured(14, 3, "é漢字🙂</script>\u2028\u2029\ud800", Instant.parse(
                        "2024-02-29T12:34:56.123456789Z"), Bytes.utf8("{\"table\":\"wiped\",\"uncaptured\":"
                                + "\"TRUNCATE\"}"), null, null),
                TailRecord.uncaptured(15, 4, "42", Instant.parse("1969-12-31T23:59:59.999999999Z"),
                        Bytes.utf8("k"), Bytes.utf8("key only"), null),
                TailRecord.update(16, 4, "", Instant.parse("+10000-01-01T00:00:00.000001Z"), Bytes.of(bytes(1, 1)),
                        Bytes.EMPTY, Bytes.EMPTY),
                TailRecord.uncaptured(17, 4, "\\u0000", Instant.ofEpochSecond(1_700_000_000L, 100_000_000),
                        Bytes.of(bytes(255, 2)), null, Bytes.of(bytes(3, 5))));
    }

    static RollbackFileHeader denseHeader() {
        return new RollbackFileHeader("inc-ü\"1", 2, "cluster \"漢\"\n", "node-0", Lsn.of(10), Lsn.of(17), Term.of(4),
                Term.of(5), "node-1", 7, CREATED);
    }

    /** Positions (a WAL LSN): records of one transaction share a position; no old term. */
    static List<TailRecord> positionsTail() {
        Instant t = Instant.parse("2025-06-30T23:59:59.000500Z");
        return List.of(
                TailRecord.insert(1_500, 9, "812", t, Bytes.utf8("{\"table\":\"public.t\",\"id\":1}"),
                        Bytes.utf8("{\"id\":1,\"s\":\"ä\"}")),
                TailRecord.update(1_500, 9, "812", t, Bytes.utf8("{\"table\":\"public.t\",\"id\":2}"),
                        Bytes.utf8("{\"id\":2}"), Bytes.utf8("{\"id\":2,\"n\":3.50}")),
                TailRecord.delete(1_800, 9, "813", t.plusSeconds(1), Bytes.utf8("{\"table\":\"public.t\",\"id\":3}"),
                        Bytes.utf8("{\"id\":3}")));
    }

    static RollbackFileHeader positionsHeader() {
        return new RollbackFileHeader("pg-incident", 1, "pg", "pg-0", Lsn.of(1_000), Lsn.of(2_000), null, Term.of(10),
                "pg-1", -1, CREATED, true);
    }

    @Test
    void aDenseTailGivesTheGoldenBytes() throws Exception {
        check("rollback-file-dense.jsonl", denseHeader(), denseTail());
    }

    @Test
    void aTailOfPositionsGivesTheGoldenBytes() throws Exception {
        check("rollback-file-positions.jsonl", positionsHeader(), positionsTail());
    }

    @Test
    void anEmptyTailGivesTheGoldenBytes() throws Exception {
        check("rollback-file-empty.jsonl", new RollbackFileHeader("empty", 1, "c", "n", Lsn.of(5), Lsn.of(5),
                Term.of(1), Term.of(2), "p", 0, CREATED), List.of());
    }

    private static void check(String name, RollbackFileHeader header, List<TailRecord> tail) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RollbackFileFormat f = new RollbackFileFormat(out::writeBytes);
        f.header(header);
        tail.forEach(f::record);
        RollbackFileFormat.Summary s = f.trailer();
        byte[] actual = out.toByteArray();
        byte[] golden = golden(name);
        if (golden == null || !Arrays.equals(golden, actual)) {
            Files.write(Path.of("target", "golden-actual-" + name), actual);
        }
        assertNotNull(golden, "golden file " + name + " (see target/golden-actual-" + name + ")");
        assertArrayEquals(golden, actual, name + ": the file's bytes changed (see target/golden-actual-" + name + ")");
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(golden)), s.sha256());
        assertEquals(golden.length, s.bytes());
        assertEquals(tail.size(), s.records());
        TailDigest d = new TailDigest();
        tail.forEach(d::add);
        assertEquals(d.finish(), s.tailSha256(), "the file's tail digest is the canonical digest of the tail");
    }

    private static byte[] golden(String name) throws IOException {
        try (InputStream in = RollbackFileGoldenTest.class.getResourceAsStream(name)) {
            return in == null ? null : in.readAllBytes();
        }
    }

    private static byte[] bytes(int start, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (start + i * 37);
        }
        return b;
    }
}
