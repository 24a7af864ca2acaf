package io.dbrollback.node;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one reference replica node as its own process.
 *
 * <pre>
 * java -cp CLASSPATH io.dbrollback.node.ReplicaNodeMain --name n0 --data-dir DIR [--port 7000]
 *      [--host 127.0.0.1] [--cluster-size 3] [--rollback-dir DIR] [--clock-start 2026-01-01T00:00:00Z]
 * </pre>
 * Rollback files written over the agent protocol go to {@code --rollback-dir} (default
 * {@code DATA_DIR/rollback}). Prints {@code LISTENING host:port} once it serves. {@code --clock-start}
 * (tests and demos) stamps writes with a clock that starts at that instant and advances one second per
 * write, so that the same writes make the same log (and the same tail digest) on every run.
 *
 * <p>Test hooks, off unless set in the environment: {@code DBROLLBACK_NODE_RECOVER_PAUSE_MS} pauses
 * every recover right after its durable rollback-id bump, printing {@code RECOVER_PAUSED incident};
 * {@code DBROLLBACK_NODE_TAIL_PAUSE_MS} pauses every divergent-tail stream after its first chunk
 * (before the trailer), printing {@code TAIL_PAUSED from to}.
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
        java.time.Clock clock = java.time.Clock.systemUTC();
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--name" -> name = value;
                case "--host" -> host = value;
                case "--port" -> port = Integer.parseInt(value);
                case "--data-dir" -> dir = Path.of(value);
                case "--cluster-size" -> clusterSize = Integer.parseInt(value);
                case "--rollback-dir" -> rollbackDir = Path.of(value);
                case "--clock-start" -> clock = new SteppingClock(java.time.Instant.parse(value));
                default -> usage("unknown argument " + args[i]);
            }
            i++;
        }
        if (name == null || dir == null) {
            usage("--name and --data-dir are required");
        }
        long pause = Long.parseLong(System.getenv().getOrDefault("DBROLLBACK_NODE_RECOVER_PAUSE_MS", "0"));
        long tailPause = Long.parseLong(System.getenv().getOrDefault("DBROLLBACK_NODE_TAIL_PAUSE_MS", "0"));
        ReplicaNode node = ReplicaNode.start(new ReplicaNode.Config(name, host, port, dir, clusterSize, pause,
                tailPause, rollbackDir), clock);
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
                + " [--cluster-size N] [--rollback-dir DIR] [--clock-start INSTANT]");
        System.exit(2);
    }
}
