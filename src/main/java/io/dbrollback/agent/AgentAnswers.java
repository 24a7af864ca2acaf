package io.dbrollback.agent;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.FenceResponse;
import io.dbrollback.agent.v1.CommitTime;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaResponse;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailTrailer;
import io.dbrollback.agent.v1.Touch;
import io.dbrollback.agent.v1.TermHistoryEntry;
import io.dbrollback.agent.v1.Timeline;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.NodeRole;
import io.dbrollback.model.NodeTimeline;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.TailSummary;
import io.dbrollback.model.Term;
import io.dbrollback.model.TermHistory;
import java.time.DateTimeException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything an agent answers, checked before anything uses it: an agent is untrusted input, exactly
 * like a custom resource. Each method turns a protocol message into the domain type, or throws
 * {@link InvalidAnswer} naming the rule the answer broke. The rules are those of
 * {@code docs/agent-protocol.md}; an answer that breaks one is never used, and the explanation never
 * quotes the offending value (it may be huge, hostile, or tail data).
 */
public final class AgentAnswers {

    /** Most records a chunk may hold (the protocol's ceiling). */
    public static final int MAX_CHUNK_RECORDS = 256;
    /** Longest node name: a pod name is a DNS subdomain. */
    static final int MAX_NAME = 253;
    /** Longest text of other kinds (addresses, transaction ids, incident ids) the operator keeps. */
    static final int MAX_TEXT = 1024;
    /** Longest touch name of a SummarizeTail answer, in characters (code points). */
    public static final int MAX_TOUCH_NAME = 256;
    /**
     * The shortest canonical encoding of a record: LSN, term, transaction id length, commit time,
     * operation, key length and the two image flags, with an empty transaction id and key and no image.
     */
    static final int MIN_RECORD_BYTES = 8 + 8 + 4 + 8 + 4 + 1 + 4 + 1 + 1;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    private AgentAnswers() {
    }

    /** An answer that breaks a rule of the protocol. */
    public static final class InvalidAnswer extends RuntimeException {

        private static final long serialVersionUID = 1L;

        private final String rule;

        public InvalidAnswer(String rule, String explanation) {
            super(explanation);
            this.rule = rule;
        }

        /** The rule broken, a CamelCase name listed in docs/agent-protocol.md. */
        public String rule() {
            return rule;
        }

        /** What the rule says, without the offending value. */
        public String explanation() {
            return getMessage();
        }
    }

    private static InvalidAnswer broken(String rule, String explanation) {
        return new InvalidAnswer(rule, explanation);
    }

    /** A uint64 on the wire: Java reads values at or above 2^63 as negative. */
    private static long number(long value, String field) {
        if (value < 0) {
            throw broken("NumberRange", field + " must be below 2^63");
        }
        return value;
    }

    private static String text(String value, int max, String field) {
        if (value.length() > max) {
            throw broken("TextLength", field + " must be at most " + max + " characters");
        }
        return value;
    }

