package io.dbrollback.operator;

import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.CopyResult;
import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.RecoverResult;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Test hook, off unless the environment variable {@value #ENV} is set: the operator process dies
 * right after one chosen side effect or status write, as if killed with SIGKILL
 * ({@code Runtime.halt(137)}: no shutdown hook, no graceful stop, nothing written after it). Crash
 * tests then start a fresh operator process and check that it resumes from the status alone. The
 * variable is read once, at startup; an unknown point stops the start (a typo must not silently
 * test nothing). Never set it in a deployment: the Helm chart and the manifests do not.
 *
 * <p>Value: {@code KIND:NAME} or {@code KIND:NAME@NAMESPACE/ROLLBACK} (only that rollback). Kinds:
 * <ul>
 *   <li>{@code call:C}: after transport call {@code C} returned ({@code Fence},
 *       {@code PersistRollbackFile}, {@code VerifyRollbackFile}, {@code RecoverToLsn},
 *       {@code EmitRollbackEvent}, {@code RejoinAsReplica}), or {@code CopyRollbackFile}: after the
 *       copy step's {@link RollbackCopier} returned (every attempt made: the copy stored on the other
 *       place and read back), before the status write that records it;</li>
 *   <li>{@code record:N}: in the middle of the tail read, once the N-th record arrived;</li>
 *   <li>{@code exec:OP}: after the pod exec of rollback-file operation {@code OP} returned
 *       ({@code put}, {@code begin}, {@code append}, {@code commit}, {@code verify});</li>
 *   <li>{@code status:PHASE}: after the first status write that records phase {@code PHASE}
 *       (a phase name as the status shows it, e.g. {@code Fenced}); two writes that keep their phase
 *       have names of their own: {@code status:RecoverAnswered}, the write of the node's answer to the
 *       recover (still Recovering), and {@code status:CopyVerified}, the write of the copy step's
 *       verified copy (still Verified: the copy step has no phase; {@code status:Verified} is the
 *       write of the verified file, before the copy).</li>
 * </ul>
 *
 * <p>There is no point inside the copy's transfer: the copier streams the file from agent to agent, and
 * a crash there is made by the crash tests themselves (they hold the upload in the receiving agent and
 * SIGKILL the operator).
 *
 * <p>Just before dying the process prints {@code CRASH_POINT <value> <namespace>/<rollback>} on stdout.
 */
public final class CrashPoints {

    /** The environment variable that arms the hook. */
    public static final String ENV = "DBROLLBACK_OPERATOR_CRASH_AFTER";
    /** The marker line printed before the process halts. */
    public static final String MARKER = "CRASH_POINT";
    /** The exit status of a process killed by SIGKILL, which the halt imitates. */
    public static final int EXIT_STATUS = 137;

    /** The copy step's call: the {@link RollbackCopier} of {@link StepFactory#copier}. */
    static final String COPY_CALL = "CopyRollbackFile";
    static final Set<String> CALLS = Set.of("Fence", "PersistRollbackFile", "VerifyRollbackFile", "RecoverToLsn",
            "EmitRollbackEvent", "RejoinAsReplica", COPY_CALL);
    static final Set<String> EXEC_OPERATIONS = Set.of("put", "begin", "append", "commit", "verify");

    /** Not armed: every wrap returns its argument, every check does nothing. */
    public static final CrashPoints OFF = new CrashPoints(null, null, null, null);

    private final String spec;
    private final String kind;
    private final String name;
    private final String rollback;

    private CrashPoints(String spec, String kind, String name, String rollback) {
        this.spec = spec;
        this.kind = kind;
        this.name = name;
        this.rollback = rollback;
    }

    /** From the environment variable {@value #ENV}; {@link #OFF} when it is unset or empty. */
    public static CrashPoints fromEnvironment() {
        return parse(System.getenv(ENV));
    }

