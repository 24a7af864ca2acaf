package io.dbrollback.operator;

import io.dbrollback.api.CopySpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.coordinator.Checkpoint;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.RollbackTransport;
import io.dbrollback.model.RollbackEvent;
import io.dbrollback.operator.s3.S3Store;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The {@link StepFactory} of a running operator: the Kubernetes API server through fabric8, the agents
 * over gRPC ({@link GrpcRollbackTransport}, counted by {@link MeteredTransport}), and the rollback file
 * written by the operator through pod exec or by the agent, as {@code dbrollback.rollback-file.writer}
 * says.
 */
public final class ClusterStepFactory implements StepFactory {

    private final KubernetesClient client;
    private final AgentClients clients;
    private final RollbackMetrics metrics;
    private final RollbackFileStore.Writer writer;
    private final Clock clock;
    private final ClusterObserver observer;
    private final StatusStore statuses;
    private final S3Store.Settings objectStore;
    private final int execSingleCallMaxBytes;
    /** The writers' read-backs (exec put and commit, agent writes), for the verify steps of this process. */
    private final ReadBacks readBacks = new ReadBacks(1024);

    public ClusterStepFactory(KubernetesClient client, AgentClients clients, RollbackMetrics metrics,
            RollbackFileStore.Writer writer, Clock clock) {
        this(client, clients, metrics, writer, clock, S3Store.Settings.defaults());
    }

    /** @param objectStore the timeouts, retries and part size of copies to an object store */
    public ClusterStepFactory(KubernetesClient client, AgentClients clients, RollbackMetrics metrics,
            RollbackFileStore.Writer writer, Clock clock, S3Store.Settings objectStore) {
        this(client, clients, metrics, writer, clock, objectStore, ExecRollbackFileStore.defaultChunkBytes());
    }

    /**
     * @param objectStore the timeouts, retries and part size of copies to an object store
     * @param execSingleCallMaxBytes the exec writer's largest file written by one pod exec
     *     ({@code dbrollback.rollback-file.exec-single-call-max-bytes})
     */
    public ClusterStepFactory(KubernetesClient client, AgentClients clients, RollbackMetrics metrics,
            RollbackFileStore.Writer writer, Clock clock, S3Store.Settings objectStore, int execSingleCallMaxBytes) {
        this.client = Objects.requireNonNull(client, "client");
        this.clients = Objects.requireNonNull(clients, "clients");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.writer = Objects.requireNonNull(writer, "writer");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.observer = new ClusterObserver(client, clients, metrics);
        this.statuses = StatusStore.of(client);
        this.objectStore = Objects.requireNonNull(objectStore, "objectStore");
        if (execSingleCallMaxBytes < 0 || execSingleCallMaxBytes > ExecRollbackFileStore.defaultChunkBytes()) {
            throw new IllegalArgumentException("dbrollback.rollback-file.exec-single-call-max-bytes must be 0 to "
                    + ExecRollbackFileStore.defaultChunkBytes() + ", not " + execSingleCallMaxBytes);
        }
        this.execSingleCallMaxBytes = execSingleCallMaxBytes;
    }

    @Override
    public ClusterObserver.Resolution resolve(ReplicaSetRollback r) {
        return observer.resolve(r);
    }

    @Override
    public ClusterObserver.Observed observe(ClusterObserver.Resolved cluster) {
        return observer.observe(cluster);
    }

    @Override
    public PodExec podExec(ReplicaSetRollback r) {
        return new Fabric8PodExec(client, r.getMetadata().getNamespace());
    }

    @Override
    public RollbackTransport transport(ReplicaSetRollback r, ClusterObserver.Resolved cluster, Checkpoint cp,
            PodExec exec, Consumer<RollbackEvent> announce) {
        RollbackFileStore files = writer == RollbackFileStore.Writer.AGENT
                ? new AgentRollbackFileStore(clients, cluster.tls(), cluster.agentAddresses(),
                        cp.plan() == null ? null : cp.plan().newTerm(), readBacks.in(r.getMetadata().getNamespace()))
                : new ExecRollbackFileStore(exec, ExecRollbackFileStore.defaultChunkBytes(), execSingleCallMaxBytes,
                        ExecRollbackFileStore.defaultMaxChunkBytes(), ExecRollbackFileStore.DEFAULT_TIMEOUT,
                        readBacks.in(r.getMetadata().getNamespace()))
                        .in(r.getSpec().getCluster().getDataContainer(), r.getSpec().getRollbackDirectory());
        return new MeteredTransport(new GrpcRollbackTransport(cluster.targetPod(), clients, cluster.tls(),
                cluster.agentAddresses(), files, announce, clock), metrics);
    }

    @Override
    public RollbackCopier copier(ReplicaSetRollback r, ClusterObserver.Resolved cluster) {
        CopySpec copy = r.getSpec().getCopy();
        RollbackCopier copier = copy != null && copy.getTarget() == CopySpec.Target.ObjectStore
                ? ObjectStoreCopyTarget.copier(client, clients, cluster, r, objectStore)
                : FileCopier.of(clients, cluster);
        return metrics.metered(copier);
    }

    @Override
    public StatusStore statuses() {
        return statuses;
    }
}
