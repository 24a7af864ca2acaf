package io.dbrollback.operator;

import io.dbrollback.agent.AgentAnswers;
import io.dbrollback.agent.v1.SummarizeTailRequest;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.TailSummary;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Objects;
import java.util.Optional;

/**
 * The impact of a divergent tail before anything is removed: an agent's SummarizeTail of
 * (fork, last], checked like every agent answer ({@link AgentAnswers#summary}). SummarizeTail is
 * optional in the protocol: an agent that answers UNIMPLEMENTED leaves the summary unknown (empty),
 * never a failure. Read-only on the node; called within {@code dbrollback.agent.deadline.summarize-tail}.
 */
public final class TailSummaries {

    private final AgentClients clients;

    public TailSummaries(AgentClients clients) {
        this.clients = Objects.requireNonNull(clients, "clients");
    }

    /**
     * What the agent of {@code pod} at {@code address} counts in (fromExclusive, toInclusive].
     *
     * @return empty when the agent does not implement SummarizeTail (the summary is unknown)
     * @throws TransportException when there is no address, the call fails (a refused range, no answer
     *     within the deadline, a refused TLS handshake: {@link GrpcRollbackTransport#translate}), or the
     *     answer breaks a rule of the protocol ({@link GrpcRollbackTransport#invalid}: the rule, never the
     *     value)
     */
    public Optional<TailSummary> summarize(String address, AgentClients.Tls tls, String pod, Lsn fromExclusive,
            Lsn toInclusive) {
        if (address == null || address.isBlank()) {
            throw new TransportException("NoAgentAddress", false, "no agent address for pod " + pod);
        }
        SummarizeTailResponse answer;
        try {
            answer = AgentClients.Deadlines.within(clients.stub(address, tls), clients.deadlines().summarizeTail())
                    .summarizeTail(SummarizeTailRequest.newBuilder().setFromExclusive(fromExclusive.value())
                            .setToInclusive(toInclusive.value()).build());
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
                return Optional.empty();
            }
            throw GrpcRollbackTransport.translate("SummarizeTail", pod, e, false);
        }
        try {
            return Optional.of(AgentAnswers.summary(answer, pod, fromExclusive.value(), toInclusive.value()));
        } catch (AgentAnswers.InvalidAnswer e) {
            throw GrpcRollbackTransport.invalid("SummarizeTail", pod, e);
        }
    }
}
