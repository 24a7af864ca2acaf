package io.dbrollback.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.processing.event.source.AbstractEventSource;
import io.javaoperatorsdk.operator.processing.event.source.ResourceEventAware;
import java.util.Set;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A JOSDK event source that only hears of every event of its controller's primary resources, before JOSDK's
 * filters drop the unreadable ones, so that those can be reported ({@link UnreadableRollbacks},
 * {@link UnreadablePolicies}); it triggers no reconcile and has no secondary resources. Reports are written off
 * the informer's thread, by {@link #writer}.
 */
abstract class UnreadableSource<R extends HasMetadata> extends AbstractEventSource<Void, R>
        implements ResourceEventAware<R> {

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
