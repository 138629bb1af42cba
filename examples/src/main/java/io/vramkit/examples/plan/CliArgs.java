package io.vramkit.examples.plan;

import io.vramkit.examples.Command.UsageException;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code --name value} and {@code --flag} arguments of a subcommand, checked against the options it knows. Not
 * thread-safe.
 */
public final class CliArgs {

    private final Map<String, String> values = new HashMap<>();
    private final Set<String> flags = new HashSet<>();

    /**
     * Parses {@code args}.
     *
     * @param args        the arguments
     * @param withValue   options that take a value (without the leading dashes)
     * @param flagOptions options that take none
     * @throws UsageException for an unknown option or a missing value, naming it
     */
    public CliArgs(List<String> args, Set<String> withValue, Set<String> flagOptions) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) {
                throw new UsageException("unexpected argument '" + a + "'");
            }
            String name = a.substring(2);
            if (flagOptions.contains(name)) {
                flags.add(name);
            } else if (withValue.contains(name)) {
                if (i + 1 >= args.size()) {
                    throw new UsageException("--" + name + " needs a value");
                }
                values.put(name, args.get(++i));
            } else {
                throw new UsageException("unknown option --" + name + "; known: --" + String.join(", --",
                        new java.util.TreeSet<>(union(withValue, flagOptions))));
            }
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new HashSet<>(a);
        u.addAll(b);
        return u;
    }

    /** Whether a flag was given. */
    public boolean flag(String name) {
        return flags.contains(name);
    }

    /** The value of an option, or {@code dflt}. */
    public String get(String name, String dflt) {
        return values.getOrDefault(name, dflt);
    }

    /** Whether an option was given. */
    public boolean has(String name) {
        return values.containsKey(name);
    }

    /**
     * An integer option, or {@code dflt}.
     *
     * @throws UsageException if it is not an integer within {@code [min, max]}, naming it
     */
    public int intValue(String name, int dflt, int min, int max) {
        if (!values.containsKey(name)) {
            return dflt;
        }
        try {
            int v = Integer.parseInt(values.get(name));
            if (v < min || v > max) {
                throw new UsageException("--" + name + " must be in " + min + ".." + max + ", got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be an integer, got '" + values.get(name) + "'");
        }
    }

    /**
     * A positive decimal option, or {@code dflt}.
     *
     * @throws UsageException if it is not a positive number, naming it
     */
    public double doubleValue(String name, double dflt) {
        if (!values.containsKey(name)) {
            return dflt;
        }
        try {
            double v = Double.parseDouble(values.get(name));
            if (!(v > 0) || Double.isInfinite(v)) {
                throw new UsageException("--" + name + " must be a positive number, got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a number, got '" + values.get(name) + "'");
        }
    }
}
