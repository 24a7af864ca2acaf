package io.dbrollback.operator;

import com.google.protobuf.ByteString;
import io.dbrollback.api.ObjectStoreSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.model.TailDigest;
import io.dbrollback.operator.s3.ObjectStoreTargets;
import io.dbrollback.operator.s3.S3ObjectKey;
import io.dbrollback.operator.s3.S3Store;
import io.dbrollback.operator.s3.S3StoreException;
import io.dbrollback.operator.s3.S3Target;
import io.dbrollback.operator.s3.SecretCredentials;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;

/**
 * An S3-compatible bucket as the place of the off-node copy ({@code spec.copy.target: ObjectStore}): the
 * verified file is streamed from the source pod's agent into one object,
 * {@code <prefix>/<namespace>/<rollback>/<incident>-plan<N>.rollback.jsonl} ({@link S3ObjectKey}), through
 * {@link S3Store} (never overwriting: an object that already holds these bytes is the copy; other bytes are
 * {@code ObjectStoreObjectDiffers}), then read back and hashed here. The credentials come from the Secret
 * {@code spec.copy.objectStore.credentialsSecret} in the rollback's namespace, read for every attempt (a
 * fixed Secret is picked up by the next retry); no value of it ever reaches a message.
 *
 * <p>Failure codes, as {@code status.copies[].failure} shows them: {@code CredentialsSecretNotFound},
 * {@code CredentialsSecretUnreadable} (forbidden or the API server failed), {@code CredentialsSecretInvalid},
 * {@code ObjectStoreSpecInvalid}, and the store's own ({@code ObjectStoreUnreachable},
 * {@code ObjectStoreAccessDenied}, {@code ObjectStoreNoSuchBucket}, {@code ObjectStoreObjectDiffers}, ...).
 */
final class ObjectStoreCopyTarget implements CopyTarget {

    private static final int BUFFER = 64 * 1024;

    private final S3Store store;
    private final String where;
    private final String key;

    private ObjectStoreCopyTarget(S3Store store, String where, String key) {
        this.store = store;
        this.where = where;
        this.key = key;
    }

    /**
     * The copier of one step of {@code r} into its {@code spec.copy.objectStore}: the Secret is read and the
     * store opened when the step makes its attempt, so that their failures are the attempt's.
     */
    static FileCopier copier(KubernetesClient client, AgentClients clients, ClusterObserver.Resolved cluster,
            ReplicaSetRollback r, S3Store.Settings settings) {
        ObjectStoreSpec spec = r.getSpec().getCopy().getObjectStore();
        String ns = r.getMetadata().getNamespace();
        String name = r.getMetadata().getName();
        String where = spec == null ? "no object store" : ObjectStoreTargets.storeName(spec);
        return FileCopier.toObjectStore(clients, cluster, where, (place, source, incident, plan) ->
                open(client, spec, ns, name, incident, plan, where, settings));
    }

