package io.dbrollback.operator;

import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.RollbackPolicy;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.GroupVersionKind;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.filter.OnUpdateFilter;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.Mappers;
import io.javaoperatorsdk.operator.processing.event.source.informer.TransformingItemStore;
import io.javaoperatorsdk.operator.processing.retry.GradualRetry;
import jakarta.inject.Inject;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Reconciles RollbackPolicies: the autopilot. A pass runs on every change of the policy, of its
 * cluster's leader (the Lease's holder or term), and of the phase of a rollback it created, and again
 * after the pause the pass asks for (a backoff while a pod could not be looked at). The work is
 * {@link Autopilot}'s; this class wires it to JOSDK. Each pass reads the policy as stored: the
 * informer's copy may predate the autopilot's own last status write.
 */
// A policy that cannot be read is never reconciled (JOSDK would first add the finalizer) until it is deleted.
@ControllerConfiguration(name = PolicyReconciler.NAME,
        informer = @Informer(genericFilter = UnreadablePolicies.Filter.class))
@GradualRetry(maxAttempts = RollbackReconciler.RETRY_FOREVER, initialInterval = 2_000, intervalMultiplier = 1.5,
        maxInterval = 60_000)
public class PolicyReconciler implements Reconciler<RollbackPolicy>, Cleaner<RollbackPolicy> {

    static final String NAME = "rollbackpolicy";
    /** Policies by the objects they read their leader from: "ns/Kind/name" ({@link #leaderKeys}). */
    static final String LEADER_INDEX = "dbrollback.io/policy-leader";
    /** The informers' names (in the health checks). */
    static final String LEASE_SOURCE = "policy-leases";
    static final String CONFIG_MAP_SOURCE = "policy-patroni-configmaps";
    static final String ENDPOINTS_SOURCE = "policy-patroni-endpoints";
    static final String ROLLBACK_SOURCE = "policy-rollbacks";

    private static final Logger LOG = Logger.getLogger(PolicyReconciler.class);

    private final AutopilotWorld world;
    private final PolicyEvents events;
    private final PolicyMetrics metrics;
    private final ReconcileSettings settings;
    private final Clock clock;
    private final UnreadablePolicies unreadable;

    @Inject
    public PolicyReconciler(AutopilotWorld world, PolicyEvents events, PolicyMetrics metrics,
            ReconcileSettings settings, Clock clock) {
        this.world = Objects.requireNonNull(world, "world");
        this.events = Objects.requireNonNull(events, "events");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.unreadable = new UnreadablePolicies(events, metrics);
    }

    /**
     * The keys ("ns/Kind/name") of the objects a policy reads its leader from: its Lease, or Patroni's
     * leader and config objects.
     */
    static List<String> leaderKeys(RollbackPolicy p) {
        if (p.getSpec() == null || p.getSpec().getCluster() == null) {
            return List.of();
        }
        String ns = p.getMetadata().getNamespace() + "/";
        String lease = LeaderReader.leaseName(p.getSpec().getCluster());
        if (lease != null) {
            return List.of(ns + "Lease/" + lease);
        }
        PatroniLeaderSpec patroni = LeaderReader.patroni(p.getSpec().getCluster());
        if (patroni == null || patroni.getScope() == null || patroni.getDcs() == null) {
            return List.of();
        }
        LeaderReader.PatroniObjects o = LeaderReader.objects(patroni);
        return List.of(ns + o.kind() + "/" + o.leaderName(), ns + o.kind() + "/" + o.configName());
    }

    @Override
    public List<EventSource<?, RollbackPolicy>> prepareEventSources(EventSourceContext<RollbackPolicy> context) {
        context.getPrimaryCache().addIndexer(LEADER_INDEX, PolicyReconciler::leaderKeys);
        InformerEventSourceConfiguration<ReplicaSetRollback> rollbacks = InformerEventSourceConfiguration
                .from(ReplicaSetRollback.class, RollbackPolicy.class).withName(ROLLBACK_SOURCE)
                .withSecondaryToPrimaryMapper(Mappers.fromOwnerReferences(RollbackPolicy.class))
                .withNamespacesInheritedFromController()
                // only a rollback's phase matters to the report
                .withOnUpdateFilter((now, before) -> !Objects.equals(phase(now), phase(before)))
                .build();
        return List.of(
                new InformerEventSource<>(leaderSource(context, RollbackReconciler.LEASE, LEASE_SOURCE,
                        RollbackReconciler::leaderChanged), context),
                new InformerEventSource<>(leaderSource(context, RollbackReconciler.CONFIG_MAP, CONFIG_MAP_SOURCE,
                        RollbackReconciler::patroniLeaderChanged), context),
                new InformerEventSource<>(leaderSource(context, RollbackReconciler.ENDPOINTS, ENDPOINTS_SOURCE,
                        RollbackReconciler::patroniLeaderChanged), context),
                new InformerEventSource<>(rollbacks, context),
                unreadable);
    }

