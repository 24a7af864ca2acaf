package io.dbrollback.operator.s3;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Where rollback files are copied: an S3-compatible bucket, a key prefix, and how to reach and
 * authenticate to it. Built only through {@link #of}, which checks every field; the credentials
 * never appear in {@link #toString()}.
 *
 * @param endpoint the service URL for a non-AWS store (MinIO, Ceph, ...), null for AWS S3 by region
 * @param region the signing region (for example us-east-1; many S3-compatible stores accept any)
 * @param bucket the bucket, which must exist
 * @param prefix the key prefix, without leading or trailing '/'; empty for none
 * @param forcePathStyle address the bucket in the path (http://host/bucket/key) instead of the host
 *     name (http://bucket.host/key); most S3-compatible stores need it
 */
public record S3Target(URI endpoint, String region, String bucket, String prefix, boolean forcePathStyle,
        S3Credentials credentials) {

    /** S3's bucket naming rules (general purpose buckets), checked in full in {@link #bucketProblems}. */
    static final Pattern BUCKET = Pattern.compile("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$");
    private static final Pattern IPV4 = Pattern.compile("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$");
    static final Pattern REGION = Pattern.compile("^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$");
    /** One prefix segment: letters, digits, '.', '_', '-' (S3's safe characters for keys). */
    private static final Pattern PREFIX = Pattern.compile("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$");
    static final int MAX_PREFIX_CHARS = 512;

    /** Validated by {@link #of}; use that. */
    public S3Target {
        prefix = prefix == null ? "" : prefix;
        List<String> p = problems(endpoint == null ? null : endpoint.toString(), region, bucket, prefix);
        if (credentials == null) {
            p.add("credentials are required");
        }
        if (!p.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", p));
        }
    }

    /**
     * A checked target.
     *
     * @param endpoint null or blank for AWS S3; otherwise an http or https URL with a host and no path
     *     beyond '/', query, fragment or user info
     * @throws IllegalArgumentException naming every problem; the message never holds a credential
     */
    public static S3Target of(String endpoint, String region, String bucket, String prefix, boolean forcePathStyle,
            S3Credentials credentials) {
        String e = endpoint == null || endpoint.isBlank() ? null : endpoint.strip();
        List<String> p = problems(e, region, bucket, prefix);
        if (credentials == null) {
            p.add("credentials are required");
        }
        if (!p.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", p));
        }
        return new S3Target(e == null ? null : URI.create(e), region, bucket, prefix, forcePathStyle, credentials);
    }

    /** Every problem of these values, empty when they are valid (credentials aside). */
    public static List<String> problems(String endpoint, String region, String bucket, String prefix) {
        List<String> p = new ArrayList<>();
        if (endpoint != null) {
            endpointProblems(p, endpoint);
        }
        if (region == null || !REGION.matcher(region).matches()) {
            p.add("region must be lower-case letters, digits and '-' (for example us-east-1)");
        }
        bucketProblems(p, bucket);
        if (prefix != null && !prefix.isEmpty()) {
            if (prefix.length() > MAX_PREFIX_CHARS) {
                p.add("prefix is longer than " + MAX_PREFIX_CHARS + " characters");
            } else if (prefix.startsWith("/")) {
                p.add("prefix must not start with '/'");
            } else if (prefix.endsWith("/")) {
                p.add("prefix must not end with '/' (the key adds it)");
            } else if (!PREFIX.matcher(prefix).matches()) {
                p.add("prefix may hold only letters, digits, '.', '_', '-' and single '/' between segments");
            } else if (("/" + prefix + "/").contains("/../") || ("/" + prefix + "/").contains("/./")) {
                p.add("prefix must not contain a '.' or '..' segment");
            }
        }
        return p;
    }

    private static void endpointProblems(List<String> p, String endpoint) {
        URI u;
        try {
            u = new URI(endpoint);
        } catch (URISyntaxException e) {
            p.add("endpoint is not a URL");
            return;
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            p.add("endpoint must be an http:// or https:// URL");
            return;
        }
        if (u.getRawUserInfo() != null) {
            // Never echo it: it may be a key.
            p.add("endpoint must not hold user info (credentials come from the Secret)");
        }
        if (u.getHost() == null || u.getHost().isEmpty()) {
            p.add("endpoint has no host");
        }
        if (u.getRawPath() != null && !u.getRawPath().isEmpty() && !u.getRawPath().equals("/")) {
            p.add("endpoint must have no path (the bucket and key are added by the client)");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null) {
            p.add("endpoint must have no query or fragment");
        }
    }

    /** S3's rules for general purpose bucket names. */
    static void bucketProblems(List<String> p, String b) {
        if (b == null || !BUCKET.matcher(b).matches()) {
            p.add("bucket must be 3-63 characters of lower-case letters, digits, '.' and '-', starting and "
                    + "ending with a letter or digit");
            return;
        }
        if (b.contains("..") || b.contains(".-") || b.contains("-.")) {
            p.add("bucket must not have '..', '.-' or '-.'");
        }
        if (IPV4.matcher(b).matches()) {
            p.add("bucket must not look like an IP address");
        }
        if (b.startsWith("xn--") || b.startsWith("sthree-") || b.startsWith("amzn-s3-demo-")) {
            p.add("bucket must not start with xn--, sthree- or amzn-s3-demo-");
        }
        if (b.endsWith("-s3alias") || b.endsWith("--ol-s3") || b.endsWith(".mrap") || b.endsWith("--x-s3")
                || b.endsWith("--table-s3")) {
            p.add("bucket must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3");
        }
    }

    /** The s3:// URL of {@code key} in this bucket, for messages. */
    public String url(String key) {
        return "s3://" + bucket + "/" + key;
    }

    @Override
    public String toString() {
        return "S3Target[endpoint=" + (endpoint == null ? "AWS" : endpoint) + ", region=" + region + ", bucket="
                + bucket + ", prefix=" + prefix + ", forcePathStyle=" + forcePathStyle + ", credentials="
                + credentials + "]";
    }
}
