package io.dbrollback.coordinator.fake;

import io.dbrollback.coordinator.Observation;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.RecoverResult;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Queue;
import java.util.Random;
import java.util.function.Function;

/**
 * A three-node database cluster with a leader Lease, a rollback-file store and an event sink, all in
 * memory, serving as the {@link RollbackTransport} the coordinator drives. Faults are injected per
 * call (scripted, or drawn by a function); every breach of an invariant the fake can see from its
 * side is recorded in {@link #violations()}.
 */
public final class FakeCluster implements RollbackTransport {

    /** The transport's operations, for fault injection and counting. */
    public enum Op { FENCE, READ, PERSIST, VERIFY, RECOVER, EMIT, REJOIN }

    /** One mutating call as the nodes saw it. */
    public record Call(Op op, String node, String incidentId, long term, String leaseHolder, long leaseTerm,
            boolean accepted) {
    }

    private final Map<String, FakeNode> nodes = new LinkedHashMap<>();
    private final FakeFileStore files = new FakeFileStore();
    private final Map<String, RollbackEvent> events = new LinkedHashMap<>();
    private final List<Call> calls = new ArrayList<>();
    private final List<String> violations = new ArrayList<>();
    private final EnumMap<Op, Integer> counts = new EnumMap<>(Op.class);
    private final EnumMap<Op, Queue<Fault>> scripted = new EnumMap<>(Op.class);
    private Function<Op, Fault> randomFaults = op -> null;
    private String leaseHolder;
    private long leaseTerm;
    private int emits;
    private Instant now = Instant.parse("2026-01-01T00:00:00Z");

    public FakeCluster(String... names) {
        for (String n : names) {
            nodes.put(n, new FakeNode(n));
        }
    }

    public FakeNode node(String name) {
        FakeNode n = nodes.get(name);
        if (n == null) {
            throw new IllegalArgumentException("no node " + name);
        }
        return n;
    }

    // ---- building scenarios ------------------------------------------------------------------

    /** {@code node} writes one record as primary of its current term on a small key space. */
    public TailRecord write(String nodeName, int keySpace, Random rnd) {
        FakeNode n = node(nodeName);
        Map<Bytes, Bytes> kv = n.data();
        Bytes key = Bytes.utf8("k" + rnd.nextInt(keySpace));
        Bytes old = kv.get(key);
        long lsn = n.log.size() + 1;
        now = now.plusMillis(1 + rnd.nextInt(5));
        String tx = "tx-" + nodeName + "-" + lsn;
        Bytes value = Bytes.utf8("v" + rnd.nextInt(1_000_000) + "@" + nodeName);
        TailRecord r;
        if (old == null) {
            r = TailRecord.insert(lsn, n.primaryTerm, tx, now, key, value);
        } else if (rnd.nextInt(3) == 0) {
            r = TailRecord.delete(lsn, n.primaryTerm, tx, now, key, old);
        } else {
            r = TailRecord.update(lsn, n.primaryTerm, tx, now, key, old, value);
        }
        n.append(r);
        return r;
    }

    /** {@code node} writes {@code key}={@code value} (an insert or an update) as primary. */
    public TailRecord put(String nodeName, String key, String value) {
        return explicit(nodeName, Bytes.utf8(key), Bytes.utf8(value));
    }

    /** {@code node} deletes {@code key} as primary; the key must exist. */
    public TailRecord delete(String nodeName, String key) {
        return explicit(nodeName, Bytes.utf8(key), null);
    }

    /**
     * {@code node} writes, as primary, a change it cannot capture whole (as a PostgreSQL TRUNCATE): an
     * uncaptured record with no image. The fake's data drops {@code key}.
     */
    public TailRecord uncaptured(String nodeName, String key) {
        FakeNode n = node(nodeName);
        long lsn = n.log.size() + 1;
        now = now.plusMillis(3);
        TailRecord r = TailRecord.uncaptured(lsn, n.primaryTerm, "tx-" + nodeName + "-" + lsn, now, Bytes.utf8(key),
                null,
                null);
        n.append(r);
        return r;
    }

