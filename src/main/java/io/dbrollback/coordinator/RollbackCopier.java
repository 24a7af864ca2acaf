package io.dbrollback.coordinator;

import io.dbrollback.model.RollbackFile;
import java.util.List;

/**
 * The side effect of the copy step: copies a verified rollback file from the target pod to a second
 * place and reads the copy back. It never removes or changes anything on the target pod, and never
 * replaces an existing copy: copying again after a crash finds the copy already there. It does not
 * throw: every failure is a {@link CopyResult.Failed}. It may try more than one place (a pod that cannot
 * hold copies at all, or whose disk is too full, is passed over for the next); it answers every attempt
 * in order, the last one deciding.
 */
@FunctionalInterface
public interface RollbackCopier {

    /**
     * Copies {@code file}, plan {@code plan} of {@code incidentId} on {@code sourceNode}, and reads it back.
     *
     * @return the attempts, at least one; the last is the outcome
     */
    List<CopyResult> copy(String sourceNode, String incidentId, int plan, RollbackFile file);
}
