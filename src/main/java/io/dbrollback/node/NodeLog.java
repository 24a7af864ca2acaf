package io.dbrollback.node;

import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.TermHistory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The reference node's append-only log: one file of frames {@code [u32 length][u32 crc32c][canonical
 * record]}, made durable with fsync before an append returns. On open, a torn or corrupt last frame
 * (a write that was never acknowledged) is cut off. The term history is derived from the records.
 *
 * <p>Not thread-safe for writers; {@link #read} may run concurrently with appends of later records.
 */
final class NodeLog implements AutoCloseable {

    private static final int HEADER = 8;

    private final FileChannel channel;
    /** offsets[i] is the file offset of LSN i + 1; offsets[size] is the end of the last frame. */
    private long[] offsets = new long[1024];
    private volatile int size;
    private final List<TermHistory.Entry> history = new ArrayList<>();

    private NodeLog(FileChannel channel) {
        this.channel = channel;
    }

    /** Opens (or creates) the log in {@code dir}, cutting off a torn last frame. */
    static NodeLog open(Path dir) throws IOException {
        FileChannel ch = FileChannel.open(dir.resolve("log.bin"), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        NodeLog log = new NodeLog(ch);
        log.scan();
        return log;
    }

    private void scan() throws IOException {
        long fileSize = channel.size();
        long pos = 0;
        ByteBuffer head = ByteBuffer.allocate(HEADER);
        while (pos + HEADER <= fileSize) {
            head.clear();
            readFully(head, pos);
            head.flip();
            int len = head.getInt();
            int crc = head.getInt();
            if (len <= 0 || pos + HEADER + len > fileSize) {
                break;
            }
            ByteBuffer payload = ByteBuffer.allocate(len);
            readFully(payload, pos + HEADER);
            CRC32C c = new CRC32C();
            c.update(payload.array(), 0, len);
            if ((int) c.getValue() != crc) {
                break;
            }
            TailRecord r;
            try {
                r = CanonicalEncoding.decode(ByteBuffer.wrap(payload.array()));
            } catch (IllegalArgumentException e) {
                break;
            }
            if (r.lsn().value() != size + 1) {
                throw new IOException("log corrupt: LSN " + r.lsn() + " after " + size);
            }
            track(r.term().value(), r.lsn().value());
            pos += HEADER + len;
            grow();
            size++;
            offsets[size] = pos;
        }
        if (pos < fileSize) {
            channel.truncate(pos);
            channel.force(true);
        }
    }

    private void readFully(ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = channel.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of log");
            }
        }
    }

    private void grow() {
        if (size + 1 >= offsets.length) {
            offsets = Arrays.copyOf(offsets, offsets.length * 2);
        }
    }

    private void track(long term, long lsn) {
        if (history.isEmpty() || history.get(history.size() - 1).term().value() != term) {
            if (!history.isEmpty() && history.get(history.size() - 1).term().value() > term) {
                throw new IllegalStateException("record of term " + term + " at LSN " + lsn + " after a higher term");
            }
            history.add(TermHistory.Entry.of(term, lsn));
        }
    }

    /** Appends {@code records} (dense, continuing the log) and fsyncs before returning. */
    void append(List<TailRecord> records) throws IOException {
        if (records.isEmpty()) {
            return;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(records.size() * 128);
        long expected = size + 1;
        for (TailRecord r : records) {
            if (r.lsn().value() != expected++) {
                throw new IllegalArgumentException(
                        "append of LSN " + r.lsn() + " where " + (expected - 1) + " is next");
            }
            byte[] body = CanonicalEncoding.toBytes(r);
            CRC32C c = new CRC32C();
            c.update(body, 0, body.length);
            out.write(ByteBuffer.allocate(HEADER).putInt(body.length).putInt((int) c.getValue()).array());
            out.write(body);
        }
        ByteBuffer buf = ByteBuffer.wrap(out.toByteArray());
        long pos = offsets[size];
        while (buf.hasRemaining()) {
            pos += channel.write(buf, pos);
        }
        channel.force(false);
        long at = offsets[size];
        for (TailRecord r : records) {
            track(r.term().value(), r.lsn().value());
            at += HEADER + CanonicalEncoding.toBytes(r).length;
            grow();
            offsets[size + 1] = at;
            size++;
        }
    }

    /** The record at {@code lsn} (1 to {@link #lastLsn()}). */
    TailRecord read(long lsn) throws IOException {
        if (lsn < 1 || lsn > size) {
            throw new IllegalArgumentException("LSN " + lsn + " not in the log (1.." + size + ")");
        }
        long from = offsets[(int) lsn - 1];
        int len = (int) (offsets[(int) lsn] - from - HEADER);
        ByteBuffer payload = ByteBuffer.allocate(len);
        readFully(payload, from + HEADER);
        return CanonicalEncoding.decode(ByteBuffer.wrap(payload.array()));
    }

    /** Removes every record above {@code lsn}, durably. */
    void truncateTo(long lsn) throws IOException {
        if (lsn >= size) {
            return;
        }
        channel.truncate(offsets[(int) lsn]);
        channel.force(true);
        size = (int) lsn;
        history.removeIf(e -> e.firstLsn().value() > lsn);
    }

    long lastLsn() {
        return size;
    }

    /** The term of the record at {@code lsn}, 0 for LSN 0. */
    long termAt(long lsn) {
        long term = 0;
        for (TermHistory.Entry e : history) {
            if (e.firstLsn().value() <= lsn) {
                term = e.term().value();
            }
        }
        return lsn == 0 ? 0 : term;
    }

    TermHistory history() {
        return new TermHistory(history);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
