package io.dbrollback.operator;

import io.dbrollback.model.Bytes;
import io.dbrollback.model.Operation;
import io.dbrollback.model.TailRecord;
import io.dbrollback.model.Utf8;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.function.ObjIntConsumer;

/**
 * The bytes of one record line of a rollback file, written into a reused array: numbers, the quoted
 * transaction id (UTF-8, JSON escapes), the commit time as {@link Instant#toString()} writes it, and
 * the images in standard base64, with no String or array per field. The exact bytes the earlier
 * String-based line had (RollbackFileGoldenTest, RecordLineTest).
 */
final class RecordLine {

    private static final byte[] TYPE_LSN = ascii("{\"type\":\"record\",\"lsn\":");
    private static final byte[] TERM = ascii(",\"term\":");
    private static final byte[] TX = ascii(",\"tx\":");
    private static final byte[] COMMIT_TIME = ascii(",\"commitTime\":\"");
    private static final byte[] OP = ascii("\",\"op\":\"");
    private static final byte[] KEY = ascii("\",\"key\":\"");
    private static final byte[] BEFORE = ascii("\",\"before\":\"");
    private static final byte[] AFTER = ascii("\",\"after\":\"");
    private static final byte[] END = ascii("\"}\n");
    private static final byte[][] OPERATIONS = new byte[Operation.values().length][];
    private static final Base64.Encoder BASE64 = Base64.getEncoder();
    private static final byte[] HEX = ascii("0123456789abcdef");

    static {
        for (Operation op : Operation.values()) {
            OPERATIONS[op.ordinal()] = ascii(op.name());
        }
    }

    private byte[] b = new byte[1024];
    /** The last image's base64, before it is copied into the line. */
    private byte[] scratch = new byte[256];
    private int p;
    /** The commit time's second as Instant.toString writes it, without the closing 'Z'; cached. */
    private long second = Long.MIN_VALUE;
    private byte[] secondText;

    /** Formats {@code r}'s line (with its newline); returns its length, the line is {@code bytes()[0, length)}. */
    int format(TailRecord r) {
        String tx = r.transactionId();
        // At most 6 bytes per char of the id (\\u00XX), 4/3 of each image in base64, 64 for the time and the rest.
        long most = 200L + 6L * tx.length() + base64Length(r.key()) + base64Length(r.before())
                + base64Length(r.after());
        if (most > b.length) {
            b = new byte[(int) Math.min(Integer.MAX_VALUE - 8, Math.max(most, 2L * b.length))];
        }
        p = 0;
        put(TYPE_LSN);
        putLong(r.lsn().value());
        put(TERM);
        putLong(r.term().value());
        put(TX);
        quote(tx);
        put(COMMIT_TIME);
        putInstant(r.commitTime());
        put(OP);
        put(OPERATIONS[r.operation().ordinal()]);
        put(KEY);
        base64(r.key());
        if (r.before() != null) {
            put(BEFORE);
            base64(r.before());
        }
        if (r.after() != null) {
            put(AFTER);
            base64(r.after());
        }
        put(END);
        return p;
    }

    byte[] bytes() {
        return b;
    }

    private static long base64Length(Bytes image) {
        return image == null ? 0 : 4L * ((image.length() + 2) / 3);
    }

    private void put(byte[] constant) {
        System.arraycopy(constant, 0, b, p, constant.length);
        p += constant.length;
    }

    private void putLong(long v) {
        if (v < 0) {
            put(ascii(Long.toString(v)));
            return;
        }
        int digits = 1;
        for (long x = v; x >= 10; x /= 10) {
            digits++;
        }
        int end = p + digits;
        long x = v;
        for (int i = end - 1; i >= p; i--) {
            b[i] = (byte) ('0' + (int) (x % 10));
            x /= 10;
        }
        p = end;
    }

    /** A JSON string literal: quotes, backslashes and control characters escaped, the rest UTF-8. */
    private void quote(String s) {
        b[p++] = '"';
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                b[p++] = (byte) c;
                continue;
            }
            switch (c) {
                case '"' -> {
                    b[p++] = '\\';
                    b[p++] = '"';
                }
                case '\\' -> {
                    b[p++] = '\\';
                    b[p++] = '\\';
                }
                case '\n' -> {
                    b[p++] = '\\';
                    b[p++] = 'n';
                }
                case '\r' -> {
                    b[p++] = '\\';
                    b[p++] = 'r';
                }
                case '\t' -> {
                    b[p++] = '\\';
                    b[p++] = 't';
                }
                default -> {
                    if (c < 0x20) {
                        b[p++] = '\\';
                        b[p++] = 'u';
                        b[p++] = '0';
                        b[p++] = '0';
                        b[p++] = HEX[c >> 4];
                        b[p++] = HEX[c & 0xf];
                    } else {
                        p = Utf8.putChar(s, i, b, p);
                        if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                            i++;
                        }
                    }
                }
            }
        }
        b[p++] = '"';
    }

    /**
     * {@link Instant#toString()} (ISO_INSTANT): the second's text, cached while records share a second,
     * then the nanoseconds in groups of three digits as needed, then 'Z'.
     */
    private void putInstant(Instant t) {
        long s = t.getEpochSecond();
        if (s != second || secondText == null) {
            String text = Instant.ofEpochSecond(s).toString();
            secondText = ascii(text.substring(0, text.length() - 1));
            second = s;
        }
        put(secondText);
        int nano = t.getNano();
        if (nano != 0) {
            b[p++] = '.';
            if (nano % 1_000_000 == 0) {
                digits(nano / 1_000_000, 3);
            } else if (nano % 1000 == 0) {
                digits(nano / 1000, 6);
            } else {
                digits(nano, 9);
            }
        }
        b[p++] = 'Z';
    }

    private void digits(int v, int count) {
        for (int i = p + count - 1; i >= p; i--) {
            b[i] = (byte) ('0' + v % 10);
            v /= 10;
        }
        p += count;
    }

    /** Standard base64 with padding, as {@link java.util.Base64#getEncoder()} writes it. */
    private void base64(Bytes image) {
        image.writeTo(base64);
    }

    private final ObjIntConsumer<byte[]> base64 = this::base64;

    /**
     * Standard base64 with padding, through the JDK's encoder (a HotSpot intrinsic where the CPU has the vector
     * instructions: several times the speed of a loop over a table), then copied into the line.
     */
    private void base64(byte[] data, int length) {
        byte[] src = length == data.length ? data : Arrays.copyOf(data, length);
        int n = 4 * ((length + 2) / 3);
        if (scratch.length < n) {
            scratch = new byte[Math.max(n, 2 * scratch.length)];
        }
        int written = BASE64.encode(src, scratch);
        System.arraycopy(scratch, 0, b, p, written);
        p += written;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
