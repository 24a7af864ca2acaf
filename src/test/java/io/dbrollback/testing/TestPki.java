package io.dbrollback.testing;

import io.dbrollback.node.NodeTls;
import io.dbrollback.operator.AgentClients;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.grpc.ChannelCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificate authorities and certificates made in the test, in PEM as a Kubernetes TLS Secret or a
 * mounted volume holds them: EC P-256 keys (PKCS#8), leaf certificates for both server and client
 * authentication, with IP, DNS or URI subject alternative names and any validity window (an expired
 * one included). The operator's client certificate carries the operator's identity
 * ({@link #OPERATOR_IDENTITY}), which an agent requires of every rollback agent call; a database
 * peer's certificate of the same CA does not.
 */
public final class TestPki {

    /** The DNS name an agent requires of the operator's client certificate by default. */
    public static final String OPERATOR_IDENTITY = NodeTls.DEFAULT_OPERATOR_IDENTITY;

    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    private TestPki() {
    }

    /** A CA: its key signs leaves; {@link #pem()} is what a {@code ca.crt} holds. */
    public record Ca(String name, KeyPair keys, X509Certificate cert) {

        public String pem() {
            return TestPki.pem("CERTIFICATE", encoded(cert));
        }

        /**
         * The operator's client certificate: common name {@code rollback-operator}, DNS subject
         * alternative name {@link #OPERATOR_IDENTITY}, valid from an hour ago for a day.
         */
        public Leaf operator() {
            return issue("rollback-operator", OPERATOR_IDENTITY);
        }

        /** A leaf valid from an hour ago for a day, naming {@code sans} (IP literals, URIs or DNS names). */
        public Leaf issue(String commonName, String... sans) {
            Instant now = Instant.now();
            return issue(commonName, List.of(sans), now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
        }

        /** A leaf valid over [notBefore, notAfter], for server and client authentication. */
        public Leaf issue(String commonName, List<String> sans, Instant notBefore, Instant notAfter) {
            try {
                KeyPair keys = keyPair();
                X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(cert, serial(), Date.from(notBefore),
                        Date.from(notAfter), new X500Name("CN=" + commonName), keys.getPublic());
                JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
                b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
                b.addExtension(Extension.keyUsage, true,
                        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
                b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {
                        KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
                b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(cert));
                if (!sans.isEmpty()) {
                    GeneralName[] names = sans.stream().map(s -> s.contains("://")
                            ? new GeneralName(GeneralName.uniformResourceIdentifier, s)
                            : s.matches("[0-9.]+|.*:.*") ? new GeneralName(GeneralName.iPAddress, s)
                            : new GeneralName(GeneralName.dNSName, s)).toArray(GeneralName[]::new);
                    b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
                }
                return new Leaf(sign(b, this.keys.getPrivate()), keys.getPrivate(), this);
            } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** A leaf certificate and its key. */
    public record Leaf(X509Certificate cert, PrivateKey key, Ca issuer) {

        /** What a {@code tls.crt} holds: the leaf's PEM. */
        public String pem() {
            return TestPki.pem("CERTIFICATE", encoded(cert));
        }

        /** What a {@code tls.key} holds: the PKCS#8 PEM of the key. */
        public String keyPem() {
            return TestPki.pem("PRIVATE KEY", key.getEncoded());
        }

        /** Writes {@code name.crt} and {@code name.key} into {@code dir}, each replaced atomically. */
        public PemFiles write(Path dir, String name) {
            Path crt = dir.resolve(name + ".crt");
            Path key = dir.resolve(name + ".key");
            writeAtomically(crt, pem());
            writeAtomically(key, keyPem());
            return new PemFiles(crt, key);
        }
    }

    /** A certificate file and its key file. */
    public record PemFiles(Path cert, Path key) {
    }

    /**
     * gRPC client credentials: {@code client}'s certificate (none when null), servers checked against {@code trusted}.
     */
    public static ChannelCredentials credentials(Ca trusted, Leaf client) {
        try {
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder()
                    .trustManager(stream(trusted.pem()));
            if (client != null) {
                b.keyManager(stream(client.pem()), stream(client.keyPem()));
            }
            return b.build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * gRPC client credentials with {@code client}'s certificate that accept any server certificate:
     * a test's own view into a node whose certificate the test made wrong on purpose.
     */
    public static ChannelCredentials credentialsTrustingAnyServer(Leaf client) {
        try {
            return TlsChannelCredentials.newBuilder().keyManager(stream(client.pem()), stream(client.keyPem()))
                    .trustManager(InsecureTrustManagerFactory.INSTANCE
                            .getTrustManagers())
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The operator's material as a TLS Secret would give it: {@code ca.crt}, and {@code tls.crt}/{@code tls.key} when
     * {@code client} is set.
     */
    public static AgentClients.Tls material(Ca trusted, Leaf client) {
        return new AgentClients.Tls(ascii(trusted.pem()), client == null ? null
                : ascii(client.pem()), client == null ? null : ascii(client.keyPem()));
    }

    /** A Secret of type kubernetes.io/tls with {@code ca.crt}, {@code tls.crt} and {@code tls.key}. */
    public static Secret secret(String namespace, String name, Ca trusted, Leaf client) {
        return new SecretBuilder().withNewMetadata().withNamespace(namespace)
                .withName(name).endMetadata().withType("kubernetes.io/tls")
                .addToData("ca.crt", base64(trusted.pem()))
                .addToData("tls.crt", base64(client.pem()))
                .addToData("tls.key", base64(client.keyPem())).build();
    }

    private static String base64(String text) {
        return Base64.getEncoder().encodeToString(ascii(text));
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    private static InputStream stream(String text) {
        return new ByteArrayInputStream(ascii(text));
    }

    /** A self-signed CA valid from an hour ago for ten days. */
    public static Ca ca(String name) {
        try {
            KeyPair keys = keyPair();
            Instant now = Instant.now();
            X500Name subject = new X500Name("CN=" + name);
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(10))), subject,
                    keys.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return new Ca(name, keys, sign(b, keys.getPrivate()));
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Replaces {@code file} by a new one in a single rename, as a mounted Secret changes. */
    public static void writeAtomically(Path file, String text) {
        try {
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".tmp-", ".pem");
            Files.writeString(tmp, text, StandardCharsets.US_ASCII);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
            throws OperatorCreationException, GeneralSecurityException {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA")
                .build(signer)));
    }

    private static KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return BigInteger.valueOf(SERIAL.incrementAndGet());
    }

    private static byte[] encoded(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
