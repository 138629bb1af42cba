package io.vramkit.examples;

import java.io.PrintStream;
import java.util.List;

/**
 * One subcommand of the {@code vramkit} CLI. Every subcommand accepts {@code --json}, which prints exactly one
 * machine-readable line on stdout instead of the human report.
 */
public interface Command {

    /** The word that selects this command, e.g. {@code replay}. */
    String name();

    /** One line for the usage listing. */
    String summary();

    /**
     * Runs the command.
     *
     * @param args the arguments after the command name
     * @param out  where the report (or the one JSON line) goes
     * @param err  where diagnostics go
     * @return the process exit code
     * @throws UsageException for bad arguments; Main prints the message and exits 2
     */
    int run(List<String> args, PrintStream out, PrintStream err) throws Exception;

    /** Bad command-line arguments: the message says which and why. */
    final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        /** @param message what is wrong, naming the argument */
        public UsageException(String message) {
            super(message);
        }
    }
}
