package io.dbrollback.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code dbrollback inspect}: a rollback file's header, range and checks, then its records as a table or
 * JSON lines. Two streaming passes (the checks, then the records): memory stays flat for any size.
 */
public final class Inspector {

    /** Which records to show; null fields match everything. */
    public record Filters(String key, String table, Set<Operation> ops) {

        public static final Filters ALL = new Filters(null, null, null);

        /** {@code --op INSERT,update}: a usage error (IllegalArgumentException) for an unknown operation. */
        public static Set<Operation> ops(String list) {
            if (list == null) {
                return null;
            }
            return Stream.of(list.split(",")).map(s -> Operation.valueOf(s.trim().toUpperCase(Locale.ROOT)))
                    .collect(Collectors.toSet());
        }

        boolean matches(TailRecord r, JsonNode pgKey) {
            if (ops != null && !ops.contains(r.operation())) {
                return false;
            }
            if (table != null) {
                String t = Display.table(pgKey);
                if (!(t.equals(table) || t.endsWith("." + table))) {
                    return false;
                }
            }
            return key == null || key.equals(pgKey != null ? Display.keyColumns(pgKey) : Display.image(r.key()));
        }
    }

    private Inspector() {
    }

    /** Prints {@code file}; returns the exit status: 0 when the file verifies, 1 when it does not. */
    public static int inspect(Path file, String expectedSha256, Filters filters, boolean json, PrintWriter out)
            throws IOException {
        RollbackFileReader.Result check = RollbackFileReader.read(file, expectedSha256, RollbackFileReader.NONE);
        boolean pg = check.header() != null && check.header().positions();
        if (json) {
            out.println(RollbackFileReader.JSON.writeValueAsString(summaryJson(file, check, expectedSha256)));
        } else {
            summary(file, check, expectedSha256, out);
            out.println();
            out.println(row(pg, "LSN", "TERM", "TX", "COMMIT TIME", "OP", "TABLE", "KEY", "BEFORE", "AFTER"));
        }
        long[] shown = {0};
        RollbackFileReader.read(file, null, new RollbackFileReader.Listener() {
            @Override
            public void record(TailRecord r, long line) throws IOException {
                JsonNode pgKey = Display.pgKey(r.key());
                if (!filters.matches(r, pgKey)) {
                    return;
                }
                shown[0]++;
                if (json) {
                    out.println(RollbackFileReader.JSON.writeValueAsString(recordJson(r, pgKey)));
                } else {
                    out.println(row(pg, Long.toString(r.lsn().value()), Long.toString(r.term().value()),
                            r.transactionId(), r.commitTime().toString(), r.operation().name(), Display.table(pgKey),
                            pgKey != null ? Display.keyColumns(pgKey) : Display.image(r.key()),
                            Display.image(r.before()), Display.image(r.after())));
                }
            }
        });
        if (!json) {
            out.println("(" + shown[0] + " of " + check.records() + " records shown)");
        }
        return check.ok() ? 0 : 1;
    }

    private static String row(boolean pg, String lsn, String term, String tx, String time, String op, String table,
            String key, String before, String after) {
        StringBuilder b = new StringBuilder();
        pad(b, lsn, pg ? 12 : 8);
        pad(b, term, 5);
        pad(b, tx, pg ? 8 : 16);
        pad(b, time, 31);
        pad(b, op, 11);
        if (pg) {
            pad(b, table, 16);
        }
        pad(b, key, 16);
        pad(b, before, 24);
        b.append(after);
        return b.toString().stripTrailing();
    }

    private static void pad(StringBuilder b, String s, int width) {
        b.append(s);
        b.append(" ".repeat(Math.max(1, width - s.length())));
    }

