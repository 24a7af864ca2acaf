package io.dbrollback.testing;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.HandlerRegistry;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * A fallback handler registry that forwards every call of a service the server does not implement
 * itself to {@code target}, as raw bytes, in both directions, with flow control: a test agent in front
 * of a reference node serves the rollback agent protocol itself and lets the node's own services (its
 * replication, its client API) through, so that a node told to follow the agent's address replicates
 * from the node behind it.
 */
public final class GrpcPassthrough extends HandlerRegistry {

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private final Channel target;

    public GrpcPassthrough(Channel target) {
        this.target = target;
    }

    @Override
    public ServerMethodDefinition<?, ?> lookupMethod(String methodName, String authority) {
        MethodDescriptor<byte[], byte[]> method = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNKNOWN).setFullMethodName(methodName)
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        return ServerMethodDefinition.create(method, new Forward(method));
    }

    private final class Forward implements ServerCallHandler<byte[], byte[]> {
        private final MethodDescriptor<byte[], byte[]> method;

        Forward(MethodDescriptor<byte[], byte[]> method) {
            this.method = method;
        }

        @Override
        public ServerCall.Listener<byte[]> startCall(ServerCall<byte[], byte[]> server, Metadata headers) {
            ClientCall<byte[], byte[]> client = target.newCall(method, CallOptions.DEFAULT);
            client.start(new ClientCall.Listener<>() {
                @Override
                public void onHeaders(Metadata h) {
                    server.sendHeaders(h);
                }

                @Override
                public void onMessage(byte[] message) {
                    server.sendMessage(message);
                    client.request(1);
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                    server.close(status, trailers);
                }
            }, headers);
            client.request(1);
            server.request(1);
            return new ServerCall.Listener<>() {
                @Override
                public void onMessage(byte[] message) {
                    client.sendMessage(message);
                    server.request(1);
                }

                @Override
                public void onHalfClose() {
                    client.halfClose();
                }

                @Override
                public void onCancel() {
                    client.cancel("the caller cancelled", null);
                }
            };
        }
    }
}
