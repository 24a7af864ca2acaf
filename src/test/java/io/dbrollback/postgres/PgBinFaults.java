package io.dbrollback.postgres;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A binaries folder for a PostgreSQL agent ({@code --bin-dir}) in which the test breaks pg_rewind and pg_ctl: a
 * symbolic link to every binary of the real folder but {@code pg_rewind} and {@code pg_ctl}, which are shell scripts
 * that run the real ones with the same arguments unless the test has armed them.
 *
 * <p><b>pg_rewind cut part way</b> (when a file to watch is given): a {@code --dry-run} runs straight through; on its
 * first real run the script watches a file of the target data directory ({@code watch}) with shell builtins only
 * and, as soon as pg_rewind has written anything into it, stops pg_rewind (SIGSTOP), notes the file's size,
 * SIGKILLs it and exits 137. So the cut lands inside pg_rewind's work, at a point the test chooses by the file it
 * names (a file pg_rewind copies whole: it is created or truncated first, filled later). What the script saw is
 * left in its folder, written while the agent still waits for it (nothing else touches the data directory then):
 * {@code killed} ({@code exit=<pg_rewind's exit status> copied=<bytes of watch>}; an exit status of 137 means that
 * pg_rewind had not ended when it was stopped and killed), and {@code before} and {@code after}: {@code cksum} of the
 * target's {@code global/pg_control} and of every file of its {@code pg_wal}, and whether a {@code backup_label} is
 * there, right before the real pg_rewind started and right after it was killed. Runs after the first: refused at
 * once (exit 3, nothing run) while {@link #refuseReruns} is on, else the real pg_rewind. With {@link #stayAfterKill}
 * on, the first run does not exit after the kill until it is turned off: the agent stays inside its call of
 * pg_rewind, as it would if the pod had been killed there too.
 *
 * <p><b>pg_ctl held at a stop</b>: after {@link #holdNextStop}, the next {@code pg_ctl ... stop} stops nothing and
 * waits ({@link #stopHeld} turns true) until {@link #releaseStop}, then fails (exit 1): the agent stays inside its
 * call, as it would if the pod had been killed there.
 *
 * <p>The scripts run as the agent runs its binaries, under {@code unshare -U} when the tests run as root: they and
 * their folder are the root's, which the user namespace's unmapped user still is on this machine's files.
 */
final class PgBinFaults {

    private static final Pattern KILLED = Pattern.compile("exit=(\\d+) copied=(\\d+)");

    private final Path bin;
    private final Path marks;

    private PgBinFaults(Path bin, Path marks) {
        this.bin = bin;
        this.marks = marks;
    }

    /**
     * The folder (in {@code folder}) for the real binaries of {@code realBindir}: pg_rewind cut in {@code watch}
     * (null: never cut), pg_ctl held when armed.
     */
    static PgBinFaults create(Path folder, Path realBindir, Path watch) throws IOException {
        Path bin = Files.createDirectories(folder.resolve("bin"));
        Path marks = Files.createDirectories(folder.resolve("marks"));
        try (var list = Files.list(realBindir)) {
            for (Path real : (Iterable<Path>) list::iterator) {
                String name = real.getFileName().toString();
                if (!name.equals("pg_rewind") && !name.equals("pg_ctl")) {
                    Files.createSymbolicLink(bin.resolve(real.getFileName()), real);
                }
            }
        }
        String script = """
                #!/bin/sh
                # pg_rewind cut part way (PgBinFaults, a test fixture): the real one, stopped and SIGKILLed on its first
                # run as soon as it has written into $watch.
                real=@REAL@
                marks=@MARKS@
                watch=@WATCH@
                case " $* " in *" --dry-run "*) exec "$real" "$@" ;; esac
                if [ -e "$marks/short-wal" ]; then
                  # The WAL cut short of pg_rewind's minimum recovery point, as when it copied the source's last
                  # segment before the source wrote its last record: that record's end zeroed.
                  "$real" "$@" || exit $?
                  rm -f "$marks/short-wal"
                  data=
                  for a in "$@"; do case "$a" in --target-pgdata=*) data=${a#--target-pgdata=} ;; esac; done
                  out=$("$(dirname "$real")/pg_controldata" -D "$data")
                  loc=$(printf '%s\n' "$out" | sed -n 's/^Minimum recovery ending location: *//p')
                  tli=$(printf '%s\n' "$out" | sed -n "s/^Min recovery ending loc's timeline: *//p")
                  segsz=$(printf '%s\n' "$out" | sed -n 's/^Bytes per WAL segment: *//p')
                  lsn=$(( (0x${loc%/*} << 32) + 0x${loc#*/} ))
                  seg=$(( lsn / segsz )); off=$(( lsn % segsz )); per=$(( 0x100000000 / segsz ))
                  [ "$off" -ge 64 ] || { echo "too near a segment start: $loc" > "$marks/short-wal-skipped"; exit 0; }
                  name=$(printf '%08X%08X%08X' "$tli" $(( seg / per )) $(( seg % per )))
                  cut=$(( off - 16 ))
                  page=$(( cut / 8192 + 1 ))
                  dd if=/dev/zero of="$data/pg_wal/$name" bs=1 seek=$cut count=$(( page * 8192 - cut )) \
                conv=notrunc 2>/dev/null
                  dd if=/dev/zero of="$data/pg_wal/$name" bs=8192 seek=$page count=$(( segsz / 8192 - page )) \
                conv=notrunc 2>/dev/null
                  echo "$name $cut $loc" > "$marks/shortened"
                  exit 0
                fi
                [ -n "$watch" ] || exec "$real" "$@"
                if [ -e "$marks/killed" ]; then
                  if [ -e "$marks/refuse" ]; then echo "pg_rewind: refused by the test" >&2; exit 3; fi
                  exec "$real" "$@"
                fi
                data=
                for a in "$@"; do case "$a" in --target-pgdata=*) data=${a#--target-pgdata=} ;; esac; done
                snapshot() {
                  (cd "$data" && cksum global/pg_control pg_wal/* 2>/dev/null; [ -e backup_label ] && echo backup_label)
                  true
                }
                snapshot > "$marks/before"
                "$real" "$@" &
                pid=$!
                # Shell builtins only while pg_rewind runs, so that the stop comes right after its first write there.
                while ! [ -s "$watch" ]; do
                  read -r line < "/proc/$pid/stat" || break
                  case "$line" in *") Z "*) break ;; esac
                done
                kill -STOP "$pid" 2>/dev/null
                size=$(stat -c %s "$watch" 2>/dev/null || echo 0)
                kill -9 "$pid" 2>/dev/null
                wait "$pid"
                status=$?
                snapshot > "$marks/after"
                echo "exit=$status copied=$size" > "$marks/killed.tmp"
                mv "$marks/killed.tmp" "$marks/killed"
                echo "pg_rewind: killed by the test (exit $status, $size bytes of $watch written)" >&2
                while [ -e "$marks/stay" ]; do sleep 0.02; done
                exit 137
                """.replace("@REAL@", quote(realBindir.resolve("pg_rewind"))).replace("@MARKS@", quote(marks))
                .replace("@WATCH@", watch == null ? "''" : quote(watch));
        String pgCtl = """
                #!/bin/sh
                # pg_ctl held at a stop (PgBinFaults, a test fixture): the real one, but for one stop the test armed.
                real=@REAL@
                marks=@MARKS@
                case " $* " in
                  *" stop "*)
                    if mv "$marks/hold-stop" "$marks/held-stop" 2>/dev/null; then
                      while [ -e "$marks/held-stop" ]; do sleep 0.02; done
                      echo "pg_ctl: held by the test, nothing stopped" >&2
                      exit 1
                    fi ;;
                esac
                exec "$real" "$@"
                """.replace("@REAL@", quote(realBindir.resolve("pg_ctl"))).replace("@MARKS@", quote(marks));
        write(bin.resolve("pg_rewind"), script);
        write(bin.resolve("pg_ctl"), pgCtl);
        return new PgBinFaults(bin, marks);
    }

    private static void write(Path script, String text) throws IOException {
        Files.writeString(script, text, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static String quote(Path p) {
        String s = p.toString();
        if (s.contains("'")) {
            throw new IllegalArgumentException("a path with a quote: " + s);
        }
        return "'" + s + "'";
    }

    /** The binaries folder to give the agent. */
    Path bindir() {
        return bin;
    }

    /** Whether reruns are refused at once (exit 3) rather than run. */
    void refuseReruns(boolean on) throws IOException {
        mark("refuse", on);
    }

    /** Whether the first run waits after the kill (until this is turned off) before it exits. */
    void stayAfterKill(boolean on) throws IOException {
        mark("stay", on);
    }

    private void mark(String name, boolean on) throws IOException {
        if (on) {
            Files.writeString(marks.resolve(name), "");
        } else {
            Files.deleteIfExists(marks.resolve(name));
        }
    }

    /**
     * Arms pg_rewind: its next real run succeeds, then the target's WAL is cut short of the minimum recovery point
     * pg_rewind set (the last 16 bytes of the last record before it, and the rest of that segment, zeroed).
     */
    void shortenWalAfterNextRewind() throws IOException {
        mark("short-wal", true);
    }

    /** What the shortened run cut: "SEGMENT OFFSET MIN_RECOVERY_POINT", or null when it did not. */
    String shortened() throws IOException {
        Path f = marks.resolve("shortened");
        return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8).strip() : null;
    }

    /** Arms pg_ctl: its next stop is held. */
    void holdNextStop() throws IOException {
        mark("hold-stop", true);
    }

    /** Whether a pg_ctl stop is being held. */
    boolean stopHeld() {
        return Files.exists(marks.resolve("held-stop"));
    }

    /** Lets the held pg_ctl stop go: it fails without having stopped anything. */
    void releaseStop() throws IOException {
        mark("held-stop", false);
    }

    /** Whether the first run has killed pg_rewind (and written what it saw). */
    boolean killed() {
        return Files.exists(marks.resolve("killed"));
    }

    /** pg_rewind's exit status the first run saw after its SIGKILL: 137 when it was running then. */
    int exitStatus() throws IOException {
        return Integer.parseInt(killedLine().group(1));
    }

    /** The bytes of the watched file when pg_rewind was killed. */
    long copiedBytes() throws IOException {
        return Long.parseLong(killedLine().group(2));
    }

    private Matcher killedLine() throws IOException {
        String line = Files.readString(marks.resolve("killed"), StandardCharsets.UTF_8).strip();
        Matcher m = KILLED.matcher(line);
        if (!m.matches()) {
            throw new AssertionError("the pg_rewind wrapper wrote '" + line + "'");
        }
        return m;
    }

    /** The target's files right before the real pg_rewind started: path (in the data directory) to its cksum. */
    Map<String, String> before() throws IOException {
        return snapshot("before");
    }

    /** The target's files right after pg_rewind was killed: path to its cksum. */
    Map<String, String> after() throws IOException {
        return snapshot("after");
    }

    private Map<String, String> snapshot(String name) throws IOException {
        Map<String, String> files = new LinkedHashMap<>();
        for (String line : Files.readAllLines(marks.resolve(name), StandardCharsets.UTF_8)) {
            String[] f = line.strip().split("\\s+");
            if (f.length == 3) {
                files.put(f[2], f[0] + " " + f[1]); // checksum, size
            } else if (f.length == 1 && !f[0].isEmpty()) {
                files.put(f[0], "present");
            }
        }
        return files;
    }
}
