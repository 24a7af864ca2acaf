package io.dbrollback.model;

/**
 * UTF-8 of a Java string written straight into a byte array: the same bytes as
 * {@code s.getBytes(StandardCharsets.UTF_8)} (an unpaired surrogate becomes {@code '?'}), without
 * the intermediate array. For the per-record paths of a tail.
 */
public final class Utf8 {

    private Utf8() {
    }

    /** The number of bytes {@link #put} writes for {@code s}. */
    public static int length(String s) {
        int n = s.length();
        int bytes = n;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                if (c < 0x800) {
                    bytes += 1;
                } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    bytes += 2; // two chars, four bytes
                    i++;
                } else if (!Character.isSurrogate(c)) {
                    bytes += 2; // an unpaired surrogate is one byte, '?'
                }
            }
        }
        return bytes;
    }

    /** Writes the UTF-8 of {@code s} at {@code at} (room for {@link #length} bytes); returns the end. */
    public static int put(String s, byte[] b, int at) {
        int p = at;
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                b[p++] = (byte) c;
            } else {
                p = putChar(s, i, b, p);
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                }
            }
        }
        return p;
    }

    /**
     * Writes the non-ASCII char at {@code s[i]} (with the next one, when the two are a surrogate pair);
     * returns the end.
     */
    public static int putChar(String s, int i, byte[] b, int at) {
        char c = s.charAt(i);
        int p = at;
        if (c < 0x800) {
            b[p++] = (byte) (0xc0 | (c >> 6));
            b[p++] = (byte) (0x80 | (c & 0x3f));
        } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
            int cp = Character.toCodePoint(c, s.charAt(i + 1));
            b[p++] = (byte) (0xf0 | (cp >> 18));
            b[p++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
            b[p++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
            b[p++] = (byte) (0x80 | (cp & 0x3f));
        } else if (Character.isSurrogate(c)) {
            b[p++] = '?';
        } else {
            b[p++] = (byte) (0xe0 | (c >> 12));
            b[p++] = (byte) (0x80 | ((c >> 6) & 0x3f));
            b[p++] = (byte) (0x80 | (c & 0x3f));
        }
        return p;
    }
}
