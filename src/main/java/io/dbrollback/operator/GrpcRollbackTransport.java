package io.dbrollback.operator;

import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.FenceRequest;
import io.dbrollback.agent.v1.RecoverToLsnRequest;
import io.dbrollback.agent.v1.RecoverToLsnResponse;
import io.dbrollback.agent.v1.RejoinAsReplicaRequest;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
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
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The production transport: the agents over gRPC (every mutating call with the incident id and the
 * term), the rollback file through a {@link RollbackFileStore} (pod exec in the target's data
 * container, or the target's agent), and the event through the operator's event recorder. One
 * instance serves one reconcile of one rollback.
 */
public final class GrpcRollbackTransport implements RollbackTransport {

    private final String targetPod;
    private final AgentClients clients;
    private final AgentClients.Tls tls;
    private final Map<String, String> agentAddresses;
    private final RollbackFileStore files;
    private final Consumer<RollbackEvent> events;
    private final Clock clock;

    /**
     * @param targetPod the pod rolled back; its data volume holds the rollback files
     * @param agentAddresses host:port of the agent of each pod the rollback may call
     * @param files where the rollback file is written and read back
     */
    public GrpcRollbackTransport(String targetPod, AgentClients clients, AgentClients.Tls tls,
            Map<String, String> agentAddresses,
            RollbackFileStore files, Consumer<RollbackEvent> events, Clock clock) {
        this.targetPod = targetPod;
        this.clients = clients;
        this.tls = tls;
        this.agentAddresses = Map.copyOf(agentAddresses);
        this.files = files;
        this.events = events;
        this.clock = clock;
    }

    /** {@code node}'s agent, for one unary call that must answer within {@code deadline}. */
    private RollbackAgentGrpc.RollbackAgentBlockingStub agent(String node, Duration deadline) {
        String address = agentAddresses.get(node);
        if (address == null) {
            throw new TransportException("NoAgentAddress", false, "no agent address for pod " + node);
        }
        return AgentClients.Deadlines.within(clients.stub(address, tls), deadline);
    }

    @Override
    public void fence(String node, String incidentId, Term term) {
        try {
            AgentAnswers.fenced(agent(node, clients.deadlines().fence()).fence(FenceRequest.newBuilder()
                    .setTerm(term.value()).setIncidentId(incidentId).build()), node, term.value());
        } catch (StatusRuntimeException e) {
            throw translate("Fence", node, e, true);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw invalid("Fence", node, e);
        }
    }

    @Override
    public TailStream readDivergentTail(String node, Lsn fromExclusive, Lsn toInclusive) {
        String address = agentAddresses.get(node);
        if (address == null) {
            throw new TransportException("NoAgentAddress", false, "no agent address for pod " + node);
        }
        return new GrpcTailStream(clients.asyncStub(address, tls), node, fromExclusive.value(), toInclusive.value(),
                clients.deadlines());
    }

    @Override
    public PersistResult persistRollbackFile(RollbackFileHeader header, TailStream tail) {
        return files.persist(header.node(), header, tail);
    }

    @Override
    public VerifyResult verifyRollbackFile(RollbackFile file) {
        return files.verify(targetPod, file, clock.instant());
    }

    @Override
    public RecoverResult recoverToLsn(String node, Lsn target, Lsn expectedLastLsn, String incidentId, Term term,
            String expectedFileSha256) {
        try {
            RecoverToLsnResponse r = agent(node, clients.deadlines().recoverToLsn())
                    .recoverToLsn(RecoverToLsnRequest.newBuilder()
                    .setTargetLsn(target.value()).setExpectedLastLsn(expectedLastLsn.value()).setTerm(term.value())
                    .setIncidentId(incidentId).setExpectedRollbackFileSha256(expectedFileSha256).build());
            AgentAnswers.RecoverAnswer a = AgentAnswers.recovered(r);
            return new RecoverResult(a.rollbackId(), a.lastLsn());
        } catch (StatusRuntimeException e) {
            throw translate("RecoverToLsn", node, e, true);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw invalid("RecoverToLsn", node, e);
        }
    }

    @Override
    public void emitRollbackEvent(RollbackEvent event) {
        events.accept(event);
    }

    @Override
    public void rejoinAsReplica(String node, String primaryAddress, Term term, String incidentId) {
        try {
            AgentAnswers.rejoined(agent(node, clients.deadlines().rejoinAsReplica())
                    .rejoinAsReplica(RejoinAsReplicaRequest.newBuilder().setPrimaryAddress(primaryAddress)
                    .setTerm(term.value()).setIncidentId(incidentId).build()), node, term.value(), primaryAddress);
        } catch (StatusRuntimeException e) {
            throw translate("RejoinAsReplica", node, e, true);
        } catch (AgentAnswers.InvalidAnswer e) {
            throw invalid("RejoinAsReplica", node, e);
        }
    }

    /**
     * A gRPC failure as the coordinator sees it: the agent's machine-readable reason as the code when
     * there is one; the outcome of a mutating call is unknown unless the node answered. A refused TLS
     * handshake, or a refused identity, is {@code UNAUTHENTICATED} (see {@link TlsRefusals}): the call
     * never reached the agent's service, so nothing happened on the node.
     */
    static TransportException translate(String call, String node, StatusRuntimeException e, boolean mutating) {
        Status status = TlsRefusals.status(e);
        Status.Code code = status.getCode();
        // A refused caller is one condition whatever the agent's reason (CALLER_NOT_ALLOWED included).
        String reason = code == Status.Code.UNAUTHENTICATED ? code.name()
                : AgentErrors.reason(e).filter(GrpcRollbackTransport::knownReason).orElse(code.name());
        boolean unknown = mutating && (code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED
                || code == Status.Code.UNKNOWN || code == Status.Code.CANCELLED || code == Status.Code.INTERNAL);
        return new TransportException(reason, unknown, call + " on " + node + ": " + code
                + (status.getDescription() == null ? "" : ": " + agentText(status.getDescription())), e);
    }

    /**
     * An answer that broke the protocol: a failed attempt naming the RPC, the pod and the rule, never
     * the offending value. The answer was not used.
     */
    static TransportException invalid(String call, String node, AgentAnswers.InvalidAnswer e) {
        return new TransportException(INVALID_ANSWER, false, call + " from " + node + " broke rule " + e.rule() + ": "
                + e.explanation() + "; the answer was not used");
    }

    /** The code of an answer that broke the protocol ({@link io.dbrollback.coordinator.Failure}). */
    static final String INVALID_ANSWER = "AgentAnswerInvalid";

    /** Longest piece of an agent's own text (an error description) the operator repeats. */
    static final int MAX_AGENT_TEXT = 200;

    /**
     * Whether an agent's error reason is one of the protocol's: only those become codes (an agent
     * chooses the string, which must not become a status text or a metric label as it is); for any
     * other the gRPC code stands.
     */
    static boolean knownReason(String reason) {
        for (ErrorReason r : ErrorReason.values()) {
            if (r != ErrorReason.UNRECOGNIZED && r.name().equals(reason)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Text an agent wrote (an error description), as the operator may repeat it in a status, an Event
     * or a log line: printable characters only, at most {@value #MAX_AGENT_TEXT} of them.
     */
    static String agentText(String text) {
        StringBuilder b = new StringBuilder(Math.min(text.length(), MAX_AGENT_TEXT + 3));
        for (int i = 0; i < text.length() && b.length() < MAX_AGENT_TEXT; i++) {
            char c = text.charAt(i);
            b.append(Character.isISOControl(c) || Character.isSurrogate(c) ? '?' : c);
        }
        return text.length() > MAX_AGENT_TEXT ? b.append("...").toString() : b.toString();
    }
}
