package io.dbrollback.operator.s3;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Reads object store credentials from a Kubernetes Secret's {@code data} map (values base64, as the
 * API server returns them). Keys: {@code accessKeyId}, {@code secretAccessKey} and the optional
 * {@code sessionToken}; the common environment names {@code AWS_ACCESS_KEY_ID},
 * {@code AWS_SECRET_ACCESS_KEY} and {@code AWS_SESSION_TOKEN} are accepted too. Pure; every error
 * message names the Secret and keys, never a value.
 */
public final class SecretCredentials {

    public static final String ACCESS_KEY_ID = "accessKeyId";
    public static final String SECRET_ACCESS_KEY = "secretAccessKey";
    public static final String SESSION_TOKEN = "sessionToken";
    public static final String ENV_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID";
    public static final String ENV_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY";
    public static final String ENV_SESSION_TOKEN = "AWS_SESSION_TOKEN";

    /** Longest value accepted (an STS session token is about 1-2 KiB). */
    static final int MAX_VALUE_CHARS = 8192;

    private SecretCredentials() {
    }

    /** The Secret cannot give credentials; the message names the Secret and its keys only. */
    public static final class InvalidSecretException extends Exception {

        private static final long serialVersionUID = 1L;

        InvalidSecretException(String message) {
            super(message);
        }
    }

    /**
     * The credentials in {@code data}, a Secret's data map (base64 values).
     *
     * @param secretName the Secret's name, for the messages
     * @throws InvalidSecretException when a key is missing, given twice under both names, not base64,
     *     not UTF-8, empty, too long or holding whitespace or control characters; every problem is listed
     */
    public static S3Credentials fromData(String secretName, Map<String, String> data) throws InvalidSecretException {
        List<String> problems = new ArrayList<>();
        String who = "Secret " + secretName;
        if (data == null || data.isEmpty()) {
            throw new InvalidSecretException(who + " has no data: it needs the keys " + ACCESS_KEY_ID + " and "
                    + SECRET_ACCESS_KEY + " (or " + ENV_ACCESS_KEY_ID + " and " + ENV_SECRET_ACCESS_KEY + ")");
        }
        String id = value(problems, data, ACCESS_KEY_ID, ENV_ACCESS_KEY_ID, true);
        String secret = value(problems, data, SECRET_ACCESS_KEY, ENV_SECRET_ACCESS_KEY, true);
        String token = value(problems, data, SESSION_TOKEN, ENV_SESSION_TOKEN, false);
        if (!problems.isEmpty()) {
            throw new InvalidSecretException(who + ": " + String.join("; ", problems));
        }
        return new S3Credentials(id, secret, token);
    }

    private static String value(List<String> problems, Map<String, String> data, String key, String envKey,
            boolean required) {
        boolean hasKey = data.containsKey(key);
        boolean hasEnv = data.containsKey(envKey);
        if (hasKey && hasEnv) {
            problems.add("both " + key + " and " + envKey + " are set: keep one");
            return null;
        }
        if (!hasKey && !hasEnv) {
            if (required) {
                problems.add("key " + key + " (or " + envKey + ") is missing");
            }
            return null;
        }
        String name = hasKey ? key : envKey;
        String encoded = data.get(name);
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(encoded == null ? "" : encoded.strip());
        } catch (IllegalArgumentException e) {
            problems.add("key " + name + " is not base64 (a Secret's data values are base64)");
            return null;
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            problems.add("key " + name + " is not UTF-8 text");
            return null;
        }
        // A trailing newline is the usual accident of `echo value | base64`; anything else is refused.
        if (text.endsWith("\n")) {
            text = text.substring(0, text.length() - (text.endsWith("\r\n") ? 2 : 1));
        }
        if (text.isEmpty()) {
            problems.add("key " + name + " is empty");
            return null;
        }
        if (text.length() > MAX_VALUE_CHARS) {
            problems.add("key " + name + " is longer than " + MAX_VALUE_CHARS + " characters");
            return null;
        }
        if (text.chars().anyMatch(c -> c <= 0x20 || c == 0x7f)) {
            problems.add("key " + name + " holds whitespace or control characters");
            return null;
        }
        return text;
    }
}
