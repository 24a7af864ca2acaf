package io.dbrollback.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import java.time.Clock;

/** The operator's collaborators, one each. */
@ApplicationScoped
public class OperatorBeans {

    @Produces
    @ApplicationScoped
    Clock clock() {
        return Clock.systemUTC();
    }

    @Produces
    @ApplicationScoped
    AgentClients agentClients() {
        return new AgentClients();
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
