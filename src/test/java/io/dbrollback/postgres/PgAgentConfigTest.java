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
        return new PgAgentConfig(name, "0.0.0.0", 7000, d, d, 5432, d, fence, d, d, "postgres", "replicator", null,
                peers,
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

    @Test
    void afterARewindTheWalIsCompletedFromTheLastCopiedSegmentToTheMinimumRecoveryPoint() {
        long seg = 16L << 20;
        List<String> local = List.of("000000010000000000000003", "000000010000000000000004", "000000020000000000000004",
                "000000020000000000000005", "00000002.history", "archive_status");
        // the point in segment 5 of timeline 2: segment 5 again (it may have been copied while written)
        assertEquals(List.of("000000020000000000000005"), PgAgent.segmentsToComplete(local, 2, 5 * seg + 4096, seg));
        // the point two segments past the last copied one: that one and those after it
        assertEquals(List.of("000000020000000000000005", "000000020000000000000006", "000000020000000000000007"),
                PgAgent.segmentsToComplete(local, 2, 7 * seg + 1, seg));
        // across a 4 GB boundary of positions
        assertEquals(List.of("0000000200000000000000FF", "000000020000000100000000"), PgAgent.segmentsToComplete(
                List.of("0000000200000000000000FF"), 2, 0x100000000L + 10, seg));
        // no point (a data directory that needs none): nothing
        assertEquals(List.of(), PgAgent.segmentsToComplete(local, 2, 0, seg));
        // no segment of that timeline here: the one that holds the point
        assertEquals(List.of("000000030000000000000009"), PgAgent.segmentsToComplete(local, 3, 9 * seg, seg));
    }
}
