package io.dbrollback.operator;

import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.RecoverResult;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.Term;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * Counts failed calls by code and times the tail streaming, around the production transport. The
 * streaming time comes from the metrics' monotonic source, never the wall clock: a clock jump during a
 * stream cannot make it negative or huge.
 */
final class MeteredTransport implements RollbackTransport {

    private final RollbackTransport inner;
    private final RollbackMetrics metrics;

    MeteredTransport(RollbackTransport inner, RollbackMetrics metrics) {
        this.inner = inner;
        this.metrics = metrics;
    }

    private <T> T call(String name, Supplier<T> body) {
        try {
            return body.get();
        } catch (TransportException e) {
            metrics.callFailed(name, e.code());
            throw e;
        }
    }

    @Override
    public void fence(String node, String incidentId, Term term) {
        call("Fence", () -> {
            inner.fence(node, incidentId, term);
            return null;
        });
    }

    @Override
    public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
        return call("ReadDivergentTail", () -> inner.readDivergentTail(node, fromExclusive, toInclusive));
    }

    @Override
    public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
        long start = metrics.nanoTime();
        PersistResult r = call("PersistRollbackFile", () -> inner.persistRollbackFile(header, tail));
        if (r instanceof PersistResult.Persisted p) {
            metrics.tailStreamed(p.file().bytes(), Duration.ofNanos(Math.max(0, metrics.nanoTime() - start)));
        } else if (r instanceof PersistResult.Failed f) {
            metrics.callFailed("PersistRollbackFile", f.kind().name());
        }
        return r;
    }

    @Override
    public VerifyResult verifyRollbackFile(RollbackFile file) {
        return call("VerifyRollbackFile", () -> inner.verifyRollbackFile(file));
    }

    @Override
    public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
            String expectedFileSha256) {
        return call("RecoverToLsn", () -> inner.recoverToLsn(node, target, expectedLastLsn, incidentId, term,
                expectedFileSha256));
    }

    @Override
    public void emitRollbackEvent(RollbackEvent event) {
        inner.emitRollbackEvent(event);
    }

    @Override
    public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
        call("RejoinAsReplica", () -> {
            inner.rejoinAsReplica(node, primaryAddress, term, incidentId);
            return null;
        });
    }
}
