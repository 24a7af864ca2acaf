package io.dbrollback.operator;

import io.dbrollback.coordinator.TransportException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * One client-streaming call (WriteRollbackFile, StoreRollbackCopy) seen from the sending side:
 * {@link #send} blocks until the transport is ready for another message (or the call ended), so at most
 * one message waits in gRPC's buffers; the agent's answer or error ends the call. An agent that takes
 * no message, or does not answer the half-close, within the progress timeout is {@code AgentStalled};
 * the caller cancels.
 */
final class Upload<Q, R> implements ClientResponseObserver<Q, R> {
    private final String rpc;
    private final String pod;
    private final Duration progressTimeout;
    private final Object lock = new Object();
    /** When the agent last took data (gRPC's onReady: what was waiting to be sent drained). */
    private long progressed = System.nanoTime();
    private ClientCallStreamObserver<Q> call;
    private R response;
    private Throwable error;
    private boolean closed;

    Upload(String rpc, String pod, Duration progressTimeout) {
        this.rpc = rpc;
        this.pod = pod;
        this.progressTimeout = progressTimeout;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<Q> requestStream) {
        this.call = requestStream;
        requestStream.setOnReadyHandler(() -> {
            synchronized (lock) {
                progressed = System.nanoTime();
                lock.notifyAll();
            }
        });
    }

    /**
     * Sends {@code m} once the transport is ready; drops it when the call already ended.
     *
     * @throws TransportException {@code AgentStalled} when the agent took nothing for the progress
     *     timeout: before the end message nothing can have been published
     */
    void send(Q m) {
        synchronized (lock) {
            if (!awaitLocked(() -> closed || call.isReady())) {
                throw ServerStreamReader.stalled(rpc + " to " + pod + " took nothing", progressTimeout,
                        false);
            }
            if (closed) {
                return;
            }
        }
        call.onNext(m);
    }

    /**
     * Waits, holding the lock, until {@code done} or the agent took nothing for the progress timeout
     * (counted from the start of the wait or the last time it took data, whichever is later);
     * whether done. The onReady handler and the end of the call wake it.
     */
    private boolean awaitLocked(BooleanSupplier done) {
        long started = System.nanoTime();
        while (!done.getAsBoolean()) {
            long since = progressed - started > 0 ? progressed : started;
            long left = since + progressTimeout.toNanos() - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TransportException("Interrupted", true, "interrupted while sending " + rpc);
            }
        }
        return true;
    }

    boolean closed() {
        synchronized (lock) {
            return closed;
        }
    }

    void halfClose() {
        call.onCompleted();
    }

    void cancel() {
        call.cancel("the operator stopped sending " + rpc, null);
    }

    /**
     * Waits for the agent's answer: while the agent still takes what was sent, and then at most the
     * progress timeout (the agent makes the file durable and links it in that time); the error, or
     * null. When none came the call is cancelled and the attempt fails with {@code AgentStalled},
     * its outcome unknown: the agent may have published the file just before the cancel, and the
     * retry then finds the same bytes under the name.
     */
    Throwable awaitClose() {
        boolean answered;
        try {
            synchronized (lock) {
                answered = awaitLocked(() -> closed);
            }
        } catch (TransportException interrupted) {
            cancel();
            throw interrupted;
        }
        if (!answered) {
            cancel();
            throw ServerStreamReader.stalled(rpc + " to " + pod
                    + " answered nothing to the whole file", progressTimeout, true);
        }
        synchronized (lock) {
            return error;
        }
    }

    R response() {
        synchronized (lock) {
            return response;
        }
    }

    @Override
    public void onNext(R value) {
        synchronized (lock) {
            response = value;
        }
    }

    @Override
    public void onError(Throwable t) {
        synchronized (lock) {
            error = t;
            closed = true;
            lock.notifyAll();
        }
    }

    @Override
    public void onCompleted() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }
}
