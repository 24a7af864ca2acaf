package io.dbrollback.coordinator.fake;

import io.dbrollback.coordinator.CopyResult;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.model.RollbackFile;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A hand-written {@link RollbackCopier} for fast tests: by default every copy lands on {@code place} and
 * reads back as the file itself; {@link #next} scripts the outcome of the coming calls (a failure code, a
 * copy that reads back other bytes). It records every call.
 */
public final class FakeCopier implements RollbackCopier {

    /** One scripted outcome. */
    public enum Outcome {
        /** Stored and read back as the file. */
        OK,
        /** No place could take it (code NoSpace on the place). */
        NO_SPACE,
        /** The place did not answer (code Unreachable). */
        UNREACHABLE,
        /** Stored, but the read-back gives another SHA-256. */
        WRONG_DIGEST
    }

    /** One call, as the coordinator made it. */
    public record Call(String source, String incident, int plan, RollbackFile file) {
    }

    private final String place;
    private final Deque<Outcome> script = new ArrayDeque<>();
    private final List<Call> calls = new ArrayList<>();

    public FakeCopier(String place) {
        this.place = place;
    }

    /** The coming calls' outcomes, in order; once they are used up, every call is {@link Outcome#OK}. */
    public synchronized FakeCopier next(Outcome... outcomes) {
        script.addAll(List.of(outcomes));
        return this;
    }

    public synchronized List<Call> calls() {
        return List.copyOf(calls);
    }

    @Override
    public synchronized List<CopyResult> copy(String sourceNode, String incidentId, int plan, RollbackFile file) {
        calls.add(new Call(sourceNode, incidentId, plan, file));
        Outcome o = script.isEmpty() ? Outcome.OK : script.poll();
        String path = "/copies/" + sourceNode + "/" + incidentId + "-plan" + plan + ".rollback.jsonl";
        return List.of(switch (o) {
            case OK -> new CopyResult.Stored(FileCopy.AGENT, place, path, file.bytes(), file.sha256());
            case NO_SPACE -> new CopyResult.Failed(FileCopy.AGENT, place, "NoSpace", place + " has 0 bytes free");
            case UNREACHABLE -> new CopyResult.Failed(FileCopy.AGENT, place, "Unreachable", place + " is down");
            case WRONG_DIGEST -> new CopyResult.Stored(FileCopy.AGENT, place, path, file.bytes(), "0".repeat(64));
        });
    }
}
