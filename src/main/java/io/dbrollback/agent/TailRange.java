package io.dbrollback.agent;

import io.dbrollback.agent.v1.ReadDivergentTailRequest;
import io.dbrollback.agent.v1.SummarizeTailRequest;

/**
 * A checked ReadDivergentTail (or SummarizeTail) request: the range (from, to], the last LSN not to send
 * again and the records per chunk.
 */
public record TailRange(long from, long to, long resume, int perChunk) {

    /**
     * The range {@code r} asks for, checked ({@link AgentRequests#requireTailRange}: a status error if
     * not) and its chunk size clamped ({@link AgentRequests#chunkSize}).
     */
    public static TailRange of(ReadDivergentTailRequest r) {
        AgentRequests.requireTailRange(r.getFromExclusive(), r.getToInclusive(), r.getResumeAfter());
        return new TailRange(r.getFromExclusive(), r.getToInclusive(),
                Math.max(r.getResumeAfter(), r.getFromExclusive()), AgentRequests.chunkSize(r.getMaxRecordsPerChunk()));
    }

    /**
     * The range a SummarizeTail request asks for, checked as ReadDivergentTail's (the same errors): the
     * whole range, no resume.
     */
    public static TailRange of(SummarizeTailRequest r) {
        AgentRequests.requireTailRange(r.getFromExclusive(), r.getToInclusive(), 0);
        return new TailRange(r.getFromExclusive(), r.getToInclusive(), r.getFromExclusive(), AgentRequests.MAX_CHUNK);
    }
}
