package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dbrollback.api.CopyStatus;
import io.dbrollback.api.PlanStatus;
import io.dbrollback.api.RecoverAnswerStatus;
import io.dbrollback.api.ReplicaSetRollbackStatus;
import io.dbrollback.coordinator.CopyResult;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.RollbackTransport;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The crash test hook is off by default, refuses a value that names no point (a typo must not test
 * nothing), and acts only on the rollback it is scoped to. Its halting is exercised by the crash
 * matrix on real processes (CrashMatrixIT): halting here would end the test JVM.
 */
class CrashPointsTest {

    private static final RollbackTransport TRANSPORT = (RollbackTransport) Proxy.newProxyInstance(
            CrashPointsTest.class.getClassLoader(), new Class<?>[] {RollbackTransport.class}, (p, m, a) -> {
                throw new UnsupportedOperationException();
            });
    private static final PodExec EXEC = (pod, container, argv, stdin, timeout) -> new PodExec.Result(0, "", "");
    private static final List<CopyResult> COPIED = List.of(new CopyResult.Stored(FileCopy.AGENT, "orders-2",
            "/copies/orders-0/f", 10, "ab"));
    private static final RollbackCopier COPIER = (source, incident, plan, file) -> COPIED;

    @Test
    void offUnlessSet() {
        assertSame(CrashPoints.OFF, CrashPoints.parse(null));
        assertSame(CrashPoints.OFF, CrashPoints.parse(" "));
        assertFalse(CrashPoints.OFF.armed());
        assertSame(TRANSPORT, CrashPoints.OFF.wrap(TRANSPORT, "ns/rb"));
        assertSame(EXEC, CrashPoints.OFF.wrap(EXEC, "ns/rb"));
        assertSame(COPIER, CrashPoints.OFF.wrap(COPIER, "ns/rb"));
        CrashPoints.OFF.afterStatusWrite("ns/rb", "Fenced"); // returns: nothing armed
    }

    @Test
    void everyDocumentedPointParses() {
        for (String v : List.of("call:Fence", "call:PersistRollbackFile", "call:VerifyRollbackFile",
                "call:RecoverToLsn", "call:EmitRollbackEvent", "call:RejoinAsReplica", "call:CopyRollbackFile",
                "exec:put", "exec:begin", "exec:append", "exec:commit", "exec:verify", "record:1", "record:250",
                "status:Planned",
                "status:Completed", "status:RecoverAnswered", "status:CopyVerified",
                "status:EventEmitted@db/orders-0-after-failover")) {
            CrashPoints p = CrashPoints.parse(v);
            assertTrue(p.armed(), v);
            assertEquals(v, p.spec());
        }
    }

    @Test
    void aValueThatNamesNoPointStopsTheStart() {
        for (String v : List.of("Fence", "call:fence", "call:ReadDivergentTail", "exec:rm", "record:0", "record:x",
                "status:Done", "status:fenced", "status:Copied", "call:StoreRollbackCopy", "status:Fenced@rb",
                "status:Fenced@ns/", "status:Fenced@NS/rb", "other:Fence")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CrashPoints.parse(v), v);
            assertTrue(e.getMessage().startsWith(CrashPoints.ENV + "="), e.getMessage());
        }
    }

    @Test
    void actsOnlyOnItsRollbackAndItsKindOfPoint() {
        CrashPoints call = CrashPoints.parse("call:Fence@ns/rb");
        assertNotSame(TRANSPORT, call.wrap(TRANSPORT, "ns/rb"));
        assertSame(TRANSPORT, call.wrap(TRANSPORT, "ns/other"));
        assertSame(EXEC, call.wrap(EXEC, "ns/rb"), "a call point leaves pod exec alone");
        CrashPoints exec = CrashPoints.parse("exec:commit");
        assertNotSame(EXEC, exec.wrap(EXEC, "any/rollback"), "unscoped: every rollback");
        assertSame(TRANSPORT, exec.wrap(TRANSPORT, "any/rollback"));
        // an exec of another operation passes through
        assertEquals(new PodExec.Result(0, "", ""), exec.wrap(EXEC, "any/rollback").exec("p", "c",
                ExecRollbackFileStore.argv("append", "/d", "f", "a", "1", "1"), null, Duration.ofSeconds(1)));
        CrashPoints status = CrashPoints.parse("status:Verified@ns/rb");
        status.afterStatusWrite("ns/rb", "Fenced");
        status.afterStatusWrite("ns/other", "Verified");
        status.afterStatusWrite("ns/rb", "CopyVerified"); // the copy's write is a point of its own
        assertSame(TRANSPORT, status.wrap(TRANSPORT, "ns/rb"));
        assertSame(COPIER, status.wrap(COPIER, "ns/rb"), "a status point leaves the copier alone");
    }

    @Test
    void onlyTheCopyCallWrapsTheCopier() {
        CrashPoints copy = CrashPoints.parse("call:CopyRollbackFile@ns/rb");
        assertNotSame(COPIER, copy.wrap(COPIER, "ns/rb"));
        assertSame(COPIER, copy.wrap(COPIER, "ns/other"));
        assertSame(TRANSPORT, copy.wrap(TRANSPORT, "ns/other"));
        assertSame(EXEC, copy.wrap(EXEC, "ns/rb"));
        assertSame(COPIER, CrashPoints.parse("call:Fence@ns/rb").wrap(COPIER, "ns/rb"), "another call");
        assertSame(COPIER, CrashPoints.parse("record:1").wrap(COPIER, "ns/rb"));
    }

    @Test
    void statusWritesAreNamedByPhaseExceptTheRecoverAnswerAndTheVerifiedCopy() {
        ReplicaSetRollbackStatus s = new ReplicaSetRollbackStatus();
        s.setPhase("Verified");
        PlanStatus plan = new PlanStatus();
        plan.setNumber(2);
        s.setPlan(plan);
        assertEquals("Verified", CrashPoints.statusPoint(s), "the verified file, no copy yet");
        CopyStatus failed = copy(2, null);
        s.setCopies(List.of(failed));
        assertEquals("Verified", CrashPoints.statusPoint(s), "a failed copy is no verified copy");
        s.setCopies(List.of(failed, copy(1, "2026-01-01T00:00:00Z")));
        assertEquals("Verified", CrashPoints.statusPoint(s), "a copy of an earlier plan's file");
        s.setCopies(List.of(failed, copy(2, "2026-01-01T00:00:00Z")));
        assertEquals("CopyVerified", CrashPoints.statusPoint(s));
        s.setPhase("Recovering");
        assertEquals("Recovering", CrashPoints.statusPoint(s), "later writes keep their phase's name");
        s.setRecoverAnswer(new RecoverAnswerStatus());
        assertEquals("RecoverAnswered", CrashPoints.statusPoint(s));
    }

    private static CopyStatus copy(int plan, String verifiedAt) {
        CopyStatus c = new CopyStatus();
        c.setPlan(plan);
        c.setVerifiedAt(verifiedAt);
        return c;
    }
}
