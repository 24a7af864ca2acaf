package io.dbrollback.operator;

import io.dbrollback.coordinator.TransportException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One server-streaming call to an agent, read a message at a time by a blocking caller, with a
 * progress timeout: a stream that sends nothing for that long is cancelled (the agent sees the
 * cancellation) and reported as {@code AgentStalled}, instead of holding the caller until the call's
 * overall deadline.
 *
 * <p>Memory stays at one message: automatic flow control is off, the first message is asked for when
 * the call starts and each next one only when the caller takes the previous one, so gRPC delivers at
 * most one message the caller has not taken yet (the agent is held back by the transport's flow
 * control window, as it was with the blocking stub). The hand-off between gRPC's threads and the
 * caller is a queue of two places: that message and the end of the call.
 *
 * @param <Q> the request
 * @param <T> the streamed message
 */
final class ServerStreamReader<Q, T> implements AutoCloseable {

    /** The end of a call that completed normally, in the hand-off. */
    private static final Object COMPLETED = new Object();

    /** The end of a call that failed, in the hand-off. */
    private record Failed(Throwable error) {
    }

    private final String rpc;
    private final String pod;
    private final Duration progressTimeout;
    private final BlockingQueue<Object> handOff = new ArrayBlockingQueue<>(2);
    private ClientCallStreamObserver<Q> call;
    private boolean ended;

    /**
     * Starts the call.
     *
     * @param rpc the method, for messages ("ReadDivergentTail")
     * @param pod the pod whose agent is called, for messages
     * @param start issues the call on an asynchronous stub (which carries the overall deadline) with
     *     the observer it is given
     */
    ServerStreamReader(String rpc, String pod, Duration progressTimeout, Consumer<ClientResponseObserver<Q, T>> start) {
        this.rpc = rpc;
        this.pod = pod;
        this.progressTimeout = progressTimeout;
        start.accept(new Observer());
    }

    /**
     * The next message, waiting at most the progress timeout for it; null once the call completed.
     *
     * @throws StatusRuntimeException when the call failed (the caller translates it)
     * @throws TransportException {@code AgentStalled} when nothing came within the progress timeout
     *     (the call is cancelled), or {@code Interrupted}
     */
    @SuppressWarnings("unchecked")
    T next() {
        if (ended) {
            return null;
        }
        Object item;
        try {
            item = handOff.poll(progressTimeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            end("the operator was interrupted");
            throw new TransportException("Interrupted", false, rpc + " from " + pod + " interrupted; cancelled");
        }
        if (item == null) {
            end("no message for " + AgentClients.Deadlines.words(progressTimeout));
            throw stalled(rpc + " from " + pod + " sent nothing", progressTimeout, false);
        }
        if (item == COMPLETED) {
            ended = true;
            return null;
        }
        if (item instanceof Failed f) {
            ended = true;
            throw f.error() instanceof StatusRuntimeException e ? e : Status.fromThrowable(f.error())
                    .asRuntimeException();
        }
        // The caller has this message now: the next one may come while it works on this one.
        call.request(1);
        return (T) item;
    }

    /**
     * Cancels the call unless it ended: the agent stops sending and frees what it holds. A call whose
     * end already arrived after its last message (the caller stopped at the trailer) is not cancelled.
     */
    @Override
    public void close() {
        if (ended) {
            return;
        }
        Object item = handOff.poll();
        if (item == COMPLETED || item instanceof Failed) {
            ended = true;
            return;
        }
        end("the operator stopped reading");
    }

    private void end(String why) {
        ended = true;
        call.cancel(why, null);
    }

    /**
     * The failed attempt of a stream that stopped moving, cancelled; a read changed nothing.
     *
     * @param what the call, the pod and what did not happen ("ReadDivergentTail from orders-0 sent nothing")
     * @param outcomeUnknown whether the call may have taken effect all the same
     */
    static TransportException stalled(String what, Duration progressTimeout, boolean outcomeUnknown) {
        return new TransportException("AgentStalled", outcomeUnknown, what + " for "
                + AgentClients.Deadlines.words(progressTimeout) + "; cancelled");
    }

    private final class Observer implements ClientResponseObserver<Q, T> {
        @Override
        public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
            call = requestStream;
            requestStream.disableAutoRequestWithInitial(1);
        }

        @Override
        public void onNext(T value) {
            handOff(value);
        }

        @Override
        public void onError(Throwable t) {
            handOff(new Failed(t));
        }

        @Override
        public void onCompleted() {
            handOff(COMPLETED);
        }

        private void handOff(Object item) {
            // Never full: at most one message is asked for at a time, and one end follows.
            if (!handOff.offer(item)) {
                throw new IllegalStateException(rpc + " delivered more than was asked for");
            }
        }
    }
}
