package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.ClusterSpec;
import io.dbrollback.api.CopySpec;
import io.dbrollback.api.LeaderSpec;
import io.dbrollback.api.LeaseLeaderSpec;
import io.dbrollback.api.ObjectStoreSpec;
import io.dbrollback.api.PatroniLeaderSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Every bad value is reported, in words, without echoing it; a good spec has no problem. */
class SpecValidatorTest {

    private static ReplicaSetRollback valid() {
        ReplicaSetRollback r = new ReplicaSetRollback();
        r.getMetadata().setName("rb");
        r.getMetadata().setNamespace("db");
        ReplicaSetRollbackSpec s = new ReplicaSetRollbackSpec();
        ClusterSpec c = new ClusterSpec();
        c.setPodSelector(Map.of("app.kubernetes.io/name", "orders"));
        c.setLeaseName("orders-leader");
        c.setAgentPort(7000);
        s.setCluster(c);
        s.setTargetPod("orders-0");
        r.setSpec(s);
        return r;
    }

    private static List<String> with(Consumer<ReplicaSetRollbackSpec> change) {
        ReplicaSetRollback r = valid();
        change.accept(r.getSpec());
        return SpecValidator.problems(r);
    }

    @Test
    void aValidSpecHasNoProblem() {
        assertEquals(List.of(), SpecValidator.problems(valid()));
    }

    @Test
    void eachBadValueIsNamed() {
        assertTrue(with(s -> s.setTargetPod(null)).contains("targetPod is required"));
        assertTrue(with(s -> s.setTargetPod("$(reboot)")).get(0).startsWith("targetPod must be"));
        assertTrue(with(s -> s.setTargetPod("-rf")).get(0).startsWith("targetPod must be"));
        assertTrue(with(s -> s.getCluster().setPodSelector(Map.of())).get(0).contains("podSelector"));
        assertTrue(with(s -> s.getCluster().setPodSelector(Map.of("app", "a b"))).get(0).contains("label value"));
        assertTrue(with(s -> s.getCluster().setAgentPortName("agent")).get(0).contains("exactly one"));
        assertTrue(with(s -> s.getCluster().setAgentPort(70000)).get(0).contains("1..65535"));
        assertTrue(with(s -> s.setRollbackDirectory("relative/dir")).get(0).startsWith("rollbackDirectory"));
        assertTrue(with(s -> s.setRollbackDirectory("/data/../../etc")).get(0).startsWith("rollbackDirectory"));
        assertTrue(with(s -> s.setRollbackDirectory("/data/$(id)")).get(0).startsWith("rollbackDirectory"));
        assertTrue(with(s -> s.getLimits().setMaxRecords(-1)).contains("limits must not be negative"));
        assertTrue(with(s -> s.getLimits().setMaxSpan("1 day")).get(0).contains("maxSpan"));
        assertTrue(with(s -> s.setExpectedTerm(0L)).contains("expectedTerm must be at least 1"));
        assertTrue(with(s -> s.setMaxReplans(99)).contains("maxReplans must be 0..20"));
        assertTrue(with(s -> s.setMaxRetries(101)).contains("maxRetries must be 0..100"));
        assertTrue(with(s -> s.setMaxRetries(-1)).contains("maxRetries must be 0..100"));
        assertTrue(with(s -> s.setMaxRetries(0)).isEmpty(), "0: the first counted failure ends the rollback");
        assertTrue(with(s -> s.setAgentTlsSecret("Bad_Name")).get(0).startsWith("agentTlsSecret"));
        assertEquals(2, with(s -> {
            s.setTargetPod("x;y");
            s.getCluster().setLeaseName("UPPER");
        }).size(), "all problems at once");
    }

    @Test
    void hostileValuesAreNeverEchoed() {
        String hostile = "a\"; rm -rf / #\u202e";
        List<String> p = with(s -> {
            s.setTargetPod(hostile);
            s.getCluster().setPodSelector(Map.of("app", hostile));
            s.setRollbackDirectory("/x/" + hostile);
        });
        assertEquals(3, p.size(), p.toString());
        assertTrue(p.stream().noneMatch(m -> m.contains("rm -rf")), p.toString());
    }

    private static LeaderSpec patroni(String scope, PatroniLeaderSpec.Dcs dcs) {
        PatroniLeaderSpec p = new PatroniLeaderSpec();
        p.setScope(scope);
        p.setDcs(dcs);
        LeaderSpec l = new LeaderSpec();
        l.setPatroni(p);
        return l;
    }

    private static LeaderSpec lease(String name) {
        LeaseLeaderSpec x = new LeaseLeaderSpec();
        x.setName(name);
        LeaderSpec l = new LeaderSpec();
        l.setLease(x);
        return l;
    }

