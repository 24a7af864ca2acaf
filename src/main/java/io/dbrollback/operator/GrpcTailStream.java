package io.dbrollback.operator;

import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.AgentProtos;
import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.coordinator.Failure;
import io.dbrollback.coordinator.Reason;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.grpc.StatusRuntimeException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A tail read over gRPC and checked on arrival: every chunk's CRC32C, then the trailer's count,
 * bytes and SHA-256 against what arrived. A stream that ends without its trailer, or whose trailer
 * disagrees, is reported as a broken transfer, never as a clean end. Read with manual flow control
 * ({@link ServerStreamReader}): one message asked for at a time, so at most one chunk waits here
 * beside the one being handed out; a stream that sends nothing for the progress timeout is cancelled
 * and reported as {@code AgentStalled}, under the overall stream deadline.
 */
final class GrpcTailStream implements TailStream {

    private final ServerStreamReader<ReadDivergentTailRequest, TailMessage> messages;
    private final String node;
    private final TailDigest digest = new TailDigest();
    private final ArrayDeque<TailRecord> ready = new ArrayDeque<>();
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
        while (ready.isEmpty() && !ended) {
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
        return !ready.isEmpty();
    }

    private void accept(TailChunk chunk) {
        List<TailRecord> records;
        try {
            records = AgentAnswers.chunk(chunk);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("ReadDivergentTail", node, e);
        }
        if (AgentProtos.crc32c(records) != chunk.getCrc32C()) {
            throw new TransportException("TailChecksumMismatch", false, "a chunk from " + node
                    + " failed its CRC32C: corrupted in transit; read again");
        }
        records.forEach(digest::add);
        ready.addAll(records);
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
        return ready.poll();
    }

    @Override
    public void close() {
        messages.close();
    }
}
