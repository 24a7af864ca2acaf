package io.dbrollback.agent;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;

/**
 * A unary gRPC call of an agent whose body may throw: a status is answered as it is, an I/O error as
 * INTERNAL, an interruption as UNAVAILABLE; any other failure as the service's {@link Failures} says.
 */
public final class UnaryCall {

    /** What a unary call computes. */
    @FunctionalInterface
    public interface Body<T> {
        T run() throws Exception;
    }

    /** The status of a failure that is no status, I/O error or interruption. */
    @FunctionalInterface
    public interface Failures {
        StatusRuntimeException status(Exception e);
    }

    /**
     * A runtime exception is rethrown (gRPC answers UNKNOWN); a checked one, which the reference node's
     * calls do not throw, is INTERNAL.
     */
    public static final Failures PROPAGATE = e -> {
        if (e instanceof RuntimeException r) {
            throw r;
        }
        return Status.INTERNAL.withDescription(e.toString()).asRuntimeException();
    };

    private UnaryCall() {
    }

    /** Runs {@code body} and answers its result, other failures {@link #PROPAGATE}d. */
    public static <T> void run(StreamObserver<T> out, Body<T> body) {
        run(out, body, PROPAGATE);
    }

    /** Runs {@code body} and answers its result, or the status of its failure. */
    public static <T> void run(StreamObserver<T> out, Body<T> body, Failures others) {
        T result;
        try {
            result = body.run();
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (IOException e) {
            out.onError(Status.INTERNAL.withDescription("I/O error: " + e.getMessage()).asRuntimeException());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.onError(Status.UNAVAILABLE.withDescription("interrupted").asRuntimeException());
            return;
        } catch (Exception e) {
            out.onError(others.status(e));
            return;
        }
        out.onNext(result);
        out.onCompleted();
    }
}