    /**
     * The timeline of {@code expectedNode}, as GetTimeline (or a Fence or RejoinAsReplica answer)
     * gives it.
     *
     * @throws InvalidAnswer when it names another node or breaks a rule of the model
     */
    public static NodeTimeline timeline(Timeline t, String expectedNode) {
        String node = text(t.getNode(), MAX_NAME, "node");
        if (!node.equals(expectedNode)) {
            throw broken("NodeNamed", "the timeline must name the pod that was called (" + expectedNode + ")");
        }
        if (!AgentProtos.PROTOCOL_VERSION.equals(t.getProtocolVersion())) {
            throw broken("ProtocolVersion", "protocol_version must be \"" + AgentProtos.PROTOCOL_VERSION + "\"");
        }
        NodeRole role = switch (t.getRole()) {
            case ROLE_PRIMARY -> NodeRole.PRIMARY;
            case ROLE_REPLICA -> NodeRole.REPLICA;
            case ROLE_DETACHED -> NodeRole.DETACHED;
            default -> throw broken("RoleKnown", "role must be ROLE_PRIMARY, ROLE_REPLICA or ROLE_DETACHED");
        };
        long currentTerm = number(t.getCurrentTerm(), "current_term");
        long lastLsn = number(t.getLastLsn(), "last_lsn");
        long commitLsn = number(t.getCommitLsn(), "commit_lsn");
        long rollbackId = number(t.getRollbackId(), "rollback_id");
        long recoveryTarget = number(t.getLastRecoveryTargetLsn(), "last_recovery_target_lsn");
        if (commitLsn > lastLsn) {
            throw broken("CommitWithinLog", "commit_lsn must not be above last_lsn");
        }
        if (t.getFenced() && role != NodeRole.DETACHED) {
            throw broken("FencedIsDetached", "a fenced node must be ROLE_DETACHED");
        }
        String incident = text(t.getLastRecoveryIncident(), MAX_TEXT, "last_recovery_incident");
        String fileSha = t.getLastRecoveryFileSha256();
        if (!fileSha.isEmpty() && !SHA256.matcher(fileSha).matches()) {
            throw broken("FileDigestForm", "last_recovery_file_sha256 must be empty or 64 lower-case hex digits");
        }
        text(t.getFollowing(), MAX_TEXT, "following");
        boolean positions = switch (t.getLsnKind()) {
            case LSN_KIND_RECORDS -> false;
            case LSN_KIND_POSITIONS -> true;
            default -> throw broken("LsnKindKnown", "lsn_kind must be LSN_KIND_RECORDS or LSN_KIND_POSITIONS");
        };
        return new NodeTimeline(node, role, Term.of(currentTerm), Lsn.of(lastLsn), Lsn.of(commitLsn),
                history(t.getHistoryList(), lastLsn, currentTerm), rollbackId, t.getFenced(), incident,
                Lsn.of(recoveryTarget), fileSha, positions);
    }

    private static TermHistory history(List<TermHistoryEntry> entries, long lastLsn, long currentTerm) {
        if (entries.isEmpty()) {
            if (lastLsn > 0) {
                throw broken("HistoryCoversLog", "a non-empty log needs a term history");
            }
            return TermHistory.EMPTY;
        }
        List<TermHistory.Entry> out = new ArrayList<>(entries.size());
        long previousTerm = 0;
        long previousFirst = 1;
        for (TermHistoryEntry e : entries) {
            long term = number(e.getTerm(), "a history term");
            long first = number(e.getFirstLsn(), "a history first_lsn");
            if (out.isEmpty() && first != 1) {
                throw broken("HistoryFromLsn1", "the term history must describe the whole log: its first entry starts"
                        + " at LSN 1");
            }
            if (term <= previousTerm) {
                throw broken("HistoryTermsIncrease",
                        "the terms of the history must strictly increase (and be above 0)");
            }
            if (first < previousFirst) {
                throw broken("HistoryLsnsNondecreasing", "the first LSNs of the history must never decrease");
            }
            if (first > lastLsn + 1) {
                throw broken("HistoryWithinLog", "no history entry may begin above last_lsn + 1");
            }
            if (term > currentTerm) {
                throw broken("HistoryTermsSeen", "no history term may be above current_term");
            }
            out.add(TermHistory.Entry.of(term, first));
            previousTerm = term;
            previousFirst = first;
        }
        return new TermHistory(out);
    }

    /**
     * The timeline a Fence answer carries: it must be {@code node}'s, and show the node fenced,
     * detached, under at least {@code term}.
     */
    public static NodeTimeline fenced(FenceResponse r, String node, long term) {
        if (!r.hasTimeline()) {
            throw broken("AnswerHasTimeline", "the Fence answer must carry the timeline after the fence");
        }
        NodeTimeline t = timeline(r.getTimeline(), node);
        if (!t.fenced() || t.currentTerm().value() < term) {
            throw broken("FenceShown", "the Fence answer must show the node fenced under at least the call's term");
        }
        return t;
    }

