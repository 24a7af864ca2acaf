package io.dbrollback.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import javax.net.SocketFactory;

/**
 * A JDBC {@code socketFactory} that connects pgjdbc to a server's Unix-domain socket (the JDK's own
 * {@link UnixDomainSocketAddress}, no native library): {@code socketFactory=io.dbrollback.postgres.UnixSocketFactory}
 * and {@code socketFactoryArg=<socket directory>/.s.PGSQL.<port>}; the host and port of the URL are ignored.
 * Read timeouts ({@code setSoTimeout}, which pgjdbc uses) are honoured.
 */
public final class UnixSocketFactory extends SocketFactory {

    private final Path socket;

    /** @param socketPath the socket file, e.g. {@code /run/pg/.s.PGSQL.5432} */
    public UnixSocketFactory(String socketPath) {
        this.socket = Path.of(socketPath);
    }

    @Override
    public Socket createSocket() {
        return new UnixSocket(socket);
    }

    private Socket connected() throws IOException {
        Socket s = createSocket();
        s.connect(null);
        return s;
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
        return connected();
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        return connected();
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        return connected();
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
            throws IOException {
        return connected();
    }

    /** A {@link Socket} over a non-blocking Unix-domain channel, waiting in a selector (for the read timeout). */
    private static final class UnixSocket extends Socket {
        private final Path path;
        private SocketChannel channel;
        private Selector selector;
        private volatile int timeoutMillis;
        private volatile boolean closed;

        UnixSocket(Path path) {
            this.path = path;
        }

        @Override
        public void connect(SocketAddress ignored) throws IOException {
            connect(ignored, 0);
        }

        @Override
        public void connect(SocketAddress ignored, int timeout) throws IOException {
            channel = SocketChannel.open(UnixDomainSocketAddress.of(path)); // a blocking connect, then non-blocking I/O
            channel.configureBlocking(false);
            selector = Selector.open();
        }

        private void await(int op, int millis) throws IOException {
            SelectionKey key = channel.register(selector, op);
            try {
                long deadline = millis > 0 ? System.nanoTime() + millis * 1_000_000L : Long.MAX_VALUE;
                while (!closed) {
                    long left = millis > 0 ? (deadline - System.nanoTime()) / 1_000_000L : 0;
                    if (millis > 0 && left <= 0) {
                        throw new SocketTimeoutException("Read timed out after " + millis + " ms on " + path);
                    }
                    if (selector.select(millis > 0 ? left : 0) > 0) {
                        selector.selectedKeys().clear();
                        return;
                    }
                }
                throw new SocketException("Socket closed");
            } finally {
                if (key.isValid()) {
                    key.interestOps(0);
                }
            }
        }

        @Override
        public InputStream getInputStream() {
            return new InputStream() {
                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    int n = read(one, 0, 1);
                    return n < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (len == 0) {
                        return 0;
                    }
                    ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                    while (true) {
                        int n = channel.read(buf);
                        if (n != 0) {
                            return n;
                        }
                        await(SelectionKey.OP_READ, timeoutMillis);
                    }
                }
            };
        }

        @Override
        public OutputStream getOutputStream() {
            return new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                    while (buf.hasRemaining()) {
                        if (channel.write(buf) == 0) {
                            await(SelectionKey.OP_WRITE, 0);
                        }
                    }
                }
            };
        }

        @Override
        public void setSoTimeout(int timeout) {
            timeoutMillis = timeout;
        }

        @Override
        public int getSoTimeout() {
            return timeoutMillis;
        }

        @Override
        public void setTcpNoDelay(boolean on) {
            // not TCP
        }

        @Override
        public boolean getTcpNoDelay() {
            return true;
        }

        @Override
        public void setKeepAlive(boolean on) {
            // not TCP
        }

        @Override
        public boolean getKeepAlive() {
            return false;
        }

        @Override
        public void setSendBufferSize(int size) {
            // the kernel's default
        }

        @Override
        public int getSendBufferSize() {
            return 65536;
        }

        @Override
        public void setReceiveBufferSize(int size) {
            // the kernel's default
        }

        @Override
        public int getReceiveBufferSize() {
            return 65536;
        }

        @Override
        public boolean isConnected() {
            return channel != null && channel.isConnected();
        }

        @Override
        public boolean isClosed() {
            return closed;
        }

        @Override
        public void close() throws IOException {
            closed = true;
            if (selector != null) {
                selector.close();
            }
            if (channel != null) {
                channel.close();
            }
        }
    }
}
