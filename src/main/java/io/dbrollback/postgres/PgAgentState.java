package io.dbrollback.postgres;

import io.dbrollback.agent.DurableProperties;
import io.dbrollback.agent.RecoveryRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The PostgreSQL agent's own durable state, in its state directory (never in the data directory, which
 * pg_rewind overwrites): the highest term seen, the fence, the rollback id and the last recover with
 * its phase. Replaced atomically ({@link DurableProperties}: temporary file, fsync, rename, directory
 * fsync): a reader sees the old or the new state, whatever instant the process dies at.
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
    RecoveryRecord lastRecovery = RecoveryRecord.NONE;
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
        Properties p = DurableProperties.load(s.file);
        s.highestTerm = Long.parseLong(p.getProperty("highestTerm", "0"));
        s.fenced = Boolean.parseBoolean(p.getProperty("fenced", "false"));
        s.fenceIncident = p.getProperty("fenceIncident", "");
        s.fencedLastLsn = Long.parseLong(p.getProperty("fencedLastLsn", "0"));
        s.commitLsn = Long.parseLong(p.getProperty("commitLsn", "0"));
        s.rollbackId = Long.parseLong(p.getProperty("rollbackId", "0"));
        s.lastRecovery = RecoveryRecord.load(p);
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
        lastRecovery.store(p);
        p.setProperty("recoverPhase", recoverPhase.name());
        p.setProperty("recoverTimeline", Integer.toString(recoverTimeline));
        p.setProperty("recoveredNotRejoined", Boolean.toString(recoveredNotRejoined));
        p.setProperty("following", following);
        DurableProperties.store(file, p, "rollback-operator PostgreSQL agent state");
    }
}
