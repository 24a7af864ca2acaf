package io.dbrollback.operator;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Tells a refused TLS handshake from a network failure. grpc-java reports both as
 * {@code UNAVAILABLE}; a handshake refused over a certificate (the agent's is expired, names another
 * host or is not signed by the trusted CA; the agent refused the operator's: none, another CA,
 * expired) is reported here as {@code UNAUTHENTICATED}, with what was wrong in words. Such a call
 * never reached the agent's service: nothing happened on the node, and retrying will not help until
 * a certificate changes. An agent that accepted the handshake but refuses the operator's identity
 * answers {@code PERMISSION_DENIED} (reason {@code CALLER_NOT_ALLOWED}) before it looks at the request:
 * that is a refusal of the same kind, reported as {@code UNAUTHENTICATED} too.
 */
public final class TlsRefusals {

    private static final String REFUSED_CLIENT_CERTIFICATE = "the agent refused the operator's client certificate"
            + " (none in the Secret, expired, or not signed by a CA the agent trusts)";

    /** The TLS alerts a peer sends when it refuses a certificate (OpenSSL and JDK spellings, normalised). */
    private static final String[][] ALERTS = {
            {"CERTIFICATE_REQUIRED", "the agent requires a client certificate and the operator presented none it"
                    + " accepts (tls.crt and tls.key missing from the Secret, or not signed by a CA the agent trusts)"},
            {"CERTIFICATE_EXPIRED", "the agent refused the operator's client certificate as expired"},
            {"CERTIFICATE_REVOKED", "the agent refused the operator's client certificate as revoked"},
            {"UNKNOWN_CA", "the agent does not trust the CA that signed the operator's client certificate"},
            {"BAD_CERTIFICATE", REFUSED_CLIENT_CERTIFICATE},
            {"UNSUPPORTED_CERTIFICATE", REFUSED_CLIENT_CERTIFICATE},
            {"CERTIFICATE_UNKNOWN", REFUSED_CLIENT_CERTIFICATE},
            {"ACCESS_DENIED", "the agent denied the operator access"},
            {"HANDSHAKE_FAILURE", "the agent refused the TLS handshake"},
    };

    private TlsRefusals() {
    }

    /**
     * The status as the operator sees it: {@code UNAUTHENTICATED} with a description in words for a
     * refused TLS handshake or a refused identity ({@code PERMISSION_DENIED}), else the status unchanged.
     */
    public static Status status(StatusRuntimeException e) {
        Status s = e.getStatus();
        if (s.getCode() == Status.Code.UNAUTHENTICATED) {
            return s;
        }
        if (s.getCode() == Status.Code.PERMISSION_DENIED) {
            return Status.UNAUTHENTICATED.withDescription("the agent refused the operator's identity"
                    + " (PERMISSION_DENIED): tls.crt must carry the identity the agent expects, by default the DNS"
                    + " name dbrollback-operator" + (s.getDescription() == null ? "" : " (" + s.getDescription() + ")"))
                    .withCause(e);
        }
        Optional<String> why = refusal(e);
        return why.isPresent() ? Status.UNAUTHENTICATED.withDescription("TLS handshake refused: " + why.get())
                .withCause(e) : s;
    }

    /** Why the handshake was refused, if {@code t} is a refused TLS handshake. */
    static Optional<String> refusal(Throwable t) {
        List<Throwable> chain = new ArrayList<>();
        for (Throwable c = t; c != null && !chain.contains(c); c = c.getCause()) {
            chain.add(c);
        }
        // The most specific finding first: a validator wraps "expired" in a generic path failure.
        for (Throwable c : chain) {
            if (c instanceof CertificateExpiredException) {
                return Optional.of("the agent's certificate has expired (" + c.getMessage() + ")");
            }
            if (c instanceof CertificateNotYetValidException) {
                return Optional.of("the agent's certificate is not valid yet (" + c.getMessage() + ")");
            }
        }
        CertificateException certificate = null;
        for (Throwable c : chain) {
            if (c instanceof CertificateException ce) {
                String m = String.valueOf(c.getMessage());
                if (m.contains("subject alternative name") || m.contains("No name matching")) {
                    return Optional.of("the agent's certificate does not name the address dialed (" + m + ")");
                }
                if (m.contains("path building failed") || m.contains("valid certification path")) {
                    return Optional.of("the agent's certificate is not signed by the CA in ca.crt (" + m + ")");
                }
                certificate = ce;
            }
        }
        if (certificate != null) {
            return Optional.of("the agent's certificate was not accepted (" + certificate.getMessage() + ")");
        }
        for (Throwable c : chain) {
            if (c instanceof SSLPeerUnverifiedException) {
                return Optional.of("the agent's identity could not be verified (" + c.getMessage() + ")");
            }
        }
        for (Throwable c : chain) {
            String alert = c instanceof SSLException ? alert(String.valueOf(c.getMessage())) : null;
            if (alert != null) {
                return Optional.of(alert);
            }
        }
        return Optional.empty();
    }

    /**
     * What is wrong with the operator's own client certificate, seen from its side, or null: a hint
     * next to a refusal, since an agent's alert seldom says which.
     */
    public static String clientCertificateProblem(AgentClients.Tls tls, Instant now) {
        if (tls == null) {
            return null;
        }
        if (tls.clientCert() == null) {
            return "the Secret holds no tls.crt and tls.key, so the operator presents no client certificate";
        }
        try {
            X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(tls.clientCert()));
            if (now.isAfter(c.getNotAfter().toInstant())) {
                return "the operator's client certificate in tls.crt expired at " + c.getNotAfter().toInstant();
            }
            if (now.isBefore(c.getNotBefore().toInstant())) {
                return "the operator's client certificate in tls.crt is not valid before "
                        + c.getNotBefore().toInstant();
            }
            return null;
        } catch (CertificateException | RuntimeException e) {
            return null;
        }
    }

    /** The words for a certificate alert named in an SSL error message, or null. */
    private static String alert(String message) {
        String m = message.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]+", "_");
        for (String[] a : ALERTS) {
            if (m.contains(a[0])) {
                return a[1];
            }
        }
        return null;
    }
}
