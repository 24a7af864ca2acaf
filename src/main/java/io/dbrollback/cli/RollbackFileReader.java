package io.dbrollback.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.operator.RollbackFileFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Reads a rollback file in one streaming pass (one line in memory at a time) and checks it: the header
 * ({@value RollbackFileFormat#FORMAT}), every record line, and the trailer, as the operator wrote them.
 *
 * <p>The checks reuse the operator's own code: every record line is parsed into a {@link TailRecord}
 * (whose constructor holds the rules on images) and written again by {@link RollbackFileFormat}, the
 * writer the operator made the file with; the line must come out byte for byte the same. The writer's
 * own trailer for those records gives the record count, canonical bytes and tail digest (the SHA-256 of
 * the records' canonical encoding, {@link io.dbrollback.model.CanonicalEncoding}), which must equal the
 * file's trailer; the trailer's {@code contentSha256} must be the SHA-256 of every byte before it; and
 * with an expected SHA-256 (the status's {@code rollbackFile.sha256}) the whole file must have it.
 */
public final class RollbackFileReader {

    /** The line limit: a record line longer than this is refused rather than held in memory. */
    static final int MAX_LINE = 256 * 1024 * 1024;
    private static final int MAX_PROBLEMS = 20;

    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .build();

    /** Receives the header and the records as they stream past. */
    public interface Listener {
        default void header(FileHeader header) {
        }

        /** A record that parsed; {@code line} is its 1-based line number. */
        default void record(TailRecord record, long line) throws IOException {
        }

        /** The same, with the byte in the file where the record's line starts. */
        default void record(TailRecord record, long line, long offset) throws IOException {
            record(record, line);
        }
    }

    /** A listener that wants nothing but the checks. */
    public static final Listener NONE = new Listener() {
    };

    /**
     * What the pass found.
     *
     * @param header null when the first line is not a header
     * @param problems empty when the file verifies; else the reasons, first the first found
     */
    public record Result(FileHeader header, long records, long canonicalBytes, String tailSha256,
            String contentSha256, String sha256, long bytes, JsonNode trailer, List<String> problems) {

        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private RollbackFileReader() {
    }

    /** Checks {@code file}; {@code expectedSha256} (null: not checked) is what the whole file must hash to. */
    public static Result read(Path file, String expectedSha256, Listener listener) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, expectedSha256, listener);
        }
    }

    public static Result read(InputStream raw, String expectedSha256, Listener listener) throws IOException {
        return new Pass(listener).run(raw, expectedSha256);
    }

    /** One pass over one file. */
    private static final class Pass {
        private final Listener listener;
        private final MessageDigest whole = TailDigest.newSha256();
        private final MessageDigest content = TailDigest.newSha256();
        private final List<String> problems = new ArrayList<>();
        private final ByteArrayLine rewritten = new ByteArrayLine();
        private final RollbackFileFormat writer = new RollbackFileFormat(rewritten::set);
        private byte[] line = new byte[64 * 1024];
        private int length;
        private long bytes;
        private boolean endsWithNewline = true;

        Pass(Listener listener) {
            this.listener = listener;
        }

        Result run(InputStream in, String expectedSha256) throws IOException {
            FileHeader header = null;
            JsonNode trailer = null;
            long lineNo = 0;
            long records = 0;
            long lastLsn = -1;
            boolean afterTrailer = false;
            while (readLine(in)) {
                lineNo++;
                if (afterTrailer) {
                    problem("line " + lineNo + " follows the trailer: the trailer must be the last line");
                    content.update(line, 0, length);
                    continue;
                }
                JsonNode n;
                try {
                    n = JSON.readTree(line, 0, length);
                } catch (IOException e) {
                    n = null;
                }
                String type = n != null && n.isObject() ? n.path("type").asText("") : "";
                if (lineNo == 1) {
                    content.update(line, 0, length);
                    if (!type.equals("header")) {
                        problem("line 1 is not a header line: not a rollback file");
                        continue;
                    }
                    try {
                        header = FileHeader.of(n);
                        if (!header.format().equals(RollbackFileFormat.FORMAT)) {
                            problem("format " + header.format() + " is not " + RollbackFileFormat.FORMAT);
                        }
                        listener.header(header);
                    } catch (IllegalArgumentException e) {
                        problem("line 1: " + e.getMessage());
                    }
                    continue;
                }
                if (type.equals("trailer")) {
                    trailer = n;
                    afterTrailer = true;
                    continue;
                }
                content.update(line, 0, length);
                if (!type.equals("record")) {
                    problem("line " + lineNo + " is neither a record nor the trailer"
                            + (n == null ? " (not JSON: the line is cut or damaged)" : ""));
                    continue;
                }
                TailRecord r;
                try {
                    r = record(n);
                } catch (IllegalArgumentException e) {
                    problem("line " + lineNo + ": " + e.getMessage());
                    continue;
                }
                records++;
                writer.record(r);
                if (!rewritten.equals(line, length)) {
                    problem("line " + lineNo + " (LSN " + r.lsn() + ") is not as the operator writes that record");
                }
                if (header != null) {
                    long lsn = r.lsn().value();
                    if (lsn <= header.forkLsn() || lsn > header.lastLsn()) {
                        problem("line " + lineNo + ": LSN " + lsn + " is outside the header's range ("
                                + header.forkLsn() + ", " + header.lastLsn() + "]");
                    } else if (header.positions() ? lsn < lastLsn : lsn != (lastLsn < 0 ? header.forkLsn() : lastLsn)
                            + 1) {
                        problem("line " + lineNo + ": LSN " + lsn + " after LSN "
                                + (lastLsn < 0 ? header.forkLsn() : lastLsn) + ": the records are out of order"
                                + (header.positions() ? "" : " or one is missing"));
                    }
                }
                lastLsn = r.lsn().value();
                listener.record(r, lineNo, bytes - length);
            }
            if (lineNo == 0) {
                problem("the file is empty");
            }
            if (!endsWithNewline) {
                problem("the last line has no newline: the file is cut");
            }
            RollbackFileFormat.Summary summary = writer.trailer();
            JsonNode own = JSON.readTree(rewritten.text());
            String contentSha = HexFormat.of().formatHex(content.digest());
            String sha = HexFormat.of().formatHex(whole.digest());
            if (trailer == null) {
                if (lineNo > 0) {
                    problem("no trailer line: the file is cut after line " + lineNo);
                }
            } else {
                compare(trailer, own, "records", "the trailer counts %s records, the file holds %s");
                compare(trailer, own, "canonicalBytes", "the trailer says %s canonical bytes, the records have %s");
                compare(trailer, own, "tailSha256",
                        "tail digest mismatch: the trailer says %s, the records' canonical encoding hashes to %s");
                if (!contentSha.equals(trailer.path("contentSha256").asText())) {
                    problem("content digest mismatch: the trailer says " + trailer.path("contentSha256").asText()
                            + ", the bytes before it hash to " + contentSha);
                }
            }
            if (header != null && !header.positions() && header.expectedRecords() != null
                    && header.expectedRecords() != records) {
                problem("the header expects " + header.expectedRecords() + " records, the file holds " + records);
            }
            if (header != null && !header.positions() && records > 0 && lastLsn != header.lastLsn()) {
                problem("the records end at LSN " + lastLsn + ", the header's lastLsn is " + header.lastLsn());
            }
            if (expectedSha256 != null && !expectedSha256.equalsIgnoreCase(sha)) {
                problem("file SHA-256 mismatch: expected " + expectedSha256.toLowerCase() + ", the file hashes to "
                        + sha);
            }
            return new Result(header, records, own.path("canonicalBytes").asLong(), summary.tailSha256(), contentSha,
                    sha, bytes, trailer, List.copyOf(problems));
        }

        private void compare(JsonNode trailer, JsonNode own, String field, String message) {
            String theirs = trailer.path(field).asText();
            String ours = own.path(field).asText();
            if (!theirs.equals(ours)) {
                problem(String.format(message, theirs.isEmpty() ? "no" : theirs, ours));
            }
        }

        private void problem(String p) {
            if (problems.size() < MAX_PROBLEMS) {
                problems.add(p);
            }
        }

        private final byte[] buffer = new byte[1 << 20];
        private int position;
        private int limit;

        /** The next line, its newline included, into {@link #line}; false at the end. */
        private boolean readLine(InputStream in) throws IOException {
            length = 0;
            while (true) {
                if (position == limit) {
                    limit = in.read(buffer);
                    position = 0;
                    if (limit <= 0) {
                        limit = 0;
                        break;
                    }
                }
                int end = position;
                while (end < limit && buffer[end] != '\n') {
                    end++;
                }
                boolean newline = end < limit;
                int take = (newline ? end + 1 : end) - position;
                if (length + take > line.length) {
                    if (length + take > MAX_LINE) {
                        throw new IOException("a line longer than " + MAX_LINE + " bytes: not a rollback file");
                    }
                    line = Arrays.copyOf(line, Math.min(MAX_LINE, Math.max(line.length * 2, length + take)));
                }
                System.arraycopy(buffer, position, line, length, take);
                length += take;
                position += take;
                if (newline) {
                    break;
                }
            }
            if (length == 0) {
                return false;
            }
            whole.update(line, 0, length);
            bytes += length;
            endsWithNewline = line[length - 1] == '\n';
            return true;
        }
    }

    /** Parses one record line's JSON into a record; IllegalArgumentException naming what is wrong. */
    static TailRecord record(JsonNode n) {
        try {
            JsonNode lsn = n.get("lsn");
            JsonNode term = n.get("term");
            if (lsn == null || !lsn.isIntegralNumber() || term == null || !term.isIntegralNumber()) {
                throw new IllegalArgumentException("lsn and term must be numbers");
            }
            return new TailRecord(Lsn.of(lsn.asLong()), Term.of(term.asLong()), text(n, "tx"),
                    Instant.parse(text(n, "commitTime")), Operation.valueOf(text(n, "op")),
                    Bytes.fromBase64(text(n, "key")), image(n, "before"), image(n, "after"));
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("commitTime is not an instant");
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException(field + " is missing or not a string");
        }
        return v.asText();
    }

    private static Bytes image(JsonNode n, String field) {
        return n.hasNonNull(field) ? Bytes.fromBase64(text(n, field)) : null;
    }

    /** The last line the writer emitted. */
    private static final class ByteArrayLine {
        private byte[] last = new byte[0];

        void set(byte[] b) {
            last = b;
        }

        boolean equals(byte[] other, int length) {
            return Arrays.equals(last, 0, last.length, other, 0, length);
        }

        String text() {
            return new String(last, StandardCharsets.UTF_8);
        }
    }
}
