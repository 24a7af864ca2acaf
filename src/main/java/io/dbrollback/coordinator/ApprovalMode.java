package io.dbrollback.coordinator;

/** Whether the destructive step waits for a human. */
public enum ApprovalMode {
    /** Proceed when the verified tail is within the limits; wait for approval only beyond them. */
    AUTOMATIC,
    /** Always wait, after the tail is persisted and verified, for an approval naming the file's digest. */
    MANUAL
}
