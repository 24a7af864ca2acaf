package io.dbrollback.operator.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The object store target's checks and the object key rule; pure. */
class S3TargetTest {

    private static final S3Credentials KEYS = new S3Credentials("AKIAEXAMPLE", "secret-example-value", null);

    private static String problem(String endpoint, String region, String bucket, String prefix) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Target.of(endpoint, region, bucket, prefix, true, KEYS));
        return e.getMessage();
    }

    @Test
    @DisplayName("a MinIO-style target and an AWS one (no endpoint) are accepted")
    void validTargets() {
        S3Target t = S3Target.of("https://minio.storage.svc:9000", "us-east-1", "db-rollbacks", "prod/eu", true, KEYS);
        assertEquals("minio.storage.svc", t.endpoint().getHost());
        assertEquals("s3://db-rollbacks/prod/eu/x", t.url("prod/eu/x"));
        S3Target aws = S3Target.of(null, "eu-west-1", "my.bucket.example", "", false, KEYS);
        assertNull(aws.endpoint());
        assertEquals("", aws.prefix());
        assertEquals("", S3Target.of(" ", "eu-west-1", "abc", null, false, KEYS).prefix());
        S3Target.of("http://127.0.0.1:9000/", "auto", "abc", null, true, KEYS);
    }

    @Test
    @DisplayName("bucket names follow S3's rules, each refusal saying which")
    void bucketRules() {
        for (String bad : new String[] {"ab", "a".repeat(64), "Upper", "under_score", "-start", "end-", "a..b",
            "a.-b", "a-.b", "192.168.1.1", "xn--bucket", "sthree-x", "amzn-s3-demo-x", "x-s3alias", "x--ol-s3",
            "x.mrap", "x--x-s3", "x--table-s3", "with space"}) {
            assertTrue(problem(null, "us-east-1", bad, "").startsWith("bucket"), bad);
        }
        assertTrue(problem(null, "us-east-1", null, "").startsWith("bucket"));
        for (String good : new String[] {"abc", "a".repeat(63), "a.b-c.d", "1bucket9", "192.168.1.1a"}) {
            S3Target.of(null, "us-east-1", good, "", false, KEYS);
        }
    }

    @Test
    @DisplayName("the prefix: no leading or trailing '/', no '.' or '..' segment, no '//', safe characters only")
    void prefixRules() {
        assertEquals("prefix must not start with '/'", problem(null, "us-east-1", "abc", "/x"));
        assertTrue(problem(null, "us-east-1", "abc", "x/").contains("must not end with '/'"));
        assertTrue(problem(null, "us-east-1", "abc", "a/../b").contains("'..'"));
        assertTrue(problem(null, "us-east-1", "abc", "..").contains("'..'"));
        assertTrue(problem(null, "us-east-1", "abc", "a/./b").contains("'..'"));
        assertTrue(problem(null, "us-east-1", "abc", "a//b").contains("single '/'"));
        assertTrue(problem(null, "us-east-1", "abc", "a b").contains("letters, digits"));
        assertTrue(problem(null, "us-east-1", "abc", "a\nb").contains("letters, digits"));
        assertTrue(problem(null, "us-east-1", "abc", "x".repeat(513)).contains("longer"));
        S3Target.of(null, "us-east-1", "abc", "a..b/c.d/_-", false, KEYS);
    }

    @Test
    @DisplayName("the endpoint: http or https, a host, no path, query, fragment or user info (never echoed)")
    void endpointRules() {
        assertTrue(problem("ftp://host", "us-east-1", "abc", "").contains("http:// or https://"));
        assertTrue(problem("file:///etc/passwd", "us-east-1", "abc", "").contains("http:// or https://"));
        assertTrue(problem("minio:9000", "us-east-1", "abc", "").contains("http:// or https://"));
        assertTrue(problem("http://", "us-east-1", "abc", "").contains("not a URL"));
        assertTrue(problem("https://host/bucket", "us-east-1", "abc", "").contains("no path"));
        assertTrue(problem("https://host?x=1", "us-east-1", "abc", "").contains("no query"));
        assertTrue(problem("https://host#f", "us-east-1", "abc", "").contains("no query"));
        String withUser = problem("https://AKIAEXAMPLE:topsecret@host", "us-east-1", "abc", "");
        assertTrue(withUser.contains("user info"), withUser);
        assertFalse(withUser.contains("topsecret") || withUser.contains("AKIAEXAMPLE"), withUser);
        assertTrue(problem("https://ho st", "us-east-1", "abc", "").contains("not a URL"));
    }

    @Test
    @DisplayName("region, credentials, and every problem reported at once")
    void regionCredentialsAndAllProblems() {
        assertTrue(problem(null, "US-EAST-1", "abc", "").startsWith("region"));
        assertTrue(problem(null, "", "abc", "").startsWith("region"));
        assertTrue(problem(null, null, "abc", "").startsWith("region"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> S3Target.of(null, "us-east-1", "abc", "", false, null));
        assertEquals("credentials are required", e.getMessage());
        List<String> all = S3Target.problems("ftp://x", "", "A", "/p");
        assertEquals(4, all.size(), all.toString());
    }

    @Test
    @DisplayName("neither the target nor the credentials print a key")
    void noSecretsInToString() {
        S3Credentials c = new S3Credentials("AKIAEXAMPLE", "secret-example-value", "session-token-value");
        S3Target t = S3Target.of("https://s3.example", "us-east-1", "abc", "", true, c);
        for (String s : List.of(c.toString(), t.toString())) {
            assertFalse(s.contains("AKIAEXAMPLE") || s.contains("secret-example-value")
                    || s.contains("session-token-value"), s);
        }
        assertTrue(c.toString().contains("session token"));
        assertThrows(IllegalArgumentException.class, () -> new S3Credentials("", "s", null));
        assertThrows(IllegalArgumentException.class, () -> new S3Credentials("a", " ", null));
        assertThrows(IllegalArgumentException.class, () -> new S3Credentials("a", "s", ""));
    }

    @Test
    @DisplayName("the object key: <prefix>/<namespace>/<rollback>/<incident>-plan<N>.rollback.jsonl")
    void objectKey() {
        String incident = "5f0c1a2b-0000-4000-8000-123456789abc";
        assertEquals("prod/db/orders-0-rollback/" + incident + "-plan2.rollback.jsonl",
                S3ObjectKey.of("prod", "db", "orders-0-rollback", incident, 2));
        assertEquals("db/r.1/" + incident + "-plan1.rollback.jsonl", S3ObjectKey.of("", "db", "r.1", incident, 1));
        assertEquals("db/r/" + incident + "-plan1.rollback.jsonl",
                S3ObjectKey.of((String) null, "db", "r", incident, 1));
        S3Target t = S3Target.of(null, "us-east-1", "abc", "a/b", false, KEYS);
        assertEquals("a/b/ns/r/" + incident + "-plan3.rollback.jsonl", S3ObjectKey.of(t, "ns", "r", incident, 3));
    }

    @Test
    @DisplayName("the object key refuses every part that could escape its place")
    void objectKeyRefusals() {
        String incident = "5f0c1a2b-0000-4000-8000-123456789abc";
        for (String ns : new String[] {"", "..", "a/b", "A", "a.b", "x".repeat(64), null}) {
            assertThrows(IllegalArgumentException.class, () -> S3ObjectKey.of("p", ns, "r", incident, 1), ns);
        }
        for (String name : new String[] {"", "..", "a/b", "R", "-r", "x".repeat(254), null}) {
            assertThrows(IllegalArgumentException.class, () -> S3ObjectKey.of("p", "ns", name, incident, 1), name);
        }
        for (String inc : new String[] {"", "../x", "A", "a/b", null}) {
            assertThrows(IllegalArgumentException.class, () -> S3ObjectKey.of("p", "ns", "r", inc, 1), inc);
        }
        assertThrows(IllegalArgumentException.class, () -> S3ObjectKey.of("p", "ns", "r", incident, 0));
        assertThrows(IllegalArgumentException.class, () -> S3ObjectKey.of("/p", "ns", "r", incident, 1));
        assertThrows(IllegalArgumentException.class, () -> S3ObjectKey.of("p/../q", "ns", "r", incident, 1));
    }
}
