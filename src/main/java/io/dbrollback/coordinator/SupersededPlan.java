package io.dbrollback.coordinator;

import io.dbrollback.model.DivergentTail;
import io.dbrollback.model.RollbackFile;
import java.util.Objects;

/**
 * An earlier plan of the incident, redone because the world changed before the destructive step.
 * Kept in the audit record with what it had done: its file is never deleted.
 *
 * @param tail the digest of the tail it read, or null if it read none
 * @param file the rollback file it wrote, or null if it wrote none
 * @param why what changed
 */
public record SupersededPlan(Plan plan, DivergentTail tail, RollbackFile file, String why) {
    public SupersededPlan {
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(why, "why");
    }
}