    /** The CRD's CEL rules again: exactly one of leaseName and leader, exactly one source in leader. */
    @Test
    void theLeaderIsALeaseOrPatroniAndExactlyOne() {
        Consumer<ReplicaSetRollbackSpec> noLeaseName = s -> s.getCluster().setLeaseName(null);
        assertEquals(List.of(), with(noLeaseName.andThen(s -> s.getCluster().setLeader(
                patroni("orders", PatroniLeaderSpec.Dcs.ConfigMap)))));
        assertEquals(List.of(), with(noLeaseName.andThen(s -> s.getCluster().setLeader(
                patroni("orders", PatroniLeaderSpec.Dcs.Endpoints)))));
        assertEquals(List.of(), with(noLeaseName.andThen(s -> s.getCluster().setLeader(lease("orders-leader")))));
        assertEquals(List.of("set exactly one of cluster.leaseName and cluster.leader"), with(noLeaseName));
        assertEquals(List.of("set exactly one of cluster.leaseName and cluster.leader"), with(s -> s.getCluster()
                .setLeader(patroni("orders", PatroniLeaderSpec.Dcs.ConfigMap))));
        assertEquals(List.of("set exactly one of cluster.leader.lease and cluster.leader.patroni"),
                with(noLeaseName.andThen(s -> s.getCluster().setLeader(new LeaderSpec()))));
        LeaderSpec both = patroni("orders", PatroniLeaderSpec.Dcs.ConfigMap);
        both.setLease(lease("orders-leader").getLease());
        assertEquals(List.of("set exactly one of cluster.leader.lease and cluster.leader.patroni"),
                with(noLeaseName.andThen(s -> s.getCluster().setLeader(both))));
    }

    @Test
    void patronisScopeAndDcsAreChecked() {
        Consumer<ReplicaSetRollbackSpec> noLeaseName = s -> s.getCluster().setLeaseName(null);
        assertEquals(List.of("cluster.leader.patroni.scope is required"), with(noLeaseName.andThen(s -> s
                .getCluster().setLeader(patroni(null, PatroniLeaderSpec.Dcs.ConfigMap)))));
        assertTrue(with(noLeaseName.andThen(s -> s.getCluster().setLeader(patroni("Orders/../x",
                PatroniLeaderSpec.Dcs.ConfigMap)))).get(0).startsWith("cluster.leader.patroni.scope must be"));
        // <scope>-leader must still be a name: at most 246 characters
        assertEquals(List.of(), with(noLeaseName.andThen(s -> s.getCluster().setLeader(patroni("a".repeat(246),
                PatroniLeaderSpec.Dcs.ConfigMap)))));
        assertTrue(with(noLeaseName.andThen(s -> s.getCluster().setLeader(patroni("a".repeat(247),
                PatroniLeaderSpec.Dcs.ConfigMap)))).get(0).startsWith("cluster.leader.patroni.scope must be"));
        assertEquals(List.of("cluster.leader.patroni.dcs must be ConfigMap or Endpoints"), with(noLeaseName
                .andThen(s -> s.getCluster().setLeader(patroni("orders", null)))));
        assertTrue(with(noLeaseName.andThen(s -> s.getCluster().setLeader(lease("$(x)")))).get(0)
                .startsWith("cluster.leader.lease.name must be"));
    }

    private static ObjectStoreSpec store(String bucket, String secret) {
        ObjectStoreSpec o = new ObjectStoreSpec();
        o.setEndpoint("http://minio.storage:9000");
        o.setBucket(bucket);
        o.setCredentialsSecret(secret);
        return o;
    }

    private static Consumer<ReplicaSetRollbackSpec> copyTo(CopySpec.Target target, ObjectStoreSpec store) {
        return s -> {
            s.getCopy().setTarget(target);
            s.getCopy().setObjectStore(store);
        };
    }

    @Test
    void anObjectStoreCopyNeedsAValidStoreAndNamesWhatIsWrongWithoutEchoingIt() {
        assertEquals(List.of(), with(copyTo(CopySpec.Target.ObjectStore, store("rollbacks", "s3-creds"))));
        assertEquals(List.of("copy.target ObjectStore needs copy.objectStore (bucket and credentialsSecret at least)"),
                with(copyTo(CopySpec.Target.ObjectStore, null)));
        assertEquals(List.of(), with(copyTo(CopySpec.Target.Agent, null)), "other targets need no store");
        assertEquals(List.of(), with(copyTo(CopySpec.Target.None, store("$(x)", null))),
                "a store block is ignored unless it is the target");
        List<String> bad = with(copyTo(CopySpec.Target.ObjectStore, store("Bad_Bucket;rm", "$(id)")));
        assertEquals(2, bad.size(), bad.toString());
        assertTrue(bad.get(0).startsWith("copy.objectStore.bucket must be"), bad.toString());
        assertEquals("copy.objectStore.credentialsSecret must name a Secret in this namespace", bad.get(1));
        assertTrue(bad.stream().noneMatch(m -> m.contains("rm") || m.contains("$(")), "never echoed: " + bad);
        ObjectStoreSpec withKey = store("rollbacks", "s3-creds");
        withKey.setEndpoint("https://AKIAEXAMPLE:secret@minio.storage");
        List<String> userInfo = with(copyTo(CopySpec.Target.ObjectStore, withKey));
        assertEquals(1, userInfo.size(), userInfo.toString());
        assertTrue(userInfo.get(0).startsWith("copy.objectStore.endpoint must not hold user info"), userInfo.get(0));
        assertTrue(userInfo.stream().noneMatch(m -> m.contains("AKIA") || m.contains("secret@")), userInfo.get(0));
        assertEquals(List.of("copy.target must be Agent, ObjectStore or None"), with(copyTo(null, null)));
    }
}
