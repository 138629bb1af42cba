package io.vramkit.examples;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Entry point of {@code vramkit-examples.jar}: {@code java -jar vramkit-examples.jar COMMAND [ARGS] [--json]}. */
public final class Main {

    private Main() {
    }

    /** The subcommands, in the order the usage lists them. */
    static List<Command> commands() {
        List<Command> commands = new ArrayList<>();
        // Each subcommand registers itself here, one line each; the headline demo first.
        commands.add(new io.vramkit.examples.minilm.MiniLmCommand());
        commands.add(new io.vramkit.examples.replay.ReplayCommand());
        commands.add(new io.vramkit.examples.plan.PlanCommand());
        commands.add(new io.vramkit.examples.simulate.SimulateCommand());
        commands.add(new io.vramkit.examples.devices.DevicesCommand());
        return commands;
    }

    /** Runs a command and exits with its code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs a command and returns its exit code; for tests. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        List<Command> commands = commands();
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            usage(commands, args.length == 0 ? err : out);
            return args.length == 0 ? 2 : 0;
        }
        for (Command c : commands) {
            if (c.name().equals(args[0])) {
                try {
                    return c.run(List.of(Arrays.copyOfRange(args, 1, args.length)), out, err);
                } catch (Command.UsageException e) {
                    err.println("vramkit " + c.name() + ": " + e.getMessage());
                    return 2;
                } catch (Exception e) {
                    err.println("vramkit " + c.name() + " failed: " + e);
                    e.printStackTrace(err);
                    return 1;
                }
            }
        }
        err.println("vramkit: unknown command '" + args[0] + "'");
        usage(commands, err);
        return 2;
    }

    private static void usage(List<Command> commands, PrintStream to) {
        to.println("usage: vramkit COMMAND [ARGS] [--json]");
        to.println();
        to.println("commands:");
        for (Command c : commands) {
            to.printf("  %-10s %s%n", c.name(), c.summary());
        }
    }
}
