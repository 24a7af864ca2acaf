package io.dbrollback.crash;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;

/**
 * One cell of the crash matrix: which faults one run of a rollback goes through.
 *
 * @param name the row of the summary table
 * @param hooks operator crash points ({@code io.dbrollback.operator.CrashPoints} values without the
 *     rollback scope), in the order the run reaches them: the operator process halts at each, and a
 *     fresh operator process resumes
 * @param operatorKill the test SIGKILLs the operator with a transfer of it in flight: its append exec
 *     (a chunk of the rollback file; the put exec in the one-call mode) in the target pod, or its upload
 *     of the copy into the copy target's agent
 * @param nodeKill the former primary's process is SIGKILLed at this moment, and restarted
 * @param randomKillMillis when 0 or more, the test SIGKILLs the operator this long after the run
 *     started (soak only: where it lands is chance)
 * @param writer how the rollback file is written: {@link Writer#EXEC} through pod exec in three steps
 *     (begin, append, commit: the operator runs with {@code DBROLLBACK_ROLLBACK_FILE_EXEC_SINGLE_CALL_MAX_BYTES=0});
 *     {@link Writer#EXEC_PUT} through pod exec in one call ({@code put}, the default for a file of up to
 *     4 MiB, which every file of the matrix is); {@link Writer#AGENT} with {@code DBROLLBACK_ROLLBACK_FILE_WRITER
 *     =agent}: the former primary's agent writes the rollback file (WriteRollbackFile) and the operator
 *     reads it back (ReadRollbackFile); no pod exec at all, so no {@code exec:*} point is ever reached
 */