    /**
     * The timeline a RejoinAsReplica answer carries: it must be {@code node}'s and show what the call asked for, the
     * node a replica, not fenced, following {@code primaryAddress} exactly as sent, under at least {@code term}. An
     * answer that says OK but shows anything else is not taken as a rejoin.
     */
    public static NodeTimeline rejoined(RejoinAsReplicaResponse r, String node, long term, String primaryAddress) {
        if (!r.hasTimeline()) {
            throw broken("AnswerHasTimeline", "the RejoinAsReplica answer must carry the timeline after the rejoin");
        }
        NodeTimeline t = timeline(r.getTimeline(), node);
        if (t.role() != NodeRole.REPLICA || t.fenced() || !primaryAddress.equals(r.getTimeline().getFollowing())
                || t.currentTerm().value() < term) {
            throw broken("RejoinShown", "the RejoinAsReplica answer must show the node a replica, not fenced, following"
                    + " the primary address it was given, under at least the call's term");
        }
        return t;
    }

    /** The numbers of a RecoverToLsn answer. */
    public static RecoverAnswer recovered(RecoverToLsnResponse r) {
        return new RecoverAnswer(number(r.getRollbackId(), "rollback_id"), Lsn.of(number(r.getLastLsn(), "last_lsn")),
                r.getAlreadyDone());
    }

    /** What a RecoverToLsn answer claims. */
    public record RecoverAnswer(long rollbackId, Lsn lastLsn, boolean alreadyDone) {
    }

    /**
     * The records of one tail chunk: at least one, at most {@link #MAX_CHUNK_RECORDS}, each well formed.
     * Order, gaps, range and terms are checked by the coordinator's validator; the CRC by the caller.
     */
    public static List<TailRecord> chunk(TailChunk chunk) {
        int n = chunk.getRecordsCount();
        if (n == 0) {
            throw broken("ChunkNotEmpty", "a chunk must hold at least one record");
        }
        if (n > MAX_CHUNK_RECORDS) {
            throw broken("ChunkSize", "a chunk must hold at most " + MAX_CHUNK_RECORDS + " records");
        }
        List<TailRecord> records = new ArrayList<>(n);
        for (io.dbrollback.agent.v1.TailRecord r : chunk.getRecordsList()) {
            records.add(record(r));
        }
        return records;
    }

    /** One record of a tail. */
    public static TailRecord record(io.dbrollback.agent.v1.TailRecord p) {
        long lsn = number(p.getLsn(), "a record's lsn");
        long term = number(p.getTerm(), "a record's term");
        if (lsn < 1) {
            throw broken("LsnPositive", "a record's lsn must be at least 1");
        }
        Operation op = switch (p.getOperation()) {
            case OPERATION_INSERT -> Operation.INSERT;
            case OPERATION_UPDATE -> Operation.UPDATE;
            case OPERATION_DELETE -> Operation.DELETE;
            case OPERATION_UNCAPTURED -> Operation.UNCAPTURED;
            default -> throw broken("OperationKnown", "a record's operation must be insert, update, delete or"
                    + " uncaptured");
        };
        if (op != Operation.UNCAPTURED
                && (p.hasBefore() == (op == Operation.INSERT) || p.hasAfter() == (op == Operation.DELETE))) {
            throw broken("ImagesMatchOperation", "before must be absent exactly for inserts and after exactly for"
                    + " deletes");
        }
        if (p.getCommitTimeNanos() < 0 || p.getCommitTimeNanos() > 999_999_999) {
            throw broken("CommitTimeValid", "commit_time_nanos must be 0 to 999,999,999");
        }
        Instant at;
        try {
            at = Instant.ofEpochSecond(p.getCommitTimeSeconds(), p.getCommitTimeNanos());
        } catch (DateTimeException e) {
            throw broken("CommitTimeValid", "commit_time_seconds is outside the representable range");
        }
        String tx = text(p.getTransactionId(), MAX_TEXT, "a record's transaction_id");
        return new TailRecord(Lsn.of(lsn), Term.of(term), tx, at, op, bytes(p.getKey()),
                p.hasBefore() ? bytes(p.getBefore()) : null, p.hasAfter() ? bytes(p.getAfter()) : null);
    }

