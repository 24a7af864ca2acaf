package io.dbrollback.cli;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.cli.ReplayIndex.Entry;
import io.dbrollback.cli.ReplayIndex.KeyState;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * {@code dbrollback replay}: re-applies a verified rollback file's writes to the current primary, in LSN
 * order, where nothing changed them since the fork, and reports the rest.
 *
 * <p>The rules (docs/rollback-file.md, "Conflict rules"). A key's <em>chain</em> is its states through
 * the file: the first record's pre-image (absent for an insert), then each of its records' post-image
 * (absent for a delete). Where the primary's key now stands in that chain (the latest state it holds)
 * decides each record of the key:
 * <ul>
 *   <li>at the record's pre-image: the record applies (its write is guarded by that pre-image again just
 *       before it is made);</li>
 *   <li>at the record's post-image or a later state of the chain: already applied (a rerun, or a run cut
 *       short, changes nothing twice);</li>
 *   <li>anywhere else: a conflict, shown with the current value against the expected pre-image; every
 *       later record of the key is then skipped as dependent.</li>
 * </ul>
 * On PostgreSQL a group is one original transaction: it applies only when every record in it applies,
 * in one SQL transaction; a conflict on any record skips all of them. An UNCAPTURED record is never
 * applied: it needs a person, and so do the rest of its transaction and later changes of its table.
 *
 * <p>Memory does not grow with the file: what the rules need of each key (its chain, where the primary
 * stands in it, whether it waits for a record left for a person) is on disk, in a {@link ReplayIndex} built
 * in a first streaming pass and removed at the end of the run; the file is then gone through once more in
 * order, a group at a time (a group larger than 8 MiB is read again from the file rather than held), and
 * the report is written as the run goes. The one map kept in memory is of the
 * tables with an UNCAPTURED change (it grows with the tables of the database, not with the file).
 */
public final class Replayer {

    /** What became of a record. */
    public enum Outcome {
        APPLIED, WOULD_APPLY, ALREADY_APPLIED, CONFLICT, SKIPPED_DEPENDENT, NEEDS_PERSON;

        /** The report's name: {@code alreadyApplied}. */
        public String json() {
            String[] parts = name().toLowerCase(Locale.ROOT).split("_");
            StringBuilder b = new StringBuilder(parts[0]);
            for (int i = 1; i < parts.length; i++) {
                b.append(Character.toUpperCase(parts[i].charAt(0))).append(parts[i].substring(1));
            }
            return b.toString();
        }

        /** Whether the record is left for a person. */
        public boolean left() {
            return this == CONFLICT || this == SKIPPED_DEPENDENT || this == NEEDS_PERSON;
        }
    }

    /**
     * @param apply false for a dry run (nothing changes)
     * @param stopAfter a test's crash: halt the process after this many applied groups (0: never)
     * @param report where the JSON report goes; null for none
     */
    public record Options(boolean apply, long stopAfter, Path report, String primary) {
    }

    /** The counts of one run and where its report is. */
    public record Summary(Map<Outcome, Long> counts, Path report) {

        public long count(Outcome o) {
            return counts.getOrDefault(o, 0L);
        }

        /** Whether any record is left for a person. */
        public boolean anyLeft() {
            return counts.entrySet().stream().anyMatch(e -> e.getKey().left() && e.getValue() > 0);
        }
    }

    private final ReplayTarget target;
    private final Options options;
    private final PrintWriter out;
    private final Clock clock;
    private final ReplayIndex.Limits limits;
    private final Map<String, Long> blockedTables = new HashMap<>();
    private final Map<Outcome, Long> counts = new EnumMap<>(Outcome.class);
    private long appliedGroups;
    private long groupNumber;
    private JsonGenerator report;
    private ReplayIndex index;
    private Tape tape;

    public Replayer(ReplayTarget target, Options options, PrintWriter out, Clock clock) {
        this(target, options, out, clock, ReplayIndex.Limits.DEFAULT);
    }

    Replayer(ReplayTarget target, Options options, PrintWriter out, Clock clock, ReplayIndex.Limits limits) {
        this.target = target;
        this.options = options;
        this.out = out;
        this.clock = clock;
        this.limits = limits;
    }