    private TailRecord explicit(String nodeName, Bytes key, Bytes value) {
        FakeNode n = node(nodeName);
        Bytes old = n.data().get(key);
        long lsn = n.log.size() + 1;
        now = now.plusMillis(3);
        String tx = "tx-" + nodeName + "-" + lsn;
        TailRecord r;
        if (value == null) {
            if (old == null) {
                throw new IllegalArgumentException("deleting a missing key");
            }
            r = TailRecord.delete(lsn, n.primaryTerm, tx, now, key, old);
        } else if (old == null) {
            r = TailRecord.insert(lsn, n.primaryTerm, tx, now, key, value);
        } else {
            r = TailRecord.update(lsn, n.primaryTerm, tx, now, key, old, value);
        }
        n.append(r);
        return r;
    }

    /** Makes {@code follower} stream from {@code leader}, as {@link #shipLogs()} does. */
    public void follow(String follower, String leader) {
        FakeNode n = node(follower);
        n.role = NodeRole.REPLICA;
        n.following = node(leader).address;
    }

    /** Makes {@code name} primary in {@code term} and moves the Lease to it. */
    public void elect(String name, long term) {
        for (FakeNode n : nodes.values()) {
            if (n.role == NodeRole.PRIMARY) {
                n.role = NodeRole.REPLICA;
            }
        }
        FakeNode n = node(name);
        n.currentTerm = Math.max(n.currentTerm, term);
        n.primaryTerm = term;
        n.role = NodeRole.PRIMARY;
        n.fenced = false;
        leaseHolder = name;
        leaseTerm = term;
    }

    /** {@code name} lifts its fence by itself (an agent that does not keep its fence). */
    public void unfence(String name) {
        node(name).fenced = false;
    }

    /** A cut-off former primary still believes it is primary (and takes client writes until fenced). */
    public void markPrimaryInItsOwnEyes(String name) {
        node(name).role = NodeRole.PRIMARY;
    }

    /** Sets the Lease without touching the nodes (a stale or lagging Lease). */
    public void setLease(String holder, long term) {
        leaseHolder = holder;
        leaseTerm = term;
    }

    public void replicate(String from, String to, long upTo) {
        node(to).replicateFrom(node(from), upTo);
    }

    /** {@code name} loses every record above {@code lsn} (a lagging or damaged replica). */
    public void truncate(String name, long lsn) {
        node(name).truncateTo(lsn);
    }

    /** {@code name} has heard of {@code term} (it refuses calls below it from now on). */
    public void setNodeTerm(String name, long term) {
        FakeNode n = node(name);
        n.currentTerm = Math.max(n.currentTerm, term);
    }

    /** Replaces {@code name}'s reported term history (a node with a damaged timeline). */
    public void overrideHistory(String name, List<TermHistory.Entry> entries) {
        FakeNode n = node(name);
        n.history.clear();
        n.history.addAll(entries);
    }

    public void setCommitLsn(String name, long lsn) {
        node(name).commitLsn = lsn;
    }

    public void advanceClock(Duration d) {
        now = now.plus(d);
    }

    /**
     * Client writes reach {@code name} only if it is an unfenced primary that has not heard of a
     * newer term (a node that has steps down).
     */
    public boolean clientWrite(String name, Random rnd) {
        FakeNode n = node(name);
        if (n.role != NodeRole.PRIMARY || n.fenced || n.currentTerm > n.primaryTerm) {
            return false;
        }
        write(name, 6, rnd);
        return true;
    }

    // ---- observing ---------------------------------------------------------------------------

    public Observation observe(String target) {
        FakeNode holder = leaseHolder == null ? null : nodes.get(leaseHolder);
        return new Observation(leaseHolder, Term.of(leaseTerm), node(target).timeline(),
                holder == null ? null : holder.timeline(), holder == null ? null : holder.address);
    }

    public String leaseHolder() {
        return leaseHolder;
    }

    public long leaseTerm() {
        return leaseTerm;
    }

    public FakeFileStore files() {
        return files;
    }

    public Map<String, RollbackEvent> events() {
        return Map.copyOf(events);
    }

