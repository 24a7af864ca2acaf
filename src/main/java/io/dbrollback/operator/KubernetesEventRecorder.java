package io.dbrollback.operator;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.RollbackPolicy;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.net.HttpURLConnection;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HexFormat;
import org.jboss.logging.Logger;

/**
 * The {@link EventRecorder} of a running operator: Kubernetes Events (core/v1), Normal or Warning,
 * regarding the rollback and related to the pod, deduplicated by a deterministic name (a repeat bumps
 * the count), note truncated to 1 KiB. Never fails the reconcile: an event that cannot be written is logged, and
 * reported as {@code false} so that the loud announcement of a rollback can be retried.
 * Events notify; the status is the durable record.
 */
public final class KubernetesEventRecorder implements EventRecorder, PolicyEvents {

    private static final Logger LOG = Logger.getLogger(KubernetesEventRecorder.class);
    static final String COMPONENT = "rollback-operator";
    static final int MAX_NOTE = 1024;

    private final KubernetesClient client;
    private final Clock clock;
    private final String instance;

    public KubernetesEventRecorder(KubernetesClient client, Clock clock, String instance) {
        this.client = client;
        this.clock = clock;
        this.instance = instance;
    }

    @Override
    public boolean record(ReplicaSetRollback rollback, Type type, EventReason reason, String note, String relatedPod,
            String dedupKey) {
        return write(rollback, type, reason.name(), note, relatedPod, dedupKey, true);
    }

    @Override
    public boolean recordIfAbsent(ReplicaSetRollback rollback, Type type, EventReason reason, String note,
            String relatedPod, String dedupKey) {
        return write(rollback, type, reason.name(), note, relatedPod, dedupKey, false);
    }

    @Override
    public boolean record(RollbackPolicy policy, Type type, PolicyEventReason reason, String note, String relatedPod,
            String dedupKey) {
        return write(policy, type, reason.name(), note, relatedPod, dedupKey, true);
    }

    @Override
    public boolean recordIfAbsent(RollbackPolicy policy, Type type, PolicyEventReason reason, String note,
            String relatedPod, String dedupKey) {
        return write(policy, type, reason.name(), note, relatedPod, dedupKey, false);
    }

    private boolean write(HasMetadata rollback, Type type, String reason, String note, String relatedPod,
            String dedupKey, boolean repeat) {
        try {
            String ns = rollback.getMetadata().getNamespace();
            String name = rollback.getMetadata().getName() + "." + shortHash(rollback.getMetadata().getUid() + "/"
                    + reason + "/" + dedupKey);
            String now = clock.instant().toString();
            String message = note.length() > MAX_NOTE ? note.substring(0, MAX_NOTE - 3) + "..." : note;
            ObjectReference regarding = new ObjectReferenceBuilder()
                    .withApiVersion(rollback.getApiVersion()).withKind(rollback.getKind())
                    .withName(rollback.getMetadata().getName()).withNamespace(ns)
                    .withUid(rollback.getMetadata().getUid()).build();
            EventBuilder b = new EventBuilder()
                    .withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                    .withInvolvedObject(regarding)
                    .withType(type.name()).withReason(reason).withMessage(message)
                    .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                    .withNewSource().withComponent(COMPONENT).endSource()
                    .withReportingComponent(COMPONENT).withReportingInstance(instance)
                    .withAction(reason);
            if (relatedPod != null) {
                b.withRelated(new ObjectReferenceBuilder().withApiVersion("v1").withKind("Pod").withName(relatedPod)
                        .withNamespace(ns).build());
            }
            // Most Events are new: one create. One that exists (the same name: the same rollback, reason
            // and key) answers 409, and is then read and counted up (or left as it is, if not repeated).
            try {
                client.v1().events().inNamespace(ns).resource(b.build()).create();
                return true;
            } catch (KubernetesClientException e) {
                if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                    throw e;
                }
            }
            if (!repeat) {
                return true;
            }
            Event existing = client.v1().events().inNamespace(ns).withName(name).get();
            if (existing == null) {
                client.v1().events().inNamespace(ns).resource(b.build()).create(); // removed in between
                return true;
            }
            existing.setCount(existing.getCount() == null ? 2 : existing.getCount() + 1);
            existing.setLastTimestamp(now);
            existing.setMessage(message);
            client.v1().events().inNamespace(ns).resource(existing).update();
            return true;
        } catch (RuntimeException e) {
            LOG.warnf("could not record event %s for %s/%s: %s", reason, rollback.getMetadata().getNamespace(),
                    rollback.getMetadata().getName(), e.getMessage());
            return false;
        }
    }

    static String shortHash(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
