package io.dbrollback.agent;

import io.dbrollback.agent.v1.CommitTime;
import io.dbrollback.agent.v1.SummarizeTailResponse;
import io.dbrollback.agent.v1.Touch;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.TailSummary;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;

/**
 * The SummarizeTail answer of a tail, counted record by record as the agent reads the range the way
 * ReadDivergentTail does: records, canonical bytes, commit-time span, and the names the records touch.
 * Nothing of a record is kept but its touch name's count, so memory does not grow with the tail: at
 * most {@value #MAX_NAMES} names are counted; a name first met after that many is not (the list is
 * then truncated in any case, and its counts stay exact, but it may miss a name met late).
 */
public final class TailTally {

    /** Most distinct touch names counted. */
    public static final int MAX_NAMES = 4096;

    private final Map<String, long[]> counts = new HashMap<>();
    private long records;
    private long bytes;
    private Instant first;
    private Instant last;
    private boolean uncounted;

    /** Counts {@code record}, which touches {@code name} (made printable: {@link #printable}). */
    public void add(TailRecord record, String name) {
        records++;
        bytes += CanonicalEncoding.length(record);
        Instant t = record.commitTime();
        if (first == null || t.isBefore(first)) {
            first = t;
        }
        if (last == null || t.isAfter(last)) {
            last = t;
        }
        String touch = printable(name);
        long[] n = counts.get(touch);
        if (n != null) {
            n[0]++;
        } else if (counts.size() < MAX_NAMES) {
            counts.put(touch, new long[] {1});
        } else {
            uncounted = true;
        }
    }

    /** How many records were counted. */
    public long records() {
        return records;
    }

    /**
     * The answer: the counts, the commit times when there are records, the {@value TailSummary#MAX_TOUCHES}
     * most touched names (by count, descending, then by name) and whether there were more.
     */
    public SummarizeTailResponse response() {
        SummarizeTailResponse.Builder b = SummarizeTailResponse.newBuilder().setRecordCount(records).setBytes(bytes);
        if (records > 0) {
            b.setFirstCommit(commitTime(first)).setLastCommit(commitTime(last));
        }
        counts.entrySet().stream()
                .sorted(Comparator.comparingLong((Map.Entry<String, long[]> e) -> -e.getValue()[0])
                        .thenComparing(Map.Entry::getKey))
                .limit(TailSummary.MAX_TOUCHES)
                .forEach(e -> b.addTouches(Touch.newBuilder().setName(e.getKey()).setRecords(e.getValue()[0])));
        return b.setTouchesTruncated(uncounted || counts.size() > TailSummary.MAX_TOUCHES).build();
    }

    private static CommitTime commitTime(Instant t) {
        return CommitTime.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
    }

    /**
     * {@code name} as a touch name ({@link AgentAnswers#touchName}): every character that would not
     * show as it reads (a control, a format character, a line break, a lone surrogate...) written as
     * {@code <U+XXXX>} (its code point in hex), at most {@value AgentAnswers#MAX_TOUCH_NAME} characters
     * (a longer name cut, ending in {@code …}), and {@code ""} for an empty one.
     */
    public static String printable(String name) {
        if (name.isEmpty()) {
            return "\"\"";
        }
        StringBuilder out = new StringBuilder(Math.min(name.length(), AgentAnswers.MAX_TOUCH_NAME) + 8);
        int kept = 0;
        for (int i = 0; i < name.length();) {
            int c = name.codePointAt(i);
            i += Character.charCount(c);
            String shown = AgentAnswers.touchName(Character.toString(c)) ? Character.toString(c)
                    : String.format("<U+%04X>", c);
            int width = shown.codePointCount(0, shown.length());
            boolean more = i < name.length();
            if (kept + width > AgentAnswers.MAX_TOUCH_NAME - (more ? 1 : 0)) {
                return out.append('…').toString();
            }
            out.append(shown);
            kept += width;
        }
        return out.toString();
    }
}
