package io.dbrollback.operator;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a pod's argv as a local process, a local directory standing in for the pod's volume: every
 * argument under {@code volumePath} is rewritten into {@code root}. Records every argv it ran.
 */
public final class LocalPodExec implements PodExec {

    final Path root;
    final String volumePath;
    final List<List<String>> calls = new ArrayList<>();

    public LocalPodExec(Path root, String volumePath) {
        this.root = root;
        this.volumePath = volumePath;
    }

    @Override
    public Result exec(String pod, String container, List<String> argv, byte[] stdin, Duration timeout) {
        calls.add(List.copyOf(argv));
        List<String> local = new ArrayList<>();
        for (String a : argv) {
            local.add(a.equals(volumePath) || a.startsWith(volumePath + "/")
                    ? root + a.substring(volumePath.length()) : a);
        }
        try {
            Process p = new ProcessBuilder(local).start();
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            try (OutputStream in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin);
                }
            } catch (IOException exitedWithoutReading) {
                // A command may exit before it reads its input (the script refusing an append whose
                // temporary file is gone): as with a pod's exec, its exit status says what happened.
            }
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                return new Result(null, "", "timed out");
            }
            return new Result(p.exitValue(), new String(out.join(), StandardCharsets.UTF_8),
                    new String(err.join(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static byte[] readAll(InputStream in) {
        try {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            in.transferTo(b);
            return b.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
