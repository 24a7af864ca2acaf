package io.dbrollback.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void offUnlessSet() {
        assertSame(CrashPoints.OFF, CrashPoints.parse(null));
        assertSame(CrashPoints.OFF, CrashPoints.parse(" "));
        assertFalse(CrashPoints.OFF.armed());
        assertSame(TRANSPORT, CrashPoints.OFF.wrap(TRANSPORT, "ns/rb"));
        assertSame(EXEC, CrashPoints.OFF.wrap(EXEC, "ns/rb"));
        CrashPoints.OFF.afterStatusWrite("ns/rb", "Fenced"); // returns: nothing armed
    }

    @Test
    void everyDocumentedPointParses() {
        for (String v : List.of("call:Fence", "call:PersistRollbackFile", "call:VerifyRollbackFile",
                "call:RecoverToLsn", "call:EmitRollbackEvent", "call:RejoinAsReplica", "exec:begin", "exec:append",
                "exec:commit", "exec:verify", "record:1", "record:250", "status:Planned", "status:Completed",
                "status:EventEmitted@db/orders-0-after-failover")) {
            CrashPoints p = CrashPoints.parse(v);
            assertTrue(p.armed(), v);
            assertEquals(v, p.spec());
        }
    }

    @Test
    void aValueThatNamesNoPointStopsTheStart() {
        for (String v : List.of("Fence", "call:fence", "call:ReadDivergentTail", "exec:rm", "record:0", "record:x",
                "status:Done", "status:fenced", "status:Fenced@rb", "status:Fenced@ns/", "status:Fenced@NS/rb",
                "other:Fence")) {
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
        assertSame(TRANSPORT, status.wrap(TRANSPORT, "ns/rb"));
    }
}
