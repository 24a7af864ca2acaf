package io.dbrollback.operator;

import java.time.Duration;
import java.util.List;

/**
 * Runs a command in a container of a pod, as an argv array (never a shell string built from
 * resource values), feeding it {@code stdin}. Implemented over the Kubernetes exec API; tests run
 * the argv as a local process.
 */
public interface PodExec {

    /**
     * What came back.
     *
     * @param exitCode the exit status, or null when none arrived (the outcome is unknown)
     */
    record Result(Integer exitCode, String stdout, String stderr) {
        public boolean succeeded() {
            return exitCode != null && exitCode == 0;
        }
    }

    /**
     * @param stdin bytes for the command's standard input, or null for none; the command must know
     *     how many bytes to read (the exec protocol cannot signal end of input)
     */
    Result exec(String pod, String container, List<String> argv, byte[] stdin, Duration timeout);
}
