package io.dbrollback.operator;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Writes a rollback file, line by line, while digesting it: a header line, one JSON line per record
 * (images base64), and a trailer line. Pure: the bytes go to a {@link Sink}; the writer keeps only
 * the digests, so memory does not grow with the tail.
 *
 * <p>Format {@value #FORMAT} (docs/rollback-file.md): every line is a JSON object with a {@code type}
 * of {@code header}, {@code record} or {@code trailer}. The trailer's {@code contentSha256} is the
 * SHA-256 of every byte before the trailer line ({@code head -n -1 FILE | sha256sum}); its
 * {@code tailSha256} is the digest of the records' canonical encoding, as the node computed it.
 */
public final class RollbackFileFormat {

    public static final String FORMAT = "dbrollback.io/rollback-file/v1";

    /** Receives the file's bytes. */
    public interface Sink {
        void write(byte[] bytes);
    }

    private final Sink sink;
    private final MessageDigest file = TailDigest.newSha256();
    private final TailDigest tail = new TailDigest();
    private long bytes;

    public RollbackFileFormat(Sink sink) {
        this.sink = sink;
    }

    /** The header line. */
    public void header(RollbackFileHeader h) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", "header");
        n.put("format", FORMAT);
        n.put("cluster", h.cluster());
        n.put("node", h.node());
        n.put("incident", h.incidentId());
        n.put("plan", h.planNumber());
        n.put("forkLsn", h.forkLsn().value());
        n.put("lastLsn", h.lastLsn().value());
        if (h.oldTerm() != null) {
            n.put("oldTerm", h.oldTerm().value());
        }
        n.put("newTerm", h.newTerm().value());
        n.put("newPrimary", h.newPrimary());
        if (h.positions()) {
            // Positions (a WAL LSN): the records of a transaction share their commit's position, and the
            // count is known only from the records themselves.
            n.put("lsnKind", "positions");
            n.putNull("expectedRecords");
        } else {
            n.put("expectedRecords", h.expectedRecords());
        }
        n.put("createdAt", h.createdAt().toString());
        n.put("note", "Records above forkLsn that the new primary never received, removed from the node by the "
                + "rollback. Undo order: newest first; 'before' is the value to restore (absent: delete the key)."
                + " op UNCAPTURED: a change the node could not keep whole; its key says what it touched and why.");
        line(n);
    }

    /**
     * One record line, written by hand rather than through a JSON tree: this is the per-record hot
     * path of a tail of millions of records. Same fields and order as before: type, lsn, term, tx,
     * commitTime, op, key, before, after.
     */
    public void record(TailRecord r) {
        StringBuilder b = lineBuffer;
        b.setLength(0);
        b.append("{\"type\":\"record\",\"lsn\":").append(r.lsn().value())
                .append(",\"term\":").append(r.term().value())
                .append(",\"tx\":");
        quote(b, r.transactionId());
        b.append(",\"commitTime\":\"").append(r.commitTime()).append('"')
                .append(",\"op\":\"").append(r.operation().name()).append('"')
                .append(",\"key\":\"").append(r.key().toBase64()).append('"');
        if (r.before() != null) {
            b.append(",\"before\":\"").append(r.before().toBase64()).append('"');
        }
        if (r.after() != null) {
            b.append(",\"after\":\"").append(r.after().toBase64()).append('"');
        }
        b.append("}\n");
        tail.add(r);
        emit(b.toString().getBytes(StandardCharsets.UTF_8));
    }

    private final StringBuilder lineBuffer = new StringBuilder(512);

    /** A JSON string literal: quotes, backslashes and control characters escaped. */
    static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /** The trailer line; returns the file's summary. */
    public Summary trailer() {
        String tailSha = tail.finish();
        String contentSha;
        try {
            // Everything so far is the content: its digest is a copy of the file's digest at this point.
            contentSha = HexFormat.of().formatHex(((MessageDigest) file.clone()).digest());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("SHA-256 digests can be copied", e);
        }
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", "trailer");
        n.put("records", tail.records());
        n.put("canonicalBytes", tail.bytes());
        n.put("tailSha256", tailSha);
        n.put("contentSha256", contentSha);
        line(n);
        return new Summary(HexFormat.of().formatHex(file.digest()), tailSha, bytes, tail.records());
    }

    /**
     * @param sha256 of the whole file (what sha256sum prints)
     * @param tailSha256 of the records' canonical encoding
     */
    public record Summary(String sha256, String tailSha256, long bytes, long records) {
    }

    private void line(ObjectNode n) {
        emit((Json.write(n) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private void emit(byte[] b) {
        file.update(b);
        bytes += b.length;
        sink.write(b);
    }
}
