package io.dbrollback.coordinator;

import java.util.Objects;
import java.util.Set;

/**
 * What a failed step means for its retries, from the {@link TransportException}'s code: the reason the
 * rollback shows while it retries, and whether the failure counts against the plan's retry bound
 * ({@link IncidentSpec#maxRetries()}).
 *
 * <p>An agent that does not answer is waited for (with backoff, without end): a restarted pod or a
 * healed network ends the wait. An agent that answers wrongly again and again (a tail whose trailer
 * never matches, a refusal the observed state does not explain, an answer that breaks the protocol)
 * cannot be waited out: those failures are counted, and the rollback fails closed once the bound is
 * spent, instead of calling the agent for as long as it lies.
 *
 * @param reason the wait reason while retrying, and the terminal reason when the bound is spent
 * @param counted whether the failure counts against the plan's retry bound
 */
public record Failure(Reason reason, boolean counted) {

    /** Codes of an agent that did not answer, or of a call a changed world explains (a stale term). */
    private static final Set<String> UNREACHABLE = Set.of("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED",
            "NoAgentAddress", "UNAUTHENTICATED", "PERMISSION_DENIED", "CALLER_NOT_ALLOWED", "STALE_TERM", "StaleTerm");
    /** Codes of a step that failed outside the agents. */
    private static final Set<String> LOCAL = Set.of("EventNotWritten", "Interrupted", "ExecNoExitStatus");
    /** Codes of an answer that broke the protocol. */
    private static final Set<String> INVALID = Set.of("AgentAnswerInvalid", "TailMalformed", "NotAnAgentFile");
    /** Definite refusals by an agent (its ErrorInfo reason or a bare gRPC code). */
    private static final Set<String> REFUSED = Set.of("NOT_FENCED", "LOG_CHANGED", "BELOW_COMMIT",
            "RANGE_NOT_IN_LOG", "INVALID_REQUEST", "INCIDENT_SUPERSEDED", "RECOVER_CONFLICT", "LIVE_PRIMARY",
            "LOG_DIVERGED", "FILE_EXISTS", "FILE_NOT_FOUND", "FAILED_PRECONDITION", "INVALID_ARGUMENT",
            "OUT_OF_RANGE", "NOT_FOUND", "ALREADY_EXISTS", "UNIMPLEMENTED", "ABORTED");

    public Failure {
        Objects.requireNonNull(reason, "reason");
    }

    /** The meaning of a failure with {@code code}; an unknown code is a broken transfer (counted). */
    public static Failure of(String code) {
        String c = code == null ? "" : code;
        if (UNREACHABLE.contains(c)) {
            return new Failure(Reason.AgentUnreachable, false);
        }
        if (LOCAL.contains(c)) {
            return new Failure(Reason.StepRetrying, false);
        }
        if (c.equals("AgentStalled")) {
            return new Failure(Reason.AgentStalled, true);
        }
        if (INVALID.contains(c)) {
            return new Failure(Reason.AgentAnswerInvalid, true);
        }
        if (REFUSED.contains(c)) {
            return new Failure(Reason.AgentRefused, true);
        }
        return new Failure(Reason.TransferBroken, true);
    }
}
