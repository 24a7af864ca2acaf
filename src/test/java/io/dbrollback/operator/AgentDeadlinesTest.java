package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The deadline settings: their defaults are those of application.properties, a zero, negative or
 * missing value is refused naming its property, and the operator's producer builds them from the
 * properties.
 */
class AgentDeadlinesTest {

    private static List<Duration> components(AgentClients.Deadlines d) {
        return List.of(d.getTimeline(), d.fence(), d.recoverToLsn(), d.rejoinAsReplica(), d.quarantineRollbackFile(),
                d.summarizeTail(), d.progressTimeout(), d.streamDeadline());
    }

    private static AgentClients.Deadlines of(List<Duration> c) {
        return new AgentClients.Deadlines(c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5), c.get(6),
                c.get(7));
    }

    @Test
    void theDefaultsAreTheConfigurationMappingsDefaults() {
        assertEquals(AgentClients.Deadlines.DEFAULT, Configs.of(Map.of()).deadlines());
        assertEquals(List.of(Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofMinutes(10),
                Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(60),
                Duration.ofMinutes(30)),
                components(AgentClients.Deadlines.DEFAULT), "the documented defaults");
    }

    @Test
    void aZeroNegativeOrMissingValueIsRefusedNamingItsProperty() {
        for (int i = 0; i < AgentClients.Deadlines.PROPERTIES.size(); i++) {
            for (Duration bad : Arrays.asList(Duration.ZERO, Duration.ofSeconds(-5), null)) {
                List<Duration> c = new ArrayList<>(components(AgentClients.Deadlines.DEFAULT));
                c.set(i, bad);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> of(c));
                assertTrue(e.getMessage().startsWith(AgentClients.Deadlines.PROPERTIES.get(i)
                        + " must be a positive duration"), e.getMessage());
            }
        }
        assertEquals("dbrollback.agent.progress-timeout must be a positive duration (such as 30s or 10m), not PT0S",
                assertThrows(IllegalArgumentException.class, () -> new OperatorBeans().agentDeadlines(
                        Configs.of(Map.of("dbrollback.agent.progress-timeout", "0s")))).getMessage());
    }

    @Test
    void theProducerBuildsThemFromTheProperties() {
        AgentClients.Deadlines d = new OperatorBeans().agentDeadlines(Configs.of(Map.of(
                "dbrollback.agent.deadline.get-timeline", "1s", "dbrollback.agent.deadline.fence", "2s",
                "dbrollback.agent.deadline.recover-to-lsn", "3s", "dbrollback.agent.deadline.rejoin-as-replica", "4s",
                "dbrollback.agent.deadline.quarantine-rollback-file", "5s", "dbrollback.agent.deadline.summarize-tail",
                "6s", "dbrollback.agent.progress-timeout", "7s", "dbrollback.agent.stream-deadline", "8s")));
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L),
                components(d).stream().map(Duration::toSeconds).toList());
        try (AgentClients clients = new OperatorBeans().agentClients(d)) {
            assertSame(d, clients.deadlines());
        }
        try (AgentClients clients = new AgentClients()) {
            assertSame(AgentClients.Deadlines.DEFAULT, clients.deadlines(),
                    "the existing constructors keep the defaults");
        }
    }

    @Test
    void messagesSayDurationsInWords() {
        assertEquals("60 s", AgentClients.Deadlines.words(Duration.ofSeconds(60)));
        assertEquals("1.5 s", AgentClients.Deadlines.words(Duration.ofMillis(1500)));
        assertEquals("600 ms", AgentClients.Deadlines.words(Duration.ofMillis(600)));
        assertEquals("1800 s", AgentClients.Deadlines.words(Duration.ofMinutes(30)));
    }
}
