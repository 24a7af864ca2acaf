package io.dbrollback.operator;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * A scripted agent for a test: {@code service} behind a real gRPC server on a loopback port. Its
 * receive window is small (64 KiB, no auto-tuning), so an agent that stops taking messages stops
 * the operator's sends after a few of them, as a busy agent on a real network would.
 */
final class LoopbackAgent implements AutoCloseable {

    private final Server server;

    private LoopbackAgent(Server server) {
        this.server = server;
    }

    static LoopbackAgent start(BindableService service) {
        return start(service.bindService());
    }

    /** @param service a service, for example with server interceptors */
    static LoopbackAgent start(ServerServiceDefinition service) {
        try {
            return new LoopbackAgent(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .flowControlWindow(64 * 1024).addService(service).build().start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** host:port, as the operator dials it. */
    String address() {
        return "127.0.0.1:" + server.getPort();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(10, TimeUnit.SECONDS);
    }
}
