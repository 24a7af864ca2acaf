package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Record lines are valid JSON holding exactly the record, whatever its transaction id; digests hold. */
class RollbackFileFormatTest {

    @Test
    void everyRecordLineParsesBackToTheRecord() throws Exception {
        Random rnd = new Random(7);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RollbackFileFormat f = new RollbackFileFormat(out::writeBytes);
        f.header(new RollbackFileHeader("inc", 1, "c", "n", Lsn.of(0), Lsn.of(200), Term.of(1), Term.of(2), "p", 200,
                Instant.EPOCH));
        List<String> ids = List.of("plain", "quote\"s", "back\\slash", "new\nline", "tab\t", "\u0001\u001f", "é漢字🙂",
                "</script>", "");
        for (int i = 1; i <= 200; i++) {
            byte[] key = new byte[1 + rnd.nextInt(20)];
            rnd.nextBytes(key);
            TailRecord r = TailRecord.update(i, 1, ids.get(i % ids.size()) + i,
                    Instant.ofEpochSecond(1_700_000_000L + i,
                    rnd.nextInt(1_000_000_000)), Bytes.of(key), Bytes.utf8("old" + i), Bytes.utf8("new" + i));
            f.record(r);
        }
        RollbackFileFormat.Summary s = f.trailer();
        byte[] all = out.toByteArray();
        List<String> lines = new String(all, StandardCharsets.UTF_8).lines().toList();
        assertEquals(202, lines.size());
        for (int i = 1; i <= 200; i++) {
            JsonNode n = Json.MAPPER.readTree(lines.get(i));
            assertEquals(ids.get(i % ids.size()) + i, n.get("tx").asText());
            assertEquals(i, n.get("lsn").asLong());
            assertEquals("UPDATE", n.get("op").asText());
            assertEquals("new" + i, new String(Base64.getDecoder().decode(n.get("after").asText()),
                    StandardCharsets.UTF_8));
        }
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        assertEquals(HexFormat.of().formatHex(sha.digest(all)), s.sha256(), "sha256sum of the file");
        int trailerStart = new String(all, StandardCharsets.UTF_8).lastIndexOf("{\"type\":\"trailer\"");
        byte[] content = new String(all, StandardCharsets.UTF_8).substring(0, trailerStart)
                .getBytes(StandardCharsets.UTF_8);
        assertEquals(HexFormat.of().formatHex(sha.digest(content)),
                Json.MAPPER.readTree(lines.get(201)).get("contentSha256").asText(), "head -n -1 | sha256sum");
        assertEquals(all.length, s.bytes());
    }

    @Test
    void anUncapturedChangeIsALineMarkedSoWithWhatTheNodeKnows() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RollbackFileFormat f = new RollbackFileFormat(out::writeBytes);
        f.header(new RollbackFileHeader("inc", 1, "c", "n", Lsn.of(0), Lsn.of(2), Term.of(1), Term.of(2), "p", 2,
                Instant.EPOCH));
        TailRecord truncate = TailRecord.uncaptured(1, 1, "812", Instant.EPOCH,
                Bytes.utf8("{\"table\":\"wiped\",\"uncaptured\":\"TRUNCATE\"}"), null, null);
        TailRecord partial = TailRecord.uncaptured(2, 1, "813", Instant.EPOCH, Bytes.utf8("k"), Bytes.utf8("key only"),
                null);
        f.record(truncate);
        f.record(partial);
        RollbackFileFormat.Summary s = f.trailer();
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        assertTrue(Json.MAPPER.readTree(lines.get(0)).get("note").asText().contains("op UNCAPTURED"),
                "the header says what the marking means");
        JsonNode t = Json.MAPPER.readTree(lines.get(1));
        assertEquals("UNCAPTURED", t.get("op").asText());
        assertFalse(t.has("before") || t.has("after"), "no image the node does not know");
        JsonNode p = Json.MAPPER.readTree(lines.get(2));
        assertEquals("UNCAPTURED", p.get("op").asText());
        assertEquals("key only", new String(Base64.getDecoder().decode(p.get("before").asText()),
                StandardCharsets.UTF_8));
        TailDigest d = new TailDigest();
        d.add(truncate);
        d.add(partial);
        assertEquals(d.finish(), s.tailSha256(), "the tail digest covers them as the node computed it");
    }
}
