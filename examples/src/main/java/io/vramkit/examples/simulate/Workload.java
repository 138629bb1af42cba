package io.vramkit.examples.simulate;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Synthetic serving workloads shaped like public traces: lognormal prompt and output lengths with the published means
 * (ShareGPT: 161 prompt / 338 output tokens, wide variance; Alpaca: 19 / 58), arriving by a Poisson process or in
 * bursts. Prompts start with one of a few shared system prompts, so prefix caching has something to share.
 *
 * <p>Deterministic for a seed. Immutable after construction.
 */
public final class Workload {

    /**
     * One request of the trace.
     *
     * @param id             request id, its index in the trace
     * @param arrivalSeconds arrival time
     * @param prompt         prompt token ids
     * @param outputTokens   tokens the request generates before it stops
     */
    public record Item(long id, double arrivalSeconds, int[] prompt, int outputTokens) {
    }

    /** The length shape. */
    public enum Kind {
        /** ShareGPT-like conversations: means 161 in, 338 out, sigma 1.0 / 0.9. */
        SHAREGPT(161, 1.0, 338, 0.9),
        /** Alpaca-like instructions: means 19 in, 58 out, sigma 0.6 / 0.8. */
        ALPACA(19, 0.6, 58, 0.8);

        final double inMean;
        final double inSigma;
        final double outMean;
        final double outSigma;

        Kind(double inMean, double inSigma, double outMean, double outSigma) {
            this.inMean = inMean;
            this.inSigma = inSigma;
            this.outMean = outMean;
            this.outSigma = outSigma;
        }

        /**
         * Parses {@code sharegpt} or {@code alpaca}.
         *
         * @throws IllegalArgumentException naming the known kinds
         */
        public static Kind parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "sharegpt" -> SHAREGPT;
                case "alpaca" -> ALPACA;
                default -> throw new IllegalArgumentException("workload must be sharegpt or alpaca, got '" + s + "'");
            };
        }
    }

    private final List<Item> items;

    /**
     * Generates a trace.
     *
     * @param kind         the length shape
     * @param requests     requests, {@code >= 1}
     * @param ratePerSecond mean arrival rate, {@code > 0}
     * @param bursty       bursts (geometric size, mean 8) at Poisson times instead of single Poisson arrivals
     * @param maxModelLen  prompt plus output are clipped to this many tokens
     * @param seed         random seed
     * @throws IllegalArgumentException naming a bad argument
     */
    public Workload(Kind kind, int requests, double ratePerSecond, boolean bursty, int maxModelLen, long seed) {
        if (requests <= 0) {
            throw new IllegalArgumentException("requests must be positive, got " + requests);
        }
        if (!(ratePerSecond > 0)) {
            throw new IllegalArgumentException("ratePerSecond must be positive, got " + ratePerSecond);
        }
        if (maxModelLen < 2) {
            throw new IllegalArgumentException("maxModelLen must be >= 2, got " + maxModelLen);
        }
        SplittableRandom r = new SplittableRandom(seed);
        int[][] systems = new int[4][];
        for (int i = 0; i < systems.length; i++) {
            systems[i] = r.ints(32 + 16 * i, 0, 32000).toArray();
        }
        items = new ArrayList<>(requests);
        double t = 0;
        int burstLeft = 0;
        for (int i = 0; i < requests; i++) {
            if (bursty) {
                if (burstLeft == 0) {
                    t += -Math.log(1 - r.nextDouble()) * 8 / ratePerSecond;
                    burstLeft = 1;
                    while (r.nextDouble() < 7.0 / 8) {
                        burstLeft++;
                    }
                }
                burstLeft--;
            } else {
                t += -Math.log(1 - r.nextDouble()) / ratePerSecond;
            }
            int in = lognormal(r, kind.inMean, kind.inSigma, 1, maxModelLen - 1);
            int out = lognormal(r, kind.outMean, kind.outSigma, 1, maxModelLen - in);
            int[] prompt = new int[in];
            int[] sys = systems[r.nextInt(systems.length)];
            int shared = Math.min(sys.length, in / 2);
            System.arraycopy(sys, 0, prompt, 0, shared);
            for (int k = shared; k < in; k++) {
                prompt[k] = r.nextInt(32000);
            }
            items.add(new Item(i, t, prompt, out));
        }
    }

    private static int lognormal(SplittableRandom r, double mean, double sigma, int min, int max) {
        // mean of a lognormal is exp(mu + sigma^2 / 2)
        double mu = Math.log(mean) - sigma * sigma / 2;
        double v = Math.exp(mu + sigma * r.nextGaussian());
        return (int) Math.max(min, Math.min(max, Math.round(v)));
    }

    /** The requests in arrival order (unmodifiable). */
    public List<Item> items() {
        return List.copyOf(items);
    }

    /** Mean prompt tokens. */
    public double meanPromptTokens() {
        return items.stream().mapToInt(i -> i.prompt().length).average().orElse(0);
    }

    /** Mean output tokens. */
    public double meanOutputTokens() {
        return items.stream().mapToInt(Item::outputTokens).average().orElse(0);
    }
}
