package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Leader election is off unless enabled, and then uses the configured Lease. */
class LeaderElectionTest {

    @Test
    void offUnlessEnabled() {
        assertNull(LeaderElection.configuration(false, "x", Optional.of("ops"), "pod-0"));
    }

    @Test
    void enabledUsesTheConfiguredLease() {
        LeaderElectionConfiguration c = LeaderElection.configuration(true, "rollback-operator-leader",
                Optional.of("rollback-operator"), "rollback-operator-7d9f-x2");
        assertEquals("rollback-operator-leader", c.getLeaseName());
        assertEquals(Optional.of("rollback-operator-7d9f-x2"), c.getIdentity(), "the instance is the identity");
        assertEquals(Optional.of("rollback-operator"), c.getLeaseNamespace());
        assertEquals(Optional.empty(),
                LeaderElection.configuration(true, "l", Optional.of(" "), "pod-0").getLeaseNamespace());
    }
}
