package io.dbrollback.cli;

import picocli.CommandLine.Command;

/** The kubectl plugin's commands (filled in below). */
final class KubeCommands {
    private KubeCommands() {
    }

    @Command(name = "inspect")
    static final class Inspect implements Runnable {
        public void run() {
        }
    }

    @Command(name = "replay")
    static final class Replay implements Runnable {
        public void run() {
        }
    }

    @Command(name = "status")
    static final class Status implements Runnable {
        public void run() {
        }
    }

    @Command(name = "approve")
    static final class Approve implements Runnable {
        public void run() {
        }
    }

    @Command(name = "pause")
    static final class Pause implements Runnable {
        public void run() {
        }
    }

    @Command(name = "resume")
    static final class Resume implements Runnable {
        public void run() {
        }
    }
}
