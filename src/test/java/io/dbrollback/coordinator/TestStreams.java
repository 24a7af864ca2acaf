package io.dbrollback.coordinator;

import io.dbrollback.model.TailRecord;
import java.util.Iterator;
import java.util.List;
import java.util.function.Supplier;

/** Tail streams over fixed records, for tests of the tail validator and the file writers. */
public final class TestStreams {

    private TestStreams() {
    }

    /**
     * {@code records}, except that taking the {@code n}th one (from 1) runs {@code failure} and
     * throws what it returns: a tail that breaks mid-stream.
     */
    public static TailStream failingAt(List<TailRecord> records, int n, Supplier<RuntimeException> failure) {
        TailStream all = of(records);
        return new TailStream() {
            int taken;

            @Override
            public boolean hasNext() {
                return all.hasNext();
            }

            @Override
            public TailRecord next() {
                if (++taken == n) {
                    throw failure.get();
                }
                return all.next();
            }

            @Override
            public void close() {
            }
        };
    }

    public static TailStream of(List<TailRecord> records) {
        Iterator<TailRecord> it = records.iterator();
        return new TailStream() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public TailRecord next() {
                return it.next();
            }

            @Override
            public void close() {
            }
        };
    }
}
