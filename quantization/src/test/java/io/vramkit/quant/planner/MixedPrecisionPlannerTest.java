package io.vramkit.quant.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.QuantFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MixedPrecisionPlannerTest {

    static final List<QuantFormat> CANDIDATES = List.of(QuantFormat.FP16, QuantFormat.INT8, QuantFormat.INT4_G32,
            QuantFormat.INT4_G128, QuantFormat.NF4_B64);

    /** A toy model: tensors with different sensitivity (heavier tails, outlier channels, calibration or not). */
    static List<MixedPrecisionPlanner.TensorSpec> model(long seed) {
        Random rnd = new Random(seed);
        List<MixedPrecisionPlanner.TensorSpec> out = new ArrayList<>();
        String[] names = {"blk.0.attn_q", "blk.0.attn_k", "blk.0.ffn_up", "blk.0.ffn_down", "blk.1.attn_q",
            "blk.1.ffn_up"};
        for (int i = 0; i < names.length; i++) {
            int rows = 32 + 16 * rnd.nextInt(4);
            int cols = 128 * (1 + rnd.nextInt(3));
            float[] w = new float[rows * cols];
            double tail = 1 + i % 3;
            for (int k = 0; k < w.length; k++) {
                double g = rnd.nextGaussian();
                w[k] = (float) (0.02 * g * (rnd.nextDouble() < 0.01 ? 4 * tail : 1));
            }
            if (i % 2 == 0) {
                int cr = 8;
                float[] x = new float[cr * cols];
                for (int k = 0; k < x.length; k++) {
                    x[k] = (float) rnd.nextGaussian() * (k % cols == 5 ? 10 : 1);
                }
                out.add(new MixedPrecisionPlanner.TensorSpec(names[i], w, rows, cols, x, cr));
            } else {
                out.add(MixedPrecisionPlanner.TensorSpec.of(names[i], w, rows, cols));
            }
        }
        return out;
    }

    static double bestSingleFormatError(Map<String, List<MixedPrecisionPlanner.Measurement>> ms, long budget) {
        double best = Double.POSITIVE_INFINITY;
        for (QuantFormat f : CANDIDATES) {
            long bytes = 0;
            double err = 0;
            boolean all = true;
            for (List<MixedPrecisionPlanner.Measurement> l : ms.values()) {
                var m = l.stream().filter(x -> x.format().equals(f)).findFirst();
                if (m.isEmpty()) {
                    all = false;
                    break;
                }
                bytes += m.get().bytes();
                err += m.get().squaredError();
            }
            if (all && bytes <= budget) {
                best = Math.min(best, err);
            }
        }
        return best;
    }

    /** Exhaustive optimum for small models. */
    static double bruteForce(List<List<MixedPrecisionPlanner.Measurement>> ms, int i, long budget) {
        if (budget < 0) {
            return Double.POSITIVE_INFINITY;
        }
        if (i == ms.size()) {
            return 0;
        }
        double best = Double.POSITIVE_INFINITY;
        for (var m : ms.get(i)) {
            best = Math.min(best, m.squaredError() + bruteForce(ms, i + 1, budget - m.bytes()));
        }
        return best;
    }

    @Test
    void neverExceedsBudgetNeverWorseThanBestSingleFormatAndNearOptimal() {
        var tensors = model(1);
        var planner = new MixedPrecisionPlanner().candidates(CANDIDATES);
        var ms = planner.measure(tensors);
        long min = 0;
        long max = 0;
        for (var l : ms.values()) {
            min += l.stream().mapToLong(MixedPrecisionPlanner.Measurement::bytes).min().orElseThrow();
            max += l.stream().mapToLong(MixedPrecisionPlanner.Measurement::bytes).max().orElseThrow();
        }
        Random rnd = new Random(3);
        List<List<MixedPrecisionPlanner.Measurement>> lists = new ArrayList<>(ms.values());
        for (int trial = 0; trial < 40; trial++) {
            long budget = min + (long) (rnd.nextDouble() * (max - min + 1000));
            Plan p = planner.solve(tensors, ms, budget);
            assertTrue(p.totalBytes() <= budget, "plan " + p.totalBytes() + " > budget " + budget);
            double single = bestSingleFormatError(ms, budget);
            assertTrue(p.totalSquaredError() <= single + 1e-15, "plan " + p.totalSquaredError() + " > single "
                    + single);
            // the budget rounding costs at most one unit per tensor
            long slack = (long) Math.ceil(tensors.size() * (double) budget / MixedPrecisionPlanner.BUDGET_BUCKETS);
            double opt = bruteForce(lists, 0, budget - slack);
            assertTrue(p.totalSquaredError() <= opt + 1e-15, "plan " + p.totalSquaredError() + " > optimum " + opt
                    + " at budget " + (budget - slack));
        }
    }

    @Test
    void mixesFormatsAndSpendsBytesWhereErrorDrops() {
        var tensors = model(2);
        var planner = new MixedPrecisionPlanner().candidates(CANDIDATES).targetBitsPerWeight(6.0);
        Plan p = planner.plan(tensors);
        assertTrue(p.bitsPerWeight() <= 6.0 + 1e-9, "bits " + p.bitsPerWeight());
        assertTrue(p.assignments().stream().map(MixedPrecisionPlanner.Assignment::format).distinct().count() > 1,
                p.report());
        Plan tight = planner.targetBitsPerWeight(4.6).plan(tensors);
        assertTrue(tight.totalSquaredError() >= p.totalSquaredError(), "smaller budget, lower error?");
    }

    @Test
    void constraintsAreHonoured() {
        var tensors = model(3);
        Plan p = new MixedPrecisionPlanner().candidates(CANDIDATES)
                .atLeast(".*attn.*", QuantFormat.INT8)
                .only(".*ffn.*", QuantFormat.INT4_G32, QuantFormat.INT4_G128, QuantFormat.NF4_B64)
                .targetBitsPerWeight(16).plan(tensors);
        for (var a : p.assignments()) {
            if (a.name().contains("attn")) {
                assertTrue(a.format().equals(QuantFormat.INT8) || a.format().equals(QuantFormat.FP16), a.toString());
            } else {
                assertTrue(a.format().isFourBit(), a.toString());
            }
        }
    }

    @Test
    void reportAndJson() {
        var tensors = model(4);
        Plan p = new MixedPrecisionPlanner().candidates(CANDIDATES).targetBitsPerWeight(5).plan(tensors);
        String r = p.report();
        for (var t : tensors) {
            assertTrue(r.contains(t.name()), r);
        }
        assertTrue(r.contains("bits per weight"), r);
        String j = p.toJson();
        assertTrue(j.startsWith("{\"budgetBytes\":") && j.endsWith("]}"), j);
        assertEquals(tensors.size(), j.split("\"name\":").length - 1);
        assertTrue(j.contains("\"format\":\"" + p.assignments().get(0).format() + "\""), j);
    }

    @Test
    void badInputIsRejected() {
        var tensors = model(5);
        var planner = new MixedPrecisionPlanner().candidates(CANDIDATES);
        assertThrows(IllegalStateException.class, () -> planner.plan(tensors));
        var e = assertThrows(IllegalArgumentException.class, () -> planner.budgetBytes(0));
        assertTrue(e.getMessage().contains("0"));
        assertThrows(IllegalArgumentException.class, () -> planner.targetBitsPerWeight(Double.NaN));
        var e2 = assertThrows(IllegalArgumentException.class, () -> planner.budgetBytes(1000).plan(tensors));
        assertTrue(e2.getMessage().contains("1000") && e2.getMessage().contains("need"), e2.getMessage());
        var dup = List.of(tensors.get(0), tensors.get(0));
        var e3 = assertThrows(IllegalArgumentException.class, () -> planner.budgetBytes(1L << 30).plan(dup));
        assertTrue(e3.getMessage().contains(tensors.get(0).name()), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class,
                () -> new MixedPrecisionPlanner.TensorSpec("t", new float[10], 3, 3, null, 0));
        assertTrue(e4.getMessage().contains("'t'") && e4.getMessage().contains("10"), e4.getMessage());
        var e5 = assertThrows(IllegalArgumentException.class, () -> new MixedPrecisionPlanner()
                .candidates(List.of(QuantFormat.INT4_G128)).budgetBytes(1L << 30)
                .plan(List.of(MixedPrecisionPlanner.TensorSpec.of("odd", new float[96], 1, 96))));
        assertTrue(e5.getMessage().contains("'odd'"), e5.getMessage());
    }
}