    /**
     * Replays {@code file}, which the caller has verified ({@code check}). The index goes in a directory
     * beside the report (beside the file when there is no report) and is removed before this returns or
     * throws.
     */
    public Summary run(Path file, RollbackFileReader.Result check) throws IOException {
        Path parent = (options.report() != null ? options.report() : file).toAbsolutePath().getParent();
        try (ReplayIndex built = ReplayIndex.build(file, parent, target.transactional(), limits);
                Tape conflicts = new Tape(built.tempFile("conflicts"), limits.tapeBytes())) {
            if (!built.sha256().equals(check.sha256())) {
                throw new IOException(file + " changed after it was verified: nothing replayed");
            }
            index = built;
            tape = conflicts;
            return replay(file, check);
        } catch (ReplayIndex.ReadBackException e) {
            throw e.getCause();
        } finally {
            index = null;
            tape = null;
        }
    }

    private Summary replay(Path file, RollbackFileReader.Result check) throws IOException {
        if (options.report() != null) {
            report = RollbackFileReader.JSON.getFactory().createGenerator(options.report().toFile(),
                    JsonEncoding.UTF8);
            report.useDefaultPrettyPrinter();
            report.writeStartObject();
            report.writeStringField("file", file.getFileName().toString());
            report.writeStringField("sha256", check.sha256());
            report.writeStringField("tailSha256", check.tailSha256());
            report.writeStringField("primary", options.primary());
            report.writeStringField("mode", options.apply() ? "apply" : "dry-run");
            report.writeStringField("startedAt", clock.instant().toString());
            report.writeArrayFieldStart("records");
        }
        out.println(String.format("%-17s %-12s %-10s %-24s %s", "OUTCOME", "LSN", "OP", "KEY", "DETAIL"));
        Group group = new Group();
        RollbackFileReader.Result again = RollbackFileReader.read(file, null, new RollbackFileReader.Listener() {
            @Override
            public void record(TailRecord r, long line, long offset) throws IOException {
                Entry e = r.operation() == Operation.UNCAPTURED ? null : index.next();
                if (!group.isEmpty() && !sameGroup(target.transactional(), group.first, r)) {
                    group(group);
                    group.clear();
                }
                group.add(r, e, offset);
            }
        });
        if (!group.isEmpty()) {
            group(group);
        }
        if (!again.sha256().equals(check.sha256())) {
            throw new IOException(file + " changed during the replay: the report is incomplete");
        }
        if (report != null) {
            report.writeEndArray();
            report.writeObjectFieldStart("counts");
            for (Outcome o : Outcome.values()) {
                report.writeNumberField(o.json(), counts.getOrDefault(o, 0L));
            }
            report.writeEndObject();
            report.writeStringField("finishedAt", clock.instant().toString());
            report.writeEndObject();
            report.close();
        }
        return new Summary(Map.copyOf(counts), options.report());
    }

    /** Whether {@code r} belongs to the group that {@code first} opened. */
    static boolean sameGroup(boolean transactional, TailRecord first, TailRecord r) {
        return transactional && first.lsn().equals(r.lsn()) && first.transactionId().equals(r.transactionId());
    }

    /** A record of a group with its entry in the index (null for an UNCAPTURED record). */
    private record Item(TailRecord record, Entry entry) {
    }

    /**
     * The records of one group as they stream past: held while they are small, else gone through again
     * by reading them back from the file (they are consecutive lines of it).
     */
    private final class Group {
        private final List<Item> held = new ArrayList<>();
        private TailRecord first;
        private TailRecord uncaptured;
        private long startOffset;
        private long firstSeq = -1;
        private int size;
        private long bytes;
        private boolean spilled;

        boolean isEmpty() {
            return size == 0;
        }

        void clear() {
            held.clear();
            first = null;
            uncaptured = null;
            firstSeq = -1;
            size = 0;
            bytes = 0;
            spilled = false;
        }

