package io.dbrollback.node;

import io.dbrollback.agent.DurableProperties;
import io.dbrollback.agent.RecoveryRecord;
import io.dbrollback.model.NodeRole;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The reference node's small durable state, {@code state.properties}, replaced atomically
 * ({@link DurableProperties}): readers see the old or the new state, never a mix, whatever instant
 * the process dies at.
 */
final class NodeState {

    long currentTerm;
    long primaryTerm;
    NodeRole role = NodeRole.DETACHED;
    String following = "";
    boolean fenced;
    long commitLsn;
    long rollbackId;
    RecoveryRecord lastRecovery = RecoveryRecord.NONE;
    /** A recover whose rollback id is bumped but whose truncation is not yet recorded as done. */
    boolean recoveryPending;

    private final Path file;

    private NodeState(Path file) {
        this.file = file;
    }

    static NodeState load(Path dir) throws IOException {
        NodeState s = new NodeState(dir.resolve("state.properties"));
        Properties p = DurableProperties.load(s.file);
        s.currentTerm = Long.parseLong(p.getProperty("currentTerm", "0"));
        s.primaryTerm = Long.parseLong(p.getProperty("primaryTerm", "0"));
        s.role = NodeRole.valueOf(p.getProperty("role", "DETACHED"));
        s.following = p.getProperty("following", "");
        s.fenced = Boolean.parseBoolean(p.getProperty("fenced", "false"));
        s.commitLsn = Long.parseLong(p.getProperty("commitLsn", "0"));
        s.rollbackId = Long.parseLong(p.getProperty("rollbackId", "0"));
        s.lastRecovery = RecoveryRecord.load(p);
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
        lastRecovery.store(p);
        p.setProperty("recoveryPending", Boolean.toString(recoveryPending));
        DurableProperties.store(file, p, "reference replica node state");
    }
}
