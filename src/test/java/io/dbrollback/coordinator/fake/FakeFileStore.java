package io.dbrollback.coordinator.fake;

import io.dbrollback.model.RollbackFileHeader;
import io.dbrollback.model.TailRecord;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rollback files by location. It can only add and rename: it has no way to delete or overwrite, and
 * it remembers every file ever stored, so invariant I3 (never delete or overwrite) is checkable.
 */
public final class FakeFileStore {

    /** One stored file. {@code corrupted} models bytes that changed on disk after the write. */
    public static final class StoredFile {
        public final String originalLocation;
        public final RollbackFileHeader header;
        public final List<TailRecord> records;
        public final String fileSha256;
        public final String tailSha256;
        public final long bytes;
        boolean corrupted;
        boolean verified;

        StoredFile(String location, RollbackFileHeader header, List<TailRecord> records, String fileSha256,
                String tailSha256, long bytes) {
            this.originalLocation = location;
            this.header = header;
            this.records = List.copyOf(records);
            this.fileSha256 = fileSha256;
            this.tailSha256 = tailSha256;
            this.bytes = bytes;
        }

        public boolean verified() {
            return verified;
        }
    }

    private final Map<String, StoredFile> byLocation = new LinkedHashMap<>();
    private final List<StoredFile> everStored = new ArrayList<>();
    private int quarantines;

    StoredFile get(String location) {
        return byLocation.get(location);
    }

    void add(String location, StoredFile f) {
        if (byLocation.containsKey(location)) {
            throw new AssertionError("I3 violated: overwriting rollback file " + location);
        }
        byLocation.put(location, f);
        everStored.add(f);
    }

    String quarantine(String location) {
        StoredFile f = byLocation.remove(location);
        String to = location + ".quarantined-" + (++quarantines);
        byLocation.put(to, f);
        return to;
    }

    /** Files currently stored, by location (quarantined ones under their new names). */
    public Map<String, StoredFile> files() {
        return Map.copyOf(byLocation);
    }

    /** I3: every file ever stored is still here, under its name or a quarantine name, unchanged. */
    public void checkNothingDeleted() {
        for (StoredFile f : everStored) {
            if (!byLocation.containsValue(f)) {
                throw new AssertionError("I3 violated: rollback file " + f.originalLocation + " disappeared");
            }
        }
    }
}