    /** The header, range and checks, for people. */
    static void summary(Path file, RollbackFileReader.Result c, String expectedSha256, PrintWriter out) {
        FileHeader h = c.header();
        out.println("File:           " + file);
        if (h != null) {
            out.println("Format:         " + h.format() + (h.positions() ? " (LSNs are positions)" : ""));
            out.println("Cluster:        " + h.cluster() + ", node " + h.node() + " (the former primary)");
            out.println("Incident:       " + h.incident() + ", plan " + h.plan() + ", created " + h.createdAt());
            out.println("Range:          fork LSN " + h.forkLsn() + " -> last LSN " + h.lastLsn() + ", term "
                    + (h.oldTerm() == null ? "?" : h.oldTerm()) + " -> " + h.newTerm() + ", new primary "
                    + h.newPrimary());
        }
        out.println("Records:        " + c.records()
                + (h != null && h.expectedRecords() != null ? " (header expects " + h.expectedRecords() + ")" : "")
                + ", " + c.canonicalBytes() + " canonical bytes, " + c.bytes() + " file bytes");
        JsonNode t = c.trailer();
        out.println("File SHA-256:   " + c.sha256() + (expectedSha256 == null ? ""
                : expectedSha256.equalsIgnoreCase(c.sha256()) ? " (as expected)" : " (expected " + expectedSha256
                + ")"));
        out.println("Content digest: " + c.contentSha256() + mark(t, "contentSha256", c.contentSha256()));
        out.println("Tail digest:    " + c.tailSha256() + mark(t, "tailSha256", c.tailSha256())
                + " (recomputed from the records' canonical encoding)");
        out.println("Record count:   " + c.records() + mark(t, "records", Long.toString(c.records())));
        if (c.ok()) {
            out.println("Verified:       yes");
        } else {
            out.println("Verified:       NO");
            c.problems().forEach(p -> out.println("  - " + p));
        }
    }

    private static String mark(JsonNode trailer, String field, String ours) {
        if (trailer == null) {
            return " (no trailer to compare with)";
        }
        String theirs = trailer.path(field).asText();
        return theirs.equals(ours) ? " (matches the trailer)" : " (MISMATCH: the trailer says " + theirs + ")";
    }

    static ObjectNode summaryJson(Path file, RollbackFileReader.Result c, String expectedSha256) {
        ObjectNode n = RollbackFileReader.JSON.createObjectNode();
        n.put("type", "file");
        n.put("file", file.toString());
        FileHeader h = c.header();
        if (h != null) {
            n.put("format", h.format());
            n.put("cluster", h.cluster());
            n.put("node", h.node());
            n.put("incident", h.incident());
            n.put("plan", h.plan());
            n.put("forkLsn", h.forkLsn());
            n.put("lastLsn", h.lastLsn());
            if (h.oldTerm() != null) {
                n.put("oldTerm", h.oldTerm());
            }
            n.put("newTerm", h.newTerm());
            n.put("newPrimary", h.newPrimary());
            n.put("positions", h.positions());
        }
        n.put("records", c.records());
        n.put("canonicalBytes", c.canonicalBytes());
        n.put("bytes", c.bytes());
        n.put("sha256", c.sha256());
        if (expectedSha256 != null) {
            n.put("expectedSha256", expectedSha256.toLowerCase(Locale.ROOT));
        }
        n.put("contentSha256", c.contentSha256());
        n.put("tailSha256", c.tailSha256());
        n.put("verified", c.ok());
        c.problems().forEach(n.putArray("problems")::add);
        return n;
    }

    /** One record as JSON: PostgreSQL keys and images as JSON, other images as text or {@code base64:...}. */
    static ObjectNode recordJson(TailRecord r, JsonNode pgKey) {
        ObjectNode n = RollbackFileReader.JSON.createObjectNode();
        n.put("type", "record");
        n.put("lsn", r.lsn().value());
        n.put("term", r.term().value());
        n.put("tx", r.transactionId());
        n.put("commitTime", r.commitTime().toString());
        n.put("op", r.operation().name());
        if (pgKey != null) {
            n.put("table", Display.table(pgKey));
            n.set("key", pgKey);
            putJson(n, "before", r.before());
            putJson(n, "after", r.after());
        } else {
            n.put("key", Display.image(r.key()));
            if (r.before() != null) {
                n.put("before", Display.image(r.before()));
            }
            if (r.after() != null) {
                n.put("after", Display.image(r.after()));
            }
        }
        return n;
    }

    private static void putJson(ObjectNode n, String field, Bytes image) {
        if (image == null) {
            return;
        }
        String text = Display.utf8(image.toByteArray());
        try {
            n.set(field, RollbackFileReader.JSON.readTree(text));
        } catch (IOException | RuntimeException e) {
            n.put(field, Display.image(image));
        }
    }
}