    private static ObjectStoreCopyTarget open(KubernetesClient client, ObjectStoreSpec spec, String ns, String name,
            String incident, int plan, String where, S3Store.Settings settings) {
        if (spec == null) {
            throw new Failure("ObjectStoreSpecInvalid", false, "spec.copy.target is ObjectStore but "
                    + "spec.copy.objectStore is not set");
        }
        var problems = ObjectStoreTargets.problems(spec);
        if (!problems.isEmpty()) {
            throw new Failure("ObjectStoreSpecInvalid", false, "spec.copy." + String.join("; spec.copy.", problems));
        }
        String secretName = spec.getCredentialsSecret();
        Secret secret;
        try {
            secret = client.secrets().inNamespace(ns).withName(secretName).get();
        } catch (KubernetesClientException e) {
            String why = e.getCode() == 403 ? "the operator may not read it (its Role needs get on secrets in " + ns
                    + ")" : "the API server answered " + (e.getCode() == 0 ? e.getClass().getSimpleName()
                    : "HTTP " + e.getCode());
            throw new Failure("CredentialsSecretUnreadable", false, "the object store credentials Secret " + ns + "/"
                    + secretName + " could not be read: " + why);
        } catch (RuntimeException e) {
            throw new Failure("CredentialsSecretUnreadable", false, "the object store credentials Secret " + ns + "/"
                    + secretName + " could not be read: " + e.getClass().getSimpleName());
        }
        if (secret == null) {
            throw new Failure("CredentialsSecretNotFound", false, "the object store credentials Secret " + ns + "/"
                    + secretName + " does not exist");
        }
        S3Target target;
        try {
            target = ObjectStoreTargets.toTarget(spec, secret.getData() == null ? Map.of() : secret.getData());
        } catch (SecretCredentials.InvalidSecretException e) {
            throw new Failure("CredentialsSecretInvalid", false, e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new Failure("ObjectStoreSpecInvalid", false, e.getMessage());
        }
        String key;
        try {
            key = S3ObjectKey.of(target, ns, name, incident, plan);
        } catch (IllegalArgumentException e) {
            throw new Failure("ObjectStoreSpecInvalid", false, "no object key for this rollback: " + e.getMessage());
        }
        S3Store store;
        try {
            store = new S3Store(target, settings);
        } catch (RuntimeException e) {
            throw new Failure("ObjectStoreSpecInvalid", false, "no client for " + where + ": "
                    + e.getClass().getSimpleName());
        }
        return new ObjectStoreCopyTarget(store, where, key);
    }

    @Override
    public String kind() {
        return FileCopy.OBJECT_STORE;
    }

    @Override
    public String where() {
        return where;
    }

    @Override
    public String store(Source source, long size, String sha256) {
        SourceInput in = new SourceInput(source);
        try {
            store.put(key, in, size, sha256);
        } catch (S3StoreException e) {
            if (in.failure != null) {
                throw in.failure; // the source's own failure, as the copier reports it
            }
            throw new Failure(e.reason().name(), false, e.getMessage());
        } catch (RuntimeException e) {
            if (in.failure != null) {
                throw in.failure;
            }
            throw new Failure("ObjectStoreRefused", false, "storing " + store.target().url(key) + " failed: "
                    + e.getClass().getSimpleName());
        }
        if (in.failure != null) {
            throw in.failure;
        }
        return store.target().url(key);
    }

    @Override
    public Content readBack() {
        MessageDigest sha = TailDigest.newSha256();
        long n = 0;
        try (InputStream in = store.get(key)) {
            byte[] buf = new byte[BUFFER];
            for (int r; (r = in.read(buf)) != -1;) {
                sha.update(buf, 0, r);
                n += r;
            }
        } catch (S3StoreException e) {
            throw new Failure(e.reason().name(), false, "reading the copy back: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            throw new Failure("ObjectStoreUnreachable", false, "reading the copy back from " + store.target().url(key)
                    + " broke after " + n + " bytes: " + e.getClass().getSimpleName());
        }
        return new Content(n, HexFormat.of().formatHex(sha.digest()));
    }

    @Override
    public void close() {
        store.close();
    }

    /**
     * The copier's chunks as a one-shot stream. A failure of the source (it could not be read as verified) is
     * kept and surfaces as an IOException to the store, which then stores nothing; {@link #store} rethrows it.
     */
    private static final class SourceInput extends InputStream {
        private final Source source;
        private ByteString chunk = ByteString.EMPTY;
        private int offset;
        private boolean ended;
        private RuntimeException failure;

        SourceInput(Source source) {
            this.source = source;
        }

        private boolean fill() throws IOException {
            while (!ended && offset >= chunk.size()) {
                ByteString next;
                try {
                    next = source.next();
                } catch (RuntimeException e) {
                    failure = e;
                    ended = true;
                    throw new IOException("the rollback file could not be read from its pod", e);
                }
                if (next == null) {
                    ended = true;
                } else {
                    chunk = next;
                    offset = 0;
                }
            }
            if (failure != null) {
                throw new IOException("the rollback file could not be read from its pod", failure);
            }
            return offset < chunk.size();
        }

        @Override
        public int read() throws IOException {
            if (!fill()) {
                return -1;
            }
            return chunk.byteAt(offset++) & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                return -1;
            }
            int n = Math.min(len, chunk.size() - offset);
            chunk.copyTo(b, offset, off, n);
            offset += n;
            return n;
        }
    }
}
