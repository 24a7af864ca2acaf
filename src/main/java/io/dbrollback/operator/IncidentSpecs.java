package io.dbrollback.operator;

import io.dbrollback.api.LimitsSpec;
import io.dbrollback.api.ReplicaSetRollback;
import io.dbrollback.api.ReplicaSetRollbackSpec;
import io.dbrollback.coordinator.ApprovalMode;
import io.dbrollback.api.CopySpec;
import io.dbrollback.coordinator.CopyPolicy;
import io.dbrollback.coordinator.IncidentSpec;
import io.dbrollback.coordinator.Limits;
import io.dbrollback.model.Term;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The coordinator's view of a ReplicaSetRollback: spec, annotations and uid, read afresh every step. */
public final class IncidentSpecs {

    private static final Pattern SPAN = Pattern.compile("^(?:(\\d{1,6})h)?(?:(\\d{1,6})m)?(?:(\\d{1,6})s)?$");

    private IncidentSpecs() {
    }

    public static IncidentSpec from(ReplicaSetRollback r) {
        ReplicaSetRollbackSpec s = r.getSpec();
        LimitsSpec l = s.getLimits() == null ? new LimitsSpec() : s.getLimits();
        Map<String, String> annotations = r.getMetadata().getAnnotations();
        String approval = annotations == null ? null : annotations.get(ReplicaSetRollback.APPROVE_ANNOTATION);
        return new IncidentSpec(r.getMetadata().getUid(), r.getMetadata().getNamespace() + "/"
                + LeaderReader.clusterName(s.getCluster()), s.getTargetPod(),
                s.getExpectedTerm() == null ? null : Term.of(s.getExpectedTerm()),
                new Limits(l.getMaxRecords(), l.getMaxBytes(), span(l.getMaxSpan())),
                s.getApproval() == ReplicaSetRollbackSpec.Approval.Manual ? ApprovalMode.MANUAL
                        : ApprovalMode.AUTOMATIC,
                s.isDryRun(), approval, s.getMaxReplans(), s.getMaxRetries(), copy(s.getCopy()));
    }

    /** spec.copy as the coordinator's policy: absent fields take the defaults (Agent, Wait). */
    public static CopyPolicy copy(CopySpec c) {
        if (c == null) {
            return CopyPolicy.AGENT_OR_WAIT;
        }
        CopyPolicy.Target target = switch (c.getTarget() == null ? CopySpec.Target.Agent : c.getTarget()) {
            case None -> CopyPolicy.Target.NONE;
            case ObjectStore -> CopyPolicy.Target.OBJECT_STORE;
            case Agent -> CopyPolicy.Target.AGENT;
        };
        return new CopyPolicy(target,
                c.getOnFailure() == CopySpec.OnFailure.Proceed ? CopyPolicy.OnFailure.PROCEED
                        : CopyPolicy.OnFailure.WAIT);
    }

    /** "24h", "90m", "1h30m", "45s". */
    public static Duration span(String text) {
        if (text == null || text.isBlank()) {
            return Limits.DEFAULT.maxSpan();
        }
        Matcher m = SPAN.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("limits.maxSpan '" + text + "' is not like 24h, 90m or 1h30m");
        }
        Duration d = Duration.ZERO;
        if (m.group(1) != null) {
            d = d.plusHours(Long.parseLong(m.group(1)));
        }
        if (m.group(2) != null) {
            d = d.plusMinutes(Long.parseLong(m.group(2)));
        }
        if (m.group(3) != null) {
            d = d.plusSeconds(Long.parseLong(m.group(3)));
        }
        return d;
    }

    public static boolean paused(ReplicaSetRollback r) {
        Map<String, String> a = r.getMetadata().getAnnotations();
        return a != null && "true".equalsIgnoreCase(a.get(ReplicaSetRollback.PAUSE_ANNOTATION));
    }
}
