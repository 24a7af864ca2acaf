package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.CanonicalEncoding;
import io.dbrollback.model.Lsn;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Term;
import io.dbrollback.model.Utf8;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The byte-level record line and canonical encoding give exactly the bytes of the String-based code
 * they replaced (kept here as the reference), for random records: any char (unpaired surrogates,
 * controls, quotes, non-BMP), any commit time from year -9999 to +99999, images of every length.
 */
class RecordLineTest {

    @Test
    void randomRecordsGiveTheBytesOfTheStringBasedLine() {
        Random rnd = new Random(16);
        RecordLine line = new RecordLine();
        CanonicalEncoding.Buffer buffer = new CanonicalEncoding.Buffer(16);
        for (int i = 0; i < 20_000; i++) {
            TailRecord r = random(rnd);
            int n = line.format(r);
            assertArrayEquals(reference(r), Arrays.copyOf(line.bytes(), n), () -> "record " + r);
            buffer.clear();
            if (rnd.nextBoolean()) {
                buffer.append(random(rnd)); // an encoding after another one
            }
            int start = buffer.size();
            int length = buffer.append(r);
            assertArrayEquals(CanonicalEncoding.toBytes(r), Arrays.copyOfRange(buffer.array(), start, start + length));
            assertEquals(CanonicalEncoding.length(r), length);
            byte[] utf8 = r.transactionId().getBytes(StandardCharsets.UTF_8);
            assertEquals(utf8.length, Utf8.length(r.transactionId()));
            byte[] put = new byte[utf8.length];
            assertEquals(utf8.length, Utf8.put(r.transactionId(), put, 0));
            assertArrayEquals(utf8, put);
        }
    }

    private static TailRecord random(Random rnd) {
        Operation op = Operation.values()[rnd.nextInt(Operation.values().length)];
        Bytes key = image(rnd);
        Bytes before = op == Operation.INSERT || (op == Operation.UNCAPTURED && rnd.nextBoolean()) ? null : image(rnd);
        Bytes after = op == Operation.DELETE || (op == Operation.UNCAPTURED && rnd.nextBoolean()) ? null : image(rnd);
        long second = switch (rnd.nextInt(4)) {
            case 0 -> 1_700_000_000L + rnd.nextInt(3);
            case 1 -> -377_705_116_800L + (long) (rnd.nextDouble() * 3_500_000_000_000L); // year -9999 to ~ +99,000
            case 2 -> rnd.nextInt(Integer.MAX_VALUE) - (long) Integer.MAX_VALUE / 2;
            default -> 0;
        };
        int nano = switch (rnd.nextInt(5)) {
            case 0 -> 0;
            case 1 -> rnd.nextInt(1000) * 1_000_000;
            case 2 -> rnd.nextInt(1_000_000) * 1000;
            case 3 -> 999_999_999;
            default -> rnd.nextInt(1_000_000_000);
        };
        long lsn = rnd.nextBoolean() ? 1 + rnd.nextInt(1000) : 1 + (rnd.nextLong() >>> 1);
        long term = rnd.nextBoolean() ? rnd.nextInt(10) : rnd.nextLong() >>> 1;
        return new TailRecord(Lsn.of(lsn), Term.of(term), text(rnd), Instant.ofEpochSecond(second, nano), op, key,
                before, after);
    }

    private static Bytes image(Random rnd) {
        byte[] b = new byte[rnd.nextInt(4) == 0 ? rnd.nextInt(3) : rnd.nextInt(300)];
        rnd.nextBytes(b);
        return Bytes.of(b);
    }

    private static String text(Random rnd) {
        StringBuilder s = new StringBuilder();
        int n = rnd.nextInt(12);
        String special = "\"\\\n\r\t\u0000\u001f\u007f\u0080é\u07ff\u0800漢\uffff\ud83d\ude42\ud800\udc00/<>";
        for (int i = 0; i < n; i++) {
            switch (rnd.nextInt(4)) {
                case 0 -> s.append((char) ('a' + rnd.nextInt(26)));
                case 1 -> s.append(special.charAt(rnd.nextInt(special.length())));
                default -> s.append((char) rnd.nextInt(0x10000));
            }
        }
        return s.toString();
    }

    /** The record line as RollbackFileFormat wrote it before the byte-level line (a StringBuilder). */
    static byte[] reference(TailRecord r) {
        StringBuilder b = new StringBuilder(512);
        b.append("{\"type\":\"record\",\"lsn\":").append(r.lsn().value())
                .append(",\"term\":").append(r.term().value())
                .append(",\"tx\":");
        quote(b, r.transactionId());
        b.append(",\"commitTime\":\"").append(r.commitTime()).append('"')
                .append(",\"op\":\"").append(r.operation().name()).append('"')
                .append(",\"key\":\"").append(r.key().toBase64()).append('"');
        if (r.before() != null) {
            b.append(",\"before\":\"").append(r.before().toBase64()).append('"');
        }
        if (r.after() != null) {
            b.append(",\"after\":\"").append(r.after().toBase64()).append('"');
        }
        b.append("}\n");
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }
}
