package io.dbrollback.cli;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.operator.RollbackFileFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/** Rollback files for the tool's tests, written by the operator's own writer, and ways to damage them. */
final class CliFiles {

    static final Instant AT = Instant.parse("2026-12-01T10:00:00Z");

    private CliFiles() {
    }

    static Bytes b(String s) {
        return Bytes.utf8(s);
    }

    /** The reference cluster's failover tail: LSNs 11..15 after fork 10 (as DbCluster#failover makes it). */
    static List<TailRecord> failoverTail() {
        return List.of(
                TailRecord.insert(11, 1, "orders-0-1-11", AT, b("d1"), b("divergent-insert")),
                TailRecord.update(12, 1, "orders-0-1-12", AT, b("k1"), b("v1"), b("divergent-update")),
                TailRecord.delete(13, 1, "orders-0-1-13", AT, b("k2"), b("v2")),
                TailRecord.update(14, 1, "orders-0-1-14", AT, b("d1"), b("divergent-insert"),
                        b("divergent-update-2")),
                TailRecord.insert(15, 1, "orders-0-1-15", AT, b("d2"), b("divergent-insert-2")));
    }

    /** A file of dense LSNs from {@code forkLsn}. */
    static Path write(Path file, long forkLsn, List<TailRecord> records) throws IOException {
        long last = records.isEmpty() ? forkLsn : records.get(records.size() - 1).lsn().value();
        RollbackFileHeader h = new RollbackFileHeader("5f0c0000-0000-0000-0000-000000000001", 1, "db/orders-leader",
                "orders-0", Lsn.of(forkLsn), Lsn.of(last), Term.of(1), Term.of(2), "orders-1", records.size(), AT);
        return write(file, h, records);
    }

    static Path write(Path file, RollbackFileHeader h, List<TailRecord> records) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        RollbackFileFormat f = new RollbackFileFormat(out::writeBytes);
        f.header(h);
        records.forEach(f::record);
        f.trailer();
        Files.write(file, out.toByteArray());
        return file;
    }

    static List<String> lines(Path file) throws IOException {
        return new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
    }

    static Path writeLines(Path file, List<String> lines) throws IOException {
        Files.writeString(file, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
        return file;
    }

    /** Replaces the trailer's contentSha256 with the digest of the lines before it. */
    static Path recomputeContentSha(Path file) throws Exception {
        List<String> lines = lines(file);
        String before = String.join("\n", lines.subList(0, lines.size() - 1)) + "\n";
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(before.getBytes(StandardCharsets.UTF_8)));
        String trailer = lines.get(lines.size() - 1).replaceAll("\"contentSha256\":\"[0-9a-f]{64}\"",
                "\"contentSha256\":\"" + sha + "\"");
        lines.set(lines.size() - 1, trailer);
        return writeLines(file, lines);
    }

    static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    static byte[] cut(byte[] b, int drop) {
        return Arrays.copyOf(b, b.length - drop);
    }
}
