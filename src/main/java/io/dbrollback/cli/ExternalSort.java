package io.dbrollback.cli;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Sorts entries of a fixed size by their first {@code keyLength} bytes (compared as unsigned bytes, so
 * big-endian non-negative numbers sort as numbers) in bounded memory: runs of at most {@code runEntries}
 * entries are sorted in memory and written to files in a directory, then merged at most {@link #FAN_IN}
 * at a time. Memory: one run of entries, or {@link #FAN_IN} read buffers while merging; the runs and the
 * result are on disk.
 */
final class ExternalSort {

    static final int FAN_IN = 32;
    private static final int BUFFER = 64 * 1024;

    private final Path dir;
    private final String name;
    private final int entrySize;
    private final int runEntries;
    private final Comparator<byte[]> order;
    private final List<Path> runs = new ArrayList<>();
    private byte[][] run;
    private int size;
    private int files;
    private long entries;

    ExternalSort(Path dir, String name, int entrySize, int keyLength, int runEntries) {
        if (keyLength > entrySize || runEntries < 1) {
            throw new IllegalArgumentException("a key within the entry and at least one entry a run");
        }
        this.dir = dir;
        this.name = name;
        this.entrySize = entrySize;
        this.runEntries = runEntries;
        this.order = (x, y) -> Arrays.compareUnsigned(x, 0, keyLength, y, 0, keyLength);
    }

    /** Adds a copy of {@code entry}'s first {@code entrySize} bytes. */
    void add(byte[] entry) throws IOException {
        if (run == null) {
            run = new byte[runEntries][entrySize];
        }
        System.arraycopy(entry, 0, run[size++], 0, entrySize);
        entries++;
        if (size == runEntries) {
            spill();
        }
    }

    long entries() {
        return entries;
    }

    private void spill() throws IOException {
        Arrays.sort(run, 0, size, order);
        Path p = next();
        try (DataOutputStream out = output(p)) {
            for (int i = 0; i < size; i++) {
                out.write(run[i], 0, entrySize);
            }
        }
        runs.add(p);
        size = 0;
    }

    private Path next() {
        return dir.resolve(name + "-" + files++);
    }

    private static DataOutputStream output(Path p) throws IOException {
        return new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(p), BUFFER));
    }

    /** Sorts what was added: the file that holds the entries in order (in the directory, the caller's now). */
    Path finish() throws IOException {
        if (size > 0 || runs.isEmpty()) {
            spill();
        }
        run = null;
        while (runs.size() > 1) {
            List<Path> merged = new ArrayList<>();
            for (int i = 0; i < runs.size(); i += FAN_IN) {
                List<Path> some = runs.subList(i, Math.min(runs.size(), i + FAN_IN));
                merged.add(some.size() == 1 ? some.get(0) : merge(some));
            }
            runs.clear();
            runs.addAll(merged);
        }
        return runs.remove(0);
    }

    /** One run being merged: its current entry. */
    private final class Source {
        final DataInputStream in;
        final byte[] entry = new byte[entrySize];

        Source(Path p) throws IOException {
            in = new DataInputStream(new BufferedInputStream(Files.newInputStream(p), BUFFER));
        }

        boolean advance() throws IOException {
            return readEntry(in, entry);
        }
    }

    private Path merge(List<Path> some) throws IOException {
        Path out = next();
        PriorityQueue<Source> queue = new PriorityQueue<>(some.size(), (x, y) -> order.compare(x.entry, y.entry));
        List<Source> open = new ArrayList<>();
        try (DataOutputStream o = output(out)) {
            for (Path p : some) {
                Source s = new Source(p);
                open.add(s);
                if (s.advance()) {
                    queue.add(s);
                }
            }
            while (!queue.isEmpty()) {
                Source s = queue.poll();
                o.write(s.entry, 0, entrySize);
                if (s.advance()) {
                    queue.add(s);
                }
            }
        } finally {
            for (Source s : open) {
                s.in.close();
            }
        }
        for (Path p : some) {
            Files.delete(p);
        }
        return out;
    }

    /** Reads one whole entry into {@code entry}; false at the end of the stream (an entry cut short is an error). */
    static boolean readEntry(InputStream in, byte[] entry) throws IOException {
        int n = in.readNBytes(entry, 0, entry.length);
        if (n == 0) {
            return false;
        }
        if (n < entry.length) {
            throw new EOFException("an index entry is cut short");
        }
        return true;
    }
}
