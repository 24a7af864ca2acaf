package io.dbrollback.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.coordinator.IncidentSpec;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The domain types' own rules: validation, copy-safety, the canonical encoding and its digest. */
class ModelTest {

    private static final Instant T0 = Instant.parse("2024-05-01T12:00:00.123456789Z");

    private static TermHistory h(long... termAndFirst) {
        List<TermHistory.Entry> entries = new ArrayList<>();
        for (int k = 0; k < termAndFirst.length; k += 2) {
            entries.add(TermHistory.Entry.of(termAndFirst[k], termAndFirst[k + 1]));
        }
        return new TermHistory(entries);
    }

    @Nested
    class TermHistoryRules {

        @Test
        void rejectsTermsThatDoNotStrictlyIncrease() {
            IllegalArgumentException same = assertThrows(IllegalArgumentException.class, () -> h(1, 1, 2, 3, 2, 5));
            assertTrue(same.getMessage().contains("strictly increase"), same.getMessage());
            assertThrows(IllegalArgumentException.class, () -> h(3, 1, 2, 4));
        }

        @Test
        void rejectsFirstLsnsThatDecrease() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> h(1, 1, 2, 5, 3, 4));
            assertTrue(e.getMessage().contains("must not decrease"), e.getMessage());
        }

        @Test
        void rejectsAHistoryThatDoesNotStartAtLsn1() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> h(1, 2, 2, 5));
            assertTrue(e.getMessage().contains("starts at LSN 1"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> TermHistory.Entry.of(1, 0));
        }

        @Test
        void acceptsEmptyTermsWhoseFirstLsnEqualsTheNextOne() {
            TermHistory history = h(1, 1, 2, 4, 3, 4, 5, 9);
            assertEquals(4, history.entries().size());
        }

        @Test
        void effectiveEntriesAreTheTermsThatWroteARecordOfTheLog() {
            TermHistory history = h(1, 1, 2, 4, 3, 4, 5, 9, 6, 12, 7, 15);
            // Term 2 wrote nothing (term 3 starts where it does); terms 6 and 7 start past LSN 10.
            assertEquals(List.of(TermHistory.Entry.of(1, 1), TermHistory.Entry.of(3, 4), TermHistory.Entry.of(5, 9)),
                    history.effectiveEntries(Lsn.of(10)));
            // An emptied log holds no record of any term, whatever its history still lists.
            assertEquals(List.of(), history.effectiveEntries(Lsn.ZERO));
            assertEquals(List.of(TermHistory.Entry.of(1, 1)), history.effectiveEntries(Lsn.of(3)));
            assertEquals(List.of(TermHistory.Entry.of(1, 1), TermHistory.Entry.of(3, 4), TermHistory.Entry.of(5, 9),
                    TermHistory.Entry.of(6, 12), TermHistory.Entry.of(7, 15)), history.effectiveEntries(Lsn.of(15)));
        }

        @Test
        void termAtGivesTheTermThatWroteEachLsn() {
            TermHistory history = h(1, 1, 2, 4, 3, 4, 5, 9);
            assertEquals(Optional.empty(), history.termAt(Lsn.ZERO));
            assertEquals(Optional.of(Term.of(1)), history.termAt(Lsn.of(1)));
            assertEquals(Optional.of(Term.of(1)), history.termAt(Lsn.of(3)));
            // Term 2 wrote nothing: LSN 4 is term 3's first record.
            assertEquals(Optional.of(Term.of(3)), history.termAt(Lsn.of(4)));
            assertEquals(Optional.of(Term.of(3)), history.termAt(Lsn.of(8)));
            assertEquals(Optional.of(Term.of(5)), history.termAt(Lsn.of(9)));
            assertEquals(Optional.of(Term.of(5)), history.termAt(Lsn.of(1_000_000)));
            assertEquals(Optional.empty(), TermHistory.EMPTY.termAt(Lsn.of(1)));
            assertEquals(Optional.of(Term.of(5)), history.lastTerm());
            assertEquals(Optional.empty(), TermHistory.EMPTY.lastTerm());
        }

        @Test
        void termAtAgreesWithALinearScanOnRandomHistories() {
            Random rnd = new Random(7);
            for (int c = 0; c < 500; c++) {
                List<TermHistory.Entry> entries = new ArrayList<>();
                long term = 0;
                long first = 1;
                int n = 1 + rnd.nextInt(8);
                for (int k = 0; k < n; k++) {
                    term += 1 + rnd.nextInt(3);
                    first += k == 0 ? 0 : rnd.nextInt(4);
                    entries.add(new TermHistory.Entry(Term.of(term), Lsn.of(first)));
                }
                TermHistory history = new TermHistory(entries);
                for (long lsn = 0; lsn <= first + 2; lsn++) {
                    Term expected = null;
                    for (TermHistory.Entry e : entries) {
                        if (lsn >= 1 && e.firstLsn().value() <= lsn) {
                            expected = e.term();
                        }
                    }
                    assertEquals(Optional.ofNullable(expected), history.termAt(Lsn.of(lsn)),
                            "LSN " + lsn + " of " + entries);
                }
            }
        }

        @Test
        void isNotChangedByLaterChangesToTheListItWasBuiltFrom() {
            List<TermHistory.Entry> list = new ArrayList<>(List.of(TermHistory.Entry.of(1, 1)));
            TermHistory history = new TermHistory(list);
            list.add(TermHistory.Entry.of(2, 5));
            assertEquals(1, history.entries().size());
            assertThrows(UnsupportedOperationException.class, () -> history.entries().add(TermHistory.Entry.of(3, 9)));
        }
    }

    @Nested
    class TailRecordRules {

        private final Bytes key = Bytes.utf8("k");
        private final Bytes image = Bytes.utf8("v");

        @Test
        void insertHasNoBeforeImage() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TailRecord(Lsn.of(3),
                    Term.of(1), "tx", T0, Operation.INSERT, key, image, image));
            assertTrue(e.getMessage().contains("INSERT at LSN 3"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> new TailRecord(Lsn.of(3), Term.of(1), "tx", T0, Operation.INSERT, key, null, null));
        }

        @Test
        void updateAndDeleteKeepTheirBeforeImage() {
            IllegalArgumentException u = assertThrows(IllegalArgumentException.class,
                    () -> TailRecord.update(4, 1, "tx", T0, key, null, image));
            assertTrue(u.getMessage().contains("must keep its before-image"), u.getMessage());
            IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
                    () -> TailRecord.delete(5, 1, "tx", T0, key, null));
            assertTrue(d.getMessage().contains("must keep its before-image"), d.getMessage());
            assertThrows(IllegalArgumentException.class, () -> TailRecord.update(4, 1, "tx", T0, key, image, null));
        }

        @Test
        void deleteHasNoAfterImage() {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TailRecord(Lsn.of(5),
                    Term.of(1), "tx", T0, Operation.DELETE, key, image, image));
            assertTrue(e.getMessage().contains("has no after-image"), e.getMessage());
        }

        @Test
        void aRecordIsAtLsn1OrLater() {
            assertThrows(IllegalArgumentException.class, () -> TailRecord.insert(0, 1, "tx", T0, key, image));
        }

        @Test
        void wellFormedRecordsAreAccepted() {
            assertEquals(Operation.INSERT, TailRecord.insert(1, 1, "tx", T0, key, image).operation());
            assertEquals(image, TailRecord.update(2, 1, "tx", T0, key, image, Bytes.EMPTY).before());
            assertNull(TailRecord.delete(3, 1, "tx", T0, key, image).after());
        }

        @Test
        void toStringShowsNoRecordContents() {
            TailRecord r = TailRecord.update(2, 1, "tx", T0, Bytes.utf8("user:alice"),
                    Bytes.utf8("password=hunter2"), Bytes.utf8("password=correct-horse"));
            String s = r.toString();
            assertFalse(s.contains("alice") || s.contains("hunter2") || s.contains("correct-horse"), s);
        }
    }

    @Nested
    class BytesRules {

        @Test
        void equalityIsByContent() {
            assertEquals(Bytes.of(new byte[] {1, 2, 3}), Bytes.of(new byte[] {1, 2, 3}));
            assertEquals(Bytes.of(new byte[] {1, 2, 3}).hashCode(), Bytes.of(new byte[] {1, 2, 3}).hashCode());
            assertNotEquals(Bytes.of(new byte[] {1, 2, 3}), Bytes.of(new byte[] {1, 2, 4}));
            assertNotEquals(Bytes.of(new byte[] {1, 2}), Bytes.of(new byte[] {1, 2, 0}));
            assertEquals(Bytes.utf8("héllo"), Bytes.of("héllo".getBytes(StandardCharsets.UTF_8)));
            assertSame(Bytes.EMPTY, Bytes.of(new byte[0]));
        }

        @Test
        void changingTheArrayPassedInDoesNotChangeTheValue() {
            byte[] in = {1, 2, 3};
            Bytes b = Bytes.of(in);
            in[0] = 9;
            assertArrayEquals(new byte[] {1, 2, 3}, b.toByteArray());
            assertEquals(Bytes.of(new byte[] {1, 2, 3}), b);
        }

        @Test
        void changingTheArrayHandedOutDoesNotChangeTheValue() {
            Bytes b = Bytes.of(new byte[] {1, 2, 3});
            byte[] out = b.toByteArray();
            out[0] = 9;
            assertArrayEquals(new byte[] {1, 2, 3}, b.toByteArray());
            assertEquals("010203", b.toHex());
        }

        @Test
        void encodingsRoundTrip() {
            Bytes b = Bytes.of(new byte[] {0, -1, 127, -128, 42});
            assertEquals(b, Bytes.fromBase64(b.toBase64()));
            assertEquals(Base64.getEncoder().encodeToString(new byte[] {0, -1, 127, -128, 42}), b.toBase64());
            assertEquals("00ff7f802a", b.toHex());
            assertEquals(5, b.length());
        }

        @Test
        void toStringRevealsOnlyTheLength() {
            Bytes b = Bytes.utf8("s3cr3t-value");
            String s = b.toString();
            assertEquals("Bytes[12]", s);
            assertFalse(s.contains("s3cr3t") || s.contains(b.toHex()) || s.contains(b.toBase64()), s);
        }
    }

    // ---- canonical encoding: an independent implementation of the documented format ----------

    /** The encoding as CanonicalEncoding's Javadoc documents it, written from the documentation. */
    static byte[] documentedEncoding(TailRecord r) {
        byte[] tx = r.transactionId().getBytes(StandardCharsets.UTF_8);
        byte[] key = r.key().toByteArray();
        byte[] before = r.before() == null ? null : r.before().toByteArray();
        byte[] after = r.after() == null ? null : r.after().toByteArray();
        int size = 8 + 8 + 4 + tx.length + 8 + 4 + 1 + 4 + key.length
                + (before == null ? 1 : 5 + before.length) + (after == null ? 1 : 5 + after.length);
        ByteBuffer buf = ByteBuffer.allocate(size); // big-endian
        buf.putLong(r.lsn().value());
        buf.putLong(r.term().value());
        buf.putInt(tx.length).put(tx);
        buf.putLong(r.commitTime().getEpochSecond());
        buf.putInt(r.commitTime().getNano());
        buf.put(switch (r.operation()) {
            case INSERT -> (byte) 1;
            case UPDATE -> (byte) 2;
            case DELETE -> (byte) 3;
            case UNCAPTURED -> (byte) 4;
        });
        buf.putInt(key.length).put(key);
        for (byte[] image : new byte[][] {before, after}) {
            if (image == null) {
                buf.put((byte) 0);
            } else {
                buf.put((byte) 1).putInt(image.length).put(image);
            }
        }
        assertEquals(0, buf.remaining());
        return buf.array();
    }

    static String documentedDigest(List<TailRecord> tail) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (TailRecord r : tail) {
            md.update(documentedEncoding(r));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** A small tail with one record of each kind, a multi-byte transaction id and a pre-1970 commit. */
    static List<TailRecord> fixedTail() {
        return List.of(
                TailRecord.insert(101, 7, "tx-1", Instant.parse("2024-05-01T12:00:00Z"), Bytes.utf8("user:1"),
                        Bytes.utf8("{\"name\":\"ada\"}")),
                TailRecord.update(102, 7, "tx-ü€", Instant.ofEpochSecond(1_714_564_800L, 999_999_999),
                        Bytes.utf8("user:1"), Bytes.utf8("{\"name\":\"ada\"}"), Bytes.utf8("{\"name\":\"grace\"}")),
                TailRecord.delete(103, 8, "", Instant.ofEpochSecond(-1, 5), Bytes.EMPTY, Bytes.of(new byte[] {0, -1})));
    }

    /**
     * SHA-256 of {@link #fixedTail()} under the documented format, computed once with
     * {@link #documentedDigest} and cross-checked with a third implementation (Python's struct and
     * hashlib). Node agents compute the same encoding, so it must never change.
     */
    static final String FIXED_TAIL_SHA256 = "ae002c2a4bfa28d952e9da45d3132c692a798d33029b1035b2e24274177f021b";

    @Nested
    class CanonicalEncodingRules {

        @Test
        void theDigestOfAFixedTailIsTheGoldenValue() throws Exception {
            assertEquals(FIXED_TAIL_SHA256, documentedDigest(fixedTail()), "the reference itself drifted");
            TailDigest d = new TailDigest();
            fixedTail().forEach(d::add);
            assertEquals(FIXED_TAIL_SHA256, d.finish());
        }

        @Test
        void encodesEveryRecordExactlyAsDocumented() {
            Random rnd = new Random(20240501);
            for (int c = 0; c < 2_000; c++) {
                TailRecord r = randomRecord(rnd);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                int length = CanonicalEncoding.encode(r, out::write);
                byte[] expected = documentedEncoding(r);
                assertArrayEquals(expected, out.toByteArray(), "record " + c + ": " + r);
                assertEquals(expected.length, length, "returned length of record " + c);
            }
        }

        @Test
        void tailDigestIsTheSha256OfTheConcatenatedEncodings() throws Exception {
            Random rnd = new Random(99);
            for (int c = 0; c < 50; c++) {
                List<TailRecord> tail = new ArrayList<>();
                int n = rnd.nextInt(40);
                long bytes = 0;
                TailDigest d = new TailDigest();
                for (int k = 0; k < n; k++) {
                    TailRecord r = randomRecord(rnd);
                    tail.add(r);
                    d.add(r);
                    bytes += documentedEncoding(r).length;
                }
                assertEquals(n, d.records());
                assertEquals(bytes, d.bytes());
                assertEquals(documentedDigest(tail), d.finish(), "tail " + c);
            }
        }

        @Test
        void recordOrderChangesTheDigest() throws Exception {
            List<TailRecord> tail = new ArrayList<>(fixedTail());
            Collections.swap(tail, 0, 1);
            TailDigest d = new TailDigest();
            tail.forEach(d::add);
            assertNotEquals(FIXED_TAIL_SHA256, d.finish());
        }

        private TailRecord randomRecord(Random rnd) {
            long lsn = rnd.nextBoolean() ? 1 + rnd.nextInt(1000) : 1 + (rnd.nextLong() >>> 2);
            long term = rnd.nextBoolean() ? rnd.nextInt(10) : rnd.nextLong() >>> 1;
            StringBuilder tx = new StringBuilder();
            int txLen = rnd.nextInt(12);
            for (int k = 0; k < txLen; k++) {
                switch (rnd.nextInt(4)) {
                    case 0 -> tx.append((char) ('a' + rnd.nextInt(26)));
                    case 1 -> tx.append('é');
                    case 2 -> tx.append('€');
                    default -> tx.appendCodePoint(0x1F600 + rnd.nextInt(50)); // 4-byte UTF-8
                }
            }
            long second = switch (rnd.nextInt(3)) {
                case 0 -> 1_700_000_000L + rnd.nextInt(100_000_000);
                case 1 -> rnd.nextInt(); // either side of 1970
                default -> -(1L + (rnd.nextLong() >>> 24)); // far before 1970: the sign bit is set
            };
            Instant at = Instant.ofEpochSecond(second, rnd.nextInt(1_000_000_000));
            Bytes key = randomBytes(rnd, rnd.nextInt(5) == 0 ? 0 : 1 + rnd.nextInt(40));
            return switch (rnd.nextInt(4)) {
                case 0 -> TailRecord.insert(lsn, term, tx.toString(), at, key, randomBytes(rnd, rnd.nextInt(300)));
                case 1 -> TailRecord.update(lsn, term, tx.toString(), at, key, randomBytes(rnd, rnd.nextInt(300)),
                        randomBytes(rnd, rnd.nextInt(300)));
                case 2 -> TailRecord.delete(lsn, term, tx.toString(), at, key, randomBytes(rnd, rnd.nextInt(300)));
                // an uncaptured change: each image there or not, as the node knows it
                default -> TailRecord.uncaptured(lsn, term, tx.toString(), at, key,
                        rnd.nextBoolean() ? randomBytes(rnd, rnd.nextInt(300)) : null,
                        rnd.nextBoolean() ? randomBytes(rnd, rnd.nextInt(300)) : null);
            };
        }

        private Bytes randomBytes(Random rnd, int n) {
            byte[] b = new byte[n];
            rnd.nextBytes(b);
            return Bytes.of(b);
        }
    }

    @Nested
    class TailDigestRules {

        @Test
        void countsBytesAndCommitSpanOfWhatPassed() {
            TailDigest d = new TailDigest();
            Bytes key = Bytes.utf8("k");
            // Commit times are not monotonic in LSN order (concurrent transactions commit out of order).
            d.add(TailRecord.insert(11, 2, "a", T0.plusSeconds(5), key, Bytes.utf8("xy")));
            d.add(TailRecord.insert(12, 2, "b", T0, key, Bytes.utf8("xyz")));
            d.add(TailRecord.delete(13, 2, "c", T0.plusSeconds(90), key, Bytes.utf8("xyz")));
            assertEquals(3, d.records());
            // Per record: 8+8+4+1 (tx) +8+4+1+4+1 (key) = 39, then images.
            assertEquals((39 + 1 + 5 + 2) + (39 + 1 + 5 + 3) + (39 + 5 + 3 + 1), d.bytes());
            assertEquals(T0, d.firstCommit());
            assertEquals(T0.plusSeconds(90), d.lastCommit());
            DivergentTail tail = new DivergentTail(Lsn.of(10), Lsn.of(13), "db-0", Term.of(2), d.records(), d.bytes(),
                    d.finish(), d.firstCommit(), d.lastCommit());
            assertEquals(Duration.ofSeconds(90), tail.span());
        }

        @Test
        void anEmptyTailHasTheSha256OfNothingAndNoSpan() throws Exception {
            TailDigest d = new TailDigest();
            assertEquals(0, d.records());
            assertEquals(0, d.bytes());
            assertNull(d.firstCommit());
            assertNull(d.lastCommit());
            String empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
            assertEquals(empty, d.finish());
            assertEquals(empty, TailDigest.emptySha256());
            DivergentTail tail = new DivergentTail(Lsn.of(10), Lsn.of(10), "db-0", Term.of(2), 0, 0, empty, null,
                    null);
            assertEquals(Duration.ZERO, tail.span());
        }

        @Test
        void aDivergentTailRangeIsNeverReversed() {
            assertThrows(IllegalArgumentException.class, () -> new DivergentTail(Lsn.of(10), Lsn.of(9), "db-0",
                    Term.of(2), 0, 0, TailDigest.emptySha256(), null, null));
        }
    }

    @Nested
    class Approval {

        private static final String SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        private static final String OTHER = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

        private IncidentSpec spec(String token) {
            return IncidentSpec.automatic("inc-1", "orders", "db-0").withApprovalToken(token);
        }

        @Test
        void theFullDigestApproves() {
            assertTrue(spec(SHA).approves(SHA));
        }

        @Test
        void aPrefixOfTwelveOrMoreCharactersApproves() {
            assertTrue(spec(SHA.substring(0, 12)).approves(SHA));
            assertTrue(spec(SHA.substring(0, 40)).approves(SHA));
        }

        @Test
        void caseAndSurroundingWhitespaceDoNotMatter() {
            assertTrue(spec(SHA.toUpperCase(Locale.ROOT)).approves(SHA));
            assertTrue(spec(SHA.substring(0, 16).toUpperCase(Locale.ROOT)).approves(SHA));
            assertTrue(spec("  " + SHA.substring(0, 12) + "\n").approves(SHA));
        }

        @Test
        void aShorterPrefixDoesNotApprove() {
            assertFalse(spec(SHA.substring(0, 11)).approves(SHA));
            assertFalse(spec("").approves(SHA));
        }

        @Test
        void anythingButHexDoesNotApprove() {
            // The same length as a valid prefix, but not hex.
            assertFalse(spec("9f86d081884g").approves("9f86d081884g" + SHA.substring(12)));
            assertFalse(spec("sha256:" + SHA).approves(SHA));
            assertFalse(spec(SHA + "0").approves(SHA));
        }

        @Test
        void anotherFilesDigestDoesNotApprove() {
            assertFalse(spec(OTHER).approves(SHA));
            assertFalse(spec(OTHER.substring(0, 12)).approves(SHA));
            // Matching somewhere other than the start is not a prefix.
            assertFalse(spec(SHA.substring(1, 20)).approves(SHA));
        }

        @Test
        void noTokenOrNoFileDoesNotApprove() {
            assertFalse(spec(null).approves(SHA));
            assertFalse(spec(SHA).approves(null));
        }
    }

    @Nested
    class RollbackFileNames {
        @Test
        void aUidAndAPlanMakeTheNameAndParseBack() {
            String uid = "5f0c1d2e-0000-4000-8000-00000000abcd";
            String name = RollbackFileName.of(uid, 3);
            assertEquals("5f0c1d2e-0000-4000-8000-00000000abcd-plan3.rollback.jsonl", name);
            assertEquals(Optional.of(new RollbackFileName.Parsed("5f0c1d2e-0000-4000-8000-00000000abcd", 3)),
                    RollbackFileName.parse(name));
            assertEquals(Optional.of(new RollbackFileName.Parsed("a-plan1", 2)),
                    RollbackFileName.parse(RollbackFileName.of("a-plan1", 2)), "the last -plan<N> is the plan");
            assertEquals(name, RollbackFileName.lastSegment("/var/lib/dbrollback/rollback/" + name));
        }

        @Test
        void nothingButAPlainIdentifierAndAPositivePlanMakesAName() {
            for (String bad : new String[] {null, "", ".", "..", "../x", "a/b", "/etc", "a\u0000b", "-a", "a b",
                    "a.b", "x".repeat(64), "\u00e9t\u00e9", "5F0C1D2E-0000-4000-8000-00000000ABCD", "Abc"}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> RollbackFileName.of(bad, 1), String.valueOf(bad));
                assertFalse(bad != null && !bad.isEmpty() && e.getMessage().contains(bad), "never echoed: " + bad);
                assertFalse(RollbackFileName.isIncidentId(bad),
                        "not an incident id (upper case is refused, not lower-cased): "
                        + bad);
            }
            assertTrue(RollbackFileName.isIncidentId("5f0c1d2e-0000-4000-8000-00000000abcd"));
            assertTrue(RollbackFileName.isIncidentId("x".repeat(63)));
            assertThrows(IllegalArgumentException.class, () -> RollbackFileName.of("abc", 0));
            assertThrows(IllegalArgumentException.class, () -> RollbackFileName.of("abc", -1));
            assertThrows(IllegalArgumentException.class, () -> RollbackFileName.of("abc", 1L + Integer.MAX_VALUE));
            for (String notOurs : new String[] {"x.jsonl", "abc-plan0.rollback.jsonl", "abc-plan1.rollback.jsonl.tmp",
                    ".abc-plan1.rollback.jsonl.1.tmp", "../abc-plan1.rollback.jsonl",
                    "abc-plan1.rollback.jsonl.quarantined-1",
                    "abc-plan99999999999.rollback.jsonl"}) {
                assertEquals(Optional.empty(), RollbackFileName.parse(notOurs), notOurs);
            }
        }
    }
}
