package io.dbrollback.model;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.function.Consumer;
import java.util.function.ObjIntConsumer;

/** An immutable byte string (a key or an image). Copies on the way in and on the way out. */
public final class Bytes {

    public static final Bytes EMPTY = new Bytes(new byte[0]);

    private final byte[] data;

    private Bytes(byte[] data) {
        this.data = data;
    }

    public static Bytes of(byte[] data) {
        return data.length == 0 ? EMPTY : new Bytes(data.clone());
    }

    /**
     * A byte string of {@code length} bytes that {@code fill} writes into a fresh array, which it must
     * not keep: one copy from a source that can copy into an array (a protobuf ByteString), no
     * intermediate array.
     */
    public static Bytes filled(int length, Consumer<byte[]> fill) {
        if (length == 0) {
            return EMPTY;
        }
        byte[] data = new byte[length];
        fill.accept(data);
        return new Bytes(data);
    }

    public static Bytes utf8(String text) {
        return new Bytes(text.getBytes(StandardCharsets.UTF_8));
    }

    public static Bytes fromBase64(String base64) {
        return new Bytes(Base64.getDecoder().decode(base64));
    }

    public int length() {
        return data.length;
    }

    public byte[] toByteArray() {
        return data.clone();
    }

    public String toBase64() {
        return Base64.getEncoder().encodeToString(data);
    }

    public String toHex() {
        return HexFormat.of().formatHex(data);
    }

    /** Copies the bytes into {@code target} at {@code at}. */
    public void copyTo(byte[] target, int at) {
        System.arraycopy(data, 0, target, at, data.length);
    }

    /** Hands the bytes to a sink without copying them; the sink must not keep or change the array. */
    public void writeTo(ObjIntConsumer<byte[]> sink) {
        sink.accept(data, data.length);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Bytes other && Arrays.equals(data, other.data);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(data);
    }

    /** Lengths only: record contents never reach logs or events. */
    @Override
    public String toString() {
        return "Bytes[" + data.length + "]";
    }
}
