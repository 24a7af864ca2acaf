package io.dbrollback.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.postgres.PgAgentConfig;
import io.dbrollback.postgres.PgAgentMain;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * deploy/examples/postgresql-statefulset.yaml runs the PostgreSQL agent the way docs/postgresql.md says it
 * must run: the container's command is the agent, whose arguments (with each pod's name put in, as the
 * kubelet does) parse into a configuration for every pod; its peers are the other pods by their headless
 * Service names; its ports, socket, data, state and rollback folders are the container's and on the right
 * volumes; the PostgreSQL settings hold every requirement of the guide; and the rollback example names
 * the same cluster, container, TLS Secret and rollback folder.
 */
class PostgresExampleTest {

    static final Path FILE = ExamplesTest.EXAMPLES.resolve("postgresql-statefulset.yaml");
    static final String MAIN_CLASS = "io.dbrollback.postgres.PgAgentMain";

    record Example(StatefulSet sts, Container postgres, Container bootstrap, Service service, ConfigMap config,
            ReplicaSetRollback rollback) {

        PodSpec pod() {
            return sts.getSpec().getTemplate().getSpec();
        }

        int port(Container c, String name) {
            return c.getPorts().stream().filter(p -> name.equals(p.getName())).map(ContainerPort::getContainerPort)
                    .findFirst().orElseThrow(() -> new AssertionError("no container port " + name));
        }

        List<String> pods() {
            List<String> pods = new ArrayList<>();
            for (int i = 0; i < sts.getSpec().getReplicas(); i++) {
                pods.add(sts.getMetadata().getName() + "-" + i);
            }
            return pods;
        }

        /** The agent's arguments as the kubelet gives them to {@code pod}: {@code $(VAR)} replaced from env. */
        String[] args(String pod) {
            Map<String, String> env = new LinkedHashMap<>();
            for (EnvVar e : postgres.getEnv()) {
                env.put(e.getName(), e.getValueFrom() != null
                        && "metadata.name".equals(e.getValueFrom().getFieldRef().getFieldPath()) ? pod : e.getValue());
            }
            List<String> out = new ArrayList<>();
            for (String a : postgres.getArgs()) {
                Matcher m = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)").matcher(a);
                StringBuilder b = new StringBuilder();
                while (m.find()) {
                    String v = env.get(m.group(1));
                    assertTrue(v != null, "$(" + m.group(1) + ") is in the container's env");
                    m.appendReplacement(b, Matcher.quoteReplacement(v));
                }
                m.appendTail(b);
                out.add(b.toString());
            }
            return out.toArray(String[]::new);
        }

        /** The volume mounted at the deepest mount path of {@code c} that holds {@code path}. */
        VolumeMount mountOf(Container c, Path path) {
            return c.getVolumeMounts().stream().filter(m -> path.startsWith(Path.of(m.getMountPath())))
                    .max((a, b) -> Integer.compare(a.getMountPath().length(), b.getMountPath().length()))
                    .orElseThrow(() -> new AssertionError(path + " is on no volume of " + c.getName()));
        }

