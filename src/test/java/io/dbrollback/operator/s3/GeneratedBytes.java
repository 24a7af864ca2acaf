package io.dbrollback.operator.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.HexFormat;

/** Deterministic pseudo-random bytes of any length, generated as they are read (constant memory). */
final class GeneratedBytes {

    private GeneratedBytes() {
    }

    /** {@code size} bytes from {@code seed}; the same seed and size give the same bytes. */
    static InputStream stream(long seed, long size) {
        return new InputStream() {
            private long state = seed * 0x9E3779B97F4A7C15L + 1;
            private long left = size;

            @Override
            public int read() {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left == 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                for (int i = 0; i < n; i++) {
                    state ^= state << 13;
                    state ^= state >>> 7;
                    state ^= state << 17;
                    b[off + i] = (byte) state;
                }
                left -= n;
                return n;
            }
        };
    }

    /** The SHA-256 (hex) of {@link #stream(long, long)}. */
    static String sha256(long seed, long size) {
        MessageDigest d = S3Store.sha256();
        try (InputStream in = stream(seed, size)) {
            byte[] buf = new byte[64 * 1024];
            for (int r; (r = in.read(buf)) != -1;) {
                d.update(buf, 0, r);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
