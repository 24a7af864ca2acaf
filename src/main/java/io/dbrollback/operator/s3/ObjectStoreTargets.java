package io.dbrollback.operator.s3;

import io.dbrollback.api.ObjectStoreSpec;
import io.dbrollback.operator.s3.SecretCredentials.InvalidSecretException;
import java.util.List;
import java.util.Map;

/** From the proposed {@link ObjectStoreSpec} and its credentials Secret to an {@link S3Target}; pure. */
public final class ObjectStoreTargets {

    private ObjectStoreTargets() {
    }

    /** The spec's problems (the Secret aside), empty when it is valid; messages name fields, not values. */
    public static List<String> problems(ObjectStoreSpec spec) {
        List<String> p = S3Target.problems(blankToNull(spec.getEndpoint()), spec.getRegion(), spec.getBucket(),
                spec.getPrefix());
        String secret = spec.getCredentialsSecret();
        if (secret == null || secret.isEmpty() || secret.length() > 253
                || !secret.matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")) {
            p.add("credentialsSecret must name a Secret in this namespace");
        }
        return p.stream().map(m -> "objectStore." + m).toList();
    }

    /**
     * The target of {@code spec}, with the credentials read from its Secret's data map.
     *
     * @throws IllegalArgumentException naming every problem of the spec
     * @throws InvalidSecretException when the Secret cannot give credentials (no value is echoed)
     */
    public static S3Target toTarget(ObjectStoreSpec spec, Map<String, String> secretData)
            throws InvalidSecretException {
        List<String> p = problems(spec);
        if (!p.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", p));
        }
        S3Credentials c = SecretCredentials.fromData(spec.getCredentialsSecret(), secretData);
        return S3Target.of(spec.getEndpoint(), spec.getRegion(), spec.getBucket(), spec.getPrefix(),
                spec.isForcePathStyle(), c);
    }

    /**
     * How a status names the store of {@code spec} (no credentials needed): {@code <endpoint>/<bucket>}, or
     * {@code s3://<bucket>} for AWS S3.
     */
    public static String storeName(ObjectStoreSpec spec) {
        String endpoint = blankToNull(spec.getEndpoint());
        if (endpoint == null) {
            return "s3://" + spec.getBucket();
        }
        return (endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint) + "/"
                + spec.getBucket();
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
