package io.dbrollback.node;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one reference replica node as its own process.
 *
 * <pre>
 * java -cp CLASSPATH io.dbrollback.node.ReplicaNodeMain --name n0 --data-dir DIR [--port 7000]
 *      [--host 127.0.0.1] [--cluster-size 3] [--rollback-dir DIR]
 * </pre>
 * Rollback files written over the agent protocol go to {@code --rollback-dir} (default
 * {@code DATA_DIR/rollback}). Prints {@code LISTENING host:port} once it serves. Environment variable
 * {@code DBROLLBACK_NODE_RECOVER_PAUSE_MS} (tests only) pauses every recover right after its
 * durable rollback-id bump, printing {@code RECOVER_PAUSED incident}.
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
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--name" -> name = value;
                case "--host" -> host = value;
                case "--port" -> port = Integer.parseInt(value);
                case "--data-dir" -> dir = Path.of(value);
                case "--cluster-size" -> clusterSize = Integer.parseInt(value);
                case "--rollback-dir" -> rollbackDir = Path.of(value);
                default -> usage("unknown argument " + args[i]);
            }
            i++;
        }
        if (name == null || dir == null) {
            usage("--name and --data-dir are required");
        }
        long pause = Long.parseLong(System.getenv().getOrDefault("DBROLLBACK_NODE_RECOVER_PAUSE_MS", "0"));
        ReplicaNode node = ReplicaNode.start(new ReplicaNode.Config(name, host, port, dir, clusterSize, pause,
                rollbackDir));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }));
        System.out.println("LISTENING " + node.address());
        System.out.flush();
        stopped.await();
    }

    private static void usage(String problem) {
        System.err.println(problem);
        System.err.println("usage: ReplicaNodeMain --name NAME --data-dir DIR [--host HOST] [--port PORT]"
                + " [--cluster-size N] [--rollback-dir DIR]");
        System.exit(2);
    }
}
