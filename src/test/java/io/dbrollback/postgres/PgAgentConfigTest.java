package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The PostgreSQL agent's configuration: what a pod template can say, and what is refused. */
class PgAgentConfigTest {

    static PgAgentConfig config(String name, List<String> peers, Path fence) {
        Path d = Path.of("/data");
        return new PgAgentConfig(name, "0.0.0.0", 7000, d, d, 5432, d, fence, d, d, "postgres", "replicator", null, peers,
                "dbrollback", "postgres", Duration.ofSeconds(5), false, null);
    }

    @Test
    void oneTemplateListsEveryMemberAndTheNodeLeavesItselfOut() {
        PgAgentConfig c = config("pg-1", List.of("pg-0.pg.db.svc:5432", "pg-1.pg.db.svc:5432", "pg-2.pg.db.svc:5432",
                "pg-10.pg:5432"), Path.of("/state/fence"));
        assertEquals(List.of("pg-0.pg.db.svc:5432", "pg-2.pg.db.svc:5432", "pg-10.pg:5432"), c.peers());
        assertEquals("dbrollback_pg_1", c.physicalSlot());
    }

    @Test
    void nothingAShellCouldReadOtherwiseReachesTheFenceOptions() {
        assertThrows(IllegalArgumentException.class, () -> config("pg-0", List.of(), Path.of("/state/fen'ce")));
        assertThrows(IllegalArgumentException.class, () -> config("pg-0", List.of(), Path.of("/state/fence dir")));
        assertThrows(IllegalArgumentException.class, () -> config("pg-0", List.of("pg-1"), Path.of("/state/fence")),
                "a peer is host:port");
        assertThrows(IllegalArgumentException.class, () -> config("pg-0", List.of("pg-1;rm:5432"), Path.of("/f")));
    }
}
