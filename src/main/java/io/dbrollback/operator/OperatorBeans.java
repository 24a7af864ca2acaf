package io.dbrollback.operator;

import io.dbrollback.operator.s3.S3Store;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * The operator's collaborators, one each, from its one configuration ({@link OperatorConfig}). Made at
 * startup: an invalid value stops the start, naming the property.
 */
@ApplicationScoped
public class OperatorBeans {

    @Produces
    @ApplicationScoped
    Clock clock() {
        return Clock.systemUTC();
    }

    /** The pacing of the reconciler, from {@code dbrollback.reconcile.*} and {@code dbrollback.retry.*}. */
    @Produces
    @Singleton
    @Startup
    ReconcileSettings reconcileSettings(OperatorConfig config) {
        return config.settings();
    }

    /** The deadlines of the calls to the agents, from {@code dbrollback.agent.*}. */
    @Produces
    @Singleton
    @Startup
    AgentClients.Deadlines agentDeadlines(OperatorConfig config) {
        return config.deadlines();
    }

    @Produces
    @ApplicationScoped
    AgentClients agentClients(AgentClients.Deadlines deadlines) {
        return new AgentClients(List.of(), deadlines);
    }

    void close(@Disposes AgentClients clients) {
        clients.close();
    }

    /**
     * The crash test hook: off unless {@value CrashPoints#ENV} is set (never in a deployment). Read
     * once, at startup: an invalid value stops the start.
     */
    @Produces
    @Singleton
    @Startup
    CrashPoints crashPoints() {
        CrashPoints points = CrashPoints.fromEnvironment();
        if (points.armed()) {
            Logger.getLogger(OperatorBeans.class).warnf("test hook armed: %s=%s; this process halts at that point",
                    CrashPoints.ENV, points.spec());
        }
        return points;
    }

    /**
     * What each step talks to: the API server, the agents, and the rollback file written as
     * {@code dbrollback.rollback-file.writer} says; with the crash test hook when it is armed.
     */
    @Produces
    @Singleton
    @Startup
    StepFactory stepFactory(KubernetesClient client, AgentClients clients, RollbackMetrics metrics,
            OperatorConfig config, CrashPoints crashPoints, Clock clock) {
        return crashPoints.decorate(new ClusterStepFactory(client, clients, metrics,
                RollbackFileStore.Writer.parse(config.rollbackFile().writer()), clock, S3Store.Settings.defaults(),
                config.rollbackFile().execSingleCallMaxBytes()));
    }

    /** Events regarding RollbackPolicies (the autopilot's). */
    @Produces
    @ApplicationScoped
    PolicyEvents policyEvents(KubernetesClient client, Clock clock, OperatorConfig config) {
        return new KubernetesEventRecorder(client, clock, config.instance());
    }

    /** What the autopilot talks to: the API server and the agents. */
    @Produces
    @ApplicationScoped
    AutopilotWorld autopilotWorld(KubernetesClient client, AgentClients clients, RollbackMetrics metrics) {
        return new ClusterAutopilotWorld(client, clients, metrics);
    }

    @Produces
    @ApplicationScoped
    EventRecorder eventRecorder(KubernetesClient client, Clock clock, OperatorConfig config) {
        return new KubernetesEventRecorder(client, clock, config.instance());
    }
}
