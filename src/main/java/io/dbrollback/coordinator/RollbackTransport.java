package io.dbrollback.coordinator;

import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.Term;

/**
 * The side effects the rollback coordinator drives, injected so that the state machine stays pure
 * and deterministically testable. Production backs them onto a gRPC agent in each database pod and
 * pod exec; tests back them onto a scripted fake.
 *
 * <p>The five operations of the database's own transport are here under their Java names
 * ({@link #readDivergentTail}, {@link #persistRollbackFile}, {@link #recoverToLsn},
 * {@link #emitRollbackEvent}, {@link #rejoinAsReplica}). Deliberate differences:
 * <ul>
 *   <li>the tail is streamed in LSN order rather than returned as a list, so memory does not grow with
 *       the tail;</li>
 *   <li>persisting returns a file handle or a typed {@link PersistResult.Failed} that aborts the
 *       rollback before anything is removed;</li>
 *   <li>every call that changes a node carries the incident id and the term, the fencing token that
 *       the node checks against the highest term it has seen;</li>
 *   <li>two operations are added: {@link #fence} (the database's transport assumed a stopped node) and
 *       {@link #verifyRollbackFile} (re-read from disk, so a file is trusted only once it was read back).</li>
 * </ul>
 *
 * <p>Every method may throw {@link TransportException}; every method is safe to call again after a
 * crash or an unknown outcome, with the same arguments.
 */
public interface RollbackTransport {

    /**
     * Makes {@code node} refuse client writes from now on, durably. Idempotent.
     *
     * @throws TransportException with code {@code StaleTerm} when the node has seen a term above
     *     {@code term}; nothing changed on the node then
     */
    void fence(String node, String incidentId, Term term);

    /**
     * Opens a stream of the records in (fromExclusive, toInclusive] of {@code node}'s log, in LSN
     * order. Read-only. The stream holds a bounded window in memory, and reports a broken transfer as
     * a {@link TransportException} from {@code hasNext}/{@code next}, never as a clean end.
     */
    TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive);

    /**
     * Writes the records of {@code tail} to a new durable rollback file described by {@code header}:
     * a temporary file, fsync, rename, fsync of the directory. Consumes {@code tail} to its end.
     *
     * <p>Contract: if iterating {@code tail} throws, the file is not published and the exception
     * propagates unchanged. An existing rollback file is never overwritten: calling again for the same
     * incident and plan returns the existing file when its content is the same and
     * {@link PersistResult.Kind#CONFLICT} otherwise.
     *
     * @return the durable file, or the reason it could not be made durable
     */
    PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail);

    /**
     * Re-reads {@code file} from disk and reports what it holds. When the file is missing or differs
     * from {@code file}, renames it aside (quarantine) and reports a mismatch; never deletes it.
     */
    VerifyResult verifyRollbackFile(RollbackFile file);

    /**
     * Recovers {@code node}'s live timeline to {@code target}: bumps the node's rollback id durably
     * and records the incident, then discards every version above {@code target} and restores the
     * pre-images visible at it. Idempotent per incident: a retry after an unknown outcome does not
     * bump the rollback id twice.
     *
     * <p>The node refuses (changing nothing) unless it is fenced and its last LSN is
     * {@code expectedLastLsn}: it removes exactly the range (target, expectedLastLsn] that the
     * verified file holds, never a write that arrived after the tail was read.
     *
     * @param expectedFileSha256 SHA-256 of the verified rollback file; the node records it with the
     *     truncate point
     * @throws TransportException with code {@code StaleTerm} when the node has seen a higher term
     */
    RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
            String expectedFileSha256);

    /**
     * Emits the loud, auditable event of a finished rollback. At least once: the sink deduplicates by
     * (incident id, event type), so emitting again after a crash does not double the event.
     */
    void emitRollbackEvent(RollbackEvent event);

    /** Makes {@code node} stream as a replica of {@code primaryAddress} under {@code term}. Idempotent. */
    void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId);
}