        void add(TailRecord r, Entry e, long offset) {
            if (size == 0) {
                first = r;
                startOffset = offset;
            }
            if (e != null && firstSeq < 0) {
                firstSeq = e.seq();
            }
            if (r.operation() == Operation.UNCAPTURED && uncaptured == null) {
                uncaptured = r;
            }
            size++;
            if (!spilled) {
                bytes += 256 + r.key().length() + (r.before() == null ? 0 : r.before().length())
                        + (r.after() == null ? 0 : r.after().length());
                if (bytes > limits.groupBytes()) {
                    spilled = true;
                    held.clear();
                } else {
                    held.add(new Item(r, e));
                }
            }
        }

        /** Its records in order, with their entries; read again from the file when not held. */
        Iterable<Item> items() {
            if (!spilled) {
                return held;
            }
            return () -> new Iterator<>() {
                private long offset = startOffset;
                private long seq = firstSeq;
                private int i;
                private final int[] length = new int[1];

                @Override
                public boolean hasNext() {
                    return i < size;
                }

                @Override
                public Item next() {
                    if (i == size) {
                        throw new NoSuchElementException();
                    }
                    try {
                        TailRecord r = index.recordAt(offset, length);
                        offset += length[0];
                        i++;
                        return new Item(r, r.operation() == Operation.UNCAPTURED ? null : index.entry(seq++));
                    } catch (IOException e) {
                        throw new ReplayIndex.ReadBackException(e);
                    }
                }
            };
        }

        /** Its records, for the target to apply: iterated in order, read again when not held. */
        List<TailRecord> records() {
            return new AbstractList<>() {
                @Override
                public TailRecord get(int i) {
                    if (!spilled) {
                        return held.get(i).record();
                    }
                    if (i == 0) {
                        return first;
                    }
                    Iterator<TailRecord> it = iterator();
                    for (int k = 0; k < i; k++) {
                        it.next();
                    }
                    return it.next();
                }

                @Override
                public Iterator<TailRecord> iterator() {
                    Iterator<Item> it = items().iterator();
                    return new Iterator<>() {
                        @Override
                        public boolean hasNext() {
                            return it.hasNext();
                        }

                        @Override
                        public TailRecord next() {
                            return it.next().record();
                        }
                    };
                }

                @Override
                public int size() {
                    return size;
                }
            };
        }
    }

