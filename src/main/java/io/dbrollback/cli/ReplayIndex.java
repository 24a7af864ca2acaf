package io.dbrollback.cli;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.AbstractList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What replay needs to know of each key while it goes through a rollback file in LSN order, kept on disk
 * in a directory of its own (removed by {@link #close}) so that memory does not grow with the file.
 *
 * <p>Built in one streaming pass and two external sorts. The pass notes, for every record but an
 * UNCAPTURED one, the SHA-256 of its key, its place in the file and its group (the transaction replay
 * applies it in); sorted by key, the records of each key are its chain, from which every record learns
 * its index in the chain, the first and last index of its key in its group and its key's number of
 * records; sorted back into file order, that is the <em>entry</em> replay reads beside each record.
 * A key's chain is read back when needed (its states, from the file by the records' offsets), and what
 * replay learns of a key (where the primary stands in its chain, whether it is blocked) is a slot of a
 * file, kept only for a key with records still to come.
 *
 * <p>Keys are told apart by their SHA-256; a chain read back is checked to hold the key it was asked for.
 * Disk: some 110 bytes per record at the peak of the build (the last merge of the sort by key), at most
 * 64 after it.
 */
final class ReplayIndex implements Closeable {

    /** Budgets of memory; tests make them small to reach the paths a large file takes. */
    record Limits(int sortRunEntries, long groupBytes, int tapeBytes) {
        static final Limits DEFAULT = new Limits(1 << 16, 8L << 20, 1 << 20);
    }

    /**
     * A record's place in its key's chain.
     *
     * @param seq the record's number among the file's records that are not UNCAPTURED, from 0
     * @param chain where its key's chain starts in the chain file: the key's number
     * @param index the record's index in the chain, from 1 (its post-image is the chain's state {@code index})
     * @param first the index of its key's first record in its group
     * @param last the index of its key's last record in its group
     * @param records how many records the key has
     */
    record Entry(long seq, long chain, int index, int first, int last, int records) {

        /** Whether this record is its key's first in its group. */
        boolean firstInGroup() {
            return index == first;
        }

        /** Whether the key has records after this group. */
        boolean laterGroups() {
            return last < records;
        }
    }

    /**
     * What replay knows of a key between groups.
     *
     * @param blocked the LSN of the record the key waits for (a later record is dependent), 0 for none
     * @param position where the primary stands in the key's chain; {@link #UNKNOWN} before it is asked
     * @param conflictGroup the group (numbered from 1) in which the key conflicted, 0 for none
     */
    record KeyState(long blocked, long position, long conflictGroup) {
        static final long UNKNOWN = Long.MIN_VALUE;
        static final KeyState NEW = new KeyState(0, UNKNOWN, 0);
    }

    private static final int KEY_ENTRY = 56;
    private static final int SEQ_ENTRY = 32;
    private static final int SLOT = 24;
    private static final int BUFFER = 64 * 1024;

    private final Path dir;
    private final Thread cleanup;
    private final Limits limits;
    private FileChannel rollbackFile;
    private Window lines;
    private Window chainOffsets;
    private Window entriesAt;
    private FileChannel states;
    private DataInputStream entries;
    private String sha256;
    private long expectedSeq;
    private final byte[] entry = new byte[SEQ_ENTRY];
    private final ByteBuffer slot = ByteBuffer.allocate(SLOT);

    private ReplayIndex(Path dir, Limits limits) {
        this.dir = dir;
        this.limits = limits;
        this.cleanup = new Thread(this::delete, "replay-index-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
    }

    /**
     * Indexes {@code file} in a new directory under {@code parent} (or, when that cannot be written, under
     * the system's temporary directory). The groups are as replay makes them: with {@code transactional},
     * the records sharing their first record's LSN and transaction; else one record each.
     */
    static ReplayIndex build(Path file, Path parent, boolean transactional, Limits limits) throws IOException {
        Path dir;
        try {
            dir = Files.createTempDirectory(parent, ".dbrollback-replay-");
        } catch (IOException e) {
            dir = Files.createTempDirectory(".dbrollback-replay-");
        }
        ReplayIndex index = new ReplayIndex(dir, limits);
        try {
            index.build(file, transactional);
            return index;
        } catch (IOException | RuntimeException | Error e) {
            try {
                index.close();
            } catch (IOException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    /** The SHA-256 of the file as the build read it. */
    String sha256() {
        return sha256;
    }

    private void build(Path file, boolean transactional) throws IOException {
        ExternalSort byKey = new ExternalSort(dir, "by-key", KEY_ENTRY, 40, limits.sortRunEntries());
        MessageDigest sha = TailDigest.newSha256();
        ByteBuffer e = ByteBuffer.allocate(KEY_ENTRY);
        long[] seq = {0};
        long[] group = {-1};
        TailRecord[] groupFirst = {null};
        RollbackFileReader.Result read = RollbackFileReader.read(file, null, new RollbackFileReader.Listener() {
            @Override
            public void record(TailRecord r, long line, long offset) throws IOException {
                if (groupFirst[0] == null || !Replayer.sameGroup(transactional, groupFirst[0], r)) {
                    groupFirst[0] = r;
                    group[0]++;
                }
                if (r.operation() == Operation.UNCAPTURED) {
                    return;
                }
                r.key().writeTo((b, n) -> sha.update(b, 0, n));
                e.clear();
                e.put(sha.digest()).putLong(seq[0]++).putLong(offset).putLong(group[0]);
                byKey.add(e.array());
            }
        });
        sha256 = read.sha256();
        Path sortedByKey = byKey.finish();
        ExternalSort bySeq = new ExternalSort(dir, "by-seq", SEQ_ENTRY, 8, limits.sortRunEntries());
        Path chainFile = dir.resolve("chains");
        try (Cursor keys = new Cursor(sortedByKey); Cursor groups = new Cursor(sortedByKey);
                Cursor records = new Cursor(sortedByKey);
                DataOutputStream chains = new DataOutputStream(new BufferedOutputStream(
                        Files.newOutputStream(chainFile), BUFFER))) {
            walk(keys, groups, records, chains, bySeq);
        }
        Files.delete(sortedByKey);
        Path sortedBySeq = bySeq.finish();
        entries = new DataInputStream(new BufferedInputStream(Files.newInputStream(sortedBySeq), BUFFER));
        entriesAt = new Window(FileChannel.open(sortedBySeq), 4096);
        chainOffsets = new Window(FileChannel.open(chainFile), 4096);
        rollbackFile = FileChannel.open(file);
        lines = new Window(rollbackFile, BUFFER);
        states = FileChannel.open(dir.resolve("keys"), StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
    }

    /**
     * Goes through the records sorted by key with three cursors: one ahead to the end of the key (its
     * number of records), one ahead to the end of the key's records in a group, one writing each record's
     * entry. Each reads the sorted file once, in order.
     */
    private static void walk(Cursor keys, Cursor groups, Cursor records, DataOutputStream chains, ExternalSort bySeq)
            throws IOException {
        ByteBuffer out = ByteBuffer.allocate(SEQ_ENTRY);
        byte[] key = new byte[32];
        long chain = 0;
        while (records.has()) {
            System.arraycopy(records.entry, 0, key, 0, 32);
            long count = 0;
            while (keys.has() && keys.sameKey(key)) {
                count++;
                keys.next();
            }
            if (count >= Integer.MAX_VALUE) {
                throw new IOException("a key with " + count + " records: more than replay can take");
            }
            int index = 0;
            while (records.has() && records.sameKey(key)) {
                long group = records.group();
                int first = index + 1;
                while (groups.has() && groups.sameKey(key) && groups.group() == group) {
                    index++;
                    groups.next();
                }
                int last = index;
                for (int i = first; i <= last; i++) {
                    chains.writeLong(records.offset());
                    out.clear();
                    out.putLong(records.seq()).putLong(chain).putInt(i).putInt(first).putInt(last).putInt((int) count);
                    bySeq.add(out.array());
                    records.next();
                }
            }
            chain += count;
        }
    }

    /** Reads the file sorted by key, one entry at a time. */
    private static final class Cursor implements Closeable {
        private final InputStream in;
        final byte[] entry = new byte[KEY_ENTRY];
        private boolean has;

        Cursor(Path sorted) throws IOException {
            in = new BufferedInputStream(Files.newInputStream(sorted), BUFFER);
            next();
        }

        boolean has() {
            return has;
        }

        void next() throws IOException {
            has = ExternalSort.readEntry(in, entry);
        }

        boolean sameKey(byte[] key) {
            return Arrays.equals(entry, 0, 32, key, 0, 32);
        }

        long seq() {
            return ByteBuffer.wrap(entry).getLong(32);
        }

        long offset() {
            return ByteBuffer.wrap(entry).getLong(40);
        }

        long group() {
            return ByteBuffer.wrap(entry).getLong(48);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** The entry of the next record (not UNCAPTURED) of the file, in file order. */
    Entry next() throws IOException {
        if (!ExternalSort.readEntry(entries, entry)) {
            throw new IOException("the replay index ends before the file: the file changed during the replay");
        }
        Entry e = entry(ByteBuffer.wrap(entry));
        if (e.seq() != expectedSeq++) {
            throw new IOException("the replay index is out of step with the file at record " + e.seq());
        }
        return e;
    }

    /** The entry of record {@code seq} (as {@link #next} gave it before). */
    Entry entry(long seq) throws IOException {
        byte[] b = new byte[SEQ_ENTRY];
        entriesAt.read(seq * SEQ_ENTRY, b, SEQ_ENTRY);
        Entry e = entry(ByteBuffer.wrap(b));
        if (e.seq() != seq) {
            throw new IOException("the replay index is damaged at record " + seq);
        }
        return e;
    }

    private static Entry entry(ByteBuffer b) {
        return new Entry(b.getLong(0), b.getLong(8), b.getInt(16), b.getInt(20), b.getInt(24), b.getInt(28));
    }

    /** The record whose line starts at {@code offset} in the file; {@code length[0]} gets the line's length. */
    TailRecord recordAt(long offset, int[] length) throws IOException {
        int n = lines.line(offset);
        if (length != null) {
            length[0] = n + 1;
        }
        try {
            return RollbackFileReader.record(RollbackFileReader.JSON.readTree(lines.line, 0, n));
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("the record at byte " + offset + " of the file does not read back: the file "
                    + "changed during the replay", e);
        }
    }

    /**
     * The state {@code i} of the chain of {@code sample}'s key ({@code e} is {@code sample}'s entry): 0 is
     * the pre-image of the key's first record, {@code i} the post-image of its record {@code i}; null when
     * the key does not exist there.
     */
    Bytes state(Entry e, TailRecord sample, int i) throws IOException {
        if (i < 0 || i > e.records()) {
            throw new IndexOutOfBoundsException(i);
        }
        int record = Math.max(i, 1);
        TailRecord r = record == e.index() ? sample : chainRecord(e, sample, record);
        return i == 0 ? r.before() : r.after();
    }

    private TailRecord chainRecord(Entry e, TailRecord sample, int index) throws IOException {
        byte[] b = new byte[8];
        chainOffsets.read((e.chain() + index - 1) * 8, b, 8);
        TailRecord r = recordAt(ByteBuffer.wrap(b).getLong(), null);
        if (!r.key().equals(sample.key())) {
            throw new IOException("LSN " + r.lsn() + " is indexed under the key of LSN " + sample.lsn()
                    + " but has another key (two keys with one SHA-256, or the file changed)");
        }
        return r;
    }

    /** The chain of {@code sample}'s key as a list of states, read from the file as they are asked for. */
    List<Bytes> chain(Entry e, TailRecord sample) {
        return new AbstractList<>() {
            @Override
            public Bytes get(int i) {
                try {
                    return state(e, sample, i);
                } catch (IOException x) {
                    throw new ReadBackException(x);
                }
            }

            @Override
            public int size() {
                return e.records() + 1;
            }
        };
    }

    /** A record that could not be read back from the file, thrown where a {@link List} is read. */
    static final class ReadBackException extends UncheckedIOException {
        ReadBackException(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }

    /** What is known of {@code e}'s key: {@link KeyState#NEW} when nothing was kept. */
    KeyState keyState(Entry e) throws IOException {
        slot.clear();
        long at = e.chain() * SLOT;
        int n = 0;
        while (slot.hasRemaining()) {
            int r = states.read(slot, at + n);
            if (r < 0) {
                break;
            }
            n += r;
        }
        if (n == 0) {
            return KeyState.NEW;
        }
        if (n < SLOT) {
            throw new EOFException("a key's slot in the replay index is cut short");
        }
        long blocked = slot.getLong(0);
        long position = slot.getLong(8);
        return new KeyState(blocked, position == 0 ? KeyState.UNKNOWN : position - 2, slot.getLong(16));
    }

    void keyState(Entry e, KeyState s) throws IOException {
        slot.clear();
        slot.putLong(s.blocked()).putLong(s.position() == KeyState.UNKNOWN ? 0 : s.position() + 2)
                .putLong(s.conflictGroup()).flip();
        long at = e.chain() * SLOT;
        while (slot.hasRemaining()) {
            at += states.write(slot, at);
        }
    }

    /** A file for a spill, in this index's directory. */
    Path tempFile(String name) {
        return dir.resolve(name);
    }

    /** Closes the files and removes the directory with everything in it. */
    @Override
    public void close() throws IOException {
        IOException failed = null;
        for (Closeable c : new Closeable[] {entries, rollbackFile, states, chainOffsets, entriesAt}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (IOException e) {
                failed = failed == null ? e : failed;
            }
        }
        delete();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs (or ran) anyway
        }
        if (failed != null) {
            throw failed;
        }
    }

    private void delete() {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // gone already, or not removable: nothing more to do here
        }
    }

    /**
     * Reads a file at any position through one window of its bytes, so that reads near each other cost
     * no system call; {@link #line} reads a whole line into a reused array (as the file reader does, up to
     * its line limit).
     */
    static final class Window implements Closeable {
        private final FileChannel channel;
        private final ByteBuffer buffer;
        private long start;
        private int length;
        byte[] line = new byte[4096];

        Window(FileChannel channel, int size) {
            this.channel = channel;
            this.buffer = ByteBuffer.allocate(size);
        }

        /**
         * Moves the window over {@code pos} when it is outside it: from {@code pos} on, or, going backwards
         * (a chain is read from its end), with half the window before it. The bytes available from {@code pos}.
         */
        private int at(long pos) throws IOException {
            if (pos < start || pos >= start + length) {
                long from = pos < start && start - pos < buffer.capacity() ? Math.max(0, pos - buffer.capacity() / 2)
                        : pos;
                buffer.clear();
                int n = 0;
                while (buffer.hasRemaining()) {
                    int r = channel.read(buffer, from + n);
                    if (r < 0) {
                        break;
                    }
                    n += r;
                }
                start = from;
                length = n;
                if (pos >= start + length) {
                    throw new EOFException("the end of the file before byte " + pos);
                }
            }
            return (int) (start + length - pos);
        }

        void read(long pos, byte[] dst, int n) throws IOException {
            int done = 0;
            while (done < n) {
                int available = Math.min(at(pos + done), n - done);
                System.arraycopy(buffer.array(), (int) (pos + done - start), dst, done, available);
                done += available;
            }
        }

        /** The line at {@code pos} into {@link #line}; its length without the newline. */
        int line(long pos) throws IOException {
            int n = 0;
            while (true) {
                int available = at(pos + n);
                int from = (int) (pos + n - start);
                byte[] b = buffer.array();
                int end = from;
                while (end < from + available && b[end] != '\n') {
                    end++;
                }
                int take = end - from;
                if (n + take > line.length) {
                    if (n + take > RollbackFileReader.MAX_LINE) {
                        throw new IOException("a line longer than " + RollbackFileReader.MAX_LINE + " bytes");
                    }
                    line = Arrays.copyOf(line, Math.max(line.length * 2, n + take));
                }
                System.arraycopy(b, from, line, n, take);
                n += take;
                if (end < from + available) {
                    return n;
                }
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }
}
