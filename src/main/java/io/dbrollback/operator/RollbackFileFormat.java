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
    private final MessageDigest file = io.dbrollback.model.TailDigest.newSha256();
    private final MessageDigest content = io.dbrollback.model.TailDigest.newSha256();
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
        n.put("expectedRecords", h.expectedRecords());
        n.put("createdAt", h.createdAt().toString());
        n.put("note", "Records above forkLsn that the new primary never received, removed from the node by the "
                + "rollback. Undo order: newest first; 'before' is the value to restore (absent: delete the key).");
        line(n, true);
    }

    /** One record line. */
    public void record(TailRecord r) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", "record");
        n.put("lsn", r.lsn().value());
        n.put("term", r.term().value());
        n.put("tx", r.transactionId());
        n.put("commitTime", r.commitTime().toString());
        n.put("op", r.operation().name());
        n.put("key", r.key().toBase64());
        if (r.before() != null) {
            n.put("before", r.before().toBase64());
        }
        if (r.after() != null) {
            n.put("after", r.after().toBase64());
        }
        tail.add(r);
        line(n, true);
    }

    /** The trailer line; returns the file's summary. */
    public Summary trailer() {
        String tailSha = tail.finish();
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", "trailer");
        n.put("records", tail.records());
        n.put("canonicalBytes", tail.bytes());
        n.put("tailSha256", tailSha);
        n.put("contentSha256", HexFormat.of().formatHex(content.digest()));
        line(n, false);
        return new Summary(HexFormat.of().formatHex(file.digest()), tailSha, bytes, tail.records());
    }

    /**
     * @param sha256 of the whole file (what sha256sum prints)
     * @param tailSha256 of the records' canonical encoding
     */
    public record Summary(String sha256, String tailSha256, long bytes, long records) {
    }

    private void line(ObjectNode n, boolean content) {
        byte[] b = (Json.write(n) + "\n").getBytes(StandardCharsets.UTF_8);
        file.update(b);
        if (content) {
            this.content.update(b);
        }
        bytes += b.length;
        sink.write(b);
    }
}
