package io.dbrollback.cli;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.cli.Replayer.Outcome;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The replay as it was before its state went to disk ({@link Replayer} now): every key's chain held in
 * maps for the run. Kept as the oracle of {@link ReplayEquivalenceTest}: the same file against the same
 * primary must give the same report, output and calls to the primary. Not for large files (its heap
 * grows with the file).
 */
final class HeapReplayer {

    private final ReplayTarget target;
    private final Replayer.Options options;
    private final PrintWriter out;
    private final Clock clock;
    private final Map<Bytes, List<Bytes>> chains = new HashMap<>();
    private final Map<Bytes, Integer> seen = new HashMap<>();
    private final Map<Bytes, Integer> position = new HashMap<>();
    private final Map<Bytes, Long> blockedKeys = new HashMap<>();
    private final Map<String, Long> blockedTables = new HashMap<>();
    private final Map<Outcome, Long> counts = new EnumMap<>(Outcome.class);
    private long appliedGroups;
    private JsonGenerator report;

    HeapReplayer(ReplayTarget target, Replayer.Options options, PrintWriter out, Clock clock) {
        this.target = target;
        this.options = options;
        this.out = out;
        this.clock = clock;
    }

    /** Replays {@code file}, which the caller has verified ({@code check}). */
    Replayer.Summary run(Path file, RollbackFileReader.Result check) throws IOException {
        RollbackFileReader.read(file, null, new RollbackFileReader.Listener() {
            @Override
            public void record(TailRecord r, long line) {
                if (r.operation() == Operation.UNCAPTURED) {
                    return;
                }
                List<Bytes> chain = chains.computeIfAbsent(r.key(), k -> {
                    List<Bytes> c = new ArrayList<>(2);
                    c.add(r.before());
                    return c;
                });
                chain.add(r.after());
            }
        });
        if (options.report() != null) {
            report = RollbackFileReader.JSON.getFactory().createGenerator(options.report().toFile(),
                    JsonEncoding.UTF8);
            report.useDefaultPrettyPrinter();
            report.writeStartObject();
            report.writeStringField("file", file.getFileName().toString());
            report.writeStringField("sha256", check.sha256());
            report.writeStringField("tailSha256", check.tailSha256());
            report.writeStringField("primary", options.primary());
            report.writeStringField("mode", options.apply() ? "apply" : "dry-run");
            report.writeStringField("startedAt", clock.instant().toString());
            report.writeArrayFieldStart("records");
        }
        out.println(String.format("%-17s %-12s %-10s %-24s %s", "OUTCOME", "LSN", "OP", "KEY", "DETAIL"));
        List<TailRecord> group = new ArrayList<>();
        RollbackFileReader.read(file, null, new RollbackFileReader.Listener() {
            @Override
            public void record(TailRecord r, long line) throws IOException {
                if (!group.isEmpty() && !sameGroup(group.get(0), r)) {
                    group(group);
                    group.clear();
                }
                group.add(r);
            }
        });
        if (!group.isEmpty()) {
            group(group);
        }
        if (report != null) {
            report.writeEndArray();
            report.writeObjectFieldStart("counts");
            for (Outcome o : Outcome.values()) {
                report.writeNumberField(o.json(), counts.getOrDefault(o, 0L));
            }
            report.writeEndObject();
            report.writeStringField("finishedAt", clock.instant().toString());
            report.writeEndObject();
            report.close();
        }
        return new Replayer.Summary(Map.copyOf(counts), options.report());
    }

    private boolean sameGroup(TailRecord first, TailRecord r) {
        return target.transactional() && first.lsn().equals(r.lsn()) && first.transactionId().equals(r.transactionId());
    }

