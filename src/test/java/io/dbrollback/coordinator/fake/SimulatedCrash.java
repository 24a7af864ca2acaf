package io.dbrollback.coordinator.fake;

/** The operator process died at this point: whatever the current step computed is lost. */
public final class SimulatedCrash extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SimulatedCrash(String where) {
        super("simulated operator crash " + where);
    }
}
