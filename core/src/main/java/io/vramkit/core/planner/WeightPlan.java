package io.vramkit.core.planner;

import java.util.Map;

/**
 * How a model's weights are stored: one precision for every linear layer, a mixed plan summarized as bits per weight
 * over the linear layers (what the quantization module's mixed-precision planner reports), or exact per-tensor
 * bytes. In the first two, embeddings, the LM head, norms and the MoE router stay in FP16 when the linear layers are
 * quantized, and in the linear precision otherwise.
 *
 * <p>Immutable and thread-safe; build one with the factories.
 *
 * @param label               a name for reports
 * @param uniform             the linear precision, or null
 * @param linearBitsPerWeight bits per linear weight for a mixed plan, or 0
 * @param tensorBytes         exact bytes per tensor name, or null
 */
public record WeightPlan(String label, WeightPrecision uniform, double linearBitsPerWeight,
                         Map<String, Long> tensorBytes) {

    /** Every linear layer in {@code p}. */
    public static WeightPlan uniform(WeightPrecision p) {
        if (p == null) {
            throw new IllegalArgumentException("precision must not be null");
        }
        return new WeightPlan(p.name().toLowerCase(java.util.Locale.ROOT), p, 0, null);
    }

    /**
     * A mixed plan: linear layers average {@code bitsPerWeight}, scales included.
     *
     * @throws IllegalArgumentException unless {@code 1 <= bitsPerWeight <= 32}
     */
    public static WeightPlan mixed(double bitsPerWeight) {
        if (!(bitsPerWeight >= 1 && bitsPerWeight <= 32)) {
            throw new IllegalArgumentException("bitsPerWeight must be in [1, 32], got " + bitsPerWeight);
        }
        return new WeightPlan(String.format(java.util.Locale.ROOT, "mixed %.3f bpw", bitsPerWeight), null,
                bitsPerWeight, null);
    }

    /**
     * Exact bytes per tensor, for example from a quantized checkpoint's index.
     *
     * @throws IllegalArgumentException if empty or a size is negative (naming the tensor)
     */
    public static WeightPlan perTensor(Map<String, Long> bytes) {
        if (bytes == null || bytes.isEmpty()) {
            throw new IllegalArgumentException("per-tensor bytes must name at least one tensor");
        }
        for (var e : bytes.entrySet()) {
            if (e.getValue() == null || e.getValue() < 0) {
                throw new IllegalArgumentException("bytes of tensor " + e.getKey() + " must be >= 0, got "
                        + e.getValue());
            }
        }
        return new WeightPlan("per-tensor", null, 0, Map.copyOf(bytes));
    }

    /** Total weight bytes of {@code m} under this plan. */
    public long weightBytes(ModelConfig m) {
        if (tensorBytes != null) {
            return tensorBytes.values().stream().mapToLong(Long::longValue).sum();
        }
        boolean quantized = uniform == null || uniform.isQuantized();
        WeightPrecision other = quantized ? WeightPrecision.FP16 : uniform;
        long h = m.hiddenSize();
        long qd = (long) m.numHeads() * m.headDim();
        long kvd = (long) m.numKvHeads() * m.headDim();
        long ffn = m.intermediateSize();
        long linear;
        if (uniform != null) {
            long attn = uniform.storageBytes(qd, h) + 2 * uniform.storageBytes(kvd, h) + uniform.storageBytes(h, qd);
            long mlp = 2 * uniform.storageBytes(ffn, h) + uniform.storageBytes(h, ffn);
            linear = attn + m.numExperts() * mlp;
        } else {
            long elems = m.attentionParameters() + m.numExperts() * m.mlpParametersPerExpert();
            linear = (long) Math.ceil(elems * linearBitsPerWeight / 8);
        }
        long router = m.numExperts() > 1 ? other.storageBytes(m.numExperts(), h) : 0;
        long perLayer = linear + router + 2 * other.storageBytes(1, h);
        long embed = other.storageBytes(m.vocabSize(), h) * (m.tiedEmbeddings() ? 1 : 2);
        return m.numLayers() * perLayer + embed + other.storageBytes(1, h);
    }
}
