package io.dbrollback.testing;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.v1.TailChunk;
import io.dbrollback.agent.v1.TailMessage;
import io.dbrollback.agent.v1.TailRecord;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Faults on the wire between the operator and an agent, injected by a client interceptor on the
 * operator's channels: a call lost before it reaches the node, a call that takes effect but whose
 * answer is lost (UNAVAILABLE or DEADLINE_EXCEEDED: the caller cannot tell), and a tail stream with a
 * flipped bit, without its trailer, or cut after its first chunk. Each armed fault fires once.
 */
public final class GrpcFaults implements ClientInterceptor {

    public enum Kind {
        /** The call never reaches the node; the caller sees UNAVAILABLE. */
        LOST_BEFORE,
        /** The node carries the call out; the caller sees UNAVAILABLE instead of the answer. */
        UNAVAILABLE_AFTER,
        /** The node carries the call out; the caller sees DEADLINE_EXCEEDED instead of the answer. */
        DEADLINE_AFTER,
        /** One bit of the first record's key flipped in transit (the chunk's CRC32C left as sent). */
        FLIP_BIT,
        /** The stream ends cleanly but without its trailer. */
        DROP_TRAILER,
        /** The stream is cut (UNAVAILABLE) after its first chunk. */
        CUT_AFTER_FIRST_CHUNK
    }

    private record Armed(String method, Kind kind) {
    }

    private final AtomicReference<Armed> armed = new AtomicReference<>();
    private final AtomicInteger fired = new AtomicInteger();

    /** Arms one fault for the next call of {@code method} (e.g. "RecoverToLsn"). */
    public void arm(String method, Kind kind) {
        armed.set(new Armed(method, kind));
    }

    /** How many armed faults have fired. */
    public int fired() {
        return fired.get();
    }

    @Override
    public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        Armed a = armed.get();
        if (a == null || !a.method().equals(method.getBareMethodName()) || !armed.compareAndSet(a, null)) {
            return next.newCall(method, options);
        }
        fired.incrementAndGet();
        if (a.kind() == Kind.LOST_BEFORE) {
            return new LostCall<>();
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
            @Override
            public void start(Listener<A> listener, Metadata headers) {
                super.start(new Faulty<>(listener, a.kind(), this), headers);
            }
        };
    }

    /** A call that is answered UNAVAILABLE without ever being sent. */
    private static final class LostCall<Q, A> extends ClientCall<Q, A> {
        @Override
        public void start(Listener<A> listener, Metadata headers) {
            listener.onClose(Status.UNAVAILABLE.withDescription("injected: connection reset before the call was sent"),
                    new Metadata());
        }

        @Override
        public void request(int n) {
        }

        @Override
        public void cancel(String message, Throwable cause) {
        }

        @Override
        public void halfClose() {
        }

        @Override
        public void sendMessage(Q message) {
        }
    }

    private static final class Faulty<A> extends ForwardingClientCallListener.SimpleForwardingClientCallListener<A> {
        private final Kind kind;
        private final ClientCall<?, A> call;
        private boolean cut;

        Faulty(ClientCall.Listener<A> delegate, Kind kind, ClientCall<?, A> call) {
            super(delegate);
            this.kind = kind;
            this.call = call;
        }

        @Override
        public void onMessage(A message) {
            switch (kind) {
                case UNAVAILABLE_AFTER, DEADLINE_AFTER -> {
                    // the answer is lost; the node has acted
                }
                case FLIP_BIT -> super.onMessage(flip(message));
                case DROP_TRAILER -> {
                    if (!(message instanceof TailMessage m && m.hasTrailer())) {
                        super.onMessage(message);
                    }
                }
                case CUT_AFTER_FIRST_CHUNK -> {
                    if (!cut) {
                        super.onMessage(message);
                        cut = true;
                        call.cancel("injected: connection cut after the first chunk", null);
                    }
                }
                default -> super.onMessage(message);
            }
        }

        @Override
        public void onClose(Status status, Metadata trailers) {
            switch (kind) {
                case UNAVAILABLE_AFTER -> super.onClose(Status.UNAVAILABLE.withDescription(
                        "injected: connection reset after the node acted"), new Metadata());
                case DEADLINE_AFTER -> super.onClose(Status.DEADLINE_EXCEEDED.withDescription(
                        "injected: deadline exceeded after the node acted"), new Metadata());
                case CUT_AFTER_FIRST_CHUNK -> super.onClose(cut ? Status.UNAVAILABLE.withDescription(
                        "injected: connection cut after the first chunk") : status, trailers);
                default -> super.onClose(status, trailers);
            }
        }

        @SuppressWarnings("unchecked")
        private static <A> A flip(A message) {
            if (!(message instanceof TailMessage m) || !m.hasChunk() || m.getChunk().getRecordsCount() == 0) {
                return message;
            }
            TailChunk c = m.getChunk();
            TailRecord r = c.getRecords(0);
            byte[] key = r.getKey().toByteArray();
            key[0] ^= 0x01;
            TailRecord bad = r.toBuilder().setKey(ByteString.copyFrom(key)).build();
            return (A) TailMessage.newBuilder().setChunk(c.toBuilder().setRecords(0, bad)).build();
        }
    }
}