    /**
     * Parses a value as documented on the class.
     *
     * @throws IllegalArgumentException for a value that names no crash point
     */
    public static CrashPoints parse(String value) {
        if (value == null || value.isBlank()) {
            return OFF;
        }
        String v = value.trim();
        String point = v;
        String rollback = null;
        int at = v.indexOf('@');
        if (at >= 0) {
            point = v.substring(0, at);
            rollback = v.substring(at + 1);
            if (!rollback.matches("[a-z0-9][a-z0-9.-]*/[a-z0-9][a-z0-9.-]*")) {
                throw invalid(value, "the rollback after @ must be NAMESPACE/NAME");
            }
        }
        int colon = point.indexOf(':');
        if (colon < 0) {
            throw invalid(value, "expected KIND:NAME");
        }
        String kind = point.substring(0, colon);
        String name = point.substring(colon + 1);
        boolean known = switch (kind) {
            case "call" -> CALLS.contains(name);
            case "exec" -> EXEC_OPERATIONS.contains(name);
            case "record" -> name.matches("[1-9][0-9]{0,8}");
            case "status" -> isPhase(name);
            default -> false;
        };
        if (!known) {
            throw invalid(value, "unknown crash point " + point);
        }
        return new CrashPoints(v, kind, name, rollback);
    }

