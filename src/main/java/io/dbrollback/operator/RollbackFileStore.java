package io.dbrollback.operator;

import io.dbrollback.coordinator.PersistResult;
import io.dbrollback.coordinator.TailStream;
import io.dbrollback.coordinator.VerifyResult;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.RollbackFileHeader;
import java.time.Instant;
import java.util.Locale;

/**
 * Where rollback files are written and read back: in the target pod through pod exec
 * ({@link ExecRollbackFileStore}), or by the pod's agent over gRPC ({@link AgentRollbackFileStore}).
 * Both write the same bytes ({@link RollbackFileFormat}), so a tail gives the same file digest either
 * way. The contracts are those of {@link io.dbrollback.coordinator.RollbackTransport#persistRollbackFile}
 * and {@link io.dbrollback.coordinator.RollbackTransport#verifyRollbackFile}: disk errors are typed
 * {@link PersistResult.Failed} results (fail closed), a broken transfer is a retried
 * {@link io.dbrollback.coordinator.TransportException}, and a file is trusted only once it was read back.
 */
public interface RollbackFileStore {

    /** Which store the operator uses, from {@code dbrollback.rollback-file.writer}. */
    enum Writer {
        /** The operator writes through pod exec (needs pods/exec in the database namespaces). */
        EXEC,
        /** The agent writes over gRPC (WriteRollbackFile); the operator needs no pods/exec. */
        AGENT;

        /** {@code exec} or {@code agent}, as the configuration property spells it. */
        public static Writer parse(String value) {
            String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
            return switch (v) {
                case "exec" -> EXEC;
                case "agent" -> AGENT;
                default -> throw new IllegalArgumentException("dbrollback.rollback-file.writer must be exec or agent");
            };
        }
    }

    /** Writes {@code tail} to the rollback file of {@code header} in {@code pod}'s data volume. */
    PersistResult persist(String pod, RollbackFileHeader header, TailStream tail);

    /** Reads {@code expected} back from {@code pod}; quarantines (renames) it when it differs. */
    VerifyResult verify(String pod, RollbackFile expected, Instant now);
}
