package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The writers' read-backs kept for the verify step: taken once, per namespace, pod and container, bounded. */
class ReadBacksTest {

    private static ReadBacks.ReadBack readBack(int i) {
        return new ReadBacks.ReadBack(String.valueOf(i % 10).repeat(64), 1000L + i);
    }

    @Test
    void aReadBackIsTakenOnceAndOnlyForItsOwnPodContainerAndNamespace() {
        ReadBacks readBacks = new ReadBacks(8);
        ReadBacks.Scope db = readBacks.in("db");
        db.replace("orders-0", "database", "/data/rollback/a.jsonl", readBack(1));
        assertNull(readBacks.in("other").take("orders-0", "database", "/data/rollback/a.jsonl"), "another namespace");
        assertNull(db.take("orders-1", "database", "/data/rollback/a.jsonl"), "another pod");
        assertNull(db.take("orders-0", "sidecar", "/data/rollback/a.jsonl"), "another container");
        assertNull(db.take("orders-0", "database", "/data/rollback/b.jsonl"), "another file");
        assertEquals(readBack(1), db.take("orders-0", "database", "/data/rollback/a.jsonl"));
        assertNull(db.take("orders-0", "database", "/data/rollback/a.jsonl"), "taken once: the next verify re-reads");
    }

    @Test
    void aWriteWithoutReadBackDropsWhatAnEarlierWriteOfTheSameFileLeft() {
        ReadBacks.Scope db = new ReadBacks(8).in("db");
        db.replace("orders-0", "database", "/f", readBack(1));
        db.replace("orders-0", "database", "/g", readBack(2));
        db.replace("orders-0", "database", "/f", null);
        assertNull(db.take("orders-0", "database", "/f"), "the verify of /f reads the file itself");
        assertEquals(readBack(2), db.take("orders-0", "database", "/g"), "another file keeps its read-back");
    }

    @Test
    void theOldestReadBacksGoFirstBeyondTheBound() {
        ReadBacks.Scope db = new ReadBacks(3).in("db");
        for (int i = 0; i < 5; i++) {
            db.replace("orders-0", "database", "/f" + i, readBack(i));
        }
        assertNull(db.take("orders-0", "database", "/f0"));
        assertNull(db.take("orders-0", "database", "/f1"));
        for (int i = 2; i < 5; i++) {
            assertEquals(readBack(i), db.take("orders-0", "database", "/f" + i));
        }
    }
}