    private static boolean isPhase(String name) {
        if (name.equals(RECOVER_ANSWERED) || name.equals(COPY_VERIFIED)) {
            return true;
        }
        try {
            StatusMapper.phaseOf(name);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static IllegalArgumentException invalid(String value, String why) {
        return new IllegalArgumentException(ENV + "=" + value + ": " + why + " (kinds: call:" + CALLS + ", exec:"
                + EXEC_OPERATIONS + ", record:N, status:PHASE; optionally @NAMESPACE/NAME)");
    }

    public boolean armed() {
        return kind != null;
    }

    /** The armed value, or null. */
    public String spec() {
        return spec;
    }

    private boolean armedFor(String rollbackKey) {
        return kind != null && (rollback == null || rollback.equals(rollbackKey));
    }

    /** Halts the process when this is the armed point for this rollback. */
    private void check(String kind, String name, String rollbackKey) {
        if (Objects.equals(this.kind, kind) && this.name.equals(name) && armedFor(rollbackKey)) {
            System.out.println(MARKER + " " + spec + " " + rollbackKey);
            System.out.flush();
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }

    /**
     * The name of the status write that records the node's answer to the recover (the phase is still
     * Recovering then; {@code status:Recovering} is the write of the intent before the call).
     */
    static final String RECOVER_ANSWERED = "RecoverAnswered";

    /**
     * The name of the status write that records the copy step's verified copy: phase Verified, and
     * {@code status.copies} holds a verified copy of the current plan's file (the phase stays Verified
     * through the copy; {@code status:Verified} is the write of the verified file, before the copy).
     */
    static final String COPY_VERIFIED = "CopyVerified";

    /** The name of a status write as {@code status:NAME} points name it: its phase, or one of the two above. */
    static String statusPoint(ReplicaSetRollbackStatus status) {
        String phase = status.getPhase();
        if ("Recovering".equals(phase) && status.getRecoverAnswer() != null) {
            return RECOVER_ANSWERED;
        }
        if ("Verified".equals(phase) && status.getPlan() != null && status.getCopies() != null) {
            Integer plan = status.getPlan().getNumber();
            for (CopyStatus c : status.getCopies()) {
                if (c.getVerifiedAt() != null && Objects.equals(plan, c.getPlan())) {
                    return COPY_VERIFIED;
                }
            }
        }
        return phase;
    }

    /** After the status write that stored {@code phase} for the rollback {@code namespace/name}. */
    void afterStatusWrite(String rollbackKey, String phase) {
        check("status", phase, rollbackKey);
    }

    /**
     * {@code steps} with this hook: the armed call (the copier's included), record and exec points of
     * each rollback, and its status writes. {@code steps} itself when nothing is armed.
     */
    public StepFactory decorate(StepFactory steps) {
        if (!armed()) {
            return steps;
        }
        return new ForwardingStepFactory(steps) {
            @Override
            public PodExec podExec(ReplicaSetRollback r) {
                return wrap(inner.podExec(r), key(r));
            }

            @Override
            public RollbackTransport transport(ReplicaSetRollback r, ClusterObserver.Resolved cluster, Checkpoint cp,
                    PodExec exec, Consumer<RollbackEvent> announce) {
                return wrap(inner.transport(r, cluster, cp, exec, announce), key(r));
            }

            @Override
            public RollbackCopier copier(ReplicaSetRollback r, ClusterObserver.Resolved cluster) {
                return wrap(inner.copier(r, cluster), key(r));
            }

            @Override
            public StatusStore statuses() {
                StatusStore store = inner.statuses();
                return new StatusStore() {
                    @Override
                    public ReplicaSetRollback writeStatus(ReplicaSetRollback r) {
                        ReplicaSetRollback stored = store.writeStatus(r);
                        afterStatusWrite(key(r), statusPoint(r.getStatus()));
                        return stored;
                    }

                    @Override
                    public ReplicaSetRollback read(String namespace, String name) {
                        return store.read(namespace, name);
                    }
                };
            }
        };
    }

    private static String key(ReplicaSetRollback r) {
        return r.getMetadata().getNamespace() + "/" + r.getMetadata().getName();
    }

    /** The transport, with the armed call and record points of this rollback. */
    RollbackTransport wrap(RollbackTransport transport, String rollbackKey) {
        if (!armedFor(rollbackKey) || !(kind.equals("call") || kind.equals("record"))) {
            return transport;
        }
        return new Transport(transport, rollbackKey);
    }

    /** The copier, with the armed {@code call:CopyRollbackFile} point of this rollback. */
    RollbackCopier wrap(RollbackCopier copier, String rollbackKey) {
        if (!armedFor(rollbackKey) || !kind.equals("call") || !name.equals(COPY_CALL)) {
            return copier;
        }
        return (sourceNode, incidentId, plan, file) -> {
            List<CopyResult> attempts = copier.copy(sourceNode, incidentId, plan, file);
            check("call", COPY_CALL, rollbackKey);
            return attempts;
        };
    }

    /** The pod exec, with the armed exec point of this rollback. */
    PodExec wrap(PodExec exec, String rollbackKey) {
        if (!armedFor(rollbackKey) || !kind.equals("exec")) {
            return exec;
        }
        return (pod, container, argv, stdin, timeout) -> afterExec(exec.exec(pod, container, argv, stdin, timeout),
                argv, rollbackKey);
    }

    private PodExec.Result afterExec(PodExec.Result result, List<String> argv, String rollbackKey) {
        // argv: sh -c SCRIPT $0 OPERATION ...
        int op = ExecRollbackFileStore.SHELL.size();
        if (argv.size() > op) {
            check("exec", argv.get(op), rollbackKey);
        }
        return result;
    }

    private final class Transport implements RollbackTransport {
        private final RollbackTransport inner;
        private final String key;

        Transport(RollbackTransport inner, String key) {
            this.inner = inner;
            this.key = key;
        }

        @Override
        public void fence(String node, String incidentId, Term term) {
            inner.fence(node, incidentId, term);
            check("call", "Fence", key);
        }

        @Override
        public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
            TailStream tail = inner.readDivergentTail(node, fromExclusive, toInclusive);
            return new TailStream() {
                private long read;

                @Override
                public boolean hasNext() {
                    return tail.hasNext();
                }

                @Override
                public TailRecord next() {
                    TailRecord r = tail.next();
                    read++;
                    check("record", Long.toString(read), key);
                    return r;
                }

                @Override
                public void close() {
                    tail.close();
                }
            };
        }

        @Override
        public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
            PersistResult r = inner.persistRollbackFile(header, tail);
            check("call", "PersistRollbackFile", key);
            return r;
        }

        @Override
        public VerifyResult verifyRollbackFile(RollbackFile file) {
            VerifyResult r = inner.verifyRollbackFile(file);
            check("call", "VerifyRollbackFile", key);
            return r;
        }

        @Override
        public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
                String expectedFileSha256) {
            RecoverResult r = inner.recoverToLsn(node, target, expectedLastLsn, incidentId, term, expectedFileSha256);
            check("call", "RecoverToLsn", key);
            return r;
        }

        @Override
        public void emitRollbackEvent(RollbackEvent event) {
            inner.emitRollbackEvent(event);
            check("call", "EmitRollbackEvent", key);
        }

        @Override
        public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
            inner.rejoinAsReplica(node, primaryAddress, term, incidentId);
            check("call", "RejoinAsReplica", key);
        }
    }

    @Override
    public String toString() {
        return armed() ? "CrashPoints[" + spec + "]" : "CrashPoints[off]";
    }
}
