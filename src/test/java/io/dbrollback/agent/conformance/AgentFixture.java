package io.dbrollback.agent.conformance;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One diverged cluster of the database under test, built by the implementer through the database's
 * own means, for one test of {@link AgentConformanceSuite}.
 *
 * <p>The state it must be in when {@link AgentConformanceSuite#newDivergedCluster()} returns it:
 * <ol>
 *   <li>A <em>former primary</em> was primary in some term and wrote records that a majority made
 *       durable; its agent reports a commit LSN of at least 1 (the suite needs one committed record to
 *       check that recovering below it is refused).</li>
 *   <li>It was then cut off, and still accepted {@link #divergentWrites()}: each one a single-key write
 *       that is exactly one record of its log, written in the former primary's term, never replicated.
 *       Among them at least one insert, one update and one delete. The former primary is neither
 *       fenced nor recovered, and it has not heard of the new term.</li>
 *   <li>Another node was elected primary with a higher term (it may have written records in it). Its
 *       log holds every record the former primary's log held up to the fork, and none after.</li>
 * </ol>
 * The fixture reports what it wrote, so that the suite can tell what the former primary's divergent
 * tail must contain, and gives the suite a way to read a node's key/value data and to wait for
 * replication. Everything else the suite does through the agent protocol.
 *
 * <p>With LSNs that are positions ({@code Timeline.lsn_kind = LSN_KIND_POSITIONS}), a divergent write
 * is still exactly one record, in a transaction of its own (an autocommit write, as a PostgreSQL
 * fixture makes it) or in one it shares with the writes next to it. The suite assumes nothing about
 * where the positions lie: how many there are between two writes, between the fork and the first
 * write, or between the last write and {@code last_lsn}. It matches the tail's records to the writes by
 * their order alone, and learns their count from the records. It does compare a node's timelines
 * before and after the calls it makes, so no node's log may go on by itself while the suite runs,
 * not even without a record (a checkpoint, a vacuum): keep the database quiet.
 *
 * <p>Keys and values are the fixture's own terms: what {@link #dataAtFork()}, {@link #readData} and
 * the {@link Write}s hold. An agent whose records carry them as they are (the reference node's) needs
 * nothing more. An agent whose records carry another form of them (a PostgreSQL agent's key is JSON
 * naming the schema, the table and the primary key, its images JSON rows with their columns' types)
 * is judged through {@link #recordKey} and {@link #recordImage}, which say what the agent must send.
 */
@SuppressWarnings("try") // close() may throw anything the implementer's shutdown throws
public interface AgentFixture extends AutoCloseable {

    /** The two nodes the suite looks at. */
    enum Node {
        /** The former primary: holds the divergent writes; the node the operator rolls back. */
        FORMER_PRIMARY,
        /** The primary elected with the higher term. */
        NEW_PRIMARY
    }

    /**
     * One client write of one key: a put of {@code value}, or a delete when {@code value} is null.
     * Whether a put is an insert or an update follows from whether the key held a value before it.
     */
    record Write(ByteString key, ByteString value) {

        public Write {
            Objects.requireNonNull(key, "key");
        }

        public static Write put(String key, String value) {
            return new Write(ByteString.copyFromUtf8(key), ByteString.copyFromUtf8(value));
        }

        public static Write delete(String key) {
            return new Write(ByteString.copyFromUtf8(key), null);
        }

        public boolean isDelete() {
            return value == null;
        }

        @Override
        public String toString() {
            return (isDelete() ? "delete " : "put ") + key.toString(StandardCharsets.UTF_8)
                    + (isDelete() ? "" : "=" + value.toString(StandardCharsets.UTF_8));
        }
    }

    /** host:port of the node's {@code RollbackAgent} gRPC service (plaintext). */
    String agentAddress(Node node);

    /**
     * host:port of the node's replication endpoint: what the operator passes to {@code RejoinAsReplica}
     * as {@code primary_address} when this node is the primary.
     */
    String replicationAddress(Node node);

    /**
     * The key/value data every node held at the fork point: the result of every write the fixture made
     * before it cut the former primary off. The former primary must hold exactly this after it
     * recovers to the fork.
     */
    Map<ByteString, ByteString> dataAtFork();

    /** The writes the former primary accepted after it was cut off, in the order they were made. */
    List<Write> divergentWrites();

    /** The node's current key/value data, read through the database's own means. */
    Map<ByteString, ByteString> readData(Node node) throws Exception;

    /**
     * Waits until the former primary, after the suite made it rejoin the new primary, has applied
     * everything the new primary holds (so that their data are equal); fails after {@code timeout}.
     */
    void awaitFormerPrimaryCaughtUp(Duration timeout) throws Exception;

    /**
     * Optional: stops the former primary's process and starts it again on the same data, as after a
     * crash (a kill: calls running are not ended cleanly, and the files a killed process leaves stay);
     * returns when its agent serves again. {@link #agentAddress} may change. The tests that need it are
     * skipped when this throws {@link UnsupportedOperationException}.
     */
    default void restartFormerPrimary() throws Exception {
        throw new UnsupportedOperationException("restart not supported by this fixture");
    }

    /**
     * Optional: attempts a client write on the former primary; true if the database accepted it, false
     * if it refused it. The tests that need it are skipped when this throws
     * {@link UnsupportedOperationException}.
     */
    default boolean tryClientWriteOnFormerPrimary(Write write) throws Exception {
        throw new UnsupportedOperationException("client writes not supported by this fixture");
    }

    /**
     * Optional: where this test can read a file that {@code node}'s agent reports by {@code agentPath}
     * (WriteRollbackFile's path): the same path when the agent runs on this machine, a mounted volume
     * otherwise. The checks that need it (file and directory modes, leftover temporary files) are
     * skipped when this throws {@link UnsupportedOperationException}.
     */
    default Path localFile(Node node, String agentPath) {
        throw new UnsupportedOperationException("local access to the agent's files not supported by this fixture");
    }

    /**
     * The {@code TailRecord.key} the agent must send for a write of {@code key}. By default the key
     * itself: the records carry the fixture's keys as they are. A database whose records name a key
     * otherwise (a PostgreSQL agent: JSON naming the schema, the table and the primary key) returns
     * the exact bytes its agent sends, which the suite compares byte for byte.
     */
    default ByteString recordKey(ByteString key) {
        return key;
    }

    /**
     * The {@code TailRecord.before} or {@code TailRecord.after} the agent must send for the value
     * {@code value} of {@code key}: the after-image of a write of it, or the before-image of the next
     * write of {@code key} or of its delete. By default the value itself. A database whose images are
     * rows in another form (a PostgreSQL agent: JSON of the row's columns with their types) returns the
     * exact bytes its agent sends, which the suite compares byte for byte.
     */
    default ByteString recordImage(ByteString key, ByteString value) {
        return value;
    }

    /**
     * Optional: the name of the pod the node runs in, which every timeline its agent answers must give
     * as {@code node} (the operator refuses an answer from another node). The test that needs it is
     * skipped when this throws {@link UnsupportedOperationException}.
     */
    default String nodeName(Node node) {
        throw new UnsupportedOperationException("the nodes' pod names are not known to this fixture");
    }

    /**
     * Optional: makes {@code node}'s copies directory look full from now on, as a disk with only
     * {@code bytes} free would (StoreRollbackCopy's check at begin must then refuse a larger copy); -1
     * undoes it. The check that needs it is skipped when this throws {@link UnsupportedOperationException}.
     */
    default void limitCopySpace(Node node, long bytes) {
        throw new UnsupportedOperationException("this fixture cannot fill a node's disk");
    }

    /** Stops every node and frees everything the cluster holds. */
    @Override
    void close() throws Exception;
}
