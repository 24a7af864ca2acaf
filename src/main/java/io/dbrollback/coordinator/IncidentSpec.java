package io.dbrollback.coordinator;

import io.dbrollback.model.Term;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;

/**
 * What the user asked for: roll {@code targetNode} of {@code cluster} back. Read afresh on every
 * step, so an edit (raised limits, an approval) takes effect at the next step.
 *
 * @param incidentId stable id of this incident; every mutating call carries it
 * @param expectedTerm when set, the incident only proceeds if the leader's term is this one
 * @param approvalToken the approval given so far, or null: the SHA-256 of the rollback file (as
 *     {@code sha256sum} prints it) or a prefix of it of at least {@link #MIN_APPROVAL_PREFIX} characters
 * @param maxReplans how often the plan may be redone (term or log changed before the destructive
 *     step) before the incident fails as unstable
 * @param maxRetries how many counted failures ({@link Failure#counted()}) and repeated fences a plan may
 *     have before the incident fails closed with the failure's reason
 * @param copy whether the verified file is copied to a second place before the recover
 */
public record IncidentSpec(
        String incidentId,
        String cluster,
        String targetNode,
        Term expectedTerm,
        Limits limits,
        ApprovalMode approval,
        boolean dryRun,
        String approvalToken,
        int maxReplans,
        int maxRetries,
        CopyPolicy copy) {

    /** The default of {@link #maxRetries()}. */
    public static final int DEFAULT_MAX_RETRIES = 8;

    /** Shortest digest prefix accepted as an approval. */
    public static final int MIN_APPROVAL_PREFIX = 12;

    public IncidentSpec {
        requireText(incidentId, "incidentId");
        requireText(cluster, "cluster");
        requireText(targetNode, "targetNode");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(approval, "approval");
        Objects.requireNonNull(copy, "copy");
        if (maxReplans < 0) {
            throw new IllegalArgumentException("maxReplans is never negative");
        }
        if (maxRetries < 0) {
            throw new IllegalArgumentException("maxRetries is never negative");
        }
    }

    /** An automatic, non-dry-run incident with default limits and no off-node copy. */
    public static IncidentSpec automatic(String incidentId, String cluster, String targetNode) {
        return new IncidentSpec(incidentId, cluster, targetNode, null, Limits.DEFAULT, ApprovalMode.AUTOMATIC,
                false, null, 3, DEFAULT_MAX_RETRIES,
                CopyPolicy.NONE);
    }

    public IncidentSpec withApprovalToken(String token) {
        return new IncidentSpec(incidentId, cluster, targetNode, expectedTerm, limits, approval, dryRun, token,
                maxReplans, maxRetries, copy);
    }

    public IncidentSpec withLimits(Limits newLimits) {
        return new IncidentSpec(incidentId, cluster, targetNode, expectedTerm, newLimits, approval, dryRun,
                approvalToken, maxReplans, maxRetries, copy);
    }

    public IncidentSpec withApproval(ApprovalMode mode) {
        return new IncidentSpec(incidentId, cluster, targetNode, expectedTerm, limits, mode, dryRun, approvalToken,
                maxReplans, maxRetries, copy);
    }

    public IncidentSpec withDryRun(boolean value) {
        return new IncidentSpec(incidentId, cluster, targetNode, expectedTerm, limits, approval, value, approvalToken,
                maxReplans, maxRetries, copy);
    }

    public IncidentSpec withExpectedTerm(Term term) {
        return new IncidentSpec(incidentId, cluster, targetNode, term, limits, approval, dryRun, approvalToken,
                maxReplans, maxRetries, copy);
    }

    public IncidentSpec withMaxRetries(int value) {
        return new IncidentSpec(incidentId, cluster, targetNode, expectedTerm, limits, approval, dryRun, approvalToken,
                maxReplans, value, copy);
    }

    public IncidentSpec withCopy(CopyPolicy value) {
        return new IncidentSpec(incidentId, cluster, targetNode, expectedTerm, limits, approval, dryRun, approvalToken,
                maxReplans, maxRetries, value);
    }

    /** Whether the approval token names the file with this SHA-256. */
    public boolean approves(String fileSha256) {
        if (approvalToken == null || fileSha256 == null) {
            return false;
        }
        String token = approvalToken.trim().toLowerCase(Locale.ROOT);
        if (token.length() < MIN_APPROVAL_PREFIX || token.length() > fileSha256.length()) {
            return false;
        }
        for (int i = 0; i < token.length(); i++) {
            if (!HexFormat.isHexDigit(token.charAt(i))) {
                return false;
            }
        }
        return fileSha256.startsWith(token);
    }

    private static void requireText(String value, String name) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(name + " must not be blank");
        }
    }
}
