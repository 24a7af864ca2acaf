package io.dbrollback.agent;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.Role;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailDigest;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/** Conversions between the agent protocol's messages and the domain types, and the chunk checksum. */
public final class AgentProtos {

    /** The protocol version this code speaks. */
    public static final String PROTOCOL_VERSION = "v1";
    /** An agent closes a tail chunk once its records' {@link #chunkBytes} reach this, whatever their count. */
    public static final int CHUNK_BYTES = 1 << 20;

    private AgentProtos() {
    }

    public static io.dbrollback.agent.v1.TailRecord toProto(TailRecord r) {
        io.dbrollback.agent.v1.TailRecord.Builder b = io.dbrollback.agent.v1.TailRecord.newBuilder()
                .setLsn(r.lsn().value())
                .setTerm(r.term().value())
                .setTransactionId(r.transactionId())
                .setCommitTimeSeconds(r.commitTime().getEpochSecond())
                .setCommitTimeNanos(r.commitTime().getNano())
                .setOperation(toProto(r.operation()))
                .setKey(bytes(r.key()));
        if (r.before() != null) {
            b.setBefore(bytes(r.before()));
        }
        if (r.after() != null) {
            b.setAfter(bytes(r.after()));
        }
        return b.build();
    }

    /**
     * @throws IllegalArgumentException when the message breaks the record rules (images, LSN)
     */
    public static TailRecord fromProto(io.dbrollback.agent.v1.TailRecord p) {
        return new TailRecord(Lsn.of(p.getLsn()), Term.of(p.getTerm()), p.getTransactionId(),
                Instant.ofEpochSecond(p.getCommitTimeSeconds(), p.getCommitTimeNanos()), fromProto(p.getOperation()),
                Bytes.of(p.getKey().toByteArray()), p.hasBefore() ? Bytes.of(p.getBefore().toByteArray()) : null,
                p.hasAfter() ? Bytes.of(p.getAfter().toByteArray()) : null);
    }

    public static io.dbrollback.agent.v1.Operation toProto(Operation op) {
        return switch (op) {
            case INSERT -> io.dbrollback.agent.v1.Operation.OPERATION_INSERT;
            case UPDATE -> io.dbrollback.agent.v1.Operation.OPERATION_UPDATE;
            case DELETE -> io.dbrollback.agent.v1.Operation.OPERATION_DELETE;
            case UNCAPTURED -> io.dbrollback.agent.v1.Operation.OPERATION_UNCAPTURED;
        };
    }

    public static Operation fromProto(io.dbrollback.agent.v1.Operation op) {
        return switch (op) {
            case OPERATION_INSERT -> Operation.INSERT;
            case OPERATION_UPDATE -> Operation.UPDATE;
            case OPERATION_DELETE -> Operation.DELETE;
            case OPERATION_UNCAPTURED -> Operation.UNCAPTURED;
            default -> throw new IllegalArgumentException("unknown operation " + op);
        };
    }

    public static ByteString bytes(Bytes b) {
        return ByteString.copyFrom(b.toByteArray());
    }

    public static Role toProto(NodeRole role) {
        return switch (role) {
            case PRIMARY -> Role.ROLE_PRIMARY;
            case REPLICA -> Role.ROLE_REPLICA;
            case DETACHED -> Role.ROLE_DETACHED;
        };
    }

    public static NodeRole fromProto(Role role) {
        return switch (role) {
            case ROLE_PRIMARY -> NodeRole.PRIMARY;
            case ROLE_REPLICA -> NodeRole.REPLICA;
            default -> NodeRole.DETACHED;
        };
    }

    /** The timeline as the coordinator sees it. */
    public static NodeTimeline fromProto(Timeline t) {
        List<TermHistory.Entry> entries = new ArrayList<>(t.getHistoryCount());
        for (TermHistoryEntry e : t.getHistoryList()) {
            entries.add(TermHistory.Entry.of(e.getTerm(), e.getFirstLsn()));
        }
        return new NodeTimeline(t.getNode(), fromProto(t.getRole()), Term.of(t.getCurrentTerm()),
                Lsn.of(t.getLastLsn()),
                Lsn.of(t.getCommitLsn()), new TermHistory(entries), t.getRollbackId(), t.getFenced(),
                t.getLastRecoveryIncident());
    }

    /** CRC32C of the canonical encodings of {@code records}, concatenated in order. */
    public static int crc32c(List<TailRecord> records) {
        CRC32C crc = new CRC32C();
        for (TailRecord r : records) {
            CanonicalEncoding.encode(r, crc::update);
        }
        return (int) crc.getValue();
    }

    /** What a record counts for towards {@link #CHUNK_BYTES}: its key and images, and a little for the rest. */
    public static long chunkBytes(TailRecord r) {
        return r.key().length() + (r.before() == null ? 0 : r.before().length())
                + (r.after() == null ? 0 : r.after().length()) + 64;
    }

    /** A tail chunk of {@code records}, with their CRC32C. */
    public static TailMessage chunk(List<TailRecord> records) {
        TailChunk.Builder chunk = TailChunk.newBuilder().setCrc32C(crc32c(records));
        for (TailRecord r : records) {
            chunk.addRecords(toProto(r));
        }
        return TailMessage.newBuilder().setChunk(chunk).build();
    }

    /** The trailer of a tail whose records {@code digest} holds (it finishes the digest). */
    public static TailMessage trailer(TailDigest digest) {
        return TailMessage.newBuilder().setTrailer(TailTrailer.newBuilder().setRecordCount(digest.records())
                .setBytes(digest.bytes()).setSha256(digest.finish())).build();
    }
}
