package io.dbrollback.node;

import io.dbrollback.agent.AgentErrors;
import io.dbrollback.agent.v1.ErrorReason;
import io.dbrollback.agent.v1.RollbackAgentGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import io.grpc.util.AdvancedTlsX509KeyManager;
import io.grpc.util.AdvancedTlsX509TrustManager;
import io.grpc.util.CertificateUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The reference node's TLS: its certificate and key, and the CA bundles it trusts, read from files
 * and read again every {@link Config#refresh()}, so that a rotated certificate (a renewed Secret
 * mounted as a volume) is used by new connections without a restart. Connections already open keep
 * the certificate they were made with.
 *
 * <p>When a client CA is configured, every client must present a certificate signed by it (mutual
 * TLS): a client without one, or with one from another CA or expired, is refused during the
 * handshake, before any RPC reaches the node. The node also dials its peers over TLS when it
 * replicates, presenting its own certificate and checking theirs (chain and name) against the peer
 * CA.
 *
 * <p>A handshake checks a client once; a connection may then live for hours, and a resumed TLS
 * session skips the check. So every call is checked too ({@link #clientCheck()}): the client's
 * certificate must still chain to the client CA bundle as it is now and still be valid, else the call
 * is refused with {@code UNAUTHENTICATED}. A CA dropped from the bundle locks its clients out at
 * their next call, open connections included.
 *
 * <p>A certificate of the client CA is not enough to call the rollback agent: the database's peers hold
 * certificates of the same CA to replicate, and must not be able to fence or recover. A
 * {@code RollbackAgent} call is served only when the client certificate carries the operator's identity
 * ({@link Config#operatorIdentity()}: a DNS or URI subject alternative name, or the subject's common
 * name, equal to it); any other is refused with {@code PERMISSION_DENIED}, reason
 * {@code CALLER_NOT_ALLOWED}, before the request is looked at. The replication service is not subject
 * to it.
 *
 * <p>The key and trust managers are grpc-java's {@code AdvancedTls} ones; the re-reading is done
 * here rather than by their own schedulers, which refresh once a minute at most often, and it
 * compares contents rather than modification times. A certificate and key that do not belong
 * together (one file replaced, the other not yet) or a file that does not parse keep the material in
 * use, and are tried again at the next refresh.
 */
public final class NodeTls implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(NodeTls.class.getName());

    /**
     * Where the node's TLS material lives.
     *
     * @param cert PEM certificate chain the node presents (leaf first); it must name the address
     *     clients dial (an IP or DNS subject alternative name), and serve for client authentication too
     *     when the node replicates over TLS
     * @param key PEM PKCS#8 private key of {@code cert} (RSA or EC)
     * @param clientCa PEM CA bundle that client certificates must chain to; null serves TLS without
     *     asking for client certificates
     * @param peerCa PEM CA bundle that peers' certificates must chain to when the node replicates; null
     *     uses {@code clientCa}, or the JVM's default trust store when that is null too
     * @param refresh how often the files are read again
     * @param operatorIdentity with mutual TLS, the identity a client certificate must carry to call the
     *     rollback agent (a DNS or URI subject alternative name, or the common name)
     */
    public record Config(Path cert, Path key, Path clientCa, Path peerCa, Duration refresh, String operatorIdentity) {
        public Config {
            Objects.requireNonNull(cert, "cert");
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(refresh, "refresh");
            if (refresh.isNegative() || refresh.isZero()) {
                throw new IllegalArgumentException("the TLS refresh period must be positive");
            }
            if (operatorIdentity == null || operatorIdentity.isBlank()) {
                throw new IllegalArgumentException("the operator identity must not be empty");
            }
        }

        /** The default operator identity, {@value NodeTls#DEFAULT_OPERATOR_IDENTITY}. */
        public Config(Path cert, Path key, Path clientCa, Path peerCa, Duration refresh) {
            this(cert, key, clientCa, peerCa, refresh, DEFAULT_OPERATOR_IDENTITY);
        }

        /** Mutual TLS with one CA for clients and peers, files read again every 30 seconds. */
        public static Config mutual(Path cert, Path key, Path ca) {
            return new Config(cert, key, ca, null, DEFAULT_REFRESH);
        }

        public Config withRefresh(Duration period) {
            return new Config(cert, key, clientCa, peerCa, period, operatorIdentity);
        }

        public Config withOperatorIdentity(String identity) {
            return new Config(cert, key, clientCa, peerCa, refresh, identity);
        }
    }

    /** How often the files are read again unless told otherwise. */
    public static final Duration DEFAULT_REFRESH = Duration.ofSeconds(30);

    /** The identity the operator's client certificate carries unless the node is told otherwise. */
    public static final String DEFAULT_OPERATOR_IDENTITY = "dbrollback-operator";

    private final Config config;
    private final String name;
    private final ScheduledExecutorService reloader;
    private final AdvancedTlsX509KeyManager identity = new AdvancedTlsX509KeyManager();
    private final AdvancedTlsX509TrustManager clients;
    private final AdvancedTlsX509TrustManager peers;
    private final Path peerCa;
    /** The client CA bundle in use, for the per-call check, and its generation (bumped at every change). */
    private volatile X509TrustManager clientTrust;
    private final AtomicLong clientTrustGeneration = new AtomicLong();

    /**
     * What was last put in use from each file, by use ("identity", "clients", "peers"): contents, so
     * that an unchanged file is not parsed again.
     */
    private final Map<String, byte[]> seen = new HashMap<>();

    private NodeTls(Config config, String name) {
        this.config = config;
        this.name = name;
        this.reloader = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tls-reload-" + name);
            t.setDaemon(true);
            return t;
        });
        this.clients = config.clientCa() == null ? null : trustManager(AdvancedTlsX509TrustManager.Verification
                .CERTIFICATE_ONLY_VERIFICATION);
        this.peerCa = config.peerCa() != null ? config.peerCa() : config.clientCa();
        this.peers = peerCa == null ? null : trustManager(AdvancedTlsX509TrustManager.Verification
                .CERTIFICATE_AND_HOST_NAME_VERIFICATION);
    }

    private static AdvancedTlsX509TrustManager trustManager(AdvancedTlsX509TrustManager.Verification v) {
        try {
            return AdvancedTlsX509TrustManager.newBuilder().setVerification(v).build();
        } catch (CertificateException e) {
            throw new IllegalStateException("no X.509 trust manager in this JVM", e);
        }
    }

    /**
     * Reads the files once (failing if they are unusable) and schedules their re-reading.
     *
     * @param name the node's name, for the reloader thread and the log
     */
    public static NodeTls load(Config config, String name) throws IOException {
        NodeTls tls = new NodeTls(config, name);
        try {
            tls.reload();
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            tls.close();
            throw new IOException("unusable TLS material (certificate " + config.cert() + ", key " + config.key()
                    + (config.clientCa() == null ? "" : ", client CA " + config.clientCa())
                    + (config.peerCa() == null ? "" : ", peer CA " + config.peerCa()) + "): " + e.getMessage(), e);
        }
        long period = config.refresh().toMillis();
        tls.reloader.scheduleWithFixedDelay(tls::reloadQuietly, period, period, TimeUnit.MILLISECONDS);
        return tls;
    }

    /** Reads every file that changed and puts it in use; throws on the first unusable one. */
    private void reload() throws IOException, GeneralSecurityException {
        byte[] cert = Files.readAllBytes(config.cert());
        byte[] key = Files.readAllBytes(config.key());
        if (changed("identity-cert", cert) || changed("identity-key", key)) {
            X509Certificate[] chain = CertificateUtils.getX509Certificates(new ByteArrayInputStream(cert));
            if (chain.length == 0) {
                throw new CertificateException(config.cert() + " holds no certificate");
            }
            PrivateKey privateKey = CertificateUtils.getPrivateKey(new ByteArrayInputStream(key));
            requirePair(chain[0], privateKey);
            identity.updateIdentityCredentials(chain, privateKey);
            seen.put("identity-cert", cert);
            seen.put("identity-key", key);
        }
        if (clients != null) {
            reloadTrust("clients", config.clientCa(), clients);
        }
        if (peers != null) {
            reloadTrust("peers", peerCa, peers);
        }
    }

    private void reloadTrust(String use, Path file, AdvancedTlsX509TrustManager manager) throws IOException,
            GeneralSecurityException {
        byte[] bundle = Files.readAllBytes(file);
        if (changed(use, bundle)) {
            X509Certificate[] cas = CertificateUtils.getX509Certificates(new ByteArrayInputStream(bundle));
            if (cas.length == 0) {
                throw new CertificateException(file + " holds no certificate");
            }
            manager.updateTrustCredentials(cas);
            if (manager == clients) {
                clientTrust = pkix(cas);
                clientTrustGeneration.incrementAndGet();
            }
            seen.put(use, bundle);
        }
    }

    /** A plain PKIX trust manager over {@code cas}, for checks outside a handshake. */
    private static X509TrustManager pkix(X509Certificate[] cas) throws GeneralSecurityException, IOException {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        for (int i = 0; i < cas.length; i++) {
            store.setCertificateEntry("ca-" + i, cas[i]);
        }
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init(store);
        for (TrustManager tm : f.getTrustManagers()) {
            if (tm instanceof X509TrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager in this JVM");
    }

    /**
     * Checks every call's client certificate against the client CA bundle in use now, and its
     * validity; refuses the call with {@code UNAUTHENTICATED} otherwise. A session that passed is
     * remembered with the bundle's generation, so the chain is validated again only after a change.
     * A rollback agent call must then come from the operator's identity ({@code PERMISSION_DENIED},
     * {@code CALLER_NOT_ALLOWED} otherwise). Serves every call when no client CA is configured.
     */
    public ServerInterceptor clientCheck() {
        return new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                    ServerCallHandler<Q, A> next) {
                if (clients == null) {
                    return next.startCall(call, headers);
                }
                SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                String refusal = refusal(session);
                if (refusal != null) {
                    call.close(Status.UNAUTHENTICATED.withDescription(name + " refuses the call: " + refusal),
                            new Metadata());
                    return new ServerCall.Listener<>() {
                    };
                }
                if (RollbackAgentGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName())
                        && !carriesOperatorIdentity(session)) {
                    StatusRuntimeException denied = AgentErrors.error(Status.Code.PERMISSION_DENIED,
                            ErrorReason.CALLER_NOT_ALLOWED, name + " serves the rollback agent only to a client"
                                    + " certificate that carries the identity " + config.operatorIdentity()
                                    + " (a DNS or URI subject alternative name, or the common name); "
                                    + "this one does not");
                    call.close(denied.getStatus(), denied.getTrailers());
                    return new ServerCall.Listener<>() {
                    };
                }
                return next.startCall(call, headers);
            }
        };
    }

    private static final String OPERATOR = "dbrollback.operatorIdentity";

    /** Whether the session's client certificate names the operator's identity (remembered per session). */
    private boolean carriesOperatorIdentity(SSLSession session) {
        Object known = session.getValue(OPERATOR);
        if (known instanceof Boolean b) {
            return b;
        }
        boolean carries;
        try {
            carries = names((X509Certificate) session.getPeerCertificates()[0]).contains(config.operatorIdentity());
        } catch (SSLPeerUnverifiedException | ClassCastException | CertificateException e) {
            carries = false;
        }
        session.putValue(OPERATOR, carries);
        return carries;
    }

    /** The DNS and URI subject alternative names and the common names of {@code cert}. */
    static List<String> names(X509Certificate cert) throws CertificateException {
        List<String> names = new ArrayList<>();
        Collection<List<?>> sans = cert.getSubjectAlternativeNames();
        if (sans != null) {
            for (List<?> san : sans) {
                int type = (Integer) san.get(0);
                if (type == 2 || type == 6) { // dNSName, uniformResourceIdentifier
                    names.add(String.valueOf(san.get(1)));
                }
            }
        }
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    names.add(String.valueOf(rdn.getValue()));
                }
            }
        } catch (InvalidNameException e) {
            // no readable subject: only the alternative names count
        }
        return names;
    }

    private static final String CHECKED = "dbrollback.clientTrustGeneration";

    /** Why a call on {@code session} is refused, or null. */
    private String refusal(SSLSession session) {
        if (session == null) {
            return "no TLS session";
        }
        X509Certificate[] chain;
        try {
            Certificate[] peer = session.getPeerCertificates();
            chain = Arrays.stream(peer).map(X509Certificate.class::cast).toArray(X509Certificate[]::new);
        } catch (SSLPeerUnverifiedException | ClassCastException e) {
            return "no client certificate";
        }
        if (chain.length == 0) {
            return "no client certificate";
        }
        try {
            chain[0].checkValidity();
        } catch (CertificateException e) {
            return "the client certificate is no longer valid (" + e.getMessage() + ")";
        }
        long generation = clientTrustGeneration.get();
        if (Long.valueOf(generation).equals(session.getValue(CHECKED))) {
            return null;
        }
        try {
            clientTrust.checkClientTrusted(chain, chain[0].getPublicKey().getAlgorithm());
        } catch (CertificateException e) {
            return "the client certificate is not signed by a CA of the node's client CA bundle (" + e.getMessage()
                    + ")";
        }
        session.putValue(CHECKED, generation);
        return null;
    }

    private boolean changed(String use, byte[] contents) {
        return !Arrays.equals(seen.get(use), contents);
    }

    /** The key signs, the certificate's public key verifies: they belong together. */
    private static void requirePair(X509Certificate cert, PrivateKey key) throws GeneralSecurityException {
        String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256with" + key.getAlgorithm();
        byte[] probe = "dbrollback-tls-pair-check".getBytes(StandardCharsets.US_ASCII);
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(key);
        signer.update(probe);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance(algorithm);
        verifier.initVerify(cert.getPublicKey());
        verifier.update(probe);
        if (!verifier.verify(signature)) {
            throw new GeneralSecurityException("the private key does not belong to the certificate");
        }
    }

    private void reloadQuietly() {
        try {
            reload();
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            // A half-written rotation or a bad file: keep what is in use, try again next time.
            LOG.log(Level.WARNING, "node " + name + ": TLS files not reloaded, the previous material stays in use: "
                    + e.getMessage());
        }
    }

    /**
     * The server side: the node's certificate, and client certificates required when a client CA is
     * set. The JDK's TLS engine asks the trust manager for the acceptable CAs at every handshake, so
     * the CA names the node sends in its certificate request follow a rotated bundle too (a client
     * picks its certificate from them).
     */
    public SslContext serverContext() throws SSLException {
        SslContextBuilder b = GrpcSslContexts.configure(SslContextBuilder.forServer(identity), SslProvider.JDK);
        if (clients != null) {
            b.trustManager(clients).clientAuth(ClientAuth.REQUIRE);
        }
        return b.build();
    }

    /** The client side of replication: the node's own certificate, peers checked against the peer CA. */
    ChannelCredentials peerCredentials() {
        TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().keyManager(identity);
        if (peers != null) {
            b.trustManager(peers);
        }
        return b.build();
    }

    @Override
    public void close() {
        reloader.shutdownNow();
    }
}
