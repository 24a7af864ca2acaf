package io.dbrollback.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Properties;

/**
 * The PostgreSQL agent's own durable state, in its state directory (never in the data directory, which
 * pg_rewind overwrites): the highest term seen, the fence, the rollback id and the last recover with
 * its phase. Replaced atomically (temporary file, fsync, rename, directory fsync): a reader sees the
 * old or the new state, whatever instant the process dies at.
 */
final class PgAgentState {

    /** Where a recover is: each phase is recorded before the next one begins. */
    enum RecoverPhase {
        /** No recover, or the last one finished. */
        NONE,
        /** Rollback id bumped, incident recorded; the server may still hold the tail. */
        BEGUN,
        /** The WAL and control file pg_rewind reads and changes are copied aside: a rerun restores them first. */
        SAVED,
        /** pg_rewind finished and the node's configuration is back: the server starts as a standby. */
        REWOUND
    }

    long highestTerm;
    boolean fenced;
    String fenceIncident = "";
    /** The end of WAL right after the fenced restart (0: not yet known): the last LSN while fenced. */
    long fencedLastLsn;
    long commitLsn;
    long rollbackId;
    String lastRecoveryIncident = "";
    long lastRecoveryTarget;
    long lastRecoveryExpectedLast;
    String lastRecoveryFileSha256 = "";
    RecoverPhase recoverPhase = RecoverPhase.NONE;
    /** The timeline the node was on when the recover began (pg_rewind brings the source's history files). */
    int recoverTimeline;
    /** Recovered and not yet rejoined: the last LSN is reported as the recover's target. */
    boolean recoveredNotRejoined;
    /** The primary address of the last RejoinAsReplica ("" before any). */
    String following = "";

    private final Path file;

    private PgAgentState(Path file) {
        this.file = file;
    }

    static PgAgentState load(Path dir) throws IOException {
        Files.createDirectories(dir);
        PgAgentState s = new PgAgentState(dir.resolve("agent-state.properties"));
        if (!Files.exists(s.file)) {
            return s;
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(s.file)) {
            p.load(in);
        }
        s.highestTerm = Long.parseLong(p.getProperty("highestTerm", "0"));
        s.fenced = Boolean.parseBoolean(p.getProperty("fenced", "false"));
        s.fenceIncident = p.getProperty("fenceIncident", "");
        s.fencedLastLsn = Long.parseLong(p.getProperty("fencedLastLsn", "0"));
        s.commitLsn = Long.parseLong(p.getProperty("commitLsn", "0"));
        s.rollbackId = Long.parseLong(p.getProperty("rollbackId", "0"));
        s.lastRecoveryIncident = p.getProperty("lastRecoveryIncident", "");
        s.lastRecoveryTarget = Long.parseLong(p.getProperty("lastRecoveryTarget", "0"));
        s.lastRecoveryExpectedLast = Long.parseLong(p.getProperty("lastRecoveryExpectedLast", "0"));
        s.lastRecoveryFileSha256 = p.getProperty("lastRecoveryFileSha256", "");
        s.recoverPhase = RecoverPhase.valueOf(p.getProperty("recoverPhase", "NONE"));
        s.recoverTimeline = Integer.parseInt(p.getProperty("recoverTimeline", "0"));
        s.recoveredNotRejoined = Boolean.parseBoolean(p.getProperty("recoveredNotRejoined", "false"));
        s.following = p.getProperty("following", "");
        return s;
    }

    /** Makes the current values durable. */
    void save() throws IOException {
        Properties p = new Properties();
        p.setProperty("highestTerm", Long.toString(highestTerm));
        p.setProperty("fenced", Boolean.toString(fenced));
        p.setProperty("fenceIncident", fenceIncident);
        p.setProperty("fencedLastLsn", Long.toString(fencedLastLsn));
        p.setProperty("commitLsn", Long.toString(commitLsn));
        p.setProperty("rollbackId", Long.toString(rollbackId));
        p.setProperty("lastRecoveryIncident", lastRecoveryIncident);
        p.setProperty("lastRecoveryTarget", Long.toString(lastRecoveryTarget));
        p.setProperty("lastRecoveryExpectedLast", Long.toString(lastRecoveryExpectedLast));
        p.setProperty("lastRecoveryFileSha256", lastRecoveryFileSha256);
        p.setProperty("recoverPhase", recoverPhase.name());
        p.setProperty("recoverTimeline", Integer.toString(recoverTimeline));
        p.setProperty("recoveredNotRejoined", Boolean.toString(recoveredNotRejoined));
        p.setProperty("following", following);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            p.store(out, "rollback-operator PostgreSQL agent state");
        }
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncDirectory(file.getParent());
    }

    static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
            c.force(true);
        }
    }
}
