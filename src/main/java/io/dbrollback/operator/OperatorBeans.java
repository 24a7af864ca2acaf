package io.dbrollback.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** The operator's collaborators, one each. */
@ApplicationScoped
public class OperatorBeans {

    @Produces
    @ApplicationScoped
    Clock clock() {
        return Clock.systemUTC();
    }

    /**
     * The deadlines of the calls to the agents, from the {@code dbrollback.agent.*} properties (defaults
     * in application.properties). Made at startup: a zero or negative value stops the start, naming
     * the property.
     */
    @Produces
    @jakarta.inject.Singleton
    @io.quarkus.runtime.Startup
    AgentClients.Deadlines agentDeadlines(
            @ConfigProperty(name = "dbrollback.agent.deadline.get-timeline") Duration getTimeline,
            @ConfigProperty(name = "dbrollback.agent.deadline.fence") Duration fence,
            @ConfigProperty(name = "dbrollback.agent.deadline.recover-to-lsn") Duration recoverToLsn,
            @ConfigProperty(name = "dbrollback.agent.deadline.rejoin-as-replica") Duration rejoinAsReplica,
            @ConfigProperty(name = "dbrollback.agent.deadline.quarantine-rollback-file") Duration quarantine,
            @ConfigProperty(name = "dbrollback.agent.progress-timeout") Duration progressTimeout,
            @ConfigProperty(name = "dbrollback.agent.stream-deadline") Duration streamDeadline) {
        return new AgentClients.Deadlines(getTimeline, fence, recoverToLsn, rejoinAsReplica, quarantine,
                progressTimeout, streamDeadline);
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
    @jakarta.inject.Singleton
    @io.quarkus.runtime.Startup
    CrashPoints crashPoints() {
        CrashPoints points = CrashPoints.fromEnvironment();
        if (points.armed()) {
            org.jboss.logging.Logger.getLogger(OperatorBeans.class).warnf("test hook armed: %s=%s; this process"
                    + " halts at that point", CrashPoints.ENV, points.spec());
        }
        return points;
    }

    @Produces
    @ApplicationScoped
    EventRecorder eventRecorder(KubernetesClient client, Clock clock) {
        String instance = System.getenv().getOrDefault("HOSTNAME", EventRecorder.COMPONENT);
        return new EventRecorder(client, clock, instance);
    }
}
