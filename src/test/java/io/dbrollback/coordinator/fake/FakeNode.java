package io.dbrollback.coordinator.fake;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An in-memory database node with a dense log of {@link TailRecord}s, a term history, the highest
 * term seen, a rollback id and a fence, behaving as the agent contract says: mutating calls below
 * the highest term seen are refused, recover is idempotent per incident.
 */
public final class FakeNode {

    final String name;
    final String address;
    final List<TailRecord> log = new ArrayList<>();
    final List<TermHistory.Entry> history = new ArrayList<>();
    long currentTerm;
    /** The term this node was last elected in; it writes records of that term only. */
    long primaryTerm;
    long commitLsn;
    long rollbackId;
    boolean fenced;
    String lastRecoveryIncident = "";
    long lastRecoveryTarget;
    String lastRecoveryFileSha256 = "";
    NodeRole role = NodeRole.REPLICA;
    String following;
    int effectiveRecovers;
    List<TailRecord> logBeforeRecover;

    FakeNode(String name) {
        this.name = name;
        this.address = name + ".db.svc:7000";
    }

    public String name() {
        return name;
    }

    public String address() {
        return address;
    }

    public long rollbackId() {
        return rollbackId;
    }

    public int effectiveRecovers() {
        return effectiveRecovers;
    }

    /** The log as it was just before the (first) effective recover, or null if none happened. */
    public List<TailRecord> logBeforeRecover() {
        return logBeforeRecover;
    }

    public List<TailRecord> log() {
        return List.copyOf(log);
    }

    public long lastLsn() {
        return log.size();
    }

    public NodeRole role() {
        return role;
    }

    public String following() {
        return following;
    }

    public boolean fenced() {
        return fenced;
    }

    /** Appends a record written by this node (as primary) or copied from one. */
    void append(TailRecord r) {
        if (r.lsn().value() != log.size() + 1) {
            throw new IllegalStateException(name + ": appending LSN " + r.lsn() + " after " + log.size());
        }
        long t = r.term().value();
        if (history.isEmpty() || history.get(history.size() - 1).term().value() != t) {
            if (!history.isEmpty() && history.get(history.size() - 1).term().value() > t) {
                throw new IllegalStateException(name + ": term " + t + " after a higher term");
            }
            history.add(TermHistory.Entry.of(t, r.lsn().value()));
        }
        log.add(r);
        currentTerm = Math.max(currentTerm, t);
    }

    /** Drops every record above {@code lsn} and the history entries that only covered them. */
    void truncateTo(long lsn) {
        while (log.size() > lsn) {
            log.remove(log.size() - 1);
        }
        history.removeIf(e -> e.firstLsn().value() > lsn);
    }

    /** Copies {@code leader}'s log from the first LSN where they differ, like log shipping after truncation. */
    void replicateFrom(FakeNode leader, long upTo) {
        int common = 0;
        while (common < log.size() && common < leader.log.size() && log.get(common).equals(leader.log.get(common))) {
            common++;
        }
        truncateTo(common);
        for (int i = common; i < Math.min(upTo, leader.log.size()); i++) {
            append(leader.log.get(i));
        }
        currentTerm = Math.max(currentTerm, leader.currentTerm);
    }

    /** The key-value state obtained by applying the log in order. */
    public Map<Bytes, Bytes> data() {
        return dataAt(log.size());
    }

    public Map<Bytes, Bytes> dataAt(long lsn) {
        Map<Bytes, Bytes> kv = new HashMap<>();
        for (int i = 0; i < lsn; i++) {
            TailRecord r = log.get(i);
            if (r.after() == null) {
                kv.remove(r.key());
            } else {
                kv.put(r.key(), r.after());
            }
        }
        return kv;
    }

    public NodeTimeline timeline() {
        return new NodeTimeline(name, role, Term.of(currentTerm), Lsn.of(log.size()), Lsn.of(commitLsn),
                new TermHistory(history), rollbackId, fenced, lastRecoveryIncident, Lsn.of(lastRecoveryTarget),
                lastRecoveryFileSha256);
    }
}
