package io.dbrollback.operator;

import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.node.ReplicaNode;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Writes a generated tail of N records through {@link AgentRollbackFileStore} to a reference node in
 * the same JVM, then reads it back to verify it, and prints what came out as {@code key=value}
 * lines. Run by {@link AgentFileMemoryTest} in a child JVM with a heap far smaller than the file: if
 * the operator's side or the agent's side held the file, it would run out of memory.
 */
public final class AgentFileMemoryProbe {

    private AgentFileMemoryProbe() {
    }

    public static void main(String[] args) throws Exception {
        long n = Long.parseLong(args[0]);
        int valueBytes = Integer.parseInt(args[1]);
        Path dir = Path.of(args[2]);
        long started = System.nanoTime();
        try (ReplicaNode node = ReplicaNode.start(ReplicaNode.Config.of("db-0", dir.resolve("node"), 1)
                .withRollbackDir(dir.resolve("rollback")));
                AgentClients clients = new AgentClients()) {
            AgentRollbackFileStore store = new AgentRollbackFileStore(clients, null, Map.of("db-0", node.address()),
                    Term.of(5));
            RollbackFileHeader header = new RollbackFileHeader("memory-probe", 1, "db/orders-leader", "db-0",
                    Lsn.of(1000), Lsn.of(1000 + n), Term.of(4), Term.of(5), "db-1", n,
                    Instant.parse("2026-03-01T10:05:00Z"));
            PersistResult r = store.persist("db-0", header, generated(n, valueBytes));
            System.out.println("persist=" + r.getClass().getSimpleName());
            if (r instanceof PersistResult.Persisted p) {
                RollbackFile f = p.file();
                System.out.println("records=" + f.recordCount());
                System.out.println("bytes=" + f.bytes());
                System.out.println("diskBytes=" + Files.size(Path.of(f.location())));
                VerifyResult v = store.verify("db-0", f, Instant.now());
                System.out.println("verify=" + v.getClass().getSimpleName());
            } else {
                System.out.println("failure=" + r);
            }
        }
        System.out.println("elapsedMillis=" + (System.nanoTime() - started) / 1_000_000);
        System.out.println("maxHeapBytes=" + Runtime.getRuntime().maxMemory());
        System.out.println("peakHeapUsedBytes=" + peakHeapUsed());
        System.out.flush();
        System.exit(0);
    }

    static long peakHeapUsed() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** Updates of rotating keys with values of {@code valueBytes} bytes, generated as they are read. */
    static TailStream generated(long n, int valueBytes) {
        String pad = "x".repeat(valueBytes);
        Instant t = Instant.parse("2026-03-01T10:00:00Z");
        return new TailStream() {
            long i;

            @Override
            public boolean hasNext() {
                return i < n;
            }

            @Override
            public TailRecord next() {
                if (i >= n) {
                    throw new NoSuchElementException();
                }
                i++;
                return TailRecord.update(1000 + i, 4, "tx-" + i, t.plusMillis(i), Bytes.utf8("key-" + (i % 1000)),
                        Bytes.utf8(i + "b" + pad), Bytes.utf8(i + "a" + pad));
            }

            @Override
            public void close() {
            }
        };
    }
}
