package io.dbrollback.node;

import java.io.IOException;

/**
 * Test hook of the reference node: disk and connection faults for the next WriteRollbackFile call.
 * Each switch acts once, on the next call that starts after it was set; the faults go through the
 * same classification as real ones (an ENOSPC message, a failing fsync, a reset call). Two more act on
 * StoreRollbackCopy: the free space its check sees, and a hook in the middle of its transfer.
 */
public final class RollbackFileFaults {

    /** What a test runs in a write right before its read-back: it may fail as the disk would, or change the node. */
    @FunctionalInterface
    public interface ReadBackHook {
        void run() throws IOException;
    }

    /** The faults one call took; -1, false or null means off. */
    record Armed(long noSpaceAfter, boolean failFsync, long cutAfter, boolean failTempRemoval,
            ReadBackHook beforeReadBack) {
        static final Armed NONE = new Armed(-1, false, -1, false, null);
    }

    private long noSpaceAfter = -1;
    private boolean failFsync;
    private long cutAfter = -1;
    private boolean failTempRemoval;
    private ReadBackHook beforeReadBack;
    private long copyFreeSpace = -1;
    private Runnable copyDataHook;

    /** The next write fails with ENOSPC ("No space left on device") once it would hold more than {@code bytes}. */
    public synchronized void noSpaceAfter(long bytes) {
        noSpaceAfter = bytes;
    }

    /** The next write's fsync of its file fails with EIO. */
    public synchronized void failNextFsync() {
        failFsync = true;
    }

    /** The next write is cut (answered UNAVAILABLE, as a reset connection) once more than {@code bytes} arrived. */
    public synchronized void cutAfter(long bytes) {
        cutAfter = bytes;
    }

    /** The next write cannot remove its temporary name once the file is published (EPERM). */
    public synchronized void failNextTempRemoval() {
        failTempRemoval = true;
    }

    /**
     * The next write that makes a new file runs {@code hook} after the fsync of its temporary file, right before
     * reading it back (nothing published yet): an {@link IOException} from the hook is a read error of the disk;
     * a hook that changes the temporary file is a disk that gives back other bytes than it was given.
     */
    public synchronized void beforeNextReadBack(ReadBackHook hook) {
        beforeReadBack = hook;
    }

    /**
     * From now on (until set to -1) the copies directory reports {@code bytes} of free space to
     * StoreRollbackCopy's check at {@code begin}, as a full disk would: a copy larger than that is refused
     * with NO_SPACE. Sticky, unlike the other switches: a full disk stays full.
     */
    public synchronized void copyFreeSpace(long bytes) {
        copyFreeSpace = bytes;
    }

    /** The free space set by {@link #copyFreeSpace}, or -1 for the file system's own. */
    synchronized long copyFreeSpace() {
        return copyFreeSpace;
    }

    /**
     * From now on (until set to null) every StoreRollbackCopy call that writes a new copy runs {@code hook}
     * once, right after its first data message is in the call's temporary file (before the end message, the
     * fsync and the link: nothing published). A hook that blocks holds the call there; the call learns
     * that its client went away (and removes its temporary file) only after the hook returned.
     */
    public synchronized void onCopyData(Runnable hook) {
        copyDataHook = hook;
    }

    /** The hook set by {@link #onCopyData}, or null. */
    synchronized Runnable copyDataHook() {
        return copyDataHook;
    }

    /** Takes the armed faults for one call, disarming them. */
    synchronized Armed take() {
        if (noSpaceAfter < 0 && !failFsync && cutAfter < 0 && !failTempRemoval && beforeReadBack == null) {
            return Armed.NONE;
        }
        Armed a = new Armed(noSpaceAfter, failFsync, cutAfter, failTempRemoval, beforeReadBack);
        noSpaceAfter = -1;
        failFsync = false;
        cutAfter = -1;
        failTempRemoval = false;
        beforeReadBack = null;
        return a;
    }
}
