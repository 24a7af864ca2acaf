package io.dbrollback.operator.s3;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * {@link S3ProxyMain} in a child JVM on loopback. Not in the test JVM: S3Proxy's jclouds needs Guice 7,
 * and the test classpath carries Guice 5 (Quarkus' test bootstrap, through maven-embedder) ahead of
 * it, which makes jclouds fail to inject. The child gets the test classpath without that jar.
 */
public final class S3ProxyProcess implements AutoCloseable {

    private final Process process;
    private final int port;
    private final String identity;
    private final String credential;
    private final StringBuilder output = new StringBuilder();

    public S3ProxyProcess(String identity, String credential) throws IOException, InterruptedException {
        this.identity = identity;
        this.credential = credential;
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String filtered = Arrays.stream(cp.split(File.pathSeparator))
                .filter(e -> !Path.of(e).getFileName().toString().matches("guice-[0-9.]+-classes\\.jar"))
                .collect(Collectors.joining(File.pathSeparator));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(List.of(java, "-Xmx256m", "-cp", filtered, S3ProxyMain.class.getName(),
                identity, credential)).redirectErrorStream(true).start();
        BlockingQueue<Integer> ports = new ArrayBlockingQueue<>(1);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null;) {
                    if (line.startsWith("S3PROXY PORT ")) {
                        ports.offer(Integer.parseInt(line.substring("S3PROXY PORT ".length()).strip()));
                    } else {
                        synchronized (output) {
                            if (output.length() < 20_000) {
                                output.append(line).append('\n');
                            }
                        }
                    }
                }
            } catch (IOException ignored) {
                // The child ended.
            }
        }, "s3proxy-output");
        reader.setDaemon(true);
        reader.start();
        Integer p = ports.poll(90, TimeUnit.SECONDS);
        if (p == null) {
            process.destroyForcibly();
            throw new IllegalStateException("S3Proxy did not start within 90 s; its output:\n" + output());
        }
        port = p;
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /**
     * A plain SDK client of this server with its own keys (path style, no CRC trailers), outside the code
     * under test: to create buckets and to look at or tamper with objects. The caller closes it.
     */
    public S3Client rawClient() {
        return S3Client.builder().httpClient(UrlConnectionHttpClient.create()).region(Region.US_EAST_1)
                .endpointOverride(URI.create(endpoint())).forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(identity,
                        credential)))
                .build();
    }

    public int port() {
        return port;
    }

    public String output() {
        synchronized (output) {
            return output.toString();
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // Already gone.
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
