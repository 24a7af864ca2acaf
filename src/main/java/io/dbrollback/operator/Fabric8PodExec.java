package io.dbrollback.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link PodExec} over the Kubernetes exec API (fabric8). Standard input is written in frames of at
 * most 65,535 bytes. A missing exit status within the timeout is reported as {@code exitCode == null}
 * (outcome unknown), never as success.
 */
public final class Fabric8PodExec implements PodExec {

    private static final int FRAME = 65_535;

    private final KubernetesClient client;
    private final String namespace;

    public Fabric8PodExec(KubernetesClient client, String namespace) {
        this.client = client;
        this.namespace = namespace;
    }

    @Override
    public Result exec(String pod, String container, List<String> argv, byte[] stdin, Duration timeout) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        var target = client.pods().inNamespace(namespace).withName(pod).inContainer(container);
        try (ExecWatch watch = (stdin == null ? target : target.redirectingInput())
                .writingOutput(out).writingError(err).exec(argv.toArray(String[]::new))) {
            if (stdin != null) {
                OutputStream in = watch.getInput();
                for (int off = 0; off < stdin.length; off += FRAME) {
                    in.write(stdin, off, Math.min(FRAME, stdin.length - off));
                }
                in.flush();
            }
            Integer code;
            try {
                code = watch.exitCode().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                code = null;
            } catch (ExecutionException e) {
                code = null;
            }
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            // A pod or container gone, a 403, a broken websocket: the outcome is unknown, retried.
            return new Result(null, out.toString(StandardCharsets.UTF_8), "exec failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(null, "", "interrupted");
        }
    }
}
