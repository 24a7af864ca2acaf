package io.dbrollback.agent;

import java.util.Properties;

/**
 * The last recover-to-LSN an agent began, kept in its durable state: a second call for the same
 * incident is answered from it (the same request: already done; another: refused). Stored as the
 * properties {@code lastRecoveryIncident}, {@code lastRecoveryTarget}, {@code lastRecoveryExpectedLast}
 * and {@code lastRecoveryFileSha256}.
 *
 * @param incident the incident, "" if none
 * @param target the target LSN
 * @param expectedLast the last LSN the caller expected the node to have
 * @param fileSha256 the SHA-256 of the rollback file the call named, "" if none
 */
public record RecoveryRecord(String incident, long target, long expectedLast, String fileSha256) {

    /** No recover yet. */
    public static final RecoveryRecord NONE = new RecoveryRecord("", 0, 0, "");

    /** The record in {@code p}, {@link #NONE}'s values where a property is missing. */
    public static RecoveryRecord load(Properties p) {
        return new RecoveryRecord(p.getProperty("lastRecoveryIncident", ""),
                Long.parseLong(p.getProperty("lastRecoveryTarget", "0")),
                Long.parseLong(p.getProperty("lastRecoveryExpectedLast", "0")),
                p.getProperty("lastRecoveryFileSha256", ""));
    }

    /** Sets this record's properties in {@code p}. */
    public void store(Properties p) {
        p.setProperty("lastRecoveryIncident", incident);
        p.setProperty("lastRecoveryTarget", Long.toString(target));
        p.setProperty("lastRecoveryExpectedLast", Long.toString(expectedLast));
        p.setProperty("lastRecoveryFileSha256", fileSha256);
    }

    /** Whether a call with these arguments asks for the same recover as this one (its incident aside). */
    public boolean sameRequest(long target, long expectedLast, String fileSha256) {
        return target == this.target && expectedLast == this.expectedLast && fileSha256.equals(this.fileSha256);
    }
}
