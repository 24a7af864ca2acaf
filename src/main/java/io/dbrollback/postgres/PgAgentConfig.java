package io.dbrollback.postgres;

import io.dbrollback.node.NodeTls;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How the PostgreSQL agent reaches its server, its peers and its files. Built from flags by
 * {@link PgAgentMain}; docs/postgresql.md lists them.
 *
 * @param nodeName the pod's name: every timeline names it
 * @param host the agent's gRPC listen address
 * @param port the agent's gRPC port (0: any free port)
 * @param dataDir the server's data directory ({@code PGDATA})
 * @param binDir the folder of {@code pg_ctl}, {@code pg_rewind} and {@code postgres}
 * @param pgPort the server's port (its TCP port and the number of its socket file)
 * @param socketDir the server's ordinary Unix socket directory (its {@code unix_socket_directories})
 * @param fenceSocketDir the private socket directory of the fenced server (created with mode 0700); only
 *     the agent can reach it
 * @param stateDir the agent's own durable state, the server log and the copies a recover keeps; never
 *     inside the data directory (pg_rewind overwrites that)
 * @param rollbackDir where rollback files are written in the agent-writes-the-file mode
 * @param superuser the role the agent connects as (over the socket, trusted there) and as which pg_rewind
 *     reads the new primary (over TCP, password from the passfile)
 * @param replicationUser the role a standby streams as
 * @param passfile a libpq password file (from a Secret) with the passwords of both roles on the peers
 * @param peers host:port of the PostgreSQL servers of the members, where the agent looks for the
 *     primary to rewind from and to follow; the node's own entry (its name, or a DNS name whose first
 *     label is its name) is left out, so that one pod template can list them all
 * @param slot the logical replication slot that keeps every change a failover could take away
 * @param database the database whose changes the slot decodes
 * @param maintenance how often the agent, on a primary, updates its commit LSN and advances the slot
 * @param userNamespace run the server binaries under {@code unshare -U} (PostgreSQL refuses root)
 * @param tls the agent's TLS material, or null for plaintext
 */
public record PgAgentConfig(String nodeName, String host, int port, Path dataDir, Path binDir, int pgPort,
        Path socketDir, Path fenceSocketDir, Path stateDir, Path rollbackDir, String superuser,
        String replicationUser, Path passfile, List<String> peers, String slot, String database,
        Duration maintenance, boolean userNamespace, NodeTls.Config tls) {

    public PgAgentConfig {
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(binDir, "binDir");
        Objects.requireNonNull(socketDir, "socketDir");
        Objects.requireNonNull(fenceSocketDir, "fenceSocketDir");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(rollbackDir, "rollbackDir");
        // One pod template lists every member: the node itself (by its name, or its name as the first
        // label of a DNS name such as pg-0.pg.db.svc) is no peer of its own.
        List<String> others = new ArrayList<>();
        for (String p : peers) {
            String peerHost = hostPort(p).host();
            if (!peerHost.equals(nodeName) && !peerHost.startsWith(nodeName + ".")) {
                others.add(p);
            }
        }
        peers = List.copyOf(others);
        // pg_ctl hands the fence's options to the server through a shell: no character of a
        // configured path may end the quoted word.
        if (!fenceSocketDir.toString().matches("[A-Za-z0-9/._-]+")) {
            throw new IllegalArgumentException("the fence socket directory may hold only letters, digits and / . _ -");
        }
        if (!slot.matches("[a-z0-9_]{1,63}")) {
            throw new IllegalArgumentException("a slot name is lower-case letters, digits and _");
        }
        if (!superuser.matches("[A-Za-z_][A-Za-z0-9_]{0,62}")
                || !replicationUser.matches("[A-Za-z_][A-Za-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("role names are plain identifiers");
        }
        if (!database.matches("[A-Za-z_][A-Za-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("the database name is a plain identifier");
        }
        if (maintenance.isNegative() || maintenance.isZero()) {
            throw new IllegalArgumentException("the maintenance period is positive");
        }
    }

    /** The physical slot this node streams through when it is a standby: its name, as a slot name. */
    public String physicalSlot() {
        return "dbrollback_" + nodeName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    }

    /** Splits {@code host:port}; refuses anything else. */
    static HostPort hostPort(String address) {
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            throw new IllegalArgumentException("not host:port: " + address);
        }
        String host = address.substring(0, colon);
        if (!host.matches("[A-Za-z0-9.:\\[\\]-]+")) {
            throw new IllegalArgumentException("not a host name: " + host);
        }
        int port = Integer.parseInt(address.substring(colon + 1));
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("not a port: " + port);
        }
        return new HostPort(host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host,
                port);
    }

    record HostPort(String host, int port) {
        @Override
        public String toString() {
            return host + ":" + port;
        }
    }
}
