package io.dbrollback.operator;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/**
 * The operator's whole configuration, {@code dbrollback.*} (each property also as an environment
 * variable: {@code dbrollback.retry.max-backoff} is {@code DBROLLBACK_RETRY_MAX_BACKOFF}). The Helm
 * chart sets them from its values; README's "Operator configuration" lists each. Read once at start:
 * an invalid value stops the start, naming the property.
 */
@ConfigMapping(prefix = "dbrollback")
public interface OperatorConfig {

    /** Who writes the rollback file. */
    RollbackFile rollbackFile();

    /** Calls to the agents. */
    Agent agent();

    /** The backoff of a failed step. */
    Retry retry();

    /** How the reconciler paces itself. */
    Reconcile reconcile();

    /** Leader election between operator replicas. */
    LeaderElection leaderElection();

    /**
     * This operator instance's name: the Events' reporting instance and the leader election identity
     * (the pod's name in a cluster).
     */
    @WithDefault("${HOSTNAME:rollback-operator}")
    String instance();

    interface RollbackFile {
        /** {@code exec} (the operator, through pod exec) or {@code agent} (the pod's agent over gRPC). */
        @WithDefault("exec")
        String writer();

        /**
         * With the exec writer: the largest rollback file written by one pod exec ({@code put}); a larger
         * one is written by begin, one append per 4 MiB and commit. At most 4 MiB; 0 always takes the
         * three-step path.
         */
        @WithDefault("4194304")
        int execSingleCallMaxBytes();
    }

    interface Agent {
        /** The deadline of each unary call: one that has not answered in time fails with DEADLINE_EXCEEDED. */
        Deadline deadline();

        /** A stream that moves no message for this long is cancelled (AgentStalled). */
        @WithDefault("60s")
        Duration progressTimeout();

        /** The whole of one stream, a second guard behind the progress timeout. */
        @WithDefault("30m")
        Duration streamDeadline();

        interface Deadline {
            @WithDefault("10s")
            Duration getTimeline();

            @WithDefault("30s")
            Duration fence();

            @WithDefault("10m")
            Duration recoverToLsn();

            @WithDefault("30s")
            Duration rejoinAsReplica();

            @WithDefault("30s")
            Duration quarantineRollbackFile();

            /** SummarizeTail, which reads the whole tail on the node before it answers. */
            @WithDefault("60s")
            Duration summarizeTail();
        }
    }

    interface Retry {
        /** The backoff before the second attempt of a failed step, doubled per attempt. */
        @WithDefault("1s")
        Duration initialBackoff();

        /** The longest backoff between two attempts of a failed step. */
        @WithDefault("60s")
        Duration maxBackoff();
    }

    interface Reconcile {
        /** How many coordinator steps one reconcile takes at most before it yields its thread. */
        @WithDefault("40")
        int maxSteps();

        /** When to look again at a rollback that waits (approval, a pause, a missing leader timeline). */
        @WithDefault("10s")
        Duration waitRecheck();

        /** When to look again at a rollback held before any step (a BlockReason) or by a defect. */
        @WithDefault("20s")
        Duration blockedRecheck();
    }

    /** The operator's Lease name when none is configured. */
    String DEFAULT_LEASE_NAME = "rollback-operator-leader";

    interface LeaderElection {
        /** Whether replicas elect a leader (the chart turns it on for more than one replica). */
        @WithDefault("false")
        boolean enabled();

        /** The operator's own Lease. */
        @WithDefault(DEFAULT_LEASE_NAME)
        String leaseName();

        /** The Lease's namespace; the client's namespace (the pod's own) when not set. */
        Optional<String> leaseNamespace();
    }

    /** The pacing settings of the reconciler. */
    default ReconcileSettings settings() {
        return new ReconcileSettings(reconcile().maxSteps(), reconcile().waitRecheck(), reconcile().blockedRecheck(),
                retry().initialBackoff(), retry().maxBackoff());
    }

    /** The deadlines of the calls to the agents. */
    default AgentClients.Deadlines deadlines() {
        Agent.Deadline d = agent().deadline();
        return new AgentClients.Deadlines(d.getTimeline(), d.fence(), d.recoverToLsn(), d.rejoinAsReplica(),
                d.quarantineRollbackFile(), d.summarizeTail(), agent().progressTimeout(), agent().streamDeadline());
    }
}
