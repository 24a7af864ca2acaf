package io.dbrollback.coordinator;

import io.dbrollback.coordinator.fake.FakeCluster;

/** Hand-built clusters for the scripted tests. */
public final class Scenarios {

    private Scenarios() {
    }

    /**
     * Three nodes. n0 was primary in term 1 and wrote eleven records; all nodes have the first ten,
     * n1 also the eleventh (so LSN 11 is majority-committed). Cut off, n0 wrote five more: an insert,
     * an update, a delete, an update and an insert. The fork is LSN 11, the divergent tail LSN 12..16.
     * n1 was then elected in term 2 and took three writes, which n2 streams.
     */
    public static FakeCluster standard() {
        return standard(false);
    }

    /**
     * As {@link #standard()}; with {@code uncaptured}, n0's divergent writes end with a change it could not capture
     * whole.
     */
    public static FakeCluster standard(boolean uncaptured) {
        FakeCluster c = new FakeCluster("n0", "n1", "n2");
        c.elect("n0", 1);
        for (int i = 0; i < 10; i++) {
            c.put("n0", "k" + (i % 4), "v" + i);
        }
        c.put("n0", "k9", "seen-by-n1");
        c.replicate("n0", "n1", 11);
        c.replicate("n0", "n2", 10);
        c.setCommitLsn("n0", 11);
        c.put("n0", "d1", "divergent-insert");
        c.put("n0", "k1", "divergent-update");
        c.delete("n0", "k2");
        c.put("n0", "d1", "divergent-update-2");
        c.put("n0", "d2", "divergent-insert-2");
        if (uncaptured) {
            c.uncaptured("n0", "truncate:k5");
        }
        // n0 is cut off; n1 is elected, and n0 still believes it is primary of term 1.
        c.elect("n1", 2);
        restorePrimaryView(c, "n0");
        c.put("n1", "k3", "after-failover-1");
        c.put("n1", "k0", "after-failover-2");
        c.put("n1", "n1only", "after-failover-3");
        c.follow("n2", "n1");
        c.shipLogs();
        return c;
    }

    /** As {@link #standard()}, but n1 had every record of n0: nothing diverged. */
    static FakeCluster noDivergence() {
        FakeCluster c = new FakeCluster("n0", "n1", "n2");
        c.elect("n0", 1);
        for (int i = 0; i < 8; i++) {
            c.put("n0", "k" + (i % 3), "v" + i);
        }
        c.replicate("n0", "n1", 8);
        c.replicate("n0", "n2", 8);
        c.setCommitLsn("n0", 8);
        c.elect("n1", 2);
        restorePrimaryView(c, "n0");
        c.put("n1", "k0", "after");
        c.follow("n2", "n1");
        c.shipLogs();
        return c;
    }

    static void restorePrimaryView(FakeCluster c, String node) {
        c.markPrimaryInItsOwnEyes(node);
    }
}
