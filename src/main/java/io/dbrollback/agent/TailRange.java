package io.dbrollback.agent;

import io.dbrollback.agent.v1.ReadDivergentTailRequest;

/**
 * A checked ReadDivergentTail request: the range (from, to], the last LSN not to send again and the
 * records per chunk.
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
}