    /**
     * The informer of one kind of leader object, mapped to the policies that read it by name; only a
     * change of what is read from it (holder, term, history) starts a pass, never a renewal.
     */
    private static InformerEventSourceConfiguration<GenericKubernetesResource> leaderSource(
            EventSourceContext<RollbackPolicy> context, GroupVersionKind kind, String name,
            OnUpdateFilter<GenericKubernetesResource> changed) {
        String k = kind.getKind();
        InformerEventSourceConfiguration.Builder<GenericKubernetesResource> b = InformerEventSourceConfiguration
                .from(kind, RollbackPolicy.class).withName(name)
                .withSecondaryToPrimaryMapper(o -> context.getPrimaryCache().byIndex(LEADER_INDEX,
                        o.getMetadata().getNamespace() + "/" + k + "/" + o.getMetadata().getName()).stream()
                        .map(ResourceID::fromResource).collect(Collectors.toSet()))
                .withPrimaryToSecondaryMapper((RollbackPolicy p) -> leaderKeys(p).stream()
                        .filter(key -> key.startsWith(p.getMetadata().getNamespace() + "/" + k + "/"))
                        .map(key -> new ResourceID(key.substring(key.lastIndexOf('/') + 1),
                                p.getMetadata().getNamespace()))
                        .collect(Collectors.toSet()))
                .withNamespacesInheritedFromController()
                .withOnUpdateFilter(changed);
        if (!k.equals("Lease")) {
            b.withItemStore(new TransformingItemStore<>(RollbackReconciler::pruned));
        }
        return b.build();
    }

    private static String phase(ReplicaSetRollback r) {
        return r == null || r.getStatus() == null ? null : r.getStatus().getPhase();
    }

    @Override
    public UpdateControl<RollbackPolicy> reconcile(RollbackPolicy cached, Context<RollbackPolicy> ctx) {
        String ns = cached.getMetadata().getNamespace();
        String name = cached.getMetadata().getName();
        try {
            RollbackPolicy stored = world.read(ns, name);
            if (stored == null || !Objects.equals(stored.getMetadata().getUid(), cached.getMetadata().getUid())) {
                return UpdateControl.noUpdate();
            }
            if (unreadable.unreadable(stored)) {
                // reached only by a reconcile already due (a reschedule, an owned rollback's change) when the stored
                // policy is newer than the informer's copy: reported, never acted on
                return UpdateControl.noUpdate();
            }
            Autopilot.Pass pass = new Autopilot(world, events, metrics, settings, clock).run(stored);
            return UpdateControl.<RollbackPolicy>noUpdate().rescheduleAfter(pass.recheck());
        } catch (KubernetesClientException e) {
            // a refused (409) or lost status write: JOSDK retries from the stored policy
            LOG.infof("policy %s/%s: the API server refused or lost a write (%s); retried", ns, name, e.getMessage());
            throw e;
        } catch (RuntimeException e) {
            LOG.errorf(e, "policy %s/%s: the pass failed", ns, name);
            events.record(cached, EventRecorder.Type.Warning, PolicyEventReason.PolicyReconcileFailed,
                    "the autopilot's pass failed (" + e.getClass().getSimpleName() + ": " + e.getMessage()
                    + "); it is retried in " + settings.blockedRecheck().toSeconds() + " s", null,
                    e.getClass().getSimpleName());
            return UpdateControl.<RollbackPolicy>noUpdate().rescheduleAfter(settings.blockedRecheck());
        }
    }

    @Override
    public DeleteControl cleanup(RollbackPolicy p, Context<RollbackPolicy> ctx) {
        unreadable.forget(p);
        metrics.forget(p.getMetadata().getNamespace(), p.getMetadata().getName());
        return DeleteControl.defaultDelete();
    }
}
