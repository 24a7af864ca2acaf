package io.dbrollback.operator;

import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.RegisteredController;
import io.javaoperatorsdk.operator.health.InformerHealthIndicator;
import io.javaoperatorsdk.operator.health.InformerWrappingEventSourceHealthIndicator;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;
import org.jboss.logging.Logger;

/**
 * Liveness: DOWN while any informer of the operator has stopped for good. fabric8 stops an informer,
 * and never starts it again, on an error it does not retry (a watch event it cannot read, for
 * example); the operator then no longer hears of the resources it watched, and only a restart
 * brings them back. Readiness (the operator SDK's own check) goes DOWN too, but a pod that is not
 * ready is never restarted. An informer that is reconnecting (after 410 Gone, or while the API
 * server is away) is still running, so it is not a reason to restart. Before the operator has
 * started, and after it stopped, the check is UP: that is the readiness and the shutdown's business.
 */
@Liveness
@ApplicationScoped
public class InformersLiveness implements HealthCheck {

    /** The check's name in /q/health/live. */
    public static final String NAME = "informers";

    private static final Logger LOG = Logger.getLogger(InformersLiveness.class);

    /** The stopped informers already logged, so that a probe every few seconds logs each once. */
    private final Set<String> logged = ConcurrentHashMap.newKeySet();

    @Inject
    Operator operator;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named(NAME);
        if (!operator.getRuntimeInfo().isStarted()) {
            return b.up().withData("operator", "not started").build();
        }
        List<String> stopped = stopped(operator);
        for (String s : stopped) {
            if (logged.add(s)) {
                LOG.errorf("informer %s has stopped for good; liveness is DOWN so that the pod is restarted", s);
            }
        }
        if (stopped.isEmpty()) {
            return b.up().build();
        }
        return b.down().withData("stopped", String.join(", ", stopped)).build();
    }

    /**
     * The informers of {@code operator}'s controllers that have stopped for good (not running), as
     * {@code controller/event source/namespace}; empty when all run.
     */
    public static List<String> stopped(Operator operator) {
        List<String> out = new ArrayList<>();
        for (RegisteredController<?> rc : operator.getRuntimeInfo().getRegisteredControllers()) {
            String controller = rc.getConfiguration().getName();
            for (Map.Entry<String, InformerWrappingEventSourceHealthIndicator> source : rc.getControllerHealthInfo()
                    .informerEventSourceHealthIndicators().entrySet()) {
                Map<String, InformerHealthIndicator> informers = source.getValue().informerHealthIndicators();
                for (Map.Entry<String, InformerHealthIndicator> informer : informers.entrySet()) {
                    if (!informer.getValue().isRunning()) {
                        out.add(controller + "/" + source.getKey() + "/" + informer.getKey());
                    }
                }
            }
        }
        return out;
    }
}
