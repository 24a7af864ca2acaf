package io.dbrollback.agent.conformance;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.conformance.AgentChecks.Plan;
import io.dbrollback.agent.conformance.AgentChecks.Recovered;
import io.dbrollback.agent.conformance.AgentChecks.Tail;
import java.io.PrintStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.opentest4j.TestAbortedException;

/**
 * The conformance checks against one already-diverged cluster, given only its agents' addresses: what
 * a database vendor runs without building in this repository.
 *
 * <pre>
 * java -jar rollback-operator-VERSION-conformance.jar --former-primary HOST:PORT --new-primary HOST:PORT \
 *      --replication-address HOST:PORT [--former-primary-name NAME] [--new-primary-name NAME]
 * </pre>
 *
 * The cluster must be in the state {@link AgentFixture} describes (a former primary holding divergent
 * writes it has not been told about, a new primary of a higher term); {@code --replication-address} is
 * what RejoinAsReplica gets to follow the new primary. The run takes that one cluster through the
 * operator's steps in a safe order: read-only checks, then every refusal that changes nothing, the
 * fence, the checks a fenced node must pass, the file RPCs when the agent offers them, one recover to
 * the fork, and the rejoin. It prints one line per check, {@code PASS name}, {@code FAIL name: reason}
 * or {@code SKIPPED name: reason} (checks that need database-side knowledge, a restart, a second
 * cluster, or an optional RPC the agent does not offer, and the rules of the other kind of LSN), then
 * a summary. The checks follow the agents' {@code lsn_kind}: record numbers or positions. Exit code 0
 * only when no check failed; 1 when one did; 2 for a usage error. The cluster is left recovered and
 * rejoined.
 */
public final class ConformanceMain {

