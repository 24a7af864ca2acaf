package io.dbrollback.operator;

import io.dbrollback.coordinator.TailStream;
import io.dbrollback.model.TailRecord;
import java.util.Iterator;
import java.util.List;

/** Tail streams over fixed records, for tests of the file writer. */
final class TestStreams {

    private TestStreams() {
    }

    static TailStream of(List<TailRecord> records) {
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
