package io.dbrollback.operator;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a writer read back from a rollback file as it published it, kept in this process until the verify step
 * of the same file takes it, once: the exec writer's {@code put} or {@code commit} (after the fsync of the file
 * and of its directory, from the final name), or the agent's WriteRollbackFile answered with
 * {@code read_back} (the file re-read after its fsync). The verify step then needs no exec or ReadRollbackFile
 * call of its own; when the entry is not here (another operator process, a restart, an evicted entry, an
 * answer without a read-back) it re-reads the file itself. Bounded: the oldest entries go first.
 */
public final class ReadBacks {

    /** The container of the agent writer's entries: no container of a pod has an empty name. */
    static final String AGENT = "";

    /** The size and SHA-256 the pod read from the published file. */
    public record ReadBack(String sha256, long bytes) {
    }

    private final Map<String, ReadBack> entries;

    /** @param max the most entries kept (one per file published and not verified yet) */
    public ReadBacks(int max) {
        this.entries = new LinkedHashMap<>() {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, ReadBack> eldest) {
                return size() > max;
            }
        };
    }

    /** The entries of one namespace: a pod's name means a pod of that namespace. */
    public Scope in(String namespace) {
        return new Scope(namespace);
    }

    /** The read-backs of the pods of one namespace. */
    public final class Scope {
        private final String namespace;

        private Scope(String namespace) {
            this.namespace = namespace;
        }

        private String key(String pod, String container, String location) {
            return namespace + '\n' + pod + '\n' + container + '\n' + location;
        }

        /** Keeps {@code readBack} for {@code location}, or drops what was kept for it when it is null. */
        void replace(String pod, String container, String location, ReadBack readBack) {
            synchronized (entries) {
                if (readBack == null) {
                    entries.remove(key(pod, container, location));
                } else {
                    entries.put(key(pod, container, location), readBack);
                }
            }
        }

        /** The read-back of {@code location}, removed; null when there is none. */
        ReadBack take(String pod, String container, String location) {
            synchronized (entries) {
                return entries.remove(key(pod, container, location));
            }
        }
    }
}
