package io.dbrollback.model;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * The summary of a divergent tail that was read: the range (fromExclusive, toInclusive] of the former
 * primary's log, how many records and canonical bytes it held, and the SHA-256 of its canonical
 * encoding ({@link CanonicalEncoding}). The records themselves are never held in memory.
 *
 * @param firstCommit earliest commit time among the records, null when the tail is empty
 * @param lastCommit latest commit time among the records, null when the tail is empty
 * @param uncapturedCount how many of the records are changes the node could not capture whole
 *     ({@link Operation#UNCAPTURED})
 */
public record DivergentTail(
        Lsn fromExclusive,
        Lsn toInclusive,
        String node,
        Term term,
        long recordCount,
        long bytes,
        String sha256,
        Instant firstCommit,
        Instant lastCommit,
        long uncapturedCount) {

    public DivergentTail {
        Objects.requireNonNull(fromExclusive, "fromExclusive");
        Objects.requireNonNull(toInclusive, "toInclusive");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(term, "term");
        Objects.requireNonNull(sha256, "sha256");
        if (toInclusive.isBefore(fromExclusive)) {
            throw new IllegalArgumentException("tail range (" + fromExclusive + ", " + toInclusive + "] is reversed");
        }
        if (recordCount < 0 || bytes < 0 || uncapturedCount < 0) {
            throw new IllegalArgumentException("counts are never negative");
        }
        if (uncapturedCount > recordCount) {
            throw new IllegalArgumentException("uncaptured records are records of the tail");
        }
    }

    /** A tail every record of which was captured whole. */
    public DivergentTail(Lsn fromExclusive, Lsn toInclusive, String node, Term term, long recordCount, long bytes,
            String sha256, Instant firstCommit, Instant lastCommit) {
        this(fromExclusive, toInclusive, node, term, recordCount, bytes, sha256, firstCommit, lastCommit, 0);
    }

    /** Time between the first and the last divergent commit; zero for an empty tail. */
    public Duration span() {
        return firstCommit == null ? Duration.ZERO : Duration.between(firstCommit, lastCommit);
    }
}
