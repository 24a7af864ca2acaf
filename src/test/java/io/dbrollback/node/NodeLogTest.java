package io.dbrollback.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.TermHistory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's log survives reopening and cuts off a torn or corrupt last frame (an unacknowledged write). */
class NodeLogTest {

    @TempDir
    Path dir;

    private static List<TailRecord> records(int from, int to, long term) {
        List<TailRecord> out = new ArrayList<>();
        for (int i = from; i <= to; i++) {
            out.add(TailRecord.insert(i, term, "tx" + i, Instant.ofEpochSecond(1_700_000_000L + i), Bytes.utf8("k" + i),
                    Bytes.utf8("v" + i)));
        }
        return out;
    }

    @Test
    void recordsAndTermHistorySurviveReopen() throws IOException {
        try (NodeLog log = NodeLog.open(dir)) {
            log.append(records(1, 3, 1));
            log.append(records(4, 6, 3));
        }
        try (NodeLog log = NodeLog.open(dir)) {
            assertEquals(6, log.lastLsn());
            assertEquals(records(4, 6, 3).get(1), log.read(5));
            assertEquals(TermHistory.of(TermHistory.Entry.of(1, 1), TermHistory.Entry.of(3, 4)), log.history());
            assertEquals(3, log.termAt(4));
            assertEquals(0, log.termAt(0));
        }
    }

    @Test
    void aTornLastFrameIsCutOffOnOpen() throws IOException {
        try (NodeLog log = NodeLog.open(dir)) {
            log.append(records(1, 5, 1));
        }
        long size = Files.size(dir.resolve("log.bin"));
        try (FileChannel ch = FileChannel.open(dir.resolve("log.bin"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 90, 1, 2, 3, 4, 5, 6}), size); // half a frame
        }
        try (NodeLog log = NodeLog.open(dir)) {
            assertEquals(5, log.lastLsn());
            assertEquals(size, Files.size(dir.resolve("log.bin")), "the torn bytes are gone");
            log.append(records(6, 6, 1));
            assertEquals(records(6, 6, 1).get(0), log.read(6));
        }
    }

    @Test
    void aLastFrameWithABadChecksumIsCutOff() throws IOException {
        try (NodeLog log = NodeLog.open(dir)) {
            log.append(records(1, 4, 2));
        }
        long size = Files.size(dir.resolve("log.bin"));
        try (FileChannel ch = FileChannel.open(dir.resolve("log.bin"), StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            ch.read(one, size - 3);
            one.flip();
            byte flipped = (byte) (one.get() ^ 0x10);
            ch.write(ByteBuffer.wrap(new byte[] {flipped}), size - 3);
        }
        try (NodeLog log = NodeLog.open(dir)) {
            assertEquals(3, log.lastLsn(), "the corrupt last record was never acknowledged: dropped");
        }
    }

    @Test
    void truncateIsDurableAndAppendsMustContinueTheLog() throws IOException {
        try (NodeLog log = NodeLog.open(dir)) {
            log.append(records(1, 3, 1));
            log.append(records(4, 8, 2));
            log.truncateTo(5);
            assertEquals(5, log.lastLsn());
            assertThrows(IllegalArgumentException.class, () -> log.append(records(7, 7, 2)));
        }
        try (NodeLog log = NodeLog.open(dir)) {
            assertEquals(5, log.lastLsn());
            log.truncateTo(3);
            assertEquals(TermHistory.of(TermHistory.Entry.of(1, 1)), log.history());
        }
    }
}
