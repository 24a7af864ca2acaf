package io.dbrollback.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.dbrollback.model.Bytes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * How the tool shows a record's key and images: as text when they are valid UTF-8 without control
 * characters, else as {@code base64:...}; a PostgreSQL key ({@code {"schema":S,"table":T,"key":{...}}},
 * docs/rollback-file.md) as its table ({@code S.T}) and key columns ({@code col=value,...}).
 */
public final class Display {

    /** Shown for an absent image: a key that does not exist (before an insert, after a delete). */
    public static final String ABSENT = "(absent)";

    private Display() {
    }

    /** The bytes as text, or null when they are not valid UTF-8 or hold control characters. */
    public static String utf8(byte[] b) {
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            for (int i = 0; i < s.length(); i++) {
                if (Character.isISOControl(s.charAt(i))) {
                    return null;
                }
            }
            return s;
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** An image or key as shown: text, {@code base64:...}, or {@link #ABSENT} for null. */
    public static String image(Bytes b) {
        if (b == null) {
            return ABSENT;
        }
        String text = utf8(b.toByteArray());
        return text != null ? text : "base64:" + b.toBase64();
    }

    /** The parsed PostgreSQL key, or null when {@code key} is not one. */
    public static JsonNode pgKey(Bytes key) {
        String text = utf8(key.toByteArray());
        if (text == null || !text.startsWith("{")) {
            return null;
        }
        try {
            JsonNode n = RollbackFileReader.JSON.readTree(text);
            return n.isObject() && (n.has("table") || n.has("uncaptured")) ? n : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** {@code schema.table} of a PostgreSQL key, or "" when it names none. */
    public static String table(JsonNode pgKey) {
        if (pgKey == null || !pgKey.hasNonNull("table")) {
            return "";
        }
        String schema = pgKey.path("schema").asText("");
        return (schema.isEmpty() ? "" : schema + ".") + pgKey.get("table").asText();
    }

    /**
     * The key columns of a PostgreSQL key as {@code col=value,...}; an uncaptured change's key adds
     * {@code uncaptured=CODE}.
     */
    public static String keyColumns(JsonNode pgKey) {
        StringBuilder b = new StringBuilder();
        JsonNode cols = pgKey.path("key");
        for (Iterator<Map.Entry<String, JsonNode>> it = cols.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(e.getKey()).append('=').append(e.getValue().isTextual() ? e.getValue().asText()
                    : e.getValue().toString());
        }
        if (pgKey.has("uncaptured")) {
            if (b.length() > 0) {
                b.append(',');
            }
            b.append("uncaptured=").append(pgKey.path("uncaptured").asText());
        }
        return b.toString();
    }

    /** The key as shown: the key columns of a PostgreSQL key, else the key's text or base64. */
    public static String key(Bytes key) {
        JsonNode pg = pgKey(key);
        return pg != null ? keyColumns(pg) : image(key);
    }
}
