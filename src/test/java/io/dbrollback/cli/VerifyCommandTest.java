package io.dbrollback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailRecord;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dbrollback verify} and {@code inspect} on good and damaged files written by the operator's writer. */
class VerifyCommandTest {

    @TempDir
    Path dir;

    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.commandLine("dbrollback", new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    private Path good() throws Exception {
        return CliFiles.write(dir.resolve("good.rollback.jsonl"), 10, CliFiles.failoverTail());
    }

    @Test
    void aGoodFileVerifiesWithAndWithoutItsSha256() throws Exception {
        Path f = good();
        Run r = run("verify", f.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("verified: 5 records"), r.out());
        assertEquals(0, run("verify", f.toString(), "--sha256", CliFiles.sha256(f)).exit());
        Run wrong = run("verify", f.toString(), "--sha256", "0".repeat(64));
        assertEquals(1, wrong.exit());
        assertTrue(wrong.err().contains("file SHA-256 mismatch"), wrong.err());
    }

    @Test
    void aTruncatedFileFails() throws Exception {
        Path f = good();
        byte[] b = Files.readAllBytes(f);
        List<String> lines = CliFiles.lines(f);
        int trailer = lines.get(lines.size() - 1).length() + 1;
        Files.write(f, CliFiles.cut(b, trailer + 20)); // the trailer gone, the last record cut
        Run r = run("verify", f.toString());
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("line 6 is neither a record nor the trailer (not JSON"), r.err());
        assertTrue(r.err().contains("no trailer line: the file is cut after line 6"), r.err());
    }

    @Test
    void aFileWithoutItsTrailerFails() throws Exception {
        Path f = good();
        List<String> lines = CliFiles.lines(f);
        CliFiles.writeLines(f, lines.subList(0, lines.size() - 1));
        Run r = run("verify", f.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().startsWith(f + ": NOT verified: no trailer line: the file is cut after line 6"), r.err());
    }

    @Test
    void swappedRecordsFail() throws Exception {
        Path f = good();
        List<String> lines = CliFiles.lines(f);
        String two = lines.get(2);
        lines.set(2, lines.get(3));
        lines.set(3, two);
        CliFiles.writeLines(f, lines);
        Run r = run("verify", f.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("line 3: LSN 13 after LSN 11: the records are out of order"), r.err());
        assertTrue(r.err().contains("tail digest mismatch"), r.err());
        assertTrue(r.err().contains("content digest mismatch"), r.err());
    }

    @Test
    void aTamperedImageIsCaughtByTheTailDigestAlone() throws Exception {
        Path f = good();
        List<String> lines = CliFiles.lines(f);
        // record 12's after-image "divergent-update" is ZGl2ZXJnZW50LXVwZGF0ZQ==; "ZGl2" -> "ZGk2" changes one byte
        String line = lines.get(2);
        assertTrue(line.contains("\"after\":\"ZGl2ZXJnZW50LXVwZGF0ZQ==\""), line);
        lines.set(2, line.replace("\"after\":\"ZGl2", "\"after\":\"ZGk2"));
        CliFiles.writeLines(f, lines);
        CliFiles.recomputeContentSha(f);
        Run r = run("verify", f.toString());
        assertEquals(1, r.exit());
        String[] problems = r.err().split("\n");
        assertEquals(1, problems.length, r.err());
        assertTrue(problems[0].contains("NOT verified: tail digest mismatch: the trailer says "), r.err());
    }

    @Test
    void usageErrorsExitTwo() throws Exception {
        assertEquals(2, run("verify").exit());
        assertEquals(2, run("verify", dir.resolve("missing").toString()).exit());
        assertEquals(2, run("verify", good().toString(), "--sha256", "xyz").exit());
        assertEquals(2, run("inspect", good().toString(), "--op", "MERGE").exit());
        assertEquals(2, run().exit());
    }

    @Test
    void inspectShowsTheRangeTheChecksAndTheRecords() throws Exception {
        Path f = good();
        Run r = run("inspect", f.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Range:          fork LSN 10 -> last LSN 15, term 1 -> 2, new primary orders-1"),
                r.out());
        assertTrue(r.out().contains("Verified:       yes"), r.out());
        assertTrue(r.out().contains("(matches the trailer) (recomputed from the records' canonical encoding)"),
                r.out());
        String table = r.out().substring(r.out().indexOf("\nLSN ") + 1);
        List<String> rows = table.lines().toList();
        assertEquals(7, rows.size(), table);
        assertEquals(List.of("11", "INSERT", "d1", "(absent)", "divergent-insert"), cells(rows.get(1)));
        assertEquals(List.of("13", "DELETE", "k2", "v2", "(absent)"), cells(rows.get(3)));
        assertEquals("(5 of 5 records shown)", rows.get(6));

        Run filtered = run("inspect", f.toString(), "--key", "d1", "--json");
        List<String> json = filtered.out().lines().toList();
        assertEquals(3, json.size(), filtered.out());
        assertTrue(json.get(0).contains("\"verified\":true"), json.get(0));
        assertTrue(json.get(2).contains("\"lsn\":14") && json.get(2).contains("\"before\":\"divergent-insert\""),
                json.get(2));
        Run ops = run("inspect", f.toString(), "--op", "delete,insert");
        assertEquals(List.of("11", "13", "15"), ops.out().lines().filter(l -> l.matches("^1\\d .*"))
                .map(l -> l.split(" ")[0]).toList());
    }

    /** A table row's LSN, OP, KEY, BEFORE and AFTER. */
    private static List<String> cells(String row) {
        String[] c = row.trim().split(" +");
        // LSN TERM TX TIME OP KEY BEFORE AFTER
        return List.of(c[0], c[4], c[5], c[6], c[7]);
    }

    @Test
    void binaryImagesAreShownAsBase64() throws Exception {
        Path f = CliFiles.write(dir.resolve("bin.rollback.jsonl"), 0, List.of(TailRecord.insert(
                1, 1, "t", CliFiles.AT, CliFiles.b("k"), Bytes.of(new byte[] {(byte) 0xff, 0}))));
        Run r = run("inspect", f.toString());
        assertTrue(r.out().contains("base64:/wA="), r.out());
        assertTrue(new String(Files.readAllBytes(f), StandardCharsets.UTF_8).contains("/wA="));
    }
}
