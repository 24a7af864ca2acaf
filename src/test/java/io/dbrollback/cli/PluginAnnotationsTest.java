package io.dbrollback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dbrollback.api.ReplicaSetRollback;
import org.junit.jupiter.api.Test;

/**
 * The plugin carries its own copy of the annotation names (its jar holds none of the operator's API classes):
 * they must stay the ones the operator reads, or approve and pause would set annotations nothing reads.
 */
class PluginAnnotationsTest {

    @Test
    void thePluginSetsTheAnnotationsTheOperatorReads() {
        assertEquals(ReplicaSetRollback.APPROVE_ANNOTATION, KubeCommands.APPROVE);
        assertEquals(ReplicaSetRollback.PAUSE_ANNOTATION, KubeCommands.PAUSED);
    }
}
