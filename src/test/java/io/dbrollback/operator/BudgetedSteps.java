package io.dbrollback.operator;

import java.util.concurrent.Semaphore;

/**
 * A {@link StepFactory} decorator for tests: every coordinator step takes a permit of the budget and
 * none is taken without one, so that a test can stop an operator instance after an exact number of
 * steps and hand the rollback to another.
 */
final class BudgetedSteps extends ForwardingStepFactory {

    private final Semaphore budget;

    BudgetedSteps(StepFactory inner, Semaphore budget) {
        super(inner);
        this.budget = budget;
    }

    @Override
    public boolean mayStep() {
        return inner.mayStep() && budget.tryAcquire();
    }
}