    /** Decides a group's records (docs/rollback-file.md, "Conflict rules") and reports them. */
    private void group(Group g) throws IOException {
        groupNumber++;
        if (g.uncaptured != null) {
            String dependent = "its transaction holds an UNCAPTURED change (LSN " + g.uncaptured.lsn() + ")";
            for (Item it : g.items()) {
                TailRecord r = it.record();
                if (r.operation() == Operation.UNCAPTURED) {
                    JsonNode pg = Display.pgKey(r.key());
                    String why = pg != null && pg.hasNonNull("why") ? pg.get("why").asText()
                            : "the node could not capture this change whole";
                    String table = Display.table(pg);
                    if (!table.isEmpty()) {
                        blockedTables.putIfAbsent(table, r.lsn().value());
                    }
                    report(r, new Decision(Outcome.NEEDS_PERSON, "UNCAPTURED: " + why, null, null));
                } else {
                    leave(it);
                    report(r, new Decision(Outcome.SKIPPED_DEPENDENT, dependent, null, null));
                }
            }
            return;
        }
        String blocked = null;
        for (Item it : g.items()) {
            Entry e = it.entry();
            long by = e.first() > 1 ? index.keyState(e).blocked() : 0;
            String table = blockedTables.isEmpty() ? "" : Display.table(Display.pgKey(it.record().key()));
            Long byTable = table.isEmpty() ? null : blockedTables.get(table);
            if (by != 0 || byTable != null) {
                blocked = by != 0 ? "depends on LSN " + by + " of the same key, not applied"
                        : "depends on LSN " + byTable + ", an UNCAPTURED change of table " + table;
                break;
            }
        }
        if (blocked != null) {
            for (Item it : g.items()) {
                leave(it);
                report(it.record(), new Decision(Outcome.SKIPPED_DEPENDENT, blocked, null, null));
            }
            return;
        }
        // Where each key of the group stands in its chain (asked of the primary once per key and run).
        boolean allAlready = true;
        boolean allApplicable = true;
        boolean anyConflict = false;
        tape.reset();
        for (Item it : g.items()) {
            Entry e = it.entry();
            if (!e.firstInGroup()) {
                continue;
            }
            TailRecord r = it.record();
            int a = e.first();
            int b = e.last();
            KeyState s = a > 1 ? index.keyState(e) : KeyState.NEW;
            long pos = s.position();
            boolean keep = false;
            if (pos == KeyState.UNKNOWN) {
                pos = target.holds(r.key(), r, index.chain(e, r));
                keep = e.laterGroups();
            }
            long conflictGroup = s.conflictGroup();
            if (pos >= b) {
                allApplicable = false;
            } else if (pos == a - 1) {
                allAlready = false;
            } else {
                allAlready = false;
                allApplicable = false;
                anyConflict = true;
                tape.write(e.seq(), pos < 0 ? "changed on the primary since the fork"
                        : "holds an earlier state of this key from the file", shown(index.state(e, r, a - 1)),
                        target.current(r.key(), r));
                if (a < b) {
                    // the key's later records in this group look this up
                    conflictGroup = groupNumber;
                    keep = true;
                }
            }
            if (keep) {
                index.keyState(e, new KeyState(s.blocked(), pos, conflictGroup));
            }
        }
        if (!anyConflict && allAlready) {
            for (Item it : g.items()) {
                report(it.record(), new Decision(Outcome.ALREADY_APPLIED, "the key holds this write's value or a "
                        + "later one of the file", null, null));
            }
            return;
        }
        if (!anyConflict && allApplicable) {
            if (!options.apply()) {
                for (Item it : g.items()) {
                    move(it);
                    report(it.record(), new Decision(Outcome.WOULD_APPLY, "", null, null));
                }
                return;
            }
            String refused = target.apply(g.records());
            if (refused == null) {
                for (Item it : g.items()) {
                    move(it);
                    report(it.record(), new Decision(Outcome.APPLIED, "", null, null));
                }
                appliedGroups++;
                if (options.stopAfter() > 0 && appliedGroups >= options.stopAfter()) {
                    out.flush();
                    // a test's crash: the report is left as a crash leaves it, the index is not left behind
                    index.close();
                    Runtime.getRuntime().halt(75);
                }
                return;
            }
            for (Item it : g.items()) {
                TailRecord r = it.record();
                Entry e = it.entry();
                Decision d = new Decision(Outcome.CONFLICT, refused, shown(index.state(e, r, e.first() - 1)),
                        target.current(r.key(), r));
                leave(it);
                report(r, d);
            }
            return;
        }
        tape.rewind();
        for (Item it : g.items()) {
            Entry e = it.entry();
            Decision d;
            if (!anyConflict) {
                d = e.firstInGroup() ? new Decision(Outcome.CONFLICT, "part of the transaction is already on the "
                        + "primary, part is not", null, null) : dependent(true);
            } else if (e.firstInGroup()) {
                String[] c = tape.read(e.seq());
                d = c != null ? new Decision(Outcome.CONFLICT, c[0], c[1], c[2]) : dependent(false);
            } else {
                d = dependent(index.keyState(e).conflictGroup() == groupNumber);
            }
            leave(it);
            report(it.record(), d);
        }
    }

    private static Decision dependent(boolean keyConflicts) {
        return new Decision(Outcome.SKIPPED_DEPENDENT, keyConflicts ? "an earlier record of the same key conflicts"
                : "its transaction conflicts", null, null);
    }

    private static String shown(Bytes state) {
        return state == null ? Display.ABSENT : Display.image(state);
    }

    private record Decision(Outcome outcome, String detail, String expected, String current) {
    }

    /** The group moved the key along its chain (applied, or would be): where it stands for its later groups. */
    private void move(Item it) throws IOException {
        Entry e = it.entry();
        if (e != null && e.firstInGroup() && e.laterGroups()) {
            index.keyState(e, new KeyState(0, e.last(), 0));
        }
    }

