package io.dbrollback.operator.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * Copies rollback files to an S3-compatible object store and reads them back: the optional
 * off-node copy of docs/rollback-file.md. One instance per {@link S3Target}; thread-safe (the SDK
 * client is), {@link #close()} when done.
 *
 * <p>What it guarantees: {@link #put} streams the source (memory bounded by the part size, not the
 * file), sends the SHA-256 as the object's checksum where a single request carries the object, keeps
 * the hex digest in user metadata {@value #SHA256_METADATA}, and never replaces an object: a key
 * that already holds the same size and digest is accepted as stored, any other content is an error.
 * The source's bytes are hashed as they are sent and must have the size and digest the caller gave;
 * if not, the request is failed before its last byte leaves, so no wrong object is kept under the
 * key. {@link #verify} reads the object back and hashes it itself. Every failure is an
 * {@link S3StoreException} with a typed {@link S3FailureReason}; retries are the SDK's standard
 * strategy with a fixed number of attempts, and every call has explicit timeouts.
 */
public final class S3Store implements AutoCloseable {

    /** The user metadata key (x-amz-meta-dbrollback-sha256) holding the object's SHA-256, lower-case hex. */
    public static final String SHA256_METADATA = "dbrollback-sha256";
    /** The content type of rollback files (JSON lines). */
    public static final String CONTENT_TYPE = "application/x-ndjson";
    /** S3's smallest part but the last, and its most parts per upload. */
    public static final long MIN_PART_SIZE = 5L << 20;
    static final int MAX_PARTS = 10_000;
    /** S3's largest object. */
    public static final long MAX_OBJECT_SIZE = 5L << 40;
    private static final Pattern SHA256_HEX = Pattern.compile("^[0-9a-f]{64}$");
    private static final int BUFFER = 64 * 1024;

    /**
     * Timeouts, retries and the part size.
     *
     * @param connectTimeout to open a connection
     * @param readTimeout longest wait for the next bytes of an answer
     * @param requestTimeout longest attempt of a request without a body (HEAD, create, complete, abort)
     * @param maxAttempts attempts per request, the first included (the SDK's standard retry strategy:
     *     exponential backoff with jitter, only for errors it deems retryable: 5xx, throttling, I/O)
     * @param partSize objects up to this size go in one PUT; larger ones as a multipart upload of parts
     *     of this size (more when the object would need more than 10,000 parts). The JDK HTTP client
     *     the SDK uses here holds one request body in memory while sending it: this bounds the memory
     * @param minBytesPerSecond the slowest upload accepted: an attempt that sends a body may take
     *     requestTimeout plus its length at this rate
     */
    public record Settings(Duration connectTimeout, Duration readTimeout, Duration requestTimeout, int maxAttempts,
            long partSize, long minBytesPerSecond) {

        /** Checked. */
        public Settings {
            if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()
                    || readTimeout == null || readTimeout.isNegative() || readTimeout.isZero()
                    || requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive");
            }
            if (maxAttempts < 1 || maxAttempts > 10) {
                throw new IllegalArgumentException("maxAttempts must be 1..10");
            }
            if (partSize < MIN_PART_SIZE || partSize > (512L << 20)) {
                throw new IllegalArgumentException("partSize must be 5 MiB..512 MiB");
            }
            if (minBytesPerSecond < 1) {
                throw new IllegalArgumentException("minBytesPerSecond must be positive");
            }
        }

        /** 10 s to connect, 60 s per answer and per request, 3 attempts, 8 MiB parts, at least 256 KiB/s. */
        public static Settings defaults() {
            return new Settings(Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(60), 3, 8L << 20,
                    256 * 1024);
        }
    }

    /**
     * The bytes to copy, readable from the start again: every attempt of a request opens it afresh
     * when the stream in use is not at the right offset (a retry), so a retried part is re-read, not
     * held in memory.
     */
    @FunctionalInterface
    public interface Source {

        /** A new stream over the bytes from the first one; the store closes it. */
        InputStream open() throws IOException;
    }

    /**
     * The result of a put.
     *
     * @param alreadyStored the key already held these bytes (an earlier put); nothing was sent
     */
    public record Stored(String key, long size, String sha256, boolean alreadyStored) {
    }

    /** An object's size and the digest in its metadata (null when it has none). */
    public record ObjectInfo(long size, String sha256Metadata) {
    }

    private final S3Target target;
    private final Settings settings;
    private final SdkHttpClient http;
    private final S3Client client;

    public S3Store(S3Target target) {
        this(target, Settings.defaults());
    }

    public S3Store(S3Target target, Settings settings) {
        this.target = target;
        this.settings = settings;
        this.http = UrlConnectionHttpClient.builder()
                .connectionTimeout(settings.connectTimeout())
                .socketTimeout(settings.readTimeout())
                .build();
        S3Credentials c = target.credentials();
        AwsCredentials credentials = c.sessionToken() == null
                ? AwsBasicCredentials.create(c.accessKeyId(), c.secretAccessKey())
                : AwsSessionCredentials.create(c.accessKeyId(), c.secretAccessKey(), c.sessionToken());
        S3ClientBuilder b = S3Client.builder()
                .httpClient(http)
                .region(Region.of(target.region()))
                .forcePathStyle(target.forcePathStyle())
                .credentialsProvider(StaticCredentialsProvider.create(credentials))
                // Only the checksums this class sets itself (SHA-256): no CRC trailers that some
                // S3-compatible stores refuse; the read back is hashed here anyway.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                        .maxAttempts(settings.maxAttempts()).build()));
        if (target.endpoint() != null) {
            b.endpointOverride(target.endpoint());
        }
        this.client = b.build();
    }

    public S3Target target() {
        return target;
    }

    /**
     * The key of a rollback file's copy in this store ({@link S3ObjectKey}).
     *
     * @throws IllegalArgumentException when a part is not valid
     */
    public String keyFor(String namespace, String rollbackName, String incidentId, long planNumber) {
        return S3ObjectKey.of(target, namespace, rollbackName, incidentId, planNumber);
    }

    /**
     * Stores {@code size} bytes from a one-shot stream under {@code key}. Like {@link #put(String,
     * Source, long, String)}, but a request that must be retried after bytes were read from the
     * stream fails with {@link S3FailureReason#ObjectStoreSourceFailed} (the stream cannot be re-read);
     * pass a {@link Source} to let retries re-read it.
     */
    public Stored put(String key, InputStream source, long size, String sha256Hex) throws S3StoreException {
        boolean[] opened = {false};
        return put(key, () -> {
            if (opened[0]) {
                throw new SourceProblem(S3FailureReason.ObjectStoreSourceFailed,
                        "a retry needs the bytes again and the source stream cannot be re-read");
            }
            opened[0] = true;
            return source;
        }, size, sha256Hex);
    }

    /**
     * Stores {@code size} bytes whose SHA-256 is {@code sha256Hex} under {@code key}, never replacing
     * an object: when the key exists with this size and digest (its metadata), the call succeeds with
     * {@link Stored#alreadyStored()} and sends nothing; with other content it fails with
     * {@link S3FailureReason#ObjectStoreObjectDiffers}. The write itself is conditional too
     * (If-None-Match: *) where the store supports it, against a concurrent writer.
     *
     * @throws S3StoreException with the reason; {@link S3FailureReason#ObjectStoreSourceMismatch} when the
     *     source's bytes do not have this size and digest (nothing is kept under the key then)
     */
    public Stored put(String key, Source source, long size, String sha256Hex) throws S3StoreException {
        checkKey(key);
        if (size < 0 || size > MAX_OBJECT_SIZE) {
            throw new IllegalArgumentException("size must be 0..5 TiB");
        }
        String sha = checkSha(sha256Hex);
        Optional<ObjectInfo> existing = head(key);
        if (existing.isPresent()) {
            return existingOrDiffers(key, existing.get(), size, sha);
        }
        Cursor cursor = new Cursor(source, size, sha);
        try {
            if (size <= settings.partSize()) {
                putSingle(key, cursor, size, sha);
            } else {
                putMultipart(key, cursor, size, sha);
            }
        } catch (S3StoreException e) {
            if (e.reason() == S3FailureReason.ObjectStoreObjectDiffers && e.getCause() instanceof S3Exception s
                    && s.statusCode() == 412) {
                // A concurrent writer stored the key between the HEAD and the conditional write.
                Optional<ObjectInfo> now = head(key);
                if (now.isPresent()) {
                    return existingOrDiffers(key, now.get(), size, sha);
                }
            }
            throw e;
        } finally {
            cursor.close();
        }
        return new Stored(key, size, sha, false);
    }

    private Stored existingOrDiffers(String key, ObjectInfo o, long size, String sha) throws S3StoreException {
        if (o.size() == size && sha.equals(o.sha256Metadata())) {
            return new Stored(key, size, sha, true);
        }
        String holds = o.sha256Metadata() == null
                ? "an object of " + o.size() + " bytes without " + SHA256_METADATA + " metadata"
                : "an object of " + o.size() + " bytes with sha256 " + o.sha256Metadata();
        throw new S3StoreException(S3FailureReason.ObjectStoreObjectDiffers, target.url(key) + " already holds "
                + holds + ", not this file (" + size + " bytes, sha256 " + sha + "); it is never overwritten");
    }

    private void putSingle(String key, Cursor cursor, long size, String sha) throws S3StoreException {
        try {
            client.putObject(r -> r.bucket(target.bucket()).key(key).contentLength(size).contentType(CONTENT_TYPE)
                    .metadata(Map.of(SHA256_METADATA, sha))
                    .checksumSHA256(Base64.getEncoder().encodeToString(HexFormat.of().parseHex(sha)))
                    .ifNoneMatch("*")
                    .overrideConfiguration(timeout(size)),
                    RequestBody.fromContentProvider(() -> cursor.part(0, size, true), size, CONTENT_TYPE));
        } catch (RuntimeException e) {
            throw failure("storing", key, e);
        }
    }

    private void putMultipart(String key, Cursor cursor, long size, String sha) throws S3StoreException {
        long partSize = Math.max(settings.partSize(), (size + MAX_PARTS - 1) / MAX_PARTS);
        int count = (int) ((size + partSize - 1) / partSize);
        String uploadId;
        try {
            uploadId = client.createMultipartUpload(r -> r.bucket(target.bucket()).key(key).contentType(CONTENT_TYPE)
                    .metadata(Map.of(SHA256_METADATA, sha)).overrideConfiguration(timeout(0))).uploadId();
        } catch (RuntimeException e) {
            throw failure("starting the upload of", key, e);
        }
        try {
            List<CompletedPart> parts = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                long offset = i * partSize;
                long length = Math.min(partSize, size - offset);
                boolean last = i == count - 1;
                UploadPartRequest request = UploadPartRequest.builder().bucket(target.bucket()).key(key)
                        .uploadId(uploadId).partNumber(i + 1).contentLength(length)
                        .overrideConfiguration(timeout(length)).build();
                UploadPartResponse answer;
                try {
                    answer = client.uploadPart(request, RequestBody.fromContentProvider(
                            () -> cursor.part(offset, length, last), length, CONTENT_TYPE));
                } catch (RuntimeException e) {
                    throw failure("storing part " + (i + 1) + " of " + count + " of", key, e);
                }
                cursor.partStored();
                parts.add(CompletedPart.builder().partNumber(i + 1).eTag(answer.eTag()).build());
            }
            try {
                client.completeMultipartUpload(r -> r.bucket(target.bucket()).key(key).uploadId(uploadId)
                        .multipartUpload(m -> m.parts(parts)).ifNoneMatch("*").overrideConfiguration(timeout(0)));
            } catch (RuntimeException e) {
                throw failure("completing the upload of", key, e);
            }
        } catch (S3StoreException e) {
            abort(key, uploadId);
            throw e;
        }
    }

    /** Best effort: the store drops the parts (a lifecycle rule for incomplete uploads catches the rest). */
    private void abort(String key, String uploadId) {
        try {
            client.abortMultipartUpload(r -> r.bucket(target.bucket()).key(key).uploadId(uploadId)
                    .overrideConfiguration(timeout(0)));
        } catch (RuntimeException ignored) {
            // The upload failed already; its own failure is the one reported.
        }
    }

    /**
     * Reads the object back and hashes it here: it must have {@code size} bytes and SHA-256
     * {@code sha256Hex}, and its {@value #SHA256_METADATA} metadata must name that digest.
     *
     * @throws S3StoreException {@link S3FailureReason#ObjectStoreDigestMismatch} naming both digests and
     *     sizes; or why it could not be read
     */
    public ObjectInfo verify(String key, long size, String sha256Hex) throws S3StoreException {
        checkKey(key);
        String sha = checkSha(sha256Hex);
        MessageDigest d = sha256();
        long n = 0;
        String meta;
        try (ResponseInputStream<GetObjectResponse> in = open(key)) {
            meta = in.response().metadata().get(SHA256_METADATA);
            byte[] buf = new byte[BUFFER];
            for (int r; (r = in.read(buf)) != -1;) {
                d.update(buf, 0, r);
                n += r;
            }
        } catch (IOException e) {
            throw failure("reading back", key, e);
        } catch (RuntimeException e) {
            throw failure("reading back", key, e);
        }
        String got = HexFormat.of().formatHex(d.digest());
        if (n != size || !got.equals(sha)) {
            throw new S3StoreException(S3FailureReason.ObjectStoreDigestMismatch, target.url(key) + " read back has "
                    + n + " bytes with sha256 " + got + "; expected " + size + " bytes with sha256 " + sha);
        }
        if (!sha.equals(meta)) {
            throw new S3StoreException(S3FailureReason.ObjectStoreDigestMismatch, target.url(key)
                    + " has the expected bytes but its " + SHA256_METADATA + " metadata says "
                    + (meta == null ? "nothing" : meta) + ", not " + sha);
        }
        return new ObjectInfo(n, meta);
    }

    /**
     * The object's bytes, streamed, for tools; the caller closes the stream. Errors while reading are
     * IOExceptions.
     */
    public InputStream get(String key) throws S3StoreException {
        checkKey(key);
        try {
            return open(key);
        } catch (RuntimeException e) {
            throw failure("reading", key, e);
        }
    }

    /** The object's size and digest metadata; empty when the key holds nothing. */
    public Optional<ObjectInfo> head(String key) throws S3StoreException {
        checkKey(key);
        try {
            HeadObjectResponse h = client.headObject(r -> r.bucket(target.bucket()).key(key)
                    .overrideConfiguration(timeout(0)));
            return Optional.of(new ObjectInfo(h.contentLength(), h.metadata().get(SHA256_METADATA)));
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            // A HEAD answer has no body: a 404 is a missing key or a missing bucket; the write that
            // follows tells the bucket apart.
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw failure("looking up", key, e);
        } catch (RuntimeException e) {
            throw failure("looking up", key, e);
        }
    }

    private ResponseInputStream<GetObjectResponse> open(String key) {
        return client.getObject(r -> r.bucket(target.bucket()).key(key).overrideConfiguration(timeout(0)));
    }

    /** One attempt's time: the request timeout plus the body's length at the slowest rate accepted. */
    private AwsRequestOverrideConfiguration timeout(long bodyBytes) {
        long extraMillis = bodyBytes / settings.minBytesPerSecond() * 1000
                + bodyBytes % settings.minBytesPerSecond() * 1000 / settings.minBytesPerSecond();
        return AwsRequestOverrideConfiguration.builder()
                .apiCallAttemptTimeout(settings.requestTimeout().plusMillis(extraMillis)).build();
    }

    private static void checkKey(String key) {
        if (key == null || key.isEmpty() || key.length() > 1024 || key.startsWith("/")
                || ("/" + key + "/").contains("/../") || key.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException("key must be 1..1024 characters, not start with '/', "
                    + "have no '..' segment and no control characters");
        }
    }

    private static String checkSha(String sha256Hex) {
        if (sha256Hex == null || !SHA256_HEX.matcher(sha256Hex).matches()) {
            throw new IllegalArgumentException("sha256 must be 64 lower-case hex digits");
        }
        return sha256Hex;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private String where() {
        return target.endpoint() == null ? "AWS S3 in " + target.region() : target.endpoint().toString();
    }

    /** The typed failure of {@code e}; the message names the object and never a credential. */
    S3StoreException failure(String doing, String key, Exception e) {
        String object = target.url(key);
        String tries = " (after at most " + settings.maxAttempts() + " attempts)";
        SourceProblem source = find(e, SourceProblem.class);
        if (source != null) {
            return new S3StoreException(source.reason, doing + " " + object + " failed: " + source.getMessage(), e);
        }
        if (e instanceof S3Exception s) {
            int status = s.statusCode();
            String code = s.awsErrorDetails() == null ? null : s.awsErrorDetails().errorCode();
            String answer = status + (code == null || code.isEmpty() ? "" : " " + code);
            if ("NoSuchBucket".equals(code)) {
                return new S3StoreException(S3FailureReason.ObjectStoreNoSuchBucket, "bucket " + target.bucket()
                        + " does not exist at " + where() + " (" + answer + ")", e);
            }
            if ("NoSuchKey".equals(code) || (status == 404 && code == null)) {
                return new S3StoreException(S3FailureReason.ObjectStoreNoSuchObject, object + " does not exist ("
                        + answer + ")", e);
            }
            if (status == 403 || "AccessDenied".equals(code) || "InvalidAccessKeyId".equals(code)
                    || "SignatureDoesNotMatch".equals(code) || "ExpiredToken".equals(code)
                    || "InvalidToken".equals(code)) {
                return new S3StoreException(S3FailureReason.ObjectStoreAccessDenied, doing + " " + object
                        + " was refused (" + answer + "): check the access key in the credentials Secret and "
                        + "what it may do in the bucket", e);
            }
            if (status == 412 || "PreconditionFailed".equals(code)) {
                return new S3StoreException(S3FailureReason.ObjectStoreObjectDiffers, object
                        + " was stored by another writer meanwhile (" + answer + ")", e);
            }
            if ("BadDigest".equals(code) || "XAmzContentSHA256Mismatch".equals(code)
                    || "InvalidDigest".equals(code)) {
                return new S3StoreException(S3FailureReason.ObjectStoreSourceMismatch, "the store found that the "
                        + "bytes sent for " + object + " do not match their SHA-256 (" + answer + "); nothing "
                        + "was stored", e);
            }
            if (status == 503 || status == 500 || status == 502 || status == 504 || "SlowDown".equals(code)
                    || "InternalError".equals(code)) {
                return new S3StoreException(S3FailureReason.ObjectStoreUnavailable, doing + " " + object + " failed: "
                        + "the store answered " + answer + tries, e);
            }
            return new S3StoreException(S3FailureReason.ObjectStoreRefused, doing + " " + object
                    + " was refused: the store answered " + answer, e);
        }
        if (e instanceof ApiCallAttemptTimeoutException || e instanceof ApiCallTimeoutException
                || find(e, SocketTimeoutException.class) != null || find(e, InterruptedIOException.class) != null) {
            return new S3StoreException(S3FailureReason.ObjectStoreTimeout, doing + " " + object + " at " + where()
                    + " timed out" + tries, e);
        }
        if (find(e, ConnectException.class) != null || find(e, NoRouteToHostException.class) != null) {
            return new S3StoreException(S3FailureReason.ObjectStoreUnreachable, "cannot connect to the object store "
                    + "at " + where() + " for " + object + " (connection refused or no route)" + tries, e);
        }
        if (find(e, UnknownHostException.class) != null) {
            return new S3StoreException(S3FailureReason.ObjectStoreUnreachable, "cannot resolve the object store's "
                    + "host at " + where() + " for " + object, e);
        }
        if (find(e, SSLException.class) != null) {
            return new S3StoreException(S3FailureReason.ObjectStoreUnreachable, "TLS with the object store at "
                    + where() + " failed for " + object + ": check its certificate", e);
        }
        String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (detail.length() > 300) {
            detail = detail.substring(0, 300) + "...";
        }
        return new S3StoreException(S3FailureReason.ObjectStoreUnreachable, doing + " " + object + " at " + where()
                + " failed: " + detail, e);
    }

    private static <T extends Throwable> T find(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    @Override
    public void close() {
        client.close();
        http.close();
    }

    /** A problem with the source's bytes, raised from inside a request body so the request fails. */
    static final class SourceProblem extends IOException {

        private static final long serialVersionUID = 1L;

        final transient S3FailureReason reason;

        SourceProblem(S3FailureReason reason, String message) {
            super(message);
            this.reason = reason;
        }

        SourceProblem(S3FailureReason reason, String message, Throwable cause) {
            super(message, cause);
            this.reason = reason;
        }
    }

    /**
     * The source read in order, once when nothing fails: each part's stream continues the one
     * stream; a retry re-opens the source and skips to the part. It hashes what it hands out, and
     * the stream of the last part checks the whole size and digest before it hands out the last
     * bytes, so a request carrying wrong bytes fails before it completes.
     */
    static final class Cursor implements AutoCloseable {

        private final Source source;
        private final long size;
        private final String sha;
        private InputStream in;
        private long position;
        private MessageDigest stored = sha256();
        private MessageDigest attempt;
        private SourceProblem fatal;

        Cursor(Source source, long size, String sha) {
            this.source = source;
            this.size = size;
            this.sha = sha;
        }

        /** A stream of the bytes [offset, offset + length), for one attempt of one request. */
        InputStream part(long offset, long length, boolean last) {
            try {
                if (fatal != null) {
                    throw fatal;
                }
                if (in != null && position != offset) {
                    closeQuietly();
                }
                if (in == null) {
                    try {
                        in = source.open();
                    } catch (SourceProblem e) {
                        throw e;
                    } catch (IOException | RuntimeException e) {
                        throw new SourceProblem(S3FailureReason.ObjectStoreSourceFailed, "opening the source failed: "
                                + e.getMessage(), e);
                    }
                    position = 0;
                    skip(offset);
                }
                attempt = clone(stored);
                return new PartStream(length, last);
            } catch (SourceProblem e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The part whose stream was handed out last was stored: its bytes count for the digest. */
        void partStored() {
            stored = attempt;
        }

        private void skip(long offset) throws SourceProblem {
            byte[] buf = new byte[BUFFER];
            while (position < offset) {
                int r;
                try {
                    r = in.read(buf, 0, (int) Math.min(buf.length, offset - position));
                } catch (IOException e) {
                    throw new SourceProblem(S3FailureReason.ObjectStoreSourceFailed, "reading the source failed: "
                            + e.getMessage(), e);
                }
                if (r < 0) {
                    throw mismatch("the source ended after " + position + " of " + size + " bytes");
                }
                position += r;
            }
        }

        private SourceProblem mismatch(String message) {
            fatal = new SourceProblem(S3FailureReason.ObjectStoreSourceMismatch, message);
            return fatal;
        }

        private static MessageDigest clone(MessageDigest d) {
            try {
                return (MessageDigest) d.clone();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("the JDK's SHA-256 is cloneable", e);
            }
        }

        private void closeQuietly() {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // A stream given up for a re-open.
                }
                in = null;
            }
        }

        @Override
        public void close() {
            closeQuietly();
        }

        /** One attempt's view of a part; closing it leaves the source open for the next part. */
        private final class PartStream extends InputStream {

            private final MessageDigest digest = attempt;
            private final boolean last;
            private long remaining;

            PartStream(long length, boolean last) {
                this.remaining = length;
                this.last = last;
            }

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int r = read(one, 0, 1);
                return r < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (fatal != null) {
                    throw fatal;
                }
                if (remaining == 0) {
                    return -1;
                }
                if (len == 0) {
                    return 0;
                }
                int r;
                try {
                    r = in.read(b, off, (int) Math.min(len, remaining));
                } catch (IOException e) {
                    throw new SourceProblem(S3FailureReason.ObjectStoreSourceFailed, "reading the source failed: "
                            + e.getMessage(), e);
                }
                if (r < 0) {
                    throw mismatch("the source ended after " + position + " of " + size + " bytes");
                }
                digest.update(b, off, r);
                position += r;
                remaining -= r;
                if (remaining == 0 && last) {
                    if (in.read() != -1) {
                        position++;
                        throw mismatch("the source has more than " + size + " bytes");
                    }
                    String got = HexFormat.of().formatHex(digest.digest());
                    if (!got.equals(sha)) {
                        throw mismatch("the source's " + size + " bytes have sha256 " + got + ", not " + sha);
                    }
                }
                return r;
            }

            @Override
            public void close() {
                // The source stays open for the next part; the cursor closes it.
            }
        }
    }
}
