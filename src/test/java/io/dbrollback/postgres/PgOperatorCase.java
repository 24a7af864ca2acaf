package io.dbrollback.postgres;

import io.dbrollback.testing.MockApiServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * What every test of the operator on real PostgreSQL starts from: three PostgreSQL 15 servers with their agents
 * ({@link PgCluster.Options#defaults()}) and a mock API server; the test starts the operator into
 * {@link #operator}. All is stopped after each test, the operator first.
 */
abstract class PgOperatorCase {

    protected PgAgentCluster c;
    protected MockApiServer api;
    protected KubernetesClient client;
    protected Operator operator;

    @BeforeEach
    void startServers() throws Exception {
        c = PgAgentCluster.start(PgCluster.Options.defaults());
        api = MockApiServer.start();
        client = api.client();
    }

    @AfterEach
    void stopServers() {
        if (operator != null) {
            operator.stop();
        }
        if (api != null) {
            api.close();
        }
        if (c != null) {
            c.close();
        }
    }
}