    /** One copy out of the message (toByteArray and Bytes.of would make two). */
    private static Bytes bytes(ByteString b) {
        return Bytes.filled(b.size(), a -> b.copyTo(a, 0));
    }

    /** Whether {@code s} is a SHA-256 as the protocol writes it: 64 lower-case hex digits. */
    public static boolean isSha256(String s) {
        return s != null && SHA256.matcher(s).matches();
    }

    /**
     * The path an agent reports for the rollback file {@code name} (WriteRollbackFile): absolute, at
     * most {@value #MAX_TEXT} printable characters, no {@code ..} segment, ending in {@code /name}. It
     * goes into the status and every later message, so it is held to the rules of an answer.
     */
    public static String filePath(String path, String name) {
        if (!printablePath(path) || !path.endsWith("/" + name)) {
            throw broken("FilePath", "the path must be absolute, printable, at most " + MAX_TEXT
                    + " characters, without '..', and end in /" + name);
        }
        return path;
    }

    /** The path an agent reports for a quarantined file: {@code .../name.quarantined-<stamp>}. */
    public static String quarantinedPath(String path, String name, long stamp) {
        if (!printablePath(path) || !path.endsWith("/" + name + ".quarantined-" + stamp)) {
            throw broken("QuarantinedPath", "the path must be absolute, printable, at most " + MAX_TEXT
                    + " characters, without '..', and end in /" + name + ".quarantined-" + stamp);
        }
        return path;
    }

    private static boolean printablePath(String path) {
        if (path.isEmpty() || path.length() > MAX_TEXT || path.charAt(0) != '/' || path.contains("/../")
                || path.endsWith("/..")) {
            return false;
        }
        return path.chars().noneMatch(c -> Character.isISOControl(c) || Character.isSurrogate((char) c));
    }

    /**
     * The end message of a ReadRollbackFile call asked for {@code digest_only} that sent no data: the size
     * and SHA-256 the agent read from its disk, below 2^63 and 64 lower-case hex digits.
     */
    public static RollbackFileEnd fileDigest(RollbackFileEnd end) {
        number(end.getSize(), "size");
        if (!SHA256.matcher(end.getSha256()).matches()) {
            throw broken("DigestForm", "the end message's sha256 must be 64 lower-case hex digits");
        }
        return end;
    }

    /** A tail trailer's numbers and digest form. */
    public static TailTrailer trailer(TailTrailer t) {
        number(t.getRecordCount(), "record_count");
        number(t.getBytes(), "bytes");
        if (!SHA256.matcher(t.getSha256()).matches()) {
            throw broken("DigestForm", "the trailer's sha256 must be 64 lower-case hex digits");
        }
        return t;
    }

