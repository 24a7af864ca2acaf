package io.dbrollback.model;

/**
 * A leadership term (an epoch): at most one primary is elected per term, and terms only grow.
 *
 * <p>The term is the fencing token of this project: every mutating call to a node carries the term
 * the operator believes current, and a node rejects a call whose term is lower than the highest term
 * it has seen.
 */
public record Term(long value) implements Comparable<Term> {

    public Term {
        if (value < 0) {
            throw new IllegalArgumentException("a term is never negative, got " + value);
        }
    }

    public static Term of(long value) {
        return new Term(value);
    }

    public Term next() {
        return new Term(Math.addExact(value, 1));
    }

    public boolean isAfter(Term other) {
        return value > other.value;
    }

    public boolean isBefore(Term other) {
        return value < other.value;
    }

    @Override
    public int compareTo(Term other) {
        return Long.compare(value, other.value);
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