    private ConformanceMain() {
    }

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the checks and returns the exit code. */
    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            err.println("usage: ConformanceMain --former-primary HOST:PORT --new-primary HOST:PORT"
                    + " --replication-address HOST:PORT [--former-primary-name NAME] [--new-primary-name NAME]");
            return 2;
        }
        return run(new AddressFixture(o), out);
    }

    /**
     * Runs the checks in their safe order on the one cluster of {@code fixture}, printing one line per
     * check and the summary, and returns the exit code. The command's fixture knows only addresses; a
     * test's fixture that knows its database too (the writes, the data, a restart) runs the checks
     * that need it as well, on the same one cluster.
     */
    public static int run(AgentFixture fixture, PrintStream out) throws Exception {
        Run run = new Run(out);
        try (AgentChecks checks = new AgentChecks(fixture)) {
            run.all(checks);
        }
        out.println("SUMMARY " + run.passed + " passed, " + run.failed + " failed, " + run.skipped + " skipped");
        return run.failed == 0 ? 0 : 1;
    }

    /** The command line. */
    record Options(String formerPrimary, String newPrimary, String replicationAddress, String formerName,
            String newName) {
        static Options parse(String[] args) {
            Map<String, String> v = new HashMap<>();
            Set<String> known = Set.of("--former-primary", "--new-primary", "--replication-address",
                    "--former-primary-name", "--new-primary-name");
            for (int i = 0; i < args.length; i += 2) {
                if (!known.contains(args[i])) {
                    throw new IllegalArgumentException("unknown argument " + args[i]);
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + " needs a value");
                }
                v.put(args[i], args[i + 1]);
            }
            for (String required : List.of("--former-primary", "--new-primary", "--replication-address")) {
                if (!v.containsKey(required)) {
                    throw new IllegalArgumentException(required + " is required");
                }
            }
            return new Options(v.get("--former-primary"), v.get("--new-primary"), v.get("--replication-address"),
                    v.get("--former-primary-name"), v.get("--new-primary-name"));
        }
    }

    /** A cluster known only by its addresses: everything that needs the database itself is unsupported. */
    static final class AddressFixture implements AgentFixture {
        private static final String NEEDS_DATABASE = "needs database-side knowledge (the writes, the data):"
                + " run AgentConformanceSuite with a fixture of your database";
        private final Options o;

        AddressFixture(Options o) {
            this.o = o;
        }

        @Override
        public String agentAddress(Node node) {
            return node == Node.FORMER_PRIMARY ? o.formerPrimary() : o.newPrimary();
        }

        @Override
        public String replicationAddress(Node node) {
            if (node == Node.NEW_PRIMARY) {
                return o.replicationAddress();
            }
            throw new UnsupportedOperationException("only the new primary's replication address is given");
        }

        @Override
        public Map<ByteString, ByteString> dataAtFork() {
            throw new UnsupportedOperationException(NEEDS_DATABASE);
        }

        @Override
        public List<Write> divergentWrites() {
            throw new UnsupportedOperationException(NEEDS_DATABASE);
        }

        @Override
        public Map<ByteString, ByteString> readData(Node node) {
            throw new UnsupportedOperationException(NEEDS_DATABASE);
        }

        @Override
        public void awaitFormerPrimaryCaughtUp(Duration timeout) {
            throw new UnsupportedOperationException(NEEDS_DATABASE);
        }

        @Override
        public void restartFormerPrimary() {
            throw new UnsupportedOperationException("a restart needs a fixture of your database");
        }

        @Override
        public boolean tryClientWriteOnFormerPrimary(Write write) {
            throw new UnsupportedOperationException("a client write needs a fixture of your database");
        }

        @Override
        public String nodeName(Node node) {
            String name = node == Node.FORMER_PRIMARY ? o.formerName() : o.newName();
            if (name == null) {
                throw new UnsupportedOperationException("no --former-primary-name and --new-primary-name given");
            }
            return name;
        }

        @Override
        public void close() {
            // the cluster is the caller's
        }
    }

    /** One check's body. */
    @FunctionalInterface
    interface Check {
        void run() throws Exception;
    }

    /** The run: the checks in their safe order, and the counts. */
    private static final class Run {
        private static final String ONE_CLUSTER = "on the only cluster it would ";
        private final PrintStream out;
        private final Set<String> passedNames = new HashSet<>();
        private int passed;
        private int failed;
        private int skipped;
        private Plan p;
        private Tail tail;
        private Recovered recovered;
        private final String incident = AgentChecks.incident();

        Run(PrintStream out) {
            this.out = out;
        }

        void all(AgentChecks c) {
            check("GetTimeline: both timelines well formed, the fork found", List.of(), () -> p = c.plan());
            List<String> plan = List.of("GetTimeline: both timelines well formed, the fork found");
            boolean positions = p != null && p.positions(); // the names say which rules a check applied
            check("GetTimeline: before the fence, roles, terms and a stable answer", plan, () -> c.checkTimelines(p));
            check("GetTimeline: the fork is the switchpoint (positions: the new primary's records above it are of"
                    + " its history's terms)", plan, () -> c.checkForkIsTheSwitchpoint(p));
            check("GetTimeline: node is the name of the pod dialled", plan, c::checkNodeNames);
            check("GetTimeline: the fixture's writes explain the fork", plan, () -> c.checkFixturePromises(p));
            check(positions ? "ReadDivergentTail: an empty range, and a range between the records' positions, is one"
                    + " trailer" : "ReadDivergentTail: an empty range is one trailer", plan,
                    () -> c.checkEmptyRange(p));
            check("ReadDivergentTail: to_inclusive above last_lsn is OUT_OF_RANGE/RANGE_NOT_IN_LOG", plan,
                    () -> c.checkRangeBeyondTheLog(p));
            check("ReadDivergentTail: 0 < resume_after < from_exclusive is INVALID_REQUEST", plan,
                    () -> c.checkResumeBelowTheRangeIsInvalid(p));
            check("ReadDivergentTail: max_records_per_chunk above 256 is clamped", plan,
                    () -> c.checkChunkBoundIsClamped(p));
            check("RecoverToLsn: NOT_FENCED on an unfenced node, nothing changed", plan,
                    () -> c.checkRecoverRefusedWhenNotFenced(p));
            check("RecoverToLsn: checks in order on an unfenced node", plan, () -> c.checkRecoverChecksInOrder(p));
            check("Fence: a stale term on the new primary is STALE_TERM", plan,
                    () -> c.checkStaleFenceOfTheNewPrimary(p));
            check("Fence: the live primary under its own term is LIVE_PRIMARY", plan, () -> c.checkLivePrimaryFence(p));
            boolean files = c.offersFileRpcs();
            check("incident ids: only plain identifiers, refused before the term", plan,
                    () -> c.checkIncidentIdsArePlainIdentifiers(p, files));
            check("malformed requests are INVALID_REQUEST", plan, () -> c.checkMalformedRequests(p));
            check("RecoverToLsn: a reversed range or no file SHA-256 is INVALID_REQUEST", plan,
                    () -> c.checkMalformedRecoverRequests(p));

            String fence = "Fence: adopts the term, detaches, answers the timeline after it, idempotent";
            check(fence, plan, () -> c.checkFence(p));
            List<String> fenced = List.of(fence);
            check("Fence: a stale term on a fenced node is STALE_TERM", fenced,
                    () -> c.checkStaleFenceOfAFencedNode(p));
            check("Fence: a fenced node refuses client writes", fenced, () -> c.checkFencedNodeRefusesClientWrites(p));
            check("Fence: survives a restart", fenced, () -> c.checkFenceSurvivesRestart(p, c.timeline(
                    AgentFixture.Node.FORMER_PRIMARY)));
            skip("Fence: a higher term is adopted", ONE_CLUSTER + "raise the term above the new primary's");
            check("RecoverToLsn: expected_last_lsn not the last LSN is LOG_CHANGED", fenced,
                    () -> c.checkRecoverRefusedWhenTheLogChanged(p));
            check("RecoverToLsn: below the commit LSN is BELOW_COMMIT", fenced,
                    () -> c.checkRecoverRefusedBelowCommit(p));
            check("RecoverToLsn: a stale term is STALE_TERM", fenced,
                    () -> c.checkRecoverRefusedWithAStaleTerm(p, p.term() - 1));
            check("RecoverToLsn: checks in order on a fenced node", fenced, () -> c.checkRecoverChecksInOrder(p));
            check("RejoinAsReplica: a stale term on a fenced node is STALE_TERM", fenced,
                    () -> c.checkStaleRejoinOfAFencedNode(p));
            check("RejoinAsReplica: before the recover is LOG_DIVERGED, the node stays fenced", fenced,
                    () -> c.checkRejoinOfADivergedNodeIsRefused(p));
            check("RejoinAsReplica: an unreachable primary is UNAVAILABLE", fenced,
                    () -> c.checkRejoinOfAnUnreachablePrimary(p));
            String form = positions ? "ReadDivergentTail: positions in the range, in commit order, transactions whole,"
                    + " bounded non-empty chunks, CRC32C, the trailer recomputed"
                    : "ReadDivergentTail: dense, ordered, bounded non-empty chunks, CRC32C, the trailer recomputed";
            check(form, fenced, () -> tail = c.checkTailForm(p));
            check("ReadDivergentTail: the records are the divergent writes with their pre-images", List.of(form),
                    () -> c.checkTailHoldsTheWrites(p, tail));
            check(positions ? "ReadDivergentTail: resumes after each transaction's position, and between them, with"
                    + " the same trailer" : "ReadDivergentTail: resumes after any LSN with the same trailer", fenced,
                    () -> c.checkTailResumes(p));
            check("SummarizeTail (optional): what ReadDivergentTail streams for the same range", List.of(form),
                    () -> c.checkSummaryIsTheTails(p));
            check("SummarizeTail (optional): range errors as ReadDivergentTail's", fenced,
                    () -> c.checkSummaryRangeErrors(p));

            fileChecks(c, files, fenced);
            check("StoreRollbackCopy (optional): stored, read back, found again, never replaced", plan,
                    () -> c.checkCopyStoredAndReadBack(p));
            check("StoreRollbackCopy (optional): malformed calls are INVALID_REQUEST or TRANSFER_MISMATCH", plan,
                    () -> c.checkMalformedCopyCalls(p));
            check("StoreRollbackCopy (optional): a copy above the free space is NO_SPACE", plan,
                    () -> c.checkCopyNeedsFreeSpace(p));
            check("StoreRollbackCopy (optional): mode 0600 in 0700 directories, a cancelled store leaves nothing",
                    plan, () -> c.checkCopyIsPrivateAndCancelledStoresLeaveNothing(p));

            String recover = "RecoverToLsn: to the fork once, incident, target and file SHA-256 recorded";
            check(recover, fenced, () -> {
                recovered = c.recoverToTheFork(p, incident);
                c.checkRecovered(p, recovered);
            });
            List<String> afterRecover = List.of(recover);
            check("RecoverToLsn: the data is the data at the fork", afterRecover, c::checkDataAtTheFork);
            check("RecoverToLsn: a retry is already_done and changes nothing", afterRecover,
                    () -> c.checkRecoverRetry(p, recovered));
            check("RecoverToLsn: a retry with other parameters is RECOVER_CONFLICT", afterRecover,
                    () -> c.checkRecoverConflicts(p, recovered));
            skip("RecoverToLsn: a retry under a higher term is already_done", ONE_CLUSTER
                    + "raise the term above the new primary's");
            check("RecoverToLsn: an overtaken incident is LOG_CHANGED, never INCIDENT_SUPERSEDED", afterRecover,
                    () -> c.checkOvertakenRecoverIsLogChanged(p));
            skip("RecoverToLsn: a recover that removes nothing is an incident",
                    ONE_CLUSTER + "need a second fenced node");
            check("term history: Fence and RecoverToLsn add no entry, none above the new last LSN", afterRecover,
                    () -> c.checkHistoryAfterTheRecover(p));
            check("RecoverToLsn: survives a restart", afterRecover, () -> c.checkRecoverSurvivesRestart(recovered));

            String rejoin = "RejoinAsReplica: follows the given address, unfenced, idempotent, no empty history entry";
            check(rejoin, afterRecover, () -> c.checkRejoin(p, incident));
            String caughtUp = "RejoinAsReplica: catches up with the new primary, the histories agree";
            check(caughtUp, List.of(rejoin), () -> c.checkCaughtUp(p));
            check("RejoinAsReplica: the data is the new primary's", List.of(caughtUp), c::checkCaughtUpData);
            check("RecoverToLsn: a late retry after the rejoin removes nothing", List.of(caughtUp),
                    () -> c.checkLateRecoverRetry(p, recovered));
            check("RejoinAsReplica: a stale term on a replica is STALE_TERM", List.of(rejoin),
                    () -> c.checkStaleRejoinOfAReplica(p));
        }

        private void fileChecks(AgentChecks c, boolean offered, List<String> fenced) {
            Map<String, Check> checks = new LinkedHashMap<>();
            checks.put("WriteRollbackFile: written, read back, found again", () -> c.checkFileWrittenAndReadBack(p));
            checks.put("WriteRollbackFile: onto an existing name, the whole stream, never replaced",
                    () -> c.checkFileNeverReplaced(p));
            checks.put("WriteRollbackFile and QuarantineRollbackFile: a stale term is STALE_TERM",
                    () -> c.checkStaleFileCallsAreRefused(p));
            checks.put("WriteRollbackFile: malformed calls are INVALID_REQUEST or TRANSFER_MISMATCH",
                    () -> c.checkMalformedFileCalls(p));
            checks.put("WriteRollbackFile: data messages of at most 1 MiB",
                    () -> c.checkDataMessagesAtMostOneMebibyte(p));
            checks.put("WriteRollbackFile: a cancelled write publishes nothing",
                    () -> c.checkAbandonedWritePublishesNothing(p));
            checks.put("QuarantineRollbackFile: renames, idempotent, never replaces", () -> c.checkQuarantine(p));
            checks.put("QuarantineRollbackFile: completes a cut rename",
                    () -> c.checkQuarantineCompletesAnInterruptedRename(p));
            checks.put("WriteRollbackFile: mode 0600 in a 0700 directory", () -> c.checkFileIsPrivate(p));
            checks.put("WriteRollbackFile: a write that publishes nothing leaves no temporary file",
                    () -> c.checkFailedWritesLeaveNoTemporaryFile(p));
            checks.put("WriteRollbackFile: leftovers removed at begin", () -> c.checkLeftoversRemovedAtBegin(p));
            checks.forEach((name, body) -> {
                if (offered) {
                    check(name, fenced, body);
                } else {
                    skip(name, "the agent does not offer the rollback file RPCs (UNIMPLEMENTED): exec mode only");
                }
            });
            skip("WriteRollbackFile: a higher term is adopted", ONE_CLUSTER + "raise the term above the new primary's");
            skip("WriteRollbackFile: a term gone stale before the half-close publishes nothing", ONE_CLUSTER
                    + "raise the term above the new primary's");
        }

        /** Runs one check unless a check it needs did not pass. */
        private void check(String name, List<String> needs, Check body) {
            for (String n : needs) {
                if (!passedNames.contains(n)) {
                    skip(name, "needs \"" + n + "\", which did not pass");
                    return;
                }
            }
            try {
                body.run();
                passed++;
                passedNames.add(name);
                out.println("PASS " + name);
            } catch (TestAbortedException e) {
                skip(name, e.getMessage().replaceFirst("^Assumption failed: ", ""));
            } catch (AssertionError | Exception e) {
                failed++;
                out.println("FAIL " + name + ": " + oneLine(e));
            }
            out.flush();
        }

        private void skip(String name, String reason) {
            skipped++;
            out.println("SKIPPED " + name + ": " + reason);
        }

        private static String oneLine(Throwable e) {
            String m = e instanceof AssertionError ? String.valueOf(e.getMessage()) : e.toString();
            return m.replaceAll("\\s*\\R\\s*", " / ");
        }
    }
}