record CrashCell(String name, List<String> hooks, OperatorKill operatorKill, NodeKill nodeKill,
        long randomKillMillis, Writer writer) {

    /** How the rollback file is written. */
    enum Writer {
        /** Pod exec, begin + append + commit (the path of files over 4 MiB). */
        EXEC,
        /** Pod exec, one put (the default path of files up to 4 MiB). */
        EXEC_PUT,
        /** The agent writes it (WriteRollbackFile). */
        AGENT
    }

    /** When the test SIGKILLs the operator (besides {@code randomKillMillis}). */
    enum OperatorKill {
        NONE,
        /**
         * Exec modes only: while its append exec (the put exec in the one-call mode) is held in the target
         * pod, before the command ran.
         */
        APPEND,
        /**
         * While the copy step's upload (StoreRollbackCopy into orders-2's agent) is held there, once its
         * first data message is in the call's temporary file (the matrix's file is one message), before
         * the end message: nothing published, nothing recorded.
         */
        COPY
    }

    /** When the former primary's process dies. */
    enum NodeKill {
        NONE,
        /** While its divergent tail streams: after the first chunk, before the trailer. */
        TAIL_READ,
        /**
         * While the operator persists the tail: an append exec (the put exec in the one-call mode) into its
         * pod is in flight (killed too).
         */
        PERSIST,
        /** In the middle of RecoverToLsn: after the durable rollback-id bump, before the log is cut. */
        RECOVER,
        /**
         * Agent mode only: while its agent writes the rollback file (WriteRollbackFile), once the
         * first data message is in the call's temporary file, before anything is published.
         */
        WRITE
    }

    /**
     * The points after which the file is published and the process halts: the next process verifies it with an
     * exec of its own ({@code exec:verify}). Without one of them the process that published the file verifies it
     * with the read-back of its put or commit, and {@code exec:verify} is never reached.
     */
    static final List<String> PUBLISHED_BY_AN_EARLIER_PROCESS = List.of("exec:put", "exec:commit",
            "call:PersistRollbackFile", "status:TailPersisted");

    /** The node kills of the exec mode (the soak draws from these, in this order). */
    static final List<NodeKill> EXEC_NODE_KILLS = List.of(NodeKill.TAIL_READ, NodeKill.PERSIST, NodeKill.RECOVER);

    /**
     * Every operator crash point of one rollback's happy path, in the order a run reaches them: a
     * run that crashed at one reaches every later one again.
     */
    static final List<String> POINTS = List.of(
            "status:Planned",
            "call:Fence",
            "status:Fenced",
            "exec:begin",
            "record:1",
            "exec:put",
            "exec:append",
            "exec:commit",
            "call:PersistRollbackFile",
            "status:TailPersisted",
            "exec:verify",
            "call:VerifyRollbackFile",
            "status:Verified",
            "call:CopyRollbackFile",
            "status:CopyVerified",
            "status:Recovering",
            "call:RecoverToLsn",
            "status:RecoverAnswered",
            "status:Recovered",
            "call:EmitRollbackEvent",
            "status:EventEmitted",
            "call:RejoinAsReplica",
            "status:Rejoined",
            "status:Completed");

    CrashCell {
        hooks = List.copyOf(hooks);
        for (String h : hooks) {
            if (!POINTS.contains(h)) {
                throw new IllegalArgumentException("unknown point " + h);
            }
            if (!reached(h, writer)) {
                throw new IllegalArgumentException(h + " is never reached when the file is written " + writer);
            }
        }
        if (writer == Writer.AGENT ? operatorKill == OperatorKill.APPEND || nodeKill == NodeKill.PERSIST
                : nodeKill == NodeKill.WRITE) {
            throw new IllegalArgumentException(name + ": that fault belongs to the other writer mode");
        }
    }

    /** A cell of the exec mode (the operator writes the file through pod exec, in three steps). */
    CrashCell(String name, List<String> hooks, OperatorKill operatorKill, NodeKill nodeKill,
            long randomKillMillis) {
        this(name, hooks, operatorKill, nodeKill, randomKillMillis, Writer.EXEC);
    }

    /** Whether a run whose file is written {@code writer} reaches crash point {@code point}. */
    static boolean reached(String point, Writer writer) {
        return switch (writer) {
            case AGENT -> !point.startsWith("exec:");
            case EXEC -> !point.equals("exec:put");
            case EXEC_PUT -> !List.of("exec:begin", "exec:append", "exec:commit").contains(point);
        };
    }

    /** Whether the agent writes the file. */
    boolean agentWriter() {
        return writer == Writer.AGENT;
    }

    /** The rollback-file operation an operator or node kill holds in the target pod: append, or put. */
    String heldOperation() {
        return writer == Writer.EXEC_PUT ? "put" : "append";
    }

    static CrashCell operatorHalt(String name, String point) {
        return new CrashCell(name, List.of(point), OperatorKill.NONE, NodeKill.NONE, -1);
    }

    static CrashCell operatorKill(String name, OperatorKill kill) {
        return new CrashCell(name, List.of(), kill, NodeKill.NONE, -1);
    }

    static CrashCell nodeKill(String name, NodeKill kill) {
        return new CrashCell(name, List.of(), OperatorKill.NONE, kill, -1);
    }

    /** The operator halted at {@code point}, with the agent writing the rollback file. */
    static CrashCell agentOperatorHalt(String name, String point) {
        return new CrashCell(name, List.of(point), OperatorKill.NONE, NodeKill.NONE, -1, Writer.AGENT);
    }

    /** A cell of the one-call exec mode: {@code hooks}, {@code operatorKill} and {@code nodeKill} as given. */
    static CrashCell onePut(String name, List<String> hooks, OperatorKill operatorKill, NodeKill nodeKill) {
        return new CrashCell(name, hooks, operatorKill, nodeKill, -1, Writer.EXEC_PUT);
    }

    /** Whether the former primary runs as its own process (to be killed). */
    boolean targetProcess() {
        return nodeKill != NodeKill.NONE;
    }

    /** The phase the status shows when the operator halted at {@code point}: the step is done, not recorded. */
    static String recordedPhaseAt(String point) {
        if (point.equals("status:RecoverAnswered")) {
            return "Recovering"; // the write of the node's answer: still Recovering until the timeline confirms it
        }
        if (point.equals("status:CopyVerified")) {
            return "Verified"; // the write of the verified copy: the copy step has no phase of its own
        }
        if (point.startsWith("status:")) {
            return point.substring("status:".length());
        }
        return switch (point) {
            case "call:Fence" -> "Planned";
            case "record:1", "exec:begin", "exec:put", "exec:append", "exec:commit", "call:PersistRollbackFile" ->
                    "Fenced";
            case "exec:verify", "call:VerifyRollbackFile" -> "TailPersisted";
            case "call:CopyRollbackFile" -> "Verified";
            case "call:RecoverToLsn" -> "Recovering";
            case "call:EmitRollbackEvent" -> "Recovered";
            case "call:RejoinAsReplica" -> "EventEmitted";
            default -> throw new IllegalArgumentException(point);
        };
    }

    /**
     * The CI matrix: a control run, the operator halted after every side effect and after every
     * status write (the copy step's included), the operator SIGKILLed with an exec in flight and with
     * the copy's upload in flight, and the former primary killed while its tail is read, while the file
     * is persisted and in the middle of its recover; then the
     * agent-writes-the-file mode: the operator halted during the upload, after the agent published
     * the file, after the read-back and after the recover, and the former primary killed while its
     * agent writes the file; then the one-call exec mode (the whole file in one put exec, the default for
     * files up to 4 MiB): the operator halted after the put, SIGKILLed with the put in flight, and the
     * former primary killed with the put in flight.
     */
    static List<CrashCell> matrix() {
        List<CrashCell> cells = new ArrayList<>();
        cells.add(new CrashCell("control: no fault", List.of(), OperatorKill.NONE, NodeKill.NONE, -1));
        cells.add(operatorHalt("operator halted after Fence", "call:Fence"));
        cells.add(operatorHalt("operator halted during the tail read (1st record in)", "record:1"));
        cells.add(operatorHalt("operator halted after an append exec (file not committed)", "exec:append"));
        cells.add(operatorHalt("operator halted after the commit exec (file published, not recorded)", "exec:commit"));
        cells.add(operatorHalt("operator halted after VerifyRollbackFile", "call:VerifyRollbackFile"));
        cells.add(new CrashCell("operator halted after the status write of TailPersisted, then after the verify exec"
                + " of the next process", List.of("status:TailPersisted", "exec:verify"), OperatorKill.NONE,
                NodeKill.NONE, -1));
        cells.add(operatorHalt("operator halted after the copy (stored on orders-2 and read back, not recorded)",
                "call:CopyRollbackFile"));
        cells.add(operatorHalt("operator halted after RecoverToLsn (rollback id bumped)", "call:RecoverToLsn"));
        cells.add(operatorHalt("operator halted after the rollback event", "call:EmitRollbackEvent"));
        cells.add(operatorHalt("operator halted after RejoinAsReplica", "call:RejoinAsReplica"));
        for (String phase : List.of("Planned", "Fenced", "TailPersisted", "Verified", "Recovering", "Recovered",
                "EventEmitted", "Rejoined", "Completed")) {
            cells.add(operatorHalt("operator halted after the status write of " + phase, "status:" + phase));
        }
        cells.add(operatorHalt("operator halted after the status write of the recover's answer (not yet confirmed)",
                "status:RecoverAnswered"));
        cells.add(operatorHalt("operator halted after the status write of the verified copy (still Verified)",
                "status:CopyVerified"));
        cells.add(operatorKill("operator SIGKILLed with an append exec in flight", OperatorKill.APPEND));
        cells.add(operatorKill("operator SIGKILLed with the copy's upload in flight (1st chunk in orders-2's"
                + " temporary file)", OperatorKill.COPY));
        cells.add(nodeKill("node SIGKILLed during the tail read", NodeKill.TAIL_READ));
        cells.add(nodeKill("node SIGKILLed during persisting (exec in flight)", NodeKill.PERSIST));
        cells.add(nodeKill("node SIGKILLed during recover (after the bump)", NodeKill.RECOVER));
        cells.add(agentOperatorHalt("agent mode: operator halted during the upload (1st record in)", "record:1"));
        cells.add(agentOperatorHalt("agent mode: operator halted after PersistRollbackFile (file published, not"
                + " recorded)", "call:PersistRollbackFile"));
        cells.add(agentOperatorHalt("agent mode: operator halted after VerifyRollbackFile (read back)",
                "call:VerifyRollbackFile"));
        cells.add(agentOperatorHalt("agent mode: operator halted after RecoverToLsn (rollback id bumped)",
                "call:RecoverToLsn"));
        cells.add(new CrashCell("agent mode: node SIGKILLed while its agent writes the file", List.of(),
                OperatorKill.NONE, NodeKill.WRITE, -1, Writer.AGENT));
        cells.add(onePut("one-call exec: operator halted after the put exec (file published, not recorded)",
                List.of("exec:put"), OperatorKill.NONE, NodeKill.NONE));
        cells.add(onePut("one-call exec: operator SIGKILLed with its put exec in flight", List.of(),
                OperatorKill.APPEND, NodeKill.NONE));
        cells.add(onePut("one-call exec: node SIGKILLed during persisting (put in flight)", List.of(),
                OperatorKill.NONE, NodeKill.PERSIST));
        return cells;
    }

    /** The matrix cells whose name matches {@code filter} (a regular expression, found anywhere). */
    static List<CrashCell> matrix(String filter) {
        Pattern p = Pattern.compile(filter);
        return matrix().stream().filter(c -> p.matcher(c.name()).find()).toList();
    }

    /**
     * A random run for the soak: up to three operator crash points in the order the run reaches
     * them (at least one when the node is not killed), or instead a SIGKILL of the operator at a
     * random moment; and, half the time, a kill of the former primary. Combinations where an armed point is
     * legitimately never reached are not
     * drawn (a node killed in the middle of its recover: the RecoverToLsn call never returns). The
     * soak runs the exec mode only (the operator writes the file through pod exec).
     */
    static CrashCell random(Random rnd) {
        NodeKill node = rnd.nextBoolean() ? EXEC_NODE_KILLS.get(rnd.nextInt(EXEC_NODE_KILLS.size())) : NodeKill.NONE;
        if (rnd.nextInt(4) == 0) {
            long at = rnd.nextInt(1500); // a warm operator takes about half a second for the whole rollback
            return new CrashCell("soak: operator SIGKILLed at +" + at + " ms" + nodeSuffix(node), List.of(),
                    OperatorKill.NONE, node, at);
        }
        List<String> candidates = new ArrayList<>(POINTS);
        candidates.removeIf(p -> !reached(p, Writer.EXEC));
        if (node == NodeKill.RECOVER) {
            candidates.remove("call:RecoverToLsn");
        }
        int k = node == NodeKill.NONE ? 1 + rnd.nextInt(3) : rnd.nextInt(4);
        List<String> hooks = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            String p = candidates.remove(rnd.nextInt(candidates.size()));
            hooks.add(p);
        }
        if (hooks.contains("exec:verify") && hooks.stream().noneMatch(PUBLISHED_BY_AN_EARLIER_PROCESS::contains)) {
            // The process that published the file verifies with its put's or commit's read-back, no exec: only
            // a process started after the file was published runs the verify exec.
            hooks.remove("exec:verify");
            if (!hooks.contains("call:VerifyRollbackFile")) {
                hooks.add("call:VerifyRollbackFile");
            }
        }
        hooks.sort(Comparator.comparingInt(POINTS::indexOf));
        return new CrashCell("soak: halts " + hooks + nodeSuffix(node), hooks, OperatorKill.NONE, node, -1);
    }

    private static String nodeSuffix(NodeKill node) {
        return node == NodeKill.NONE ? "" : ", node killed " + node;
    }
}
