package io.dbrollback.coordinator;

import io.dbrollback.coordinator.fake.FakeCluster;
import io.dbrollback.coordinator.fake.FakeFileStore;
import io.dbrollback.coordinator.fake.FakeNode;
import io.dbrollback.coordinator.fake.Fault;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.TailRecord;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * README command one, until the full sandbox exists: a failover with divergent writes on an
 * in-memory three-node cluster, rolled back by the real coordinator while the operator crashes once
 * and loses the answer of the destructive call once. Prints every step, the audit record, the
 * rollback file and the data converging. Exits 0 only if the rollback completed safely.
 */
public final class Walkthrough {

    private Walkthrough() {
    }

    public static void main(String[] args) {
        FakeCluster cluster = Scenarios.standard()
                .inject(FakeCluster.Op.PERSIST, Fault.CRASH_AFTER)
                .inject(FakeCluster.Op.RECOVER, Fault.UNKNOWN_AFTER);
        FakeNode n0 = cluster.node("n0");
        FakeNode n1 = cluster.node("n1");
        System.out.println("== A failover left n0 (former primary, term 1) with writes n1 (primary, term 2) never got");
        System.out.printf("n0: last LSN %d, data %s%n", n0.lastLsn(), show(n0.data()));
        System.out.printf("n1: last LSN %d, data %s%n", n1.lastLsn(), show(n1.data()));
        System.out.println();
        System.out.println("== Rolling back n0 (the operator crashes after persisting; the recover's answer is lost)");
        Harness h = new Harness(cluster, IncidentSpec.automatic("inc-7f3a", "orders-db", "n0"));
        int shown = 0;
        while (!h.saved.phase().isTerminal() && h.steps < 100) {
            h.step();
            for (; shown < h.trace.size(); shown++) {
                System.out.println("  " + h.trace.get(shown));
            }
        }
        Checkpoint cp = h.saved;
        System.out.println();
        System.out.println("== Audit record (what the custom resource's status will hold)");
        System.out.println("Phase:            " + cp.phase() + " (" + cp.reason() + ")");
        System.out.println("Message:          " + cp.message());
        Plan p = cp.plan();
        System.out.println("Fork LSN:         " + p.forkLsn() + " (common term " + p.commonTerm() + ")");
        System.out.println("Divergent LSNs:   (" + p.forkLsn() + ", " + p.targetLastLsn() + "]");
        System.out.println("Terms:            " + p.oldTerm() + " -> " + p.newTerm() + ", new primary " + p.newPrimary()
                + " at " + p.newPrimaryAddress());
        if (cp.tail() != null) {
            System.out.println("Records / bytes:  " + cp.tail().recordCount() + " / " + cp.tail().bytes());
            System.out.println("Tail SHA-256:     " + cp.tail().sha256());
            System.out.println("Rollback file:    " + cp.file().location());
            System.out.println("File SHA-256:     " + cp.file().sha256());
        }
        System.out.println("Rollback id:      " + cp.rollbackIdBefore() + " -> " + cp.rollbackIdAfter());
        cp.phaseTimes().forEach((phase, at) -> System.out.printf("  %-17s %s%n", phase, at));
        System.out.println();
        if (cp.file() != null) {
            System.out.println("== Rollback file records (pre-images kept for updates and deletes)");
            FakeFileStore.StoredFile f = cluster.files().files().get(cp.file().location());
            for (TailRecord r : f.records) {
                System.out.printf("  lsn=%d term=%d %-6s key=%s before=%s after=%s%n", r.lsn().value(),
                        r.term().value(), r.operation(), text(r.key()), text(r.before()), text(r.after()));
            }
            System.out.println();
        }
        System.out.println("== Event");
        cluster.events().values().forEach(e -> System.out.println("  " + e.message()));
        cluster.shipLogs();
        System.out.println();
        System.out.println("== After rejoin and catch-up");
        System.out.printf("n0: last LSN %d, data %s%n", n0.lastLsn(), show(n0.data()));
        System.out.printf("n1: last LSN %d, data %s%n", n1.lastLsn(), show(n1.data()));
        boolean ok = cp.phase() == Phase.COMPLETED && n0.log().equals(n1.log()) && cluster.violations().isEmpty()
                && n0.effectiveRecovers() == 1;
        System.out.println(ok ? "OK: completed, one recover, nothing lost, n0 converged to n1"
                : "FAILED: " + cp.phase() + " " + cluster.violations());
        System.exit(ok ? 0 : 1);
    }

    private static String show(Map<Bytes, Bytes> kv) {
        Map<String, String> sorted = new TreeMap<>();
        kv.forEach((k, v) -> sorted.put(text(k), text(v)));
        return sorted.toString();
    }

    private static String text(Bytes b) {
        return b == null ? "-" : new String(b.toByteArray(), StandardCharsets.UTF_8);
    }

}
