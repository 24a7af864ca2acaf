package io.dbrollback.operator;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
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
        /** The next bytes of the file; the sink may keep the array. */
        void write(byte[] bytes);

        /**
         * The next bytes of the file, {@code bytes[offset, offset + length)}; the array is reused after the
         * call, so a sink keeps a copy. The formatter calls this one; by default it copies the range.
         */
        default void write(byte[] bytes, int offset, int length) {
            write(Arrays.copyOfRange(bytes, offset, offset + length));
        }
    }

    private final Sink sink;
    private final MessageDigest file = TailDigest.newSha256();
    /** The tail's digest: the stream's (shared, read only) or this writer's own. */
    private final TailDigest tail;
    private final boolean shared;
    private final RecordLine line = new RecordLine();
    private long records;
    private long bytes;

    public RollbackFileFormat(Sink sink) {
        this(sink, null);
    }

    /**
     * @param sharedDigest the digest the tail's stream keeps of exactly the records it handed out
     *     ({@link io.dbrollback.coordinator.TailStream#digest()}), taken as the file's {@code tailSha256}
     *     once it covers exactly the records written here (checked at the trailer); null: this writer
     *     digests the records itself
     */
    public RollbackFileFormat(Sink sink, TailDigest sharedDigest) {
        this.sink = sink;
        this.shared = sharedDigest != null;
        this.tail = shared ? sharedDigest : new TailDigest();
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
     * One record line, written by hand as bytes rather than through a JSON tree or a String: this is the
     * per-record hot path of a tail of millions of records. Same fields, order and bytes as ever
     * (RollbackFileGoldenTest): type, lsn, term, tx, commitTime, op, key, before, after.
     */
    public void record(TailRecord r) {
        int length = line.format(r);
        if (!shared) {
            tail.add(r);
        }
        records++;
        emit(line.bytes(), length);
    }

    /** The trailer line; returns the file's summary. */
    public Summary trailer() {
        if (tail.records() != records) {
            throw new IllegalStateException("the tail's digest covers " + tail.records() + " records, " + records
                    + " were written to the file");
        }
        String tailSha = shared ? tail.sha256() : tail.finish();
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
        byte[] b = (Json.write(n) + "\n").getBytes(StandardCharsets.UTF_8);
        emit(b, b.length);
    }

    private void emit(byte[] b, int length) {
        file.update(b, 0, length);
        bytes += length;
        sink.write(b, 0, length);
    }
}
