package io.dbrollback.operator.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.operator.s3.SecretCredentials.InvalidSecretException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Credentials from a Secret's data map; pure. No message may hold a value. */
class SecretCredentialsTest {

    private static final String ID = "AKIAIOSFODNN7EXAMPLE";
    private static final String SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String refusal(Map<String, String> data) {
        InvalidSecretException e = assertThrows(InvalidSecretException.class,
                () -> SecretCredentials.fromData("s3-keys", data));
        String m = e.getMessage();
        assertTrue(m.startsWith("Secret s3-keys"), m);
        for (String v : data.values()) {
            if (v != null && v.length() > 3) {
                assertFalse(m.contains(v), "the message echoes a value: " + m);
            }
        }
        assertFalse(m.contains(ID) || m.contains(SECRET), m);
        return m;
    }

    @Test
    @DisplayName("accessKeyId and secretAccessKey, with or without sessionToken")
    void ownKeys() throws Exception {
        S3Credentials c = SecretCredentials.fromData("s3-keys", Map.of("accessKeyId", b64(ID),
                "secretAccessKey", b64(SECRET)));
        assertEquals(ID, c.accessKeyId());
        assertEquals(SECRET, c.secretAccessKey());
        assertNull(c.sessionToken());
        S3Credentials t = SecretCredentials.fromData("s3-keys", Map.of("accessKeyId", b64(ID),
                "secretAccessKey", b64(SECRET), "sessionToken", b64("FwoGZXIvYXdzEXAMPLE+/="), "other", b64("x")));
        assertEquals("FwoGZXIvYXdzEXAMPLE+/=", t.sessionToken());
    }

    @Test
    @DisplayName("the AWS_* environment names are accepted, and a trailing newline is dropped")
    void environmentNames() throws Exception {
        S3Credentials c = SecretCredentials.fromData("s3-keys", Map.of("AWS_ACCESS_KEY_ID", b64(ID + "\n"),
                "AWS_SECRET_ACCESS_KEY", b64(SECRET + "\r\n"), "AWS_SESSION_TOKEN", b64("tok")));
        assertEquals(ID, c.accessKeyId());
        assertEquals(SECRET, c.secretAccessKey());
        assertEquals("tok", c.sessionToken());
    }

    @Test
    @DisplayName("missing keys are named, all at once")
    void missing() {
        assertTrue(refusal(Map.of()).contains("has no data"));
        String m = refusal(Map.of("sessionToken", b64("tok")));
        assertTrue(m.contains("accessKeyId (or AWS_ACCESS_KEY_ID) is missing")
                && m.contains("secretAccessKey (or AWS_SECRET_ACCESS_KEY) is missing"), m);
        assertTrue(refusal(Map.of("accessKeyId", b64(ID))).contains("secretAccessKey"));
    }

    @Test
    @DisplayName("bad values are refused by key name without echoing them")
    void badValues() {
        Map<String, String> d = new HashMap<>(Map.of("secretAccessKey", b64(SECRET)));
        d.put("accessKeyId", "not base64 " + ID);
        assertTrue(refusal(d).contains("accessKeyId is not base64"));
        d.put("accessKeyId", Base64.getEncoder().encodeToString(new byte[] {(byte) 0xff, (byte) 0xfe}));
        assertTrue(refusal(d).contains("not UTF-8"));
        d.put("accessKeyId", "");
        assertTrue(refusal(d).contains("accessKeyId is empty"));
        d.put("accessKeyId", b64("AKIA EXAMPLE"));
        assertTrue(refusal(d).contains("whitespace or control"));
        d.put("accessKeyId", b64("AKIA\u0000X"));
        assertTrue(refusal(d).contains("whitespace or control"));
        d.put("accessKeyId", b64("A".repeat(8193)));
        assertTrue(refusal(d).contains("longer than 8192"));
        d.put("accessKeyId", null);
        assertTrue(refusal(d).contains("accessKeyId is empty"));
    }

    @Test
    @DisplayName("a key given under both names is refused: which one wins would be a guess")
    void bothNames() {
        String m = refusal(Map.of("accessKeyId", b64(ID), "AWS_ACCESS_KEY_ID", b64("AKIAOTHER"),
                "secretAccessKey", b64(SECRET)));
        assertTrue(m.contains("both accessKeyId and AWS_ACCESS_KEY_ID"), m);
    }
}
