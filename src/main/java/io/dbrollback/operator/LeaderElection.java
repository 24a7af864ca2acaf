package io.dbrollback.operator;

import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.inject.Produces;
import java.util.Optional;

/**
 * Leader election, so that more than one operator replica never acts on the same rollback. The
 * operator SDK (QOSDK 7.7.3) has no property to turn it on: it runs leader election, in the prod
 * profile only, when a {@link LeaderElectionConfiguration} bean is present. This producer supplies
 * one only when {@code dbrollback.leader-election.enabled} is true (the Helm chart sets
 * {@code DBROLLBACK_LEADER_ELECTION_ENABLED} for more than one replica).
 *
 * <p>The operator's Lease lives in its own namespace; it needs Lease get, create and update there
 * (the chart's leader-election Role), and the identity is {@code dbrollback.instance} (the pod name).
 */
@ApplicationScoped
public class LeaderElection {

    @Produces
    @Dependent
    LeaderElectionConfiguration leaderElection(OperatorConfig config) {
        OperatorConfig.LeaderElection le = config.leaderElection();
        return configuration(le.enabled(), le.leaseName(), le.leaseNamespace(), config.instance());
    }

    /**
     * The configuration to use, or null (no leader election) when disabled. Without a namespace, the
     * SDK uses the namespace of the client's configuration (the pod's own namespace in a cluster).
     */
    static LeaderElectionConfiguration configuration(boolean enabled, String leaseName,
            Optional<String> leaseNamespace, String identity) {
        if (!enabled) {
            return null;
        }
        LeaderElectionConfigurationBuilder b = LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(
                leaseName).withIdentity(identity);
        leaseNamespace.filter(ns -> !ns.isBlank()).ifPresent(b::withLeaseNamespace);
        return b.build();
    }
}
