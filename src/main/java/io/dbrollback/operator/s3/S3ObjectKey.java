package io.dbrollback.operator.s3;

import io.dbrollback.model.RollbackFileName;
import java.util.regex.Pattern;

/**
 * The one naming rule of rollback file copies in an object store:
 * {@code <prefix>/<namespace>/<rollback name>/<incident>-plan<N>.rollback.jsonl} (without the
 * prefix and its '/' when the prefix is empty). The last segment is the file's own name
 * ({@link RollbackFileName}); namespace and name are Kubernetes names, so no part can hold '/',
 * '..' or a character that needs escaping.
 */
public final class S3ObjectKey {

    private static final Pattern DNS_LABEL = Pattern.compile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
    private static final Pattern DNS_SUBDOMAIN = Pattern.compile(
            "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");

    private S3ObjectKey() {
    }

    /**
     * The key of a rollback file's copy.
     *
     * @param prefix a prefix that {@link S3Target#problems} accepts (empty for none)
     * @throws IllegalArgumentException when a part is not valid; the message names the part
     */
    public static String of(String prefix, String namespace, String rollbackName, String incidentId,
            long planNumber) {
        if (namespace == null || namespace.length() > 63 || !DNS_LABEL.matcher(namespace).matches()) {
            throw new IllegalArgumentException("namespace is not a Kubernetes namespace name");
        }
        if (rollbackName == null || rollbackName.length() > 253 || !DNS_SUBDOMAIN.matcher(rollbackName).matches()) {
            throw new IllegalArgumentException("rollback name is not a Kubernetes object name");
        }
        String file = RollbackFileName.of(incidentId, planNumber);
        String p = prefix == null ? "" : prefix;
        if (!p.isEmpty()) {
            var problems = S3Target.problems(null, "us-east-1", "valid-bucket", p);
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(String.join("; ", problems));
            }
        }
        return (p.isEmpty() ? "" : p + "/") + namespace + "/" + rollbackName + "/" + file;
    }

    /** The key of a rollback file's copy under {@code target}'s prefix. */
    public static String of(S3Target target, String namespace, String rollbackName, String incidentId,
            long planNumber) {
        return of(target.prefix(), namespace, rollbackName, incidentId, planNumber);
    }
}