    public int emitCalls() {
        return emits;
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<String> violations() {
        return List.copyOf(violations);
    }

    public int count(Op op) {
        return counts.getOrDefault(op, 0);
    }

    public int totalCalls() {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }

    // ---- fault injection ---------------------------------------------------------------------

    /** Injects {@code fault} into the next call of {@code op}. */
    public FakeCluster inject(Op op, Fault fault) {
        scripted.computeIfAbsent(op, k -> new ArrayDeque<>()).add(fault);
        return this;
    }

    /** Draws a fault (or null) for every call not scripted. */
    public void randomFaults(Function<Op, Fault> source) {
        this.randomFaults = source;
    }

    private Fault enter(Op op) {
        counts.merge(op, 1, Integer::sum);
        Queue<Fault> q = scripted.get(op);
        Fault f = q != null && !q.isEmpty() ? q.poll() : randomFaults.apply(op);
        if (f == Fault.CRASH_BEFORE) {
            throw new SimulatedCrash("before " + op);
        }
        if (f == Fault.UNKNOWN_BEFORE) {
            throw new TransportException("UNAVAILABLE", true, op + ": connection reset before the call arrived");
        }
        if (f == Fault.INVALID_ANSWER) {
            throw new TransportException("AgentAnswerInvalid", false, op + " broke rule NumberRange: every number"
                    + " must be below 2^63; the answer was not used");
        }
        return f;
    }

    private static void exit(Op op, Fault f) {
        if (f == Fault.CRASH_AFTER) {
            throw new SimulatedCrash("after " + op);
        }
        if (f == Fault.UNKNOWN_AFTER) {
            throw new TransportException("DEADLINE_EXCEEDED", true,
                    op + ": deadline exceeded after the call took effect");
        }
        if (f == Fault.INTERNAL_AFTER) {
            throw new TransportException("INTERNAL", true, op + ": RST_STREAM after the call took effect");
        }
    }

    /** The term check every node applies to mutating calls (I4), recording the call either way. */
    private void checkTerm(Op op, FakeNode n, String incidentId, Term term) {
        boolean stale = term.value() < n.currentTerm;
        calls.add(new Call(op, n.name, incidentId, term.value(), leaseHolder, leaseTerm, !stale));
        if (incidentId == null || incidentId.isBlank()) {
            violations.add("I4: " + op + " to " + n.name + " without an incident id");
        }
        if (n.name.equals(leaseHolder)) {
            violations.add("live primary touched: " + op + " to the Lease holder " + n.name);
        }
        if (stale) {
            throw new TransportException("StaleTerm", false, n.name + " has seen term " + n.currentTerm + ", call has "
                    + term);
        }
        if (term.value() != leaseTerm) {
            violations.add("I4: " + op + " to " + n.name + " carried term " + term + " while the Lease is at "
                    + leaseTerm);
        }
        n.currentTerm = term.value();
    }

    // ---- RollbackTransport -------------------------------------------------------------------

    @Override
    public void fence(String node, String incidentId, Term term) {
        Fault f = enter(Op.FENCE);
        FakeNode n = node(node);
        checkTerm(Op.FENCE, n, incidentId, term);
        if (f == Fault.FENCE_IGNORED) {
            return;
        }
        n.fenced = true;
        if (n.role == NodeRole.PRIMARY) {
            n.role = NodeRole.DETACHED;
        }
        exit(Op.FENCE, f);
    }

    @Override
    public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
        Fault f = enter(Op.READ);
        FakeNode n = node(node);
        List<TailRecord> out = new ArrayList<>();
        for (long lsn = fromExclusive.value() + 1; lsn <= Math.min(toInclusive.value(), n.log.size()); lsn++) {
            out.add(n.log.get((int) lsn - 1));
        }
        int cut = Integer.MAX_VALUE;
        if (f != null && !out.isEmpty()) {
            int i = out.size() / 2;
            TailRecord r = out.get(i);
            switch (f) {
                case STREAM_GAP -> out.remove(i);
                case STREAM_DUPLICATE -> out.add(i, r);
                case STREAM_REORDER -> {
                    if (out.size() > 1) {
                        out.set(i, out.get(out.size() - 1 == i ? i - 1 : i + 1));
                        out.set(out.size() - 1 == i ? i - 1 : i + 1, r);
                    } else {
                        out.add(r);
                    }
                }
                case STREAM_OUT_OF_RANGE -> {
                    TailRecord last = out.get(out.size() - 1);
                    out.add(new TailRecord(last.lsn().next(), last.term(), "tx-extra", last.commitTime(),
                            io.dbrollback.model.Operation.INSERT, Bytes.utf8("extra"), null, Bytes.utf8("x")));
                }
                case STREAM_WRONG_TERM -> out.set(i, new TailRecord(r.lsn(), r.term().next(), r.transactionId(),
                        r.commitTime(), r.operation(), r.key(), r.before(), r.after()));
                case STREAM_SHORT -> out.remove(out.size() - 1);
                case STREAM_CUT -> cut = i;
                default -> {
                }
            }
        }
        exit(Op.READ, f == Fault.CRASH_AFTER || f == Fault.UNKNOWN_AFTER ? f : null);
        final int cutAt = cut;
        return new TailStream() {
            private int next;

            @Override
            public boolean hasNext() {
                if (next == out.size() && f == Fault.TRAILER_MISMATCH) {
                    throw new TransportException("TailDigestMismatch", false, "the tail from " + node
                            + " hashes to another digest than its trailer says");
                }
                if (next == cutAt) {
                    throw new TransportException("UNAVAILABLE", false, "tail stream of " + node + " cut after "
                            + next + " records, no trailer");
                }
                return next < out.size();
            }

            @Override
            public TailRecord next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return out.get(next++);
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
        Fault f = enter(Op.PERSIST);
        String location = "/data/rollback/" + header.incidentId() + "-plan" + header.planNumber() + ".rollback";
        List<TailRecord> records = new ArrayList<>();
        TailDigest digest = new TailDigest();
        while (tail.hasNext()) { // a throw here propagates: nothing is published
            TailRecord r = tail.next();
            records.add(r);
            digest.add(r);
        }
        if (f == Fault.PERSIST_NO_SPACE) {
            return new PersistResult.Failed(PersistResult.Kind.NO_SPACE, "No space left on device");
        }
        if (f == Fault.PERSIST_FSYNC) {
            return new PersistResult.Failed(PersistResult.Kind.FSYNC_FAILED, "fsync: Input/output error");
        }
        String tailSha = digest.finish();
        long bytes = digest.bytes() + header.toString().length();
        String fileSha = sha256(header + "|" + tailSha + "|" + records.size());
        FakeFileStore.StoredFile existing = files.get(location);
        if (existing != null) {
            if (!existing.fileSha256.equals(fileSha) || existing.corrupted) {
                return new PersistResult.Failed(PersistResult.Kind.CONFLICT, location + " exists with other content");
            }
        } else {
            files.add(location, new FakeFileStore.StoredFile(location, header, records, fileSha, tailSha, bytes));
        }
        if (f == Fault.FILE_BITFLIP) {
            files.get(location).corrupted = true;
        }
        exit(Op.PERSIST, f);
        return new PersistResult.Persisted(new RollbackFile(location, fileSha, tailSha, bytes, records.size()));
    }

    @Override
    public VerifyResult verifyRollbackFile(RollbackFile file) {
        Fault f = enter(Op.VERIFY);
        FakeFileStore.StoredFile stored = files.get(file.location());
        VerifyResult result;
        if (stored == null) {
            result = new VerifyResult.Mismatch(file.location() + " is missing", null);
        } else if (stored.corrupted || !stored.fileSha256.equals(file.sha256())) {
            String to = files.quarantine(file.location());
            result = new VerifyResult.Mismatch("read back a different sha256 than written", to);
        } else {
            stored.verified = true;
            result = new VerifyResult.Read(stored.fileSha256, stored.tailSha256, stored.records.size(), stored.bytes);
        }
        exit(Op.VERIFY, f);
        return result;
    }

    @Override
    public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
            String expectedFileSha256) {
        Fault f = enter(Op.RECOVER);
        FakeNode n = node(node);
        checkTerm(Op.RECOVER, n, incidentId, term);
        if (f == Fault.RECOVER_CLAIMED_NOT_DONE) {
            return new RecoverResult(n.rollbackId + 1, target);
        }
        if (!n.lastRecoveryIncident.equals(incidentId)) {
            if (!n.fenced) {
                throw new TransportException("FAILED_PRECONDITION", false, node + " is not fenced");
            }
            if (n.log.size() != expectedLastLsn.value()) {
                throw new TransportException("FAILED_PRECONDITION", false, node + " is at LSN " + n.log.size()
                        + ", the recover expects " + expectedLastLsn);
            }
            checkFileBeforeRecover(n, target, expectedFileSha256);
            if (target.value() < n.commitLsn) {
                violations.add("I5: recover of " + node + " to " + target + " below its commit LSN " + n.commitLsn);
            }
            n.logBeforeRecover = List.copyOf(n.log);
            n.rollbackId += f == Fault.RECOVER_DOUBLE_BUMP ? 2 : 1;
            n.lastRecoveryIncident = incidentId;
            n.lastRecoveryTarget = target.value();
            n.lastRecoveryFileSha256 = expectedFileSha256;
            n.effectiveRecovers++;
            n.truncateTo(target.value());
        } else if (n.lastRecoveryTarget != target.value() || !n.lastRecoveryFileSha256.equals(expectedFileSha256)) {
            throw new TransportException("RECOVER_CONFLICT", false, node + " recovered for this incident with"
                    + " another target or file");
        }
        exit(Op.RECOVER, f);
        // The recorded outcome, also on a retry after the node caught up again.
        return new RecoverResult(n.rollbackId, Lsn.of(n.lastRecoveryTarget));
    }

