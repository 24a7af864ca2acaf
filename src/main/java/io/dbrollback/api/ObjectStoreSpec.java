package io.dbrollback.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;

/**
 * {@code spec.copy.objectStore}: an S3-compatible object store that receives a copy of the verified
 * rollback file before anything is removed. The operator's S3Target is made from it by
 * io.dbrollback.operator.s3.ObjectStoreTargets.
 */
public class ObjectStoreSpec {

    @Size(max = 2048)
    @Pattern("^https?://[^/?#@]+/?$")
    @JsonPropertyDescription("URL of an S3-compatible service (MinIO, Ceph RGW, ...), http:// or https:// with a "
            + "host and an optional port and no path; unset for AWS S3, reached by region.")
    private String endpoint;

    @Default("us-east-1")
    @Size(min = 1, max = 50)
    @Pattern("^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$")
    @JsonPropertyDescription("Signing region (for example us-east-1 or eu-west-1); S3-compatible stores often "
            + "accept any.")
    private String region = "us-east-1";

    @Required
    @Size(min = 3, max = 63)
    @Pattern("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    @JsonPropertyDescription("Bucket that receives the copies; it must exist. S3's bucket naming rules apply.")
    private String bucket;

    @Size(max = 512)
    @Pattern("^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$")
    @JsonPropertyDescription("Key prefix, without a leading or trailing '/' and without '.' or '..' segments. "
            + "A copy's key is <prefix>/<namespace>/<rollback name>/<incident>-plan<N>.rollback.jsonl.")
    private String prefix = "";

    @Default("true")
    @JsonPropertyDescription("Address the bucket in the URL's path (host/bucket/key) rather than in the host name "
            + "(bucket.host/key); most S3-compatible stores need true.")
    private boolean forcePathStyle = true;

    @Required
    @Size(min = 1, max = 253)
    @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    @JsonPropertyDescription("Secret (in this namespace) with the keys accessKeyId and secretAccessKey, and "
            + "sessionToken for temporary credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
            + "AWS_SESSION_TOKEN are accepted too).")
    private String credentialsSecret;

    public String getEndpoint() {
        return endpoint;
    }

    public void setEndpoint(String endpoint) {
        this.endpoint = endpoint;
    }

    public String getRegion() {
        return region;
    }

    public void setRegion(String region) {
        this.region = region;
    }

    public String getBucket() {
        return bucket;
    }

    public void setBucket(String bucket) {
        this.bucket = bucket;
    }

    public String getPrefix() {
        return prefix;
    }

    public void setPrefix(String prefix) {
        this.prefix = prefix;
    }

    public boolean isForcePathStyle() {
        return forcePathStyle;
    }

    public void setForcePathStyle(boolean forcePathStyle) {
        this.forcePathStyle = forcePathStyle;
    }

    public String getCredentialsSecret() {
        return credentialsSecret;
    }

    public void setCredentialsSecret(String credentialsSecret) {
        this.credentialsSecret = credentialsSecret;
    }
}