        Volume volume(String name) {
            return pod().getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("no volume " + name));
        }

        boolean persistent(VolumeMount m) {
            return sts.getSpec().getVolumeClaimTemplates().stream().anyMatch(v -> v.getMetadata().getName()
                    .equals(m.getName()));
        }

        /** The settings of the ConfigMap's dbrollback.conf, quotes removed. */
        Map<String, String> settings() {
            Map<String, String> s = new LinkedHashMap<>();
            for (String line : config.getData().get("dbrollback.conf").lines().toList()) {
                String l = line.strip();
                if (l.isEmpty() || l.startsWith("#")) {
                    continue;
                }
                int eq = l.indexOf('=');
                String v = l.substring(eq + 1).strip();
                s.put(l.substring(0, eq).strip(), v.startsWith("'") ? v.substring(1, v.length() - 1) : v);
            }
            return s;
        }
    }

    static Example example() throws Exception {
        List<HasMetadata> objects = ExamplesTest.objects();
        StatefulSet sts = Chart.ofKind(objects, StatefulSet.class).stream()
                .filter(s -> s.getMetadata().getName().equals("pg")).findFirst().orElseThrow();
        Container postgres = sts.getSpec().getTemplate().getSpec().getContainers().stream()
                .filter(c -> c.getCommand() != null && c.getCommand().contains(MAIN_CLASS)).findFirst()
                .orElseThrow(() -> new AssertionError("no container runs " + MAIN_CLASS));
        Container bootstrap = sts.getSpec().getTemplate().getSpec().getInitContainers().get(0);
        Service service = Chart.ofKind(objects, Service.class).stream()
                .filter(s -> s.getMetadata().getName().equals(sts.getSpec().getServiceName())).findFirst()
                .orElseThrow(() -> new AssertionError("no Service " + sts.getSpec().getServiceName()));
        ConfigMap config = Chart.ofKind(objects, ConfigMap.class).stream()
                .filter(c -> c.getMetadata().getName().equals("pg-config")).findFirst().orElseThrow();
        ReplicaSetRollback rollback = ExamplesTest.rollbacks().stream()
                .filter(r -> r.getSpec().getCluster().getPodSelector().equals(Map.of("app", "pg"))
                        && r.getSpec().getCluster().getLeaseName() != null).findFirst()
                .orElseThrow(() -> new AssertionError("no rollback example for the PostgreSQL cluster"));
        return new Example(sts, postgres, bootstrap, service, config, rollback);
    }

    @Test
    void theAgentsArgumentsParseForEveryPodAndNameTheOtherMembers() throws Exception {
        Example e = example();
        assertEquals(List.of("pg-0", "pg-1", "pg-2"), e.pods());
        String pgPort = Integer.toString(e.port(e.postgres(), "postgres"));
        for (String pod : e.pods()) {
            PgAgentConfig c = PgAgentMain.parse(e.args(pod), false);
            assertEquals(pod, c.nodeName());
            List<String> others = e.pods().stream().filter(p -> !p.equals(pod))
                    .map(p -> p + "." + e.sts().getSpec().getServiceName() + ":" + pgPort).toList();
            assertEquals(others, c.peers(), pod + ": the peers are the other pods, by their headless Service names");
            assertEquals(e.port(e.postgres(), "agent"), c.port(), pod + ": the agent serves on the port named agent");
            assertEquals(e.port(e.postgres(), "postgres"), c.pgPort(), pod);
            assertFalse(c.userNamespace(), "the container runs as the postgres user, not as root");
            assertTrue(c.tls() != null && c.tls().clientCa() != null, pod + ": mutual TLS");
        }
        assertThrows(IllegalArgumentException.class, () -> PgAgentMain.parse(new String[] {"--name", "pg-0"}, false),
                "the parse the test relies on refuses what the agent refuses");
    }

    @Test
    void everyFolderIsOnTheVolumeItNeeds() throws Exception {
        Example e = example();
        PgAgentConfig c = PgAgentMain.parse(e.args("pg-0"), false);
        for (Path p : List.of(c.dataDir(), c.stateDir(), c.rollbackDir(), c.fenceSocketDir())) {
            assertTrue(e.persistent(e.mountOf(e.postgres(), p)), p + " is on the pod's persistent volume");
        }
        assertFalse(c.stateDir().startsWith(c.dataDir()), "pg_rewind overwrites the data directory, not the state");
        assertFalse(c.rollbackDir().startsWith(c.dataDir()), "nor the rollback files");
        assertNotEquals(c.dataDir(), e.mountOf(e.postgres(), c.dataDir()).getMountPath(),
                "PGDATA is a folder of the volume, not its root");
        assertEquals(e.rollback().getSpec().getRollbackDirectory(), c.rollbackDir().toString(),
                "the rollback example writes where the agent reads and writes files");
        assertEquals(e.rollback().getSpec().getCluster().getDataContainer(), e.postgres().getName());

        assertEquals(c.socketDir().toString(), e.settings().get("unix_socket_directories"));
        assertTrue(e.volume(e.mountOf(e.postgres(), c.socketDir()).getName()).getEmptyDir() != null);
        assertEquals(e.rollback().getSpec().getAgentTlsSecret(), e.volume(e.mountOf(e.postgres(),
                c.tls().cert()).getName()).getSecret().getSecretName(), "the agent's TLS files are the Secret's");

        // libpq ignores a password file that others can read: the bootstrap copies it with mode 0600
        VolumeMount pass = e.mountOf(e.postgres(), c.passfile());
        assertTrue(e.volume(pass.getName()).getEmptyDir() != null);
        assertEquals(pass.getMountPath(), e.mountOf(e.bootstrap(), c.passfile()).getMountPath());
        assertTrue(e.config().getData().get("bootstrap.sh").contains("install -m 0600 ")
                && e.config().getData().get("bootstrap.sh").contains(" " + c.passfile() + "\n"));
        assertTrue(e.config().getData().get("bootstrap.sh").contains("PGPASSFILE=" + c.passfile()));
        String pgdata = e.bootstrap().getEnv().stream().filter(v -> v.getName().equals("PGDATA")).findFirst()
                .orElseThrow().getValue();
        assertEquals(c.dataDir().toString(), pgdata, "the bootstrap makes the data directory the agent runs");
    }

    @Test
    void theMembersFindEachOtherEvenWhenFenced() throws Exception {
        Example e = example();
        Service s = e.service();
        assertEquals("None", s.getSpec().getClusterIP(), "a headless Service: pg-0.pg names a pod");
        assertTrue(Boolean.TRUE.equals(s.getSpec().getPublishNotReadyAddresses()),
                "a fenced former primary is not ready and must still be found by name");
        assertTrue(e.sts().getSpec().getTemplate().getMetadata().getLabels().entrySet()
                .containsAll(s.getSpec().getSelector().entrySet()));
        String peers = e.bootstrap().getEnv().stream().filter(v -> v.getName().equals("PEERS")).findFirst()
                .orElseThrow().getValue();
        assertEquals(e.pods().stream().map(p -> p + "." + s.getMetadata().getName()).toList(),
                List.of(peers.split(" ")));
        assertTrue(e.config().getData().get("bootstrap.sh").contains("dbrollback_"),
                "a standby's physical slot has the name RejoinAsReplica gives it");
        assertEquals("dbrollback_pg_1", PgAgentMain.parse(e.args("pg-1"), false).physicalSlot());
    }

    @Test
    void theServerSettingsHoldEveryRequirementOfTheGuide() throws Exception {
        Example e = example();
        Map<String, String> s = e.settings();
        assertEquals("logical", s.get("wal_level"), "the logical slot");
        assertEquals("on", s.get("wal_log_hints"), "pg_rewind");
        assertEquals("on", s.get("hot_standby"), "the agent reads a standby over SQL");
        int members = e.sts().getSpec().getReplicas();
        assertTrue(Integer.parseInt(s.get("max_replication_slots")) >= members + 1,
                "the logical slot and one per standby");
        assertTrue(Integer.parseInt(s.get("max_wal_senders")) >= members, "a sender per standby and pg_basebackup");
        assertTrue(s.get("wal_keep_size").matches("[1-9][0-9]*[MG]B"), "WAL kept for pg_rewind");
        assertEquals("-1", s.get("max_slot_wal_keep_size"), "the slot is never invalidated");
        assertTrue(s.get("output_plugin_libraries").contains("wal2json"));
        assertEquals(Integer.toString(e.port(e.postgres(), "postgres")), s.get("port"));
        // the ConfigMap is mounted where the settings say the pg_hba.conf is
        Path hba = Path.of(s.get("hba_file"));
        VolumeMount m = e.mountOf(e.postgres(), hba);
        assertEquals(e.config().getMetadata().getName(), e.volume(m.getName()).getConfigMap().getName());
        assertTrue(e.config().getData().containsKey(hba.getFileName().toString()));
        assertTrue(e.config().getData().get("bootstrap.sh")
                .contains("include '" + Path.of(m.getMountPath()).resolve("dbrollback.conf") + "'"));

        List<String> hbaLines = e.config().getData().get("pg_hba.conf").lines().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).map(l -> String.join(" ", l.split("\\s+"))).toList();
        assertTrue(hbaLines.contains("local all postgres peer"), "the agent over the socket without a password");
        assertTrue(hbaLines.contains("host all postgres all scram-sha-256"), "pg_rewind and the agent from peers");
        assertTrue(hbaLines.contains("host replication replicator all scram-sha-256"), "the standbys");
    }
}
