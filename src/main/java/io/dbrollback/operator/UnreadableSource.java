package io.dbrollback.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.processing.event.source.AbstractEventSource;
import io.javaoperatorsdk.operator.processing.event.source.ResourceEventAware;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * A JOSDK event source that only hears of every event of its controller's primary resources, before JOSDK's
 * filters drop the unreadable ones, so that those can be reported ({@link UnreadableRollbacks},
 * {@link UnreadablePolicies}); it triggers no reconcile and has no secondary resources. Reports are written off
 * the informer's thread, by {@link #writer}.
 */
abstract class UnreadableSource<R extends HasMetadata> extends AbstractEventSource<Void, R>
        implements ResourceEventAware<R> {

    /** How soon an Event the API server refused is tried again (while the problem it reports is current). */
    static final Duration EVENT_RETRY = Duration.ofSeconds(10);

    private static final Logger LOG = Logger.getLogger(UnreadableSource.class);

    /** One daemon thread, only while there is something to write (even if JOSDK never starts or stops this source). */
    protected final ScheduledThreadPoolExecutor writer;

    UnreadableSource(String name) {
        super(Void.class, name);
        this.writer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        writer.setKeepAliveTime(10, TimeUnit.SECONDS);
        writer.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs {@code write} (an Event) off the informer's thread after {@code delay}, and again every
     * {@link #EVENT_RETRY} while it answers false, as long as {@code reported} still holds {@code problem} for
     * {@code r} (not fixed, changed or deleted meanwhile).
     */
    void writeLater(Map<String, String> reported, R r, String problem, BooleanSupplier write, Duration delay) {
        try {
            writer.schedule(() -> {
                if (problem.equals(reported.get(r.getMetadata().getUid())) && !write.getAsBoolean()) {
                    writeLater(reported, r, problem, write, EVENT_RETRY);
                }
            }, delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            LOG.debugf("not reporting %s %s/%s: the operator is stopping", r.getKind(), r.getMetadata().getNamespace(),
                    r.getMetadata().getName());
        }
    }

    /** The resource as it is now (created or updated). */
    abstract void seen(R r);

    /** The resource is gone. */
    abstract void forget(R r);

    @Override
    public Set<Void> getSecondaryResources(R primary) {
        return Set.of();
    }

    @Override
    public void stop() {
        writer.shutdownNow();
        super.stop();
    }

    @Override
    public void onResourceCreated(R r) {
        seen(r);
    }

    @Override
    public void onResourceUpdated(R now, R before) {
        seen(now);
    }

    @Override
    public void onResourceDeleted(R r) {
        forget(r);
    }
}
