package io.dbrollback.operator.s3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 proxy on loopback in front of the S3 server that answers the first N requests of a
 * given method with 503 SlowDown (an S3 error body, as a throttling store sends), and passes
 * everything else through. Requests are read one by one (their bodies by Content-Length), so a
 * request on a kept-alive connection is seen too. Counts the requests seen per method.
 */
final class FaultyHttpProxy implements AutoCloseable {

    private final ServerSocket server;
    private final int upstreamPort;
    private final Map<String, AtomicInteger> failNext = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    private volatile boolean closed;

    FaultyHttpProxy(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::accept, "faulty-http-proxy");
        t.setDaemon(true);
        t.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    /** The next {@code count} requests with this method are answered 503 SlowDown. */
    void fail(String method, int count) {
        failNext.put(method, new AtomicInteger(count));
    }

    /** Requests seen with this method (on new connections). */
    int seen(String method) {
        AtomicInteger n = seen.get(method);
        return n == null ? 0 : n.get();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Thread t = new Thread(() -> serve(client), "faulty-http-proxy-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client; Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort)) {
            Thread down = new Thread(() -> pipe(upstream, client), "faulty-http-proxy-down");
            down.setDaemon(true);
            down.start();
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            OutputStream up = upstream.getOutputStream();
            while (true) {
                byte[] head = readHead(in);
                if (head == null) {
                    upstream.shutdownOutput();
                    down.join(10_000);
                    return;
                }
                String text = new String(head, StandardCharsets.ISO_8859_1);
                String lower = text.toLowerCase(Locale.ROOT);
                String method = text.substring(0, Math.max(0, text.indexOf(' ')));
                seen.computeIfAbsent(method, m -> new AtomicInteger()).incrementAndGet();
                AtomicInteger left = failNext.get(method);
                if (left != null && left.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    // The SDK's JDK HTTP client sends a body whole, without waiting for 100 Continue.
                    in.skipNBytes(contentLength(lower));
                    byte[] body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                            + "<Message>Please reduce your request rate.</Message></Error>")
                            .getBytes(StandardCharsets.UTF_8);
                    String answer = "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                            + "Content-Length: " + (method.equals("HEAD") ? 0 : body.length) + "\r\n"
                            + "Connection: close\r\n\r\n";
                    out.write(answer.getBytes(StandardCharsets.ISO_8859_1));
                    if (!method.equals("HEAD")) {
                        out.write(body);
                    }
                    out.flush();
                    return;
                }
                up.write(head);
                if (lower.contains("transfer-encoding: chunked")) {
                    // Not parsed: the rest of this connection is passed through as it is.
                    in.transferTo(up);
                    upstream.shutdownOutput();
                    down.join(10_000);
                    return;
                }
                long length = contentLength(lower);
                byte[] buf = new byte[64 * 1024];
                while (length > 0) {
                    int r = in.read(buf, 0, (int) Math.min(buf.length, length));
                    if (r < 0) {
                        return;
                    }
                    up.write(buf, 0, r);
                    length -= r;
                }
                up.flush();
            }
        } catch (IOException ignored) {
            // The client or the server went away.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static long contentLength(String lowerHead) {
        for (String line : lowerHead.split("\r\n")) {
            if (line.startsWith("content-length:")) {
                return Long.parseLong(line.substring("content-length:".length()).strip());
            }
        }
        return 0;
    }

    private static byte[] readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < 4) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            b.write(c);
            matched = c == end[matched] ? matched + 1 : (c == '\r' ? 1 : 0);
            if (b.size() > 64 * 1024) {
                throw new IOException("request head too long");
            }
        }
        return b.toByteArray();
    }

    private static void pipe(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
            to.shutdownOutput();
        } catch (IOException ignored) {
            // One side closed.
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
    }
}
