package io.dbrollback.cli;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailRecord;
import java.io.IOException;
import java.util.List;

/**
 * The current primary, as replay sees it: what a key holds now, and applying one group of records (a
 * record on the reference node, an original transaction on PostgreSQL) guarded by their pre-images.
 */
public interface ReplayTarget extends AutoCloseable {

    /**
     * Which of {@code states} {@code key} holds now: the highest index whose state it holds, or -1 for
     * none. A state is an image, or null for "the key does not exist".
     *
     * @param sample a record of the key (PostgreSQL takes the columns' types from its images)
     */
    int holds(Bytes key, TailRecord sample, List<Bytes> states) throws IOException;

    /** What {@code key} holds now, as shown in a report ({@link Display#ABSENT} when it does not exist). */
    String current(Bytes key, TailRecord sample) throws IOException;

    /**
     * Applies {@code group} in order, each write guarded by its record's pre-image re-read or checked
     * just before it; all or nothing as far as the target allows.
     *
     * @return null when applied; else why not (a guard that did not match: a conflict)
     */
    String apply(List<TailRecord> group) throws IOException;

    /** Whether a group is one original transaction (PostgreSQL) rather than one record. */
    boolean transactional();

    @Override
    void close() throws IOException;
}
