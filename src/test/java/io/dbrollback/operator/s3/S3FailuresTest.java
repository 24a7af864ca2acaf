package io.dbrollback.operator.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.operator.s3.S3Store.Settings;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * How the store's and the network's errors map to reasons and messages; pure (the SDK client is
 * built but never called). The IT sees the same mapping against a real server.
 */
class S3FailuresTest {

    private static final String KEY = "prod/db/r/5f0c-plan1.rollback.jsonl";

    private static S3Store store() {
        return new S3Store(S3Target.of("http://127.0.0.1:9", "us-east-1", "copies", "prod", true,
                new S3Credentials("AKIAEXAMPLE", "secret-example-value", "token-example-value")));
    }

    private static S3Exception s3(int status, String code) {
        return (S3Exception) S3Exception.builder().statusCode(status)
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage("detail").build()).build();
    }

    private static S3StoreException map(Exception e) {
        try (S3Store s = store()) {
            S3StoreException f = s.failure("storing", KEY, e);
            String m = f.getMessage();
            assertFalse(m.contains("secret-example-value") || m.contains("token-example-value")
                    || m.contains("AKIAEXAMPLE"), m);
            return f;
        }
    }

    @Test
    @DisplayName("the store's answers map to typed reasons with the object and the answer named")
    void storeAnswers() {
        S3StoreException b = map(s3(404, "NoSuchBucket"));
        assertEquals(S3FailureReason.ObjectStoreNoSuchBucket, b.reason());
        assertEquals("bucket copies does not exist at http://127.0.0.1:9 (404 NoSuchBucket)", b.getMessage());
        assertEquals(S3FailureReason.ObjectStoreNoSuchObject, map(s3(404, "NoSuchKey")).reason());
        for (String code : new String[] {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
            "ExpiredToken"}) {
            S3StoreException d = map(s3(403, code));
            assertEquals(S3FailureReason.ObjectStoreAccessDenied, d.reason(), code);
            assertTrue(d.getMessage().contains("s3://copies/" + KEY) && d.getMessage().contains("403 " + code),
                    d.getMessage());
        }
        assertEquals(S3FailureReason.ObjectStoreAccessDenied, map(s3(403, null)).reason());
        for (int status : new int[] {500, 502, 503, 504}) {
            S3StoreException u = map(s3(status, status == 503 ? "SlowDown" : "InternalError"));
            assertEquals(S3FailureReason.ObjectStoreUnavailable, u.reason());
            assertTrue(u.reason().transientFailure());
            assertTrue(u.getMessage().contains("after at most 3 attempts"), u.getMessage());
        }
        assertEquals(S3FailureReason.ObjectStoreObjectDiffers, map(s3(412, "PreconditionFailed")).reason());
        assertEquals(S3FailureReason.ObjectStoreSourceMismatch, map(s3(400, "BadDigest")).reason());
        S3StoreException other = map(s3(400, "InvalidArgument"));
        assertEquals(S3FailureReason.ObjectStoreRefused, other.reason());
        assertTrue(other.getMessage().endsWith("the store answered 400 InvalidArgument"), other.getMessage());
    }

    @Test
    @DisplayName("network failures: refused, unknown host, timeouts; all transient")
    void network() {
        S3StoreException refused = map(SdkClientException.create("x", new ConnectException("Connection refused")));
        assertEquals(S3FailureReason.ObjectStoreUnreachable, refused.reason());
        assertTrue(refused.getMessage().startsWith("cannot connect to the object store at http://127.0.0.1:9"),
                refused.getMessage());
        assertEquals(S3FailureReason.ObjectStoreUnreachable,
                map(SdkClientException.create("x", new UnknownHostException("minio"))).reason());
        assertEquals(S3FailureReason.ObjectStoreTimeout,
                map(SdkClientException.create("x", new SocketTimeoutException("Read timed out"))).reason());
        assertEquals(S3FailureReason.ObjectStoreTimeout, map(ApiCallAttemptTimeoutException.create(1000)).reason());
        for (S3FailureReason r : new S3FailureReason[] {S3FailureReason.ObjectStoreUnreachable,
            S3FailureReason.ObjectStoreTimeout, S3FailureReason.ObjectStoreUnavailable}) {
            assertTrue(r.transientFailure(), r.name());
        }
    }

    @Test
    @DisplayName("a source problem raised inside a request body keeps its own reason")
    void sourceProblems() {
        S3StoreException m = map(SdkClientException.create("x", new UncheckedIOException(new S3Store.SourceProblem(
                S3FailureReason.ObjectStoreSourceMismatch, "the source has more than 5 bytes"))));
        assertEquals(S3FailureReason.ObjectStoreSourceMismatch, m.reason());
        assertTrue(m.getMessage().endsWith("failed: the source has more than 5 bytes"), m.getMessage());
    }

    @Test
    @DisplayName("settings are bounded: attempts 1..10, parts 5..512 MiB, positive timeouts")
    void settings() {
        Duration s = Duration.ofSeconds(1);
        assertThrows(IllegalArgumentException.class, () -> new Settings(s, s, s, 0, 5L << 20, 1));
        assertThrows(IllegalArgumentException.class, () -> new Settings(s, s, s, 11, 5L << 20, 1));
        assertThrows(IllegalArgumentException.class, () -> new Settings(s, s, s, 3, (5L << 20) - 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Settings(s, s, s, 3, (512L << 20) + 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Settings(Duration.ZERO, s, s, 3, 5L << 20, 1));
        assertThrows(IllegalArgumentException.class, () -> new Settings(s, s, s, 3, 5L << 20, 0));
        assertEquals(3, Settings.defaults().maxAttempts());
    }

    @Test
    @DisplayName("put and verify refuse bad arguments before any call")
    void arguments() {
        try (S3Store st = store()) {
            String sha = "0".repeat(64);
            assertThrows(IllegalArgumentException.class, () -> st.put("/abs", () -> null, 1, sha));
            assertThrows(IllegalArgumentException.class, () -> st.put("a/../b", () -> null, 1, sha));
            assertThrows(IllegalArgumentException.class, () -> st.put("", () -> null, 1, sha));
            assertThrows(IllegalArgumentException.class, () -> st.put("k", () -> null, -1, sha));
            assertThrows(IllegalArgumentException.class, () -> st.put("k", () -> null, 1, "0".repeat(63)));
            assertThrows(IllegalArgumentException.class, () -> st.put("k", () -> null, 1, "A".repeat(64)));
            assertThrows(IllegalArgumentException.class, () -> st.verify("k", 1, "xyz"));
        }
    }
}