    /**
     * A SummarizeTail answer of {@code pod} for (fromExclusive, toInclusive], as the model's
     * {@link TailSummary}. The rules (docs/agent-protocol.md, "SummarizeTail"): numbers below 2^63; an
     * empty range counts nothing; at least {@value #MIN_RECORD_BYTES} canonical bytes per record and no
     * bytes without records; commit times exactly when there are records, valid, first not after last;
     * at most {@value TailSummary#MAX_TOUCHES} touches, each a unique printable name of 1 to
     * {@value #MAX_TOUCH_NAME} characters counting 1 to record_count records, sorted by count (descending)
     * then name; their counts add up to record_count unless the list is truncated (then to at most
     * record_count), and a truncated list is full.
     *
     * @throws InvalidAnswer naming the rule the answer broke
     */
    public static TailSummary summary(SummarizeTailResponse r, String pod, long fromExclusive, long toInclusive) {
        long records = number(r.getRecordCount(), "record_count");
        long bytes = number(r.getBytes(), "bytes");
        if (fromExclusive == toInclusive && records != 0) {
            throw broken("SummaryEmptyRange", "the summary of an empty range (" + fromExclusive + ", " + toInclusive
                    + "] must count no records");
        }
        if (records == 0 ? bytes != 0 : bytes / MIN_RECORD_BYTES < records) {
            throw broken("SummaryBytes", "bytes must be 0 without records and at least " + MIN_RECORD_BYTES
                    + " per record (the shortest canonical encoding)");
        }
        if (r.hasFirstCommit() != (records > 0) || r.hasLastCommit() != (records > 0)) {
            throw broken("SummaryCommitTimes", "first_commit and last_commit must be present exactly when the"
                    + " summary counts records");
        }
        Instant first = records == 0 ? null : commitTime(r.getFirstCommit(), "first_commit");
        Instant last = records == 0 ? null : commitTime(r.getLastCommit(), "last_commit");
        if (first != null && first.isAfter(last)) {
            throw broken("SummaryCommitTimes", "first_commit must not be after last_commit");
        }
        List<Touch> touches = r.getTouchesList();
        if (touches.size() > TailSummary.MAX_TOUCHES) {
            throw broken("TouchCount", "a summary lists at most " + TailSummary.MAX_TOUCHES + " touches");
        }
        if (r.getTouchesTruncated() && touches.size() < TailSummary.MAX_TOUCHES) {
            throw broken("TouchCount", "touches_truncated needs the full " + TailSummary.MAX_TOUCHES
                    + " touches listed");
        }
        List<TailSummary.Touch> out = new ArrayList<>(touches.size());
        Set<String> names = new HashSet<>();
        long sum = 0;
        TailSummary.Touch previous = null;
        for (Touch t : touches) {
            String name = t.getName();
            if (!touchName(name)) {
                throw broken("TouchName", "a touch name must be 1 to " + MAX_TOUCH_NAME + " printable characters");
            }
            if (!names.add(name)) {
                throw broken("TouchName", "a touch name must appear once");
            }
            long n = number(t.getRecords(), "a touch's records");
            if (n < 1 || n > records) {
                throw broken("TouchRecords", "a touch counts 1 to record_count records");
            }
            TailSummary.Touch touch = new TailSummary.Touch(name, n);
            if (previous != null && (previous.records() < n
                    || previous.records() == n && previous.name().compareTo(name) > 0)) {
                throw broken("TouchOrder", "touches must be sorted by records (descending), then by name");
            }
            previous = touch;
            sum += n; // at most 20 numbers of at most records each: no overflow below 2^63 / 20
            out.add(touch);
        }
        if (r.getTouchesTruncated() ? sum > records : sum != records) {
            throw broken("TouchRecords", "the touches' records must add up to record_count (to at most"
                    + " record_count when touches_truncated)");
        }
        return new TailSummary(records, bytes, first, last, out, r.getTouchesTruncated());
    }

    private static Instant commitTime(CommitTime t, String field) {
        if (t.getNanos() < 0 || t.getNanos() > 999_999_999) {
            throw broken("CommitTimeValid", field + ".nanos must be 0 to 999,999,999");
        }
        try {
            return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
        } catch (DateTimeException e) {
            throw broken("CommitTimeValid", field + ".seconds is outside the representable range");
        }
    }

    /**
     * Whether {@code name} is a touch name: 1 to {@value #MAX_TOUCH_NAME} characters, none a control,
     * format (such as a bidirectional override), separator other than the space, surrogate or unassigned
     * character, so that it shows as it reads in a status, a log line or an Event.
     */
    public static boolean touchName(String name) {
        if (name.isEmpty() || name.codePointCount(0, name.length()) > MAX_TOUCH_NAME) {
            return false;
        }
        return name.codePoints().allMatch(c -> switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.UNASSIGNED,
                    Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.PRIVATE_USE -> false;
            case Character.SPACE_SEPARATOR -> c == ' ';
            default -> true;
        });
    }
}