    /** Per key of a group: its records in the group. */
    private void group(List<TailRecord> g) throws IOException {
        Map<TailRecord, Decision> decisions = new LinkedHashMap<>();
        Map<Bytes, Integer> countIn = new LinkedHashMap<>();
        TailRecord uncaptured = null;
        for (TailRecord r : g) {
            if (r.operation() == Operation.UNCAPTURED) {
                uncaptured = uncaptured == null ? r : uncaptured;
            } else {
                countIn.merge(r.key(), 1, Integer::sum);
            }
        }
        if (uncaptured != null) {
            for (TailRecord r : g) {
                if (r.operation() == Operation.UNCAPTURED) {
                    JsonNode pg = Display.pgKey(r.key());
                    String why = pg != null && pg.hasNonNull("why") ? pg.get("why").asText()
                            : "the node could not capture this change whole";
                    decisions.put(r, new Decision(Outcome.NEEDS_PERSON, "UNCAPTURED: " + why, null, null));
                    String table = Display.table(pg);
                    if (!table.isEmpty()) {
                        blockedTables.putIfAbsent(table, r.lsn().value());
                    }
                } else {
                    decisions.put(r, new Decision(Outcome.SKIPPED_DEPENDENT, "its transaction holds an UNCAPTURED "
                            + "change (LSN " + uncaptured.lsn() + ")", null, null));
                }
            }
            finish(g, decisions, countIn, false);
            return;
        }
        for (TailRecord r : g) {
            Long by = blockedKeys.get(r.key());
            String table = Display.table(Display.pgKey(r.key()));
            Long byTable = table.isEmpty() ? null : blockedTables.get(table);
            if (by != null || byTable != null) {
                for (TailRecord s : g) {
                    decisions.put(s, new Decision(Outcome.SKIPPED_DEPENDENT, by != null
                            ? "depends on LSN " + by + " of the same key, not applied"
                            : "depends on LSN " + byTable + ", an UNCAPTURED change of table " + table, null, null));
                }
                finish(g, decisions, countIn, false);
                return;
            }
        }
        // Where each key of the group stands in its chain.
        Map<Bytes, String> conflicts = new LinkedHashMap<>();
        Map<Bytes, String[]> values = new HashMap<>();
        boolean allAlready = true;
        boolean allApplicable = true;
        for (Map.Entry<Bytes, Integer> e : countIn.entrySet()) {
            Bytes key = e.getKey();
            TailRecord sample = g.stream().filter(r -> r.key().equals(key)).findFirst().orElseThrow();
            List<Bytes> chain = chains.get(key);
            int a = seen.getOrDefault(key, 0) + 1;
            int b = a + e.getValue() - 1;
            Integer pos = position.get(key);
            if (pos == null) {
                pos = target.holds(key, sample, chain);
                position.put(key, pos);
            }
            if (pos >= b) {
                allApplicable = false;
            } else if (pos == a - 1) {
                allAlready = false;
            } else {
                allAlready = false;
                allApplicable = false;
                conflicts.put(key, pos < 0 ? "changed on the primary since the fork"
                        : "holds an earlier state of this key from the file");
                values.put(key, new String[] {shown(chain.get(a - 1), sample), target.current(key, sample)});
            }
        }
        if (conflicts.isEmpty() && allAlready) {
            g.forEach(r -> decisions.put(r, new Decision(Outcome.ALREADY_APPLIED, "the key holds this write's "
                    + "value or a later one of the file", null, null)));
            finish(g, decisions, countIn, false);
            return;
        }
        if (conflicts.isEmpty() && allApplicable) {
            if (!options.apply()) {
                g.forEach(r -> decisions.put(r, new Decision(Outcome.WOULD_APPLY, "", null, null)));
                finish(g, decisions, countIn, true);
                return;
            }
            String refused = target.apply(g);
            if (refused == null) {
                g.forEach(r -> decisions.put(r, new Decision(Outcome.APPLIED, "", null, null)));
                finish(g, decisions, countIn, true);
                appliedGroups++;
                if (options.stopAfter() > 0 && appliedGroups >= options.stopAfter()) {
                    out.flush();
                    Runtime.getRuntime().halt(75);
                }
                return;
            }
            for (TailRecord r : g) {
                TailRecord sample = r;
                decisions.put(r, new Decision(Outcome.CONFLICT, refused,
                        shown(chains.get(r.key()).get(seen.getOrDefault(r.key(), 0)), sample),
                        target.current(r.key(), sample)));
            }
            finish(g, decisions, countIn, false);
            return;
        }
        if (conflicts.isEmpty()) {
            for (Bytes key : countIn.keySet()) {
                conflicts.put(key, "part of the transaction is already on the primary, part is not");
            }
        }
        Map<Bytes, Boolean> first = new HashMap<>();
        for (TailRecord r : g) {
            String why = conflicts.get(r.key());
            if (why != null && first.putIfAbsent(r.key(), true) == null) {
                String[] v = values.get(r.key());
                decisions.put(r, new Decision(Outcome.CONFLICT, why, v == null ? null : v[0],
                        v == null ? null : v[1]));
            } else {
                decisions.put(r, new Decision(Outcome.SKIPPED_DEPENDENT, why != null
                        ? "an earlier record of the same key conflicts" : "its transaction conflicts", null, null));
            }
        }
        finish(g, decisions, countIn, false);
    }

    private String shown(Bytes state, TailRecord sample) {
        return state == null ? Display.ABSENT : Display.image(state);
    }

    private record Decision(Outcome outcome, String detail, String expected, String current) {
    }

    /** Records the group's decisions, moves the keys along their chains (or blocks them), reports. */
    private void finish(List<TailRecord> g, Map<TailRecord, Decision> decisions, Map<Bytes, Integer> countIn,
            boolean moved) throws IOException {
        for (Map.Entry<Bytes, Integer> e : countIn.entrySet()) {
            Bytes key = e.getKey();
            int now = seen.getOrDefault(key, 0) + e.getValue();
            if (moved) {
                position.put(key, now);
            }
            if (!moved && decisions.values().stream().anyMatch(d -> d.outcome().left())) {
                long lsn = g.stream().filter(r -> r.key().equals(key)).findFirst().orElseThrow().lsn().value();
                blockedKeys.putIfAbsent(key, lsn);
            }
            if (now >= chains.get(key).size() - 1) {
                // the key's last record: nothing more to remember of it
                seen.remove(key);
                position.remove(key);
                chains.remove(key);
            } else {
                seen.put(key, now);
            }
        }
        for (TailRecord r : g) {
            Decision d = decisions.get(r);
            counts.merge(d.outcome(), 1L, Long::sum);
            String key = Display.key(r.key());
            JsonNode pg = Display.pgKey(r.key());
            String table = Display.table(pg);
            String detail = d.detail();
            if (d.expected() != null) {
                detail = detail + "; expected " + d.expected() + ", current " + d.current();
            }
            out.println(String.format("%-17s %-12s %-10s %-24s %s", d.outcome().json(), r.lsn().value(),
                    r.operation().name(), (table.isEmpty() ? "" : table + " ") + key, detail).stripTrailing());
            if (report != null) {
                report.writeStartObject();
                report.writeNumberField("lsn", r.lsn().value());
                report.writeStringField("tx", r.transactionId());
                report.writeStringField("op", r.operation().name());
                if (!table.isEmpty()) {
                    report.writeStringField("table", table);
                }
                report.writeStringField("key", key);
                report.writeStringField("outcome", d.outcome().json());
                if (!d.detail().isEmpty()) {
                    report.writeStringField("detail", d.detail());
                }
                if (d.expected() != null) {
                    report.writeStringField("expected", d.expected());
                    report.writeStringField("current", d.current());
                }
                report.writeEndObject();
            }
        }
    }
}
