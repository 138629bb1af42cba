package io.vramkit.examples.minilm;

import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.planner.MixedPrecisionPlanner;
import io.vramkit.quant.planner.Plan;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The MIXED precision: the quantization module's {@link MixedPrecisionPlanner} picks a format per linear layer from
 * {@link #CANDIDATES} so that the summed output error on calibration activations is smallest within a byte budget.
 * Stateless.
 */
final class MixedPlan {

    /**
     * The formats MIXED may use: the ones the demo reports on their own, plus FP16 for the most sensitive layers.
     * (Fewer candidates than {@link QuantFormat#standard()} keep the planner's measurements short.)
     */
    static final List<QuantFormat> CANDIDATES = List.of(QuantFormat.INT4_G128, QuantFormat.INT4_G64,
            QuantFormat.NF4_B64, QuantFormat.INT4_G32, QuantFormat.INT8, QuantFormat.FP16);

    private MixedPlan() {
    }

    /**
     * Plans every linear layer.
     *
     * @param weights     the model
     * @param calibration each layer's input activations {@code [rows, in]} by layer name
     * @param budgetBytes the most bytes all linear weights may take together
     * @return the planner's plan (one assignment per layer, in execution order)
     * @throws IllegalArgumentException naming the layer if it has no calibration activations, or from the planner
     *                                  if no plan fits the budget
     */
    static Plan plan(MiniLmWeights weights, Map<String, float[]> calibration, long budgetBytes) {
        List<MixedPrecisionPlanner.TensorSpec> specs = new ArrayList<>();
        for (MiniLmWeights.Layer l : weights.layers()) {
            for (MiniLmWeights.Linear lin : l.linears()) {
                float[] x = calibration.get(lin.name());
                if (x == null || x.length == 0 || x.length % lin.in() != 0) {
                    throw new IllegalArgumentException("no calibration activations for layer " + lin.name());
                }
                specs.add(new MixedPrecisionPlanner.TensorSpec(lin.name(), lin.weight(), lin.out(), lin.in(), x,
                        x.length / lin.in()));
            }
        }
        return new MixedPrecisionPlanner().candidates(CANDIDATES).budgetBytes(budgetBytes).plan(specs);
    }

    /** The plan as a format per layer name. */
    static Map<String, QuantFormat> formats(Plan plan) {
        Map<String, QuantFormat> out = new HashMap<>();
        for (MixedPrecisionPlanner.Assignment a : plan.assignments()) {
            out.put(a.name(), a.format());
        }
        return out;
    }
}
