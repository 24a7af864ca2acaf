package io.dbrollback.agent;

import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.model.RollbackFileName;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * The request checks every agent makes before it looks at the term (docs/agent-protocol.md: a
 * malformed request is INVALID_REQUEST and adopts nothing): shared by the reference node and the
 * PostgreSQL agent, so that both refuse the same requests with the same words.
 */
public final class AgentRequests {

    /** Most records in one tail chunk. */
    public static final int MAX_CHUNK = 256;

    private AgentRequests() {
    }

    public static StatusRuntimeException invalid(String message) {
        return AgentErrors.error(Status.Code.INVALID_ARGUMENT, ErrorReason.INVALID_REQUEST, message);
    }

    /**
     * A mutating call's term is above 0 and its incident id a plain identifier
     * ({@link RollbackFileName#isIncidentId}); upper case is refused, never lower-cased, so that one
     * incident has one spelling.
     */
    public static void requireTermAndIncident(long term, String incident) {
        if (term == 0) {
            throw invalid("a mutating call needs a term above 0");
        }
        if (!RollbackFileName.isIncidentId(incident)) {
            throw invalid("incident_id must be a plain identifier: lower-case letters, digits and '-', at most 63,"
                    + " starting with a letter or digit");
        }
    }

    /** Whether {@code s} is a SHA-256 as sha256sum prints it: 64 lower-case hex digits. */
    public static boolean isSha256Hex(String s) {
        return s != null && s.matches("[0-9a-f]{64}");
    }

    /**
     * A tail range: not reversed, and resume_after 0 or from_exclusive (the whole range) or within it;
     * anything else is a client that lost count, and guessing what it meant could hand it a tail with
     * a hole.
     */
    public static void requireTailRange(long from, long to, long resumeAfter) {
        if (to < from || resumeAfter > to || (resumeAfter != 0 && resumeAfter < from)) {
            throw invalid("range (" + from + ", " + to + "] resumed after " + resumeAfter
                    + " is reversed, or resume_after is neither 0 nor within [from_exclusive, to_inclusive]");
        }
    }

    /** Records per chunk: the client's bound, 0 for the node's choice, clamped to {@link #MAX_CHUNK}. */
    public static int chunkSize(int requested) {
        return requested == 0 ? MAX_CHUNK : Math.min(requested, MAX_CHUNK);
    }
}
