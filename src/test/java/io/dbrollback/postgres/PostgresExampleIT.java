package io.dbrollback.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL settings and the bootstrap script of deploy/examples/postgresql-statefulset.yaml on real
 * PostgreSQL 15: a cluster started with every setting of the example's {@code dbrollback.conf} (except the
 * listener, port, socket and pg_hba.conf path, which the test servers choose) runs with exactly those values,
 * and the agent creates its wal2json slot under them; the bootstrap script is valid sh.
 */
class PostgresExampleIT {

    static final Path FILE = Path.of("deploy", "examples", "postgresql-statefulset.yaml");
    static final String PLUGIN_LIST = "output_plugin_libraries";

    static ConfigMap config() throws Exception {
        KubernetesSerialization kube = new KubernetesSerialization();
        for (String doc : Files.readString(FILE).split("(?m)^---\\s*$")) {
            if (doc.contains("kind: ConfigMap")) {
                HasMetadata o = kube.unmarshal(doc);
                if (o instanceof ConfigMap c && c.getMetadata().getName().equals("pg-config")) {
                    return c;
                }
            }
        }
        throw new AssertionError("no ConfigMap pg-config in " + FILE);
    }

    /** name → value as written (quotes kept), comments and blank lines left out. */
    static Map<String, String> settings(ConfigMap c) {
        Map<String, String> s = new LinkedHashMap<>();
        for (String line : c.getData().get("dbrollback.conf").lines().toList()) {
            String l = line.strip();
            if (!l.isEmpty() && !l.startsWith("#")) {
                int eq = l.indexOf('=');
                s.put(l.substring(0, eq).strip(), l.substring(eq + 1).strip());
            }
        }
        return s;
    }

    @Test
    void theExamplesSettingsRunAndTheAgentMakesItsSlotUnderThem() throws Exception {
        Map<String, String> example = settings(config());
        Map<String, String> applied = new LinkedHashMap<>(example);
        for (String chosenByTheTest : new String[] {"listen_addresses", "port", "unix_socket_directories",
                "hba_file"}) {
            assertTrue(applied.remove(chosenByTheTest) != null, chosenByTheTest + " is in the example");
        }
        PgInstall install = PgInstall.find();
        assertTrue(applied.containsKey(PLUGIN_LIST), PLUGIN_LIST + " is in the example");
        if (!install.hasSetting(PLUGIN_LIST)) {
            // The example (and its image) asks for 15.19 or later, where the setting exists; an older 15 server on the
            // test machine must be older than that for the example's stated requirement to hold, and runs the rest.
            assertTrue(install.major() == 15 && install.minor() < 19, install.version() + " lacks " + PLUGIN_LIST
                    + ", which the example's required 15.19 or later has");
            applied.remove(PLUGIN_LIST);
            System.out.printf("PostgresExampleIT: %s predates %s; the example's other %d settings are applied%n",
                    install.version(), PLUGIN_LIST, applied.size());
        }
        PgCluster.Options options = PgCluster.Options.defaults().standbys(1);
        applied.forEach(options::setting);
        try (PgAgentCluster c = PgAgentCluster.start(options)) {
            c.awaitSlot();
            PgServer p = c.pg().primary();
            assertEquals("wal2json", p.queryString(
                    "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'dbrollback'"));
            for (Map.Entry<String, String> e : applied.entrySet()) {
                String want = e.getValue().replace("'", "");
                String have = p.queryString("SELECT current_setting('" + e.getKey() + "')");
                assertEquals(want, have, e.getKey() + " runs as the example says");
            }
        }
    }

    @Test
    void theBootstrapScriptIsValidSh() throws Exception {
        Path script = Files.createTempFile("bootstrap", ".sh");
        try {
            Files.writeString(script, config().getData().get("bootstrap.sh"));
            Process sh = new ProcessBuilder("sh", "-n", script.toString()).redirectErrorStream(true).start();
            assertTrue(sh.waitFor(30, TimeUnit.SECONDS));
            String out = new String(sh.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, sh.exitValue(), out);
        } finally {
            Files.deleteIfExists(script);
        }
    }
}
