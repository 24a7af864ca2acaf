package io.dbrollback.node;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs one reference replica node as its own process.
 *
 * <pre>
 * java -cp CLASSPATH io.dbrollback.node.ReplicaNodeMain --name n0 --data-dir DIR [--port 7000]
 *      [--host 127.0.0.1] [--cluster-size 3] [--rollback-dir DIR] [--clock-start 2026-01-01T00:00:00Z]
 *      [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-peer-ca FILE] [--tls-refresh 30s]
 *       [--tls-operator-identity dbrollback-operator]]
 * </pre>
 * Rollback files written over the agent protocol go to {@code --rollback-dir} (default
 * {@code DATA_DIR/rollback}). Prints {@code LISTENING host:port} once it serves. {@code --clock-start}
 * (tests and demos) stamps writes with a clock that starts at that instant and advances one second per
 * write, so that the same writes make the same log (and the same tail digest) on every run.
 *
 * <p>With {@code --tls-cert} and {@code --tls-key} the node serves TLS; with {@code --tls-client-ca}
 * too, clients must present a certificate signed by that CA (mutual TLS). The files are read again
 * every {@code --tls-refresh} (a duration such as {@code 30s}, {@code 5m}, {@code 250ms}), so a
 * rotated certificate is used without a restart. With mutual TLS, rollback agent calls are served only
 * to a client certificate that carries {@code --tls-operator-identity} (default
 * {@code dbrollback-operator}) as a DNS or URI subject alternative name or as its common name; the
 * peers' replication is not subject to it. Each TLS flag may also be given as an environment
 * variable ({@code DBROLLBACK_NODE_TLS_CERT}, {@code _KEY}, {@code _CLIENT_CA}, {@code _PEER_CA},
 * {@code _REFRESH}, {@code _OPERATOR_IDENTITY}); a flag wins.
 *
 * <p>Test hooks, off unless set in the environment: {@code DBROLLBACK_NODE_RECOVER_PAUSE_MS} pauses
 * every recover right after its durable rollback-id bump, printing {@code RECOVER_PAUSED incident};
 * {@code DBROLLBACK_NODE_TAIL_PAUSE_MS} pauses every divergent-tail stream after its first chunk
 * (before the trailer), printing {@code TAIL_PAUSED from to}; {@code DBROLLBACK_NODE_WRITE_PAUSE_MS}
 * pauses every WriteRollbackFile call once its first data message is in the call's temporary file
 * (before the end message, the fsync and the link: nothing is published yet), printing
 * {@code WRITE_PAUSED file bytes}.
 */
public final class ReplicaNodeMain {

    private ReplicaNodeMain() {
    }

    public static void main(String[] args) throws Exception {
        String name = null;
        String host = "127.0.0.1";
        int port = 0;
        Path dir = null;
        Path rollbackDir = null;
        int clusterSize = 3;
        Clock clock = Clock.systemUTC();
        Map<String, String> env = System.getenv();
        String tlsCert = env.get("DBROLLBACK_NODE_TLS_CERT");
        String tlsKey = env.get("DBROLLBACK_NODE_TLS_KEY");
        String tlsClientCa = env.get("DBROLLBACK_NODE_TLS_CLIENT_CA");
        String tlsPeerCa = env.get("DBROLLBACK_NODE_TLS_PEER_CA");
        String tlsRefresh = env.getOrDefault("DBROLLBACK_NODE_TLS_REFRESH", "30s");
        String tlsOperatorIdentity = env.getOrDefault("DBROLLBACK_NODE_TLS_OPERATOR_IDENTITY",
                NodeTls.DEFAULT_OPERATOR_IDENTITY);
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            if (value == null) {
                usage(args[i] + " needs a value");
            }
            switch (args[i]) {
                case "--name" -> name = value;
                case "--host" -> host = value;
                case "--port" -> port = Integer.parseInt(value);
                case "--data-dir" -> dir = Path.of(value);
                case "--cluster-size" -> clusterSize = Integer.parseInt(value);
                case "--rollback-dir" -> rollbackDir = Path.of(value);
                case "--clock-start" -> clock = new SteppingClock(Instant.parse(value));
                case "--tls-cert" -> tlsCert = value;
                case "--tls-key" -> tlsKey = value;
                case "--tls-client-ca" -> tlsClientCa = value;
                case "--tls-peer-ca" -> tlsPeerCa = value;
                case "--tls-refresh" -> tlsRefresh = value;
                case "--tls-operator-identity" -> tlsOperatorIdentity = value;
                default -> usage("unknown argument " + args[i]);
            }
            i++;
        }
        if (name == null || dir == null) {
            usage("--name and --data-dir are required");
        }
        NodeTls.Config tls = null;
        if (tlsCert != null || tlsKey != null || tlsClientCa != null || tlsPeerCa != null) {
            if (blank(tlsCert) || blank(tlsKey)) {
                usage("TLS needs both --tls-cert and --tls-key");
            }
            Duration refresh = duration(tlsRefresh);
            if (refresh == null || refresh.isZero() || refresh.isNegative()) {
                usage("--tls-refresh is a positive duration such as 60s, 5m or 250ms");
            }
            if (blank(tlsOperatorIdentity)) {
                usage("--tls-operator-identity must not be empty");
            }
            tls = new NodeTls.Config(Path.of(tlsCert), Path.of(tlsKey),
                    blank(tlsClientCa) ? null : Path.of(tlsClientCa),
                    blank(tlsPeerCa) ? null : Path.of(tlsPeerCa), refresh, tlsOperatorIdentity);
        }
        long pause = Long.parseLong(env.getOrDefault("DBROLLBACK_NODE_RECOVER_PAUSE_MS", "0"));
        long tailPause = Long.parseLong(env.getOrDefault("DBROLLBACK_NODE_TAIL_PAUSE_MS", "0"));
        long writePause = Long.parseLong(env.getOrDefault("DBROLLBACK_NODE_WRITE_PAUSE_MS", "0"));
        ReplicaNode node;
        try {
            node = ReplicaNode.start(new ReplicaNode.Config(name, host, port, dir, clusterSize, pause, tailPause,
                    writePause, rollbackDir, tls), clock);
        } catch (IOException e) {
            System.err.println("cannot start node " + name + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }));
        System.out.println("LISTENING " + node.address());
        System.out.flush();
        stopped.await();
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    /** {@code 250ms}, {@code 30s}, {@code 5m}, {@code 1h}; null when it is none of these. */
    public static Duration duration(String text) {
        Matcher m = Pattern.compile("([0-9]{1,9})(ms|s|m|h)").matcher(text.trim());
        if (!m.matches()) {
            return null;
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            default -> Duration.ofHours(n);
        };
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: ReplicaNodeMain --name NAME --data-dir DIR [--host HOST] [--port PORT]"
                + " [--cluster-size N] [--rollback-dir DIR] [--clock-start INSTANT]"
                + " [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-peer-ca FILE] "
                + "[--tls-refresh DURATION] [--tls-operator-identity NAME]]");
        System.exit(2);
    }
}
