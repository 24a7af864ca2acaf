package io.dbrollback.operator.s3;

import java.io.IOException;
import java.net.URI;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;
import org.jclouds.blobstore.TransientApiMetadata;

/**
 * S3Proxy (a real S3-compatible server) over jclouds' in-memory transient blob store on an
 * ephemeral loopback port, enforcing AWS v2/v4 signatures with the identity and credential given
 * as arguments. Run by {@link S3ProxyProcess} in a JVM of its own; prints {@code S3PROXY PORT <n>}
 * when it listens and stops when its standard input closes.
 */
public final class S3ProxyMain {

    private S3ProxyMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: S3ProxyMain IDENTITY CREDENTIAL");
            System.exit(2);
        }
        // ContextBuilder.newBuilder("transient") would load every provider S3Proxy registers (its Azure
        // one needs libraries the tests leave out); the API metadata names the in-memory store directly.
        BlobStore store = ContextBuilder.newBuilder(new TransientApiMetadata()).credentials("", "")
                .build(BlobStoreContext.class).getBlobStore();
        S3Proxy proxy = S3Proxy.builder().blobStore(store).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, args[0], args[1])
                // S3Proxy answers 501 to headers it does not implement, among them x-amz-checksum-sha256;
                // told to ignore them, it stores the object without checking that checksum (nor
                // If-None-Match): the store's own checks are what these tests exercise.
                .ignoreUnknownHeaders(true).build();
        proxy.start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                System.err.println("S3Proxy did not start: " + proxy.getState());
                System.exit(1);
            }
            Thread.sleep(10);
        }
        System.out.println("S3PROXY PORT " + proxy.getPort());
        System.out.flush();
        try {
            while (System.in.read() != -1) {
                // Runs until the parent closes the pipe (or dies).
            }
        } catch (IOException ignored) {
            // The parent is gone.
        }
        proxy.stop();
        System.exit(0);
    }
}
