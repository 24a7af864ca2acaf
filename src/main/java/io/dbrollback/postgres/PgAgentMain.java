package io.dbrollback.postgres;

import io.dbrollback.node.NodeTls;
import io.dbrollback.node.ReplicaNodeMain;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the PostgreSQL agent: the supervisor of one PostgreSQL server (it starts the server) and its
 * rollback agent (agent protocol v1).
 *
 * <pre>
 * java -cp CLASSPATH io.dbrollback.postgres.PgAgentMain --name pg-0 --data-dir PGDATA --bin-dir BINDIR
 *      --state-dir DIR --peer pg-1.pg:5432 --peer pg-2.pg:5432 [--pg-port 5432]
 *      [--socket-dir /var/run/postgresql] [--fence-socket-dir STATE/fence] [--rollback-dir DIR]
 *      [--host 0.0.0.0] [--port 7000] [--superuser postgres] [--replication-user replicator]
 *      [--passfile FILE] [--slot dbrollback] [--database postgres] [--maintenance 5s]
 *      [--user-namespace auto|on|off]
 *      [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE] [--tls-operator-identity NAME]]
 * </pre>
 *
 * Prints {@code LISTENING host:port} once it serves. docs/postgresql.md describes every flag.
 */
public final class PgAgentMain {

    private PgAgentMain() {
    }

    /**
     * The configuration the command line says ({@code root}: whether this process runs as root, for
     * {@code --user-namespace auto}); a missing, unknown or bad flag is an {@link IllegalArgumentException}
     * naming it.
     */
    public static PgAgentConfig parse(String[] args, boolean root) {
        String name = null;
        String host = "0.0.0.0";
        int port = 7000;
        Path data = null;
        Path bin = null;
        int pgPort = 5432;
        Path socketDir = Path.of("/var/run/postgresql");
        Path fenceDir = null;
        Path stateDir = null;
        Path rollbackDir = null;
        String superuser = "postgres";
        String replicationUser = "replicator";
        Path passfile = null;
        List<String> peers = new ArrayList<>();
        String slot = "dbrollback";
        String database = "postgres";
        Duration maintenance = Duration.ofSeconds(5);
        String userNamespace = "auto";
        String tlsCert = null;
        String tlsKey = null;
        String tlsClientCa = null;
        String tlsIdentity = NodeTls.DEFAULT_OPERATOR_IDENTITY;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            if (value == null) {
                throw new IllegalArgumentException(args[i] + " needs a value");
            }
            switch (args[i]) {
                case "--name" -> name = value;
                case "--host" -> host = value;
                case "--port" -> port = Integer.parseInt(value);
                case "--data-dir" -> data = Path.of(value);
                case "--bin-dir" -> bin = Path.of(value);
                case "--pg-port" -> pgPort = Integer.parseInt(value);
                case "--socket-dir" -> socketDir = Path.of(value);
                case "--fence-socket-dir" -> fenceDir = Path.of(value);
                case "--state-dir" -> stateDir = Path.of(value);
                case "--rollback-dir" -> rollbackDir = Path.of(value);
                case "--superuser" -> superuser = value;
                case "--replication-user" -> replicationUser = value;
                case "--passfile" -> passfile = Path.of(value);
                case "--peer" -> peers.add(value);
                case "--slot" -> slot = value;
                case "--database" -> database = value;
                case "--maintenance" -> maintenance = ReplicaNodeMain.duration(value);
                case "--user-namespace" -> userNamespace = value;
                case "--tls-cert" -> tlsCert = value;
                case "--tls-key" -> tlsKey = value;
                case "--tls-client-ca" -> tlsClientCa = value;
                case "--tls-operator-identity" -> tlsIdentity = value;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
            i++;
        }
        if (name == null || data == null || bin == null || stateDir == null) {
            throw new IllegalArgumentException("--name, --data-dir, --bin-dir and --state-dir are required");
        }
        if (maintenance == null) {
            throw new IllegalArgumentException("--maintenance is a duration such as 5s or 500ms");
        }
        boolean unshare = switch (userNamespace) {
            case "on" -> true;
            case "off" -> false;
            case "auto" -> root;
            default -> throw new IllegalArgumentException("--user-namespace is auto, on or off");
        };
        NodeTls.Config tls = null;
        if (tlsCert != null || tlsKey != null) {
            if (tlsCert == null || tlsKey == null) {
                throw new IllegalArgumentException("TLS needs both --tls-cert and --tls-key");
            }
            tls = new NodeTls.Config(Path.of(tlsCert), Path.of(tlsKey),
                    tlsClientCa == null ? null : Path.of(tlsClientCa),
                    null, NodeTls.DEFAULT_REFRESH, tlsIdentity);
        }
        return new PgAgentConfig(name, host, port, data, bin, pgPort, socketDir,
                fenceDir == null ? stateDir.resolve("fence") : fenceDir, stateDir,
                rollbackDir == null ? Path.of("/var/lib/dbrollback/rollback") : rollbackDir, superuser, replicationUser,
                passfile, peers, slot, database, maintenance, unshare, tls);
    }

    public static void main(String[] args) throws Exception {
        PgAgentConfig config;
        try {
            config = parse(args, isRoot());
        } catch (IllegalArgumentException e) {
            usage(e.getMessage());
            return;
        }
        String name = config.nodeName();
        String host = config.host();
        PgAgent agent;
        try {
            agent = PgAgent.start(config);
        } catch (IOException e) {
            System.err.println("cannot start the PostgreSQL agent of " + name + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                agent.shutdown();
            } catch (IOException e) {
                System.err.println("stopping PostgreSQL: " + e.getMessage());
            }
            stopped.countDown();
        }));
        System.out.println("LISTENING " + host + ":" + agent.port());
        System.out.flush();
        stopped.await();
    }

    /**
     * Whether this process runs as root (PostgreSQL refuses to run as root: its binaries then run in a user namespace).
     */
    static boolean isRoot() {
        try {
            Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            return uid instanceof Integer u && u == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: PgAgentMain --name NAME --data-dir PGDATA --bin-dir BINDIR --state-dir DIR"
                + " [--peer HOST:PORT]... [--pg-port PORT] [--socket-dir DIR] [--fence-socket-dir DIR]"
                + " [--rollback-dir DIR] [--host HOST] [--port PORT] [--superuser ROLE] [--replication-user ROLE]"
                + " [--passfile FILE] [--slot NAME] [--database NAME] [--maintenance DURATION]"
                + " [--user-namespace auto|on|off] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]"
                + " [--tls-operator-identity NAME]]");
        System.exit(2);
    }
}