    /** The group's records are left for a person: the key's later records depend on its first one here. */
    private void leave(Item it) throws IOException {
        Entry e = it.entry();
        if (e != null && e.firstInGroup() && e.laterGroups()) {
            KeyState s = index.keyState(e);
            if (s.blocked() == 0) {
                index.keyState(e, new KeyState(it.record().lsn().value(), s.position(), s.conflictGroup()));
            }
        }
    }

    /** Counts a record's outcome, prints it and adds it to the report. */
    private void report(TailRecord r, Decision d) throws IOException {
        counts.merge(d.outcome(), 1L, Long::sum);
        String key = Display.key(r.key());
        JsonNode pg = Display.pgKey(r.key());
        String table = Display.table(pg);
        String detail = d.detail();
        if (d.expected() != null) {
            detail = detail + "; expected " + d.expected() + ", current " + d.current();
        }
        out.println(String.format("%-17s %-12s %-10s %-24s %s", d.outcome().json(), r.lsn().value(),
                r.operation().name(), (table.isEmpty() ? "" : table + " ") + key, detail).stripTrailing());
        if (report != null) {
            report.writeStartObject();
            report.writeNumberField("lsn", r.lsn().value());
            report.writeStringField("tx", r.transactionId());
            report.writeStringField("op", r.operation().name());
            if (!table.isEmpty()) {
                report.writeStringField("table", table);
            }
            report.writeStringField("key", key);
            report.writeStringField("outcome", d.outcome().json());
            if (!d.detail().isEmpty()) {
                report.writeStringField("detail", d.detail());
            }
            if (d.expected() != null) {
                report.writeStringField("expected", d.expected());
                report.writeStringField("current", d.current());
            }
            report.writeEndObject();
        }
    }

    /**
     * A group's conflicts (record number, why, expected, current) in order, read back once in the same
     * order: in memory up to a limit, then in a file.
     */
    private static final class Tape implements Closeable {
        private final Path file;
        private final int limit;
        private final ByteArrayOutputStream memory = new ByteArrayOutputStream();
        private DataOutputStream out;
        private DataInputStream in;
        private boolean inFile;
        private boolean written;
        private long nextSeq = -1;

        Tape(Path file, int limit) {
            this.file = file;
            this.limit = limit;
        }

        void reset() throws IOException {
            if (!written && out != null) {
                return;
            }
            close();
            memory.reset();
            out = new DataOutputStream(memory);
            inFile = false;
            written = false;
            nextSeq = -1;
        }

        void write(long seq, String why, String expected, String current) throws IOException {
            written = true;
            out.writeLong(seq);
            for (String s : new String[] {why, expected, current}) {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                out.writeInt(b.length);
                out.write(b);
            }
            if (!inFile && memory.size() > limit) {
                out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file,
                        StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE),
                        64 * 1024));
                memory.writeTo(out);
                memory.reset();
                inFile = true;
            }
        }

        void rewind() throws IOException {
            out.close();
            in = new DataInputStream(inFile ? new BufferedInputStream(Files.newInputStream(file), 64 * 1024)
                    : new ByteArrayInputStream(memory.toByteArray()));
            nextSeq = readSeq();
        }

        private long readSeq() throws IOException {
            try {
                return in.readLong();
            } catch (EOFException e) {
                return -1;
            }
        }

        /** The conflict of record {@code seq} (why, expected, current), or null when it has none. */
        String[] read(long seq) throws IOException {
            if (nextSeq != seq) {
                return null;
            }
            String[] c = new String[3];
            for (int i = 0; i < 3; i++) {
                byte[] b = new byte[in.readInt()];
                in.readFully(b);
                c[i] = new String(b, StandardCharsets.UTF_8);
            }
            nextSeq = readSeq();
            return c;
        }

        @Override
        public void close() throws IOException {
            if (in != null) {
                in.close();
                in = null;
            }
            if (out != null) {
                out.close();
                out = null;
            }
            Files.deleteIfExists(file);
        }
    }
}
