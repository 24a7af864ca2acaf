package io.dbrollback.node;

import io.dbrollback.model.NodeRole;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Properties;

/**
 * The reference node's small durable state, replaced atomically: written to a temporary file,
 * fsynced, renamed over the old one, and the directory fsynced. Readers see the old or the new
 * state, never a mix, whatever instant the process dies at.
 */
final class NodeState {

    long currentTerm;
    long primaryTerm;
    NodeRole role = NodeRole.DETACHED;
    String following = "";
    boolean fenced;
    long commitLsn;
    long rollbackId;
    String lastRecoveryIncident = "";
    long lastRecoveryTarget;
    long lastRecoveryExpectedLast;
    String lastRecoveryFileSha256 = "";
    /** A recover whose rollback id is bumped but whose truncation is not yet recorded as done. */
    boolean recoveryPending;

    private final Path dir;

    private NodeState(Path dir) {
        this.dir = dir;
    }

    static NodeState load(Path dir) throws IOException {
        NodeState s = new NodeState(dir);
        Path file = dir.resolve("state.properties");
        if (!Files.exists(file)) {
            return s;
        }
        Properties p = new Properties();
        try (var in = Files.newInputStream(file)) {
            p.load(in);
        }
        s.currentTerm = Long.parseLong(p.getProperty("currentTerm", "0"));
        s.primaryTerm = Long.parseLong(p.getProperty("primaryTerm", "0"));
        s.role = NodeRole.valueOf(p.getProperty("role", "DETACHED"));
        s.following = p.getProperty("following", "");
        s.fenced = Boolean.parseBoolean(p.getProperty("fenced", "false"));
        s.commitLsn = Long.parseLong(p.getProperty("commitLsn", "0"));
        s.rollbackId = Long.parseLong(p.getProperty("rollbackId", "0"));
        s.lastRecoveryIncident = p.getProperty("lastRecoveryIncident", "");
        s.lastRecoveryTarget = Long.parseLong(p.getProperty("lastRecoveryTarget", "0"));
        s.lastRecoveryExpectedLast = Long.parseLong(p.getProperty("lastRecoveryExpectedLast", "0"));
        s.lastRecoveryFileSha256 = p.getProperty("lastRecoveryFileSha256", "");
        s.recoveryPending = Boolean.parseBoolean(p.getProperty("recoveryPending", "false"));
        return s;
    }

    /** Makes the current values durable. */
    void save() throws IOException {
        Properties p = new Properties();
        p.setProperty("currentTerm", Long.toString(currentTerm));
        p.setProperty("primaryTerm", Long.toString(primaryTerm));
        p.setProperty("role", role.name());
        p.setProperty("following", following);
        p.setProperty("fenced", Boolean.toString(fenced));
        p.setProperty("commitLsn", Long.toString(commitLsn));
        p.setProperty("rollbackId", Long.toString(rollbackId));
        p.setProperty("lastRecoveryIncident", lastRecoveryIncident);
        p.setProperty("lastRecoveryTarget", Long.toString(lastRecoveryTarget));
        p.setProperty("lastRecoveryExpectedLast", Long.toString(lastRecoveryExpectedLast));
        p.setProperty("lastRecoveryFileSha256", lastRecoveryFileSha256);
        p.setProperty("recoveryPending", Boolean.toString(recoveryPending));
        Path tmp = dir.resolve("state.properties.tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING); OutputStream out = Channels.newOutputStream(ch)) {
            p.store(out, "reference replica node state");
            out.flush();
            ch.force(true);
        }
        Files.move(tmp, dir.resolve("state.properties"), StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        fsyncDirectory(dir);
    }

    static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
