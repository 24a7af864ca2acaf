package io.dbrollback.operator.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ObjectStoreSpec;
import io.dbrollback.operator.s3.SecretCredentials.InvalidSecretException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The proposed objectStore spec block converted to an S3Target; pure. */
class ObjectStoreTargetsTest {

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static ObjectStoreSpec spec() {
        ObjectStoreSpec s = new ObjectStoreSpec();
        s.setEndpoint("https://minio.storage:9000");
        s.setBucket("db-rollbacks");
        s.setPrefix("prod");
        s.setCredentialsSecret("rollback-s3");
        return s;
    }

    @Test
    @DisplayName("a valid spec and Secret give the target; the defaults are us-east-1 and path style")
    void converts() throws Exception {
        S3Target t = ObjectStoreTargets.toTarget(spec(), Map.of("accessKeyId", b64("AKIAX"),
                "secretAccessKey", b64("sekret")));
        assertEquals("minio.storage", t.endpoint().getHost());
        assertEquals("us-east-1", t.region());
        assertTrue(t.forcePathStyle());
        assertEquals("prod", t.prefix());
        assertEquals("AKIAX", t.credentials().accessKeyId());
        ObjectStoreSpec aws = spec();
        aws.setEndpoint("");
        aws.setPrefix(null);
        S3Target a = ObjectStoreTargets.toTarget(aws, Map.of("AWS_ACCESS_KEY_ID", b64("AKIAX"),
                "AWS_SECRET_ACCESS_KEY", b64("sekret")));
        assertEquals(null, a.endpoint());
        assertEquals("", a.prefix());
    }

    @Test
    @DisplayName("every problem of the spec is named with its field, before the Secret is read")
    void problems() {
        ObjectStoreSpec s = spec();
        s.setEndpoint("ftp://x");
        s.setBucket("Bad_Bucket");
        s.setPrefix("/abs");
        s.setCredentialsSecret("Not A Name");
        List<String> p = ObjectStoreTargets.problems(s);
        assertEquals(4, p.size(), p.toString());
        assertTrue(p.stream().allMatch(m -> m.startsWith("objectStore.")), p.toString());
        assertThrows(IllegalArgumentException.class, () -> ObjectStoreTargets.toTarget(s, Map.of()));
    }

    @Test
    @DisplayName("a Secret without the keys is refused, naming the Secret and not a value")
    void badSecret() {
        InvalidSecretException e = assertThrows(InvalidSecretException.class,
                () -> ObjectStoreTargets.toTarget(spec(), Map.of("accessKeyId", b64("AKIAX"))));
        assertTrue(e.getMessage().startsWith("Secret rollback-s3"), e.getMessage());
        assertFalse(e.getMessage().contains("AKIAX"), e.getMessage());
    }
}
