package io.dbrollback.coordinator;

import io.dbrollback.model.Term;
import java.util.Objects;

/** The coordinator's answer to "what next?": one side effect, a record-only transition, a wait, or done. */
public sealed interface Decision {

    /** The side effects, one per step. */
    enum Action {
        /** {@link RollbackTransport#fence}. */
        FENCE,
        /** {@link RollbackTransport#readDivergentTail} streamed into {@link RollbackTransport#persistRollbackFile}. */
        PERSIST_TAIL,
        /** {@link RollbackTransport#verifyRollbackFile}. */
        VERIFY_FILE,
        /** {@link RollbackCopier#copy}: the verified file to a second place, read back; removes nothing. */
        COPY_FILE,
        /** {@link RollbackTransport#recoverToLsn}: the one destructive step. */
        RECOVER,
        /** {@link RollbackTransport#emitRollbackEvent}. */
        EMIT_EVENT,
        /** {@link RollbackTransport#rejoinAsReplica}. */
        REJOIN
    }

    /** Perform {@code action} with the given term as the fencing token. */
    record Act(Action action, Term term) implements Decision {
        public Act {
            Objects.requireNonNull(action, "action");
            Objects.requireNonNull(term, "term");
        }
    }

    /** Record {@code next}; no side effect. */
    record Transition(Checkpoint next) implements Decision {
        public Transition {
            Objects.requireNonNull(next, "next");
        }
    }

    /** Nothing to do until the world or the spec changes. */
    record Wait(Reason reason, String message) implements Decision {
        public Wait {
            Objects.requireNonNull(reason, "reason");
        }
    }

    /** The incident is over. */
    record Done() implements Decision {
    }
}
