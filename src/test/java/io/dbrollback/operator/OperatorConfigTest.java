package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The one configuration mapping: its defaults are the documented ones, and each property is read. */
class OperatorConfigTest {

    @Test
    void theDefaultsAreTheDeployedOnes() {
        OperatorConfig c = Configs.of(Map.of());
        assertEquals(ReconcileSettings.DEFAULTS, c.settings());
        assertEquals(AgentClients.Deadlines.DEFAULT, c.deadlines());
        assertEquals("exec", c.rollbackFile().writer());
        assertFalse(c.leaderElection().enabled());
        assertEquals("rollback-operator-leader", c.leaderElection().leaseName());
        assertEquals(Optional.empty(), c.leaderElection().leaseNamespace());
        assertFalse(c.instance().isBlank());
    }

    @Test
    void everyPropertyIsRead() {
        OperatorConfig c = Configs.of(Map.of("dbrollback.reconcile.max-steps", "3",
                "dbrollback.reconcile.wait-recheck", "30s", "dbrollback.reconcile.blocked-recheck", "2m",
                "dbrollback.retry.initial-backoff", "250ms", "dbrollback.retry.max-backoff", "5m",
                "dbrollback.rollback-file.writer", "agent", "dbrollback.leader-election.enabled", "true",
                "dbrollback.leader-election.lease-name", "ops-lock", "dbrollback.leader-election.lease-namespace",
                "ops", "dbrollback.instance", "rollback-operator-7d9f-x2"));
        assertEquals(new ReconcileSettings(3, Duration.ofSeconds(30), Duration.ofMinutes(2), Duration.ofMillis(250),
                Duration.ofMinutes(5)), c.settings());
        assertEquals(RollbackFileStore.Writer.AGENT, RollbackFileStore.Writer.parse(c.rollbackFile().writer()));
        assertTrue(c.leaderElection().enabled());
        assertEquals("ops-lock", LeaderElection.configuration(true, c.leaderElection().leaseName(),
                c.leaderElection().leaseNamespace(), c.instance()).getLeaseName());
        assertEquals(Optional.of("rollback-operator-7d9f-x2"), LeaderElection.configuration(true, "l",
                Optional.empty(), c.instance()).getIdentity());
    }

    @Test
    void aPacingThatCannotWorkIsRefusedNamingItsProperty() {
        assertEquals("dbrollback.reconcile.max-steps must be at least 1", assertThrows(IllegalArgumentException.class,
                () -> Configs.of(Map.of("dbrollback.reconcile.max-steps", "0")).settings()).getMessage());
        assertEquals("dbrollback.reconcile.wait-recheck must be positive", assertThrows(
                IllegalArgumentException.class, () -> Configs.of(Map.of("dbrollback.reconcile.wait-recheck", "0s"))
                        .settings()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Configs.of(Map.of(
                "dbrollback.retry.initial-backoff", "2m", "dbrollback.retry.max-backoff", "1m")).settings())
                .getMessage().contains("dbrollback.retry.initial-backoff must be positive and at most"));
    }

    @Test
    void theBackoffDoublesUpToItsMaximum() {
        ReconcileSettings s = ReconcileSettings.DEFAULTS;
        assertEquals(Duration.ofSeconds(1), s.backoff(0));
        assertEquals(Duration.ofSeconds(1), s.backoff(1));
        assertEquals(Duration.ofSeconds(2), s.backoff(2));
        assertEquals(Duration.ofSeconds(32), s.backoff(6));
        assertEquals(Duration.ofSeconds(60), s.backoff(7));
        assertEquals(Duration.ofSeconds(60), s.backoff(Integer.MAX_VALUE));
    }
}
