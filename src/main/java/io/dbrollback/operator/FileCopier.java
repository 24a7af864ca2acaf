package io.dbrollback.operator;

import com.google.protobuf.ByteString;
import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ReadRollbackFileRequest;
import io.dbrollback.agent.v1.ReadRollbackFileResponse;
import io.dbrollback.agent.v1.RollbackFileEnd;
import io.dbrollback.coordinator.CopyResult;
import io.dbrollback.coordinator.CopyTargets;
import io.dbrollback.coordinator.FileCopy;
import io.dbrollback.coordinator.RollbackCopier;
import io.dbrollback.coordinator.TransportException;
import io.dbrollback.model.RollbackFile;
import io.dbrollback.model.TailDigest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The copy step of a running operator: streams the verified rollback file from the target pod's agent
 * (ReadRollbackFile, one message at a time) into a {@link CopyTarget}, hashing it on the way (the bytes
 * sent must be the verified file's, or the copy is cancelled before its end), then reads the copy back
 * and answers what the read-back gave; the coordinator compares it with the verified digest.
 *
 * <p>The places are tried in the order {@link CopyTargets#order} gives; a place that cannot hold the copy
 * at all (it offers no copies, its disk is too small, its name holds other bytes) is passed over for the
 * next one in the same step; any other failure ends the step, and the next attempt starts again from the
 * first place (a restarted pod is found again). Nothing is ever written to or removed from the source.
 */
final class FileCopier implements RollbackCopier {

    private final AgentClients clients;
    private final AgentClients.Tls tls;
    private final String sourceAddress;
    private final String kind;
    private final List<String> places;
    private final Places target;

    /**
     * The place of that name (a pod, an object store), for the copy of (source, incident, plan). A place that
     * cannot be set up (its credentials cannot be read) throws a {@link CopyTarget.Failure}.
     */
    @FunctionalInterface
    interface Places {
        CopyTarget at(String place, String source, String incident, int plan);
    }

    /**
     * @param sourceAddress the agent of the pod whose file is copied (null when it has none)
     * @param kind the kind of the places ({@link FileCopy#AGENT}, {@link FileCopy#OBJECT_STORE})
     * @param places the places that may hold the copy, best first ({@link CopyTargets#order} for pods)
     * @param target the place of a name
     */
    FileCopier(AgentClients clients, AgentClients.Tls tls, String sourceAddress, String kind, List<String> places,
            Places target) {
        this.clients = clients;
        this.tls = tls;
        this.sourceAddress = sourceAddress;
        this.kind = kind;
        this.places = List.copyOf(places);
        this.target = target;
    }

    /** The copier of one step of a rollback: the cluster's Ready pods in the rule's order, through their agents. */
    static FileCopier of(AgentClients clients, ClusterObserver.Resolved cluster) {
        List<CopyTargets.Candidate> pods = new ArrayList<>();
        for (String pod : cluster.agentAddresses().keySet()) {
            pods.add(new CopyTargets.Candidate(pod, cluster.readyPods().contains(pod), true));
        }
        String leader = cluster.leader() == null ? null : cluster.leader().holder();
        return new FileCopier(clients, cluster.tls(), cluster.agentAddresses().get(cluster.targetPod()),
                FileCopy.AGENT, CopyTargets.order(pods, cluster.targetPod(), leader), (pod, source, incident, plan) ->
                        new AgentCopyTarget(clients, cluster.tls(), pod, cluster.agentAddresses().get(pod), source,
                                incident, plan));
    }

    /**
     * The copier of one step of a rollback into one object store: {@code store} names it (as
     * {@code status.copies[].store} shows it), {@code target} opens it.
     */
    static FileCopier toObjectStore(AgentClients clients, ClusterObserver.Resolved cluster, String store,
            Places target) {
        return new FileCopier(clients, cluster.tls(), cluster.agentAddresses().get(cluster.targetPod()),
                FileCopy.OBJECT_STORE, List.of(store), target);
    }

    @Override
    public List<CopyResult> copy(String sourceNode, String incidentId, int plan, RollbackFile file) {
        List<CopyResult> attempts = new ArrayList<>();
        if (places.isEmpty()) {
            attempts.add(new CopyResult.Failed(FileCopy.AGENT, null, "NoCopyTarget", "no Ready pod of the cluster"
                    + " other than " + sourceNode + " has an agent to hold a copy"));
            return attempts;
        }
        for (String place : places) {
            CopyTarget t;
            try {
                t = target.at(place, sourceNode, incidentId, plan);
            } catch (CopyTarget.Failure e) {
                attempts.add(new CopyResult.Failed(kind, place, e.code(), e.getMessage()));
                if (!e.tryNext()) {
                    return attempts;
                }
                continue;
            }
            try (t) {
                String path;
                try (SourceStream src = new SourceStream(sourceNode, incidentId, plan, file)) {
                    path = t.store(src, file.bytes(), file.sha256());
                }
                CopyTarget.Content back = t.readBack();
                attempts.add(new CopyResult.Stored(t.kind(), t.where(), path, back.size(), back.sha256()));
                return attempts;
            } catch (SourceFailure e) {
                attempts.add(new CopyResult.Failed(t.kind(), t.where(), "SourceUnreadable", e.getMessage()));
                return attempts;
            } catch (CopyTarget.Failure e) {
                attempts.add(new CopyResult.Failed(t.kind(), t.where(), e.code(), e.getMessage()));
                if (!e.tryNext()) {
                    return attempts;
                }
            }
        }
        return attempts;
    }

    /** The source could not be read as verified: no place can get the copy now. */
    private static final class SourceFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SourceFailure(String message) {
            super(message);
        }
    }

    /**
     * The verified file read from the source's agent, a message at a time, hashed as it goes: the last
     * chunk is handed on only once the whole file proved to be the verified bytes (so a copy of other bytes
     * is never completed: the target's call is cancelled instead).
     */
    private final class SourceStream implements CopyTarget.Source, AutoCloseable {
        private final String node;
        private final RollbackFile file;
        private final ServerStreamReader<ReadRollbackFileRequest, ReadRollbackFileResponse> reader;
        private final MessageDigest sha = TailDigest.newSha256();
        private long size;
        private ByteString held;
        private boolean done;

        SourceStream(String node, String incident, int plan, RollbackFile file) {
            this.node = node;
            this.file = file;
            if (sourceAddress == null) {
                throw new SourceFailure("pod " + node + " has no agent address to read its rollback file from");
            }
            AgentClients.Deadlines d = clients.deadlines();
            ReadRollbackFileRequest request = ReadRollbackFileRequest.newBuilder().setIncidentId(incident)
                    .setPlanNumber(plan).build();
            this.reader = new ServerStreamReader<>("ReadRollbackFile", node, d.progressTimeout(),
                    o -> AgentClients.Deadlines.within(clients.asyncStub(sourceAddress, tls), d.streamDeadline())
                            .readRollbackFile(request, o));
        }

        @Override
        public ByteString next() {
            while (!done) {
                ReadRollbackFileResponse m;
                try {
                    m = reader.next();
                } catch (StatusRuntimeException e) {
                    Status s = e.getStatus();
                    throw new SourceFailure("ReadRollbackFile on " + node + ": " + s.getCode()
                            + AgentErrors.reason(e).map(r -> " " + r).orElse("")
                            + (s.getDescription() == null ? "" : ": "
                                    + GrpcRollbackTransport.agentText(s.getDescription())));
                } catch (TransportException e) {
                    throw new SourceFailure(e.getMessage());
                }
                if (m == null || m.hasEnd()) {
                    done = true;
                    check(m == null ? null : m.getEnd());
                    ByteString last = held;
                    held = null;
                    return last;
                }
                ByteString data = m.getData();
                data.asReadOnlyByteBufferList().forEach(sha::update);
                size += data.size();
                ByteString out = held;
                held = data;
                if (out != null) {
                    return out;
                }
            }
            ByteString last = held;
            held = null;
            return last;
        }

        private void check(RollbackFileEnd end) {
            String got = HexFormat.of().formatHex(sha.digest());
            if (end == null || end.getSize() != size || !end.getSha256().equals(got)) {
                throw new SourceFailure("ReadRollbackFile on " + node + " ended "
                        + (end == null ? "without its end message" : "with an end message that is not what it sent")
                        + " after " + size + " bytes");
            }
            if (size != file.bytes() || !got.equals(file.sha256())) {
                throw new SourceFailure("the rollback file on " + node + " now reads " + size + " bytes with SHA-256 "
                        + got + ", not the verified " + file.bytes() + " bytes with " + file.sha256());
            }
        }

        @Override
        public void close() {
            reader.close();
        }
    }
}
