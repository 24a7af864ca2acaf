package io.dbrollback.operator;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.stream.Stream;
import org.jboss.logmanager.ExtLogRecord;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Everything logged in this JVM while a test class runs (a static {@code @RegisterExtension} field):
 * one line per record, the message as it is printed, then every cause in the chain.
 */
final class CapturedLogs implements BeforeAllCallback, AfterAllCallback {

    private final Queue<String> lines = new ConcurrentLinkedQueue<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            StringBuilder b = new StringBuilder(r instanceof ExtLogRecord e ? e.getFormattedMessage()
                    : new SimpleFormatter().formatMessage(r));
            for (Throwable t = r.getThrown(); t != null; t = t.getCause()) {
                b.append(' ').append(t);
            }
            lines.add(b.toString());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @Override
    public void beforeAll(ExtensionContext context) {
        Logger.getLogger("").addHandler(handler);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        Logger.getLogger("").removeHandler(handler);
    }

    Stream<String> stream() {
        return lines.stream();
    }

    void clear() {
        lines.clear();
    }
}
