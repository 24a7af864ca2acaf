package io.dbrollback.model;

import java.io.ByteArrayOutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.Arrays;

/**
 * The canonical binary encoding of a {@link TailRecord}: the bytes whose SHA-256 is the digest of a
 * divergent tail. Node agents compute the same digest over the same encoding, so the two can be
 * compared without trusting the transport in between.
 *
 * <p>Big-endian, no padding, per record:
 * <pre>
 *   u64 lsn | u64 term | u32 len, UTF-8 transaction id | i64 commit epoch second | u32 commit nano
 *   | u8 operation (1 insert, 2 update, 3 delete, 4 uncaptured) | u32 len, key
 *   | u8 0 (absent) or 1 followed by u32 len, before-image | the same for the after-image
 * </pre>
 * The digest of a tail is the SHA-256 of the concatenation of its records' encodings in LSN order.
 */
public final class CanonicalEncoding {

    private CanonicalEncoding() {
    }

    /** Receives encoded bytes; implemented by digests and writers. */
    public interface Sink {
        void write(byte[] buffer, int offset, int length);
    }

    /** Encodes one record into {@code sink} through a reusable scratch buffer; returns the encoded length. */
    public static int encode(TailRecord r, Sink sink) {
        byte[] tx = r.transactionId().getBytes(StandardCharsets.UTF_8);
        int length = length(r, tx.length);
        byte[] head = new byte[8 + 8 + 4];
        putLong(head, 0, r.lsn().value());
        putLong(head, 8, r.term().value());
        putInt(head, 16, tx.length);
        sink.write(head, 0, head.length);
        sink.write(tx, 0, tx.length);
        byte[] mid = new byte[8 + 4 + 1 + 4];
        putLong(mid, 0, r.commitTime().getEpochSecond());
        putInt(mid, 8, r.commitTime().getNano());
        mid[12] = (byte) (r.operation().ordinal() + 1);
        putInt(mid, 13, r.key().length());
        sink.write(mid, 0, mid.length);
        r.key().writeTo((data, len) -> sink.write(data, 0, len));
        writeImage(r.before(), sink);
        writeImage(r.after(), sink);
        return length;
    }

    /**
     * A growable array of canonical encodings, reused record after record: the same bytes as
     * {@link #encode(TailRecord, Sink)}, written in place without an intermediate array per field.
     */
    public static final class Buffer {
        private byte[] bytes;
        private int size;

        public Buffer(int initialCapacity) {
            this.bytes = new byte[Math.max(64, initialCapacity)];
        }

        /** Appends the encoding of {@code r}; returns its length (it starts at {@code size()} before the call). */
        public int append(TailRecord r) {
            String id = r.transactionId();
            int txLength = Utf8.length(id);
            int length = length(r, txLength);
            if (bytes.length - size < length) {
                bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + length));
            }
            byte[] b = bytes;
            int p = size;
            putLong(b, p, r.lsn().value());
            putLong(b, p + 8, r.term().value());
            putInt(b, p + 16, txLength);
            p = Utf8.put(id, b, p + 20);
            putLong(b, p, r.commitTime().getEpochSecond());
            putInt(b, p + 8, r.commitTime().getNano());
            b[p + 12] = (byte) (r.operation().ordinal() + 1);
            p = put(r.key(), b, p + 13);
            p = putImage(r.before(), b, p);
            putImage(r.after(), b, p);
            size += length;
            return length;
        }

        /** The array the encodings are in, valid up to {@link #size()} and until the next append. */
        public byte[] array() {
            return bytes;
        }

        public int size() {
            return size;
        }

        public void clear() {
            size = 0;
        }
    }

    private static int putImage(Bytes image, byte[] b, int at) {
        if (image == null) {
            b[at] = 0;
            return at + 1;
        }
        b[at] = 1;
        return put(image, b, at + 1);
    }

    /** u32 length, then the bytes. */
    private static int put(Bytes bytes, byte[] b, int at) {
        int n = bytes.length();
        putInt(b, at, n);
        bytes.copyTo(b, at + 4);
        return at + 4 + n;
    }

    /** The length of {@code r}'s encoding, without encoding it. */
    public static int length(TailRecord r) {
        return length(r, Utf8.length(r.transactionId()));
    }

    private static int length(TailRecord r, int transactionIdBytes) {
        return 8 + 8 + 4 + transactionIdBytes + 8 + 4 + 1 + 4 + r.key().length()
                + imageLength(r.before()) + imageLength(r.after());
    }

    /**
     * Decodes one record from {@code in}, advancing it past the record.
     *
     * @throws IllegalArgumentException when the bytes are not a canonical record
     */
    public static TailRecord decode(ByteBuffer in) {
        try {
            ByteBuffer b = in.duplicate().order(ByteOrder.BIG_ENDIAN);
            long lsn = b.getLong();
            long term = b.getLong();
            String tx = new String(bytes(b), StandardCharsets.UTF_8);
            long seconds = b.getLong();
            int nanos = b.getInt();
            int op = b.get();
            if (op < 1 || op > Operation.values().length) {
                throw new IllegalArgumentException("unknown operation " + op);
            }
            Bytes key = Bytes.of(bytes(b));
            Bytes before = image(b);
            Bytes after = image(b);
            in.position(b.position());
            return new TailRecord(Lsn.of(lsn), Term.of(term), tx, Instant.ofEpochSecond(seconds, nanos),
                    Operation.values()[op - 1], key, before, after);
        } catch (BufferUnderflowException | DateTimeException e) {
            throw new IllegalArgumentException("truncated or malformed canonical record", e);
        }
    }

    /** The canonical encoding of {@code r} as a new array. */
    public static byte[] toBytes(TailRecord r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        encode(r, out::write);
        return out.toByteArray();
    }

    private static byte[] bytes(ByteBuffer b) {
        int len = b.getInt();
        if (len < 0 || len > b.remaining()) {
            throw new IllegalArgumentException("length " + len + " beyond the record");
        }
        byte[] out = new byte[len];
        b.get(out);
        return out;
    }

    private static Bytes image(ByteBuffer b) {
        int present = b.get();
        if (present == 0) {
            return null;
        }
        if (present != 1) {
            throw new IllegalArgumentException("bad image marker " + present);
        }
        return Bytes.of(bytes(b));
    }

    private static int imageLength(Bytes image) {
        return image == null ? 1 : 1 + 4 + image.length();
    }

    private static void writeImage(Bytes image, Sink sink) {
        if (image == null) {
            sink.write(new byte[] {0}, 0, 1);
            return;
        }
        byte[] head = new byte[5];
        head[0] = 1;
        putInt(head, 1, image.length());
        sink.write(head, 0, head.length);
        image.writeTo((data, len) -> sink.write(data, 0, len));
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 7; i >= 0; i--) {
            b[at + i] = (byte) v;
            v >>>= 8;
        }
    }

    private static void putInt(byte[] b, int at, int v) {
        for (int i = 3; i >= 0; i--) {
            b[at + i] = (byte) v;
            v >>>= 8;
        }
    }
}