    /** I1: a verified, unquarantined file holds exactly the records about to be removed. */
    private void checkFileBeforeRecover(FakeNode n, Lsn target, String expectedFileSha256) {
        List<TailRecord> doomed = n.log.subList((int) target.value(), n.log.size());
        FakeFileStore.StoredFile match = null;
        for (FakeFileStore.StoredFile s : files.files().values()) {
            if (s.fileSha256.equals(expectedFileSha256) && files.get(s.originalLocation) == s) {
                match = s;
            }
        }
        if (match == null || !match.verified || match.corrupted) {
            violations.add("I1: recover of " + n.name + " to " + target + " without a verified file "
                    + expectedFileSha256);
        } else if (!match.records.equals(doomed)) {
            violations.add("I1: the file " + match.originalLocation + " holds " + match.records.size()
                    + " records, the recover removes " + doomed.size() + " others");
        }
    }

    @Override
    public void emitRollbackEvent(RollbackEvent event) {
        Fault f = enter(Op.EMIT);
        emits++;
        events.putIfAbsent(event.incidentId() + "/" + event.type(), event);
        exit(Op.EMIT, f);
    }

    @Override
    public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
        Fault f = enter(Op.REJOIN);
        FakeNode n = node(node);
        checkTerm(Op.REJOIN, n, incidentId, term);
        FakeNode holder = nodes.get(leaseHolder);
        if (holder == null || !holder.address.equals(primaryAddress)) {
            violations.add("I6: " + node + " told to follow " + primaryAddress + " while the Lease holder is "
                    + leaseHolder);
        }
        n.role = NodeRole.REPLICA;
        n.following = primaryAddress;
        exit(Op.REJOIN, f);
    }

    /** Replicas that follow the Lease holder catch up with it (log shipping). */
    public void shipLogs() {
        FakeNode holder = nodes.get(leaseHolder);
        if (holder == null) {
            return;
        }
        for (FakeNode n : nodes.values()) {
            if (n != holder && n.role == NodeRole.REPLICA && holder.address.equals(n.following)) {
                int common = 0;
                while (common < n.log.size() && common < holder.log.size()
                        && n.log.get(common).equals(holder.log.get(common))) {
                    common++;
                }
                if (common < n.log.size()) {
                    violations.add(n.name + " follows " + holder.name + " but holds records it lacks above LSN "
                            + common + ": a divergent tail was left in place");
                    continue;
                }
                n.replicateFrom(holder, holder.log.size());
            }
        }
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Instant now() {
        return now;
    }
}
