package io.dbrollback.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback in front of one server that can cut a connection in the middle of a
 * stream: once armed, the first connection that has carried more than N bytes in the armed
 * direction is reset (both sockets closed with SO_LINGER 0), as a broken network would. Later connections
 * pass untouched until it is armed again.
 */
public final class CuttingProxy implements AutoCloseable {

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicLong upstreamCut = new AtomicLong(-1);
    private final AtomicLong downstreamCut = new AtomicLong(-1);
    private final AtomicInteger cuts = new AtomicInteger();
    private volatile boolean closed;

    public CuttingProxy(String host, int port) throws IOException {
        this.target = new InetSocketAddress(host, port);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::accept, "cutting-proxy-accept");
        t.setDaemon(true);
        t.start();
    }

    /** host:port to connect to instead of the server. */
    public String address() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** Resets the first connection whose client has sent more than {@code bytes} in total. */
    public void cutUpstreamAfter(long bytes) {
        upstreamCut.set(bytes);
    }

    /** Resets the first connection whose server has sent more than {@code bytes} in total. */
    public void cutDownstreamAfter(long bytes) {
        downstreamCut.set(bytes);
    }

    /** How many connections were reset. */
    public int cuts() {
        return cuts.get();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(target, 5000);
                sockets.add(client);
                sockets.add(upstream);
                Connection c = new Connection(client, upstream);
                pump(c, client, upstream, upstreamCut, "up");
                pump(c, upstream, client, downstreamCut, "down");
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private final class Connection {
        final Socket client;
        final Socket upstream;
        /** Bytes seen per direction since this connection started. */
        final AtomicLong up = new AtomicLong();
        final AtomicLong down = new AtomicLong();

        Connection(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        void reset() {
            for (Socket s : new Socket[] {client, upstream}) {
                try {
                    s.setSoLinger(true, 0);
                    s.close();
                } catch (IOException ignored) {
                    // already closed
                }
            }
        }
    }

    private void pump(Connection c, Socket from, Socket to, AtomicLong armed, String direction) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            AtomicLong seen = direction.equals("up") ? c.up : c.down;
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    long limit = armed.get();
                    long total = seen.addAndGet(n);
                    if (limit >= 0 && total > limit && armed.compareAndSet(limit, -1)) {
                        // forward only up to the limit, then break the connection
                        int keep = (int) Math.max(0, n - (total - limit));
                        out.write(buf, 0, keep);
                        out.flush();
                        cuts.incrementAndGet();
                        c.reset();
                        return;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // the other side went away
            } finally {
                c.reset();
            }
        }, "cutting-proxy-" + direction);
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
