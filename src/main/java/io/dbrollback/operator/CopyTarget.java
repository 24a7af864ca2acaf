package io.dbrollback.operator;

import com.google.protobuf.ByteString;

/**
 * A second place for a verified rollback file. {@link AgentCopyTarget} is another pod's agent,
 * {@link ObjectStoreCopyTarget} an S3-compatible bucket ({@link #kind()} names it in
 * {@code status.copies[].kind}). A target never replaces a copy it holds: storing the same bytes again
 * answers the existing copy, other bytes are a {@link Failure}. Every failure is a {@link Failure} with a
 * code the status shows. {@link #close()} releases what the target holds (connections); it never throws.
 */
interface CopyTarget extends AutoCloseable {

    /** The kind of place, as {@code status.copies[].kind} names it ("Agent", "ObjectStore"). */
    String kind();

    /** Which place of that kind: the pod, for an agent; the endpoint and bucket, for an object store. */
    String where();

    /**
     * Stores the bytes {@code source} yields (the whole file, {@code size} bytes with SHA-256 {@code sha256}),
     * taking each chunk only when it can send it on (memory holds about one chunk). If {@code source} throws,
     * nothing is published and the exception propagates.
     *
     * @return where the copy is, as the place reports it (an absolute path, an object's URL)
     */
    String store(Source source, long size, String sha256);

    /** Reads the stored copy back and hashes it here: the size and SHA-256 of the bytes that came back. */
    Content readBack();

    @Override
    default void close() {
    }

    /** The bytes of the file to copy, a chunk at a time. */
    @FunctionalInterface
    interface Source {
        /** The next chunk (at most 1 MiB), or null after the last one. */
        ByteString next();
    }

    /** What a read-back gave. */
    record Content(long size, String sha256) {
    }

    /** A failed copy: a code for the status (NoSpace, Unreachable, ...) and whether another place may do. */
    final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String code;
        private final boolean tryNext;

        /**
         * @param tryNext whether this place cannot hold the copy at all (it offers no copies, its disk is too
         *     small, it holds other bytes under the name), so the next place in order is tried at once
         */
        Failure(String code, boolean tryNext, String message) {
            super(message);
            this.code = code;
            this.tryNext = tryNext;
        }

        String code() {
            return code;
        }

        boolean tryNext() {
            return tryNext;
        }
    }
}
