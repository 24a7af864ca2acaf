package io.dbrollback.operator;

import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.coordinator.Failure;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.StatusRuntimeException;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.zip.CRC32C;

/**
 * A tail read over gRPC and checked on arrival: every chunk's CRC32C, then the trailer's count,
 * bytes and SHA-256 against what arrived. A stream that ends without its trailer, or whose trailer
 * disagrees, is reported as a broken transfer, never as a clean end. Read with manual flow control
 * ({@link ServerStreamReader}): one message asked for at a time, so at most one chunk waits here
 * beside the one being handed out; a stream that sends nothing for the progress timeout is cancelled
 * and reported as {@code AgentStalled}, under the overall stream deadline.
 *
 * <p>Each record is encoded (canonically) once: the chunk's CRC32C is taken over the encodings as
 * they arrive, and each record's encoding is added to the tail's SHA-256 when it is handed out, so
 * {@link #digest()} covers exactly the records handed out, and is shared with the stages after this
 * one (the validator, the file writer) rather than computed again.
 */
final class GrpcTailStream implements TailStream {

    private final ServerStreamReader<ReadDivergentTailRequest, TailMessage> messages;
    private final String node;
    private final TailDigest digest = new TailDigest();
    /** The records of the current chunk, {@link #cursor} the next to hand out. */
    private List<TailRecord> ready = List.of();
    private int cursor;
    /** The canonical encodings of {@link #ready}; the i-th ends at {@code ends[i]}. */
    private final CanonicalEncoding.Buffer encoded = new CanonicalEncoding.Buffer(64 * 1024);
    private int[] ends = new int[256];
    private final CRC32C crc = new CRC32C();
    private boolean ended;

    GrpcTailStream(RollbackAgentGrpc.RollbackAgentStub stub, String node, long from, long to,
            AgentClients.Deadlines deadlines) {
        this.node = node;
        ReadDivergentTailRequest request = ReadDivergentTailRequest.newBuilder().setFromExclusive(from)
                .setToInclusive(to).build();
        this.messages = new ServerStreamReader<>("ReadDivergentTail", node, deadlines.progressTimeout(),
                observer -> AgentClients.Deadlines.within(stub, deadlines.streamDeadline())
                        .readDivergentTail(request, observer));
    }

    @Override
    public boolean hasNext() {
        while (cursor == ready.size() && !ended) {
            TailMessage m;
            try {
                m = messages.next();
            } catch (StatusRuntimeException e) {
                TransportException t = GrpcRollbackTransport.translate("ReadDivergentTail", node, e, false);
                if (digest.records() > 0 && Failure.of(t.code()).reason() == Reason
                        .AgentUnreachable) {
                    // Cut after records arrived: a broken transfer, counted against the plan's bound (an
                    // agent that always resets before its trailer would otherwise be re-read forever).
                    throw new TransportException("TailCut", false, t.getMessage() + " after " + digest.records()
                            + " records", e);
                }
                throw t;
            }
            if (m == null) {
                throw new TransportException("TailTruncated", false, "the tail stream of " + node
                        + " ended without its trailer");
            }
            if (m.hasTrailer()) {
                try {
                    checkTrailer(AgentAnswers.trailer(m.getTrailer()));
                } catch (AgentAnswers.InvalidAnswer e) {
                    throw GrpcRollbackTransport.invalid("ReadDivergentTail", node, e);
                }
                ended = true;
            } else if (m.hasChunk()) {
                accept(m.getChunk());
            } else {
                throw GrpcRollbackTransport.invalid("ReadDivergentTail", node, new AgentAnswers.InvalidAnswer(
                        "MessageKnown", "every message of a tail must be a chunk or the trailer"));
            }
        }
        return cursor < ready.size();
    }

    private void accept(TailChunk chunk) {
        List<TailRecord> records;
        try {
            records = AgentAnswers.chunk(chunk);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("ReadDivergentTail", node, e);
        }
        encoded.clear();
        if (ends.length < records.size()) {
            ends = Arrays.copyOf(ends, Math.max(ends.length * 2, records.size()));
        }
        for (int i = 0; i < records.size(); i++) {
            encoded.append(records.get(i));
            ends[i] = encoded.size();
        }
        crc.reset();
        crc.update(encoded.array(), 0, encoded.size());
        if ((int) crc.getValue() != chunk.getCrc32C()) {
            throw new TransportException("TailChecksumMismatch", false, "a chunk from " + node
                    + " failed its CRC32C: corrupted in transit; read again");
        }
        ready = records;
        cursor = 0;
    }

    private void checkTrailer(TailTrailer t) {
        if (t.getRecordCount() != digest.records() || t.getBytes() != digest.bytes()) {
            throw new TransportException("TailTruncated", false, "the trailer from " + node + " announces "
                    + t.getRecordCount() + " records, " + digest.records() + " arrived");
        }
        String sha = digest.finish();
        if (!t.getSha256().equals(sha)) {
            throw new TransportException("TailDigestMismatch", false, "the tail from " + node + " hashes to " + sha
                    + ", its trailer says " + t.getSha256());
        }
    }

    @Override
    public TailRecord next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        int i = cursor++;
        TailRecord r = ready.get(i);
        int start = i == 0 ? 0 : ends[i - 1];
        digest.addEncoded(r, encoded.array(), start, ends[i] - start);
        return r;
    }

    @Override
    public TailDigest digest() {
        return digest;
    }

    @Override
    public void close() {
        messages.close();
    }
}
