package io.vramkit.core.planner;

import io.vramkit.core.json.Json;

import java.util.Map;

/**
 * The shape of a decoder-only transformer (Llama family, Mistral, Mixtral), as a Hugging Face {@code config.json}
 * describes it: gated (SwiGLU) MLPs, grouped-query attention, RMSNorm, optional mixture of experts and sliding window.
 *
 * <p>Immutable and thread-safe.
 *
 * @param name              display name
 * @param vocabSize         vocabulary size
 * @param hiddenSize        model width {@code h}
 * @param intermediateSize  MLP width per expert
 * @param numLayers         decoder layers
 * @param numHeads          query heads
 * @param numKvHeads        key/value heads (GQA; equal to {@code numHeads} for MHA)
 * @param headDim           elements per head
 * @param tiedEmbeddings    whether the LM head shares the embedding matrix
 * @param slidingWindow     attention window in tokens, or 0 for full attention
 * @param numExperts        MLP experts per layer (1 = dense)
 * @param expertsPerToken   experts each token uses
 * @param maxPositions      the context length the model was trained for
 */
public record ModelConfig(String name, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, boolean tiedEmbeddings, int slidingWindow,
                          int numExperts, int expertsPerToken, int maxPositions) {

    /**
     * Validates the shape.
     *
     * @throws IllegalArgumentException naming the bad field
     */
    public ModelConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("num_local_experts", numExperts);
        positive("num_experts_per_tok", expertsPerToken);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " must be a multiple of num_key_value_heads " + numKvHeads);
        }
        if (slidingWindow < 0) {
            throw new IllegalArgumentException("sliding_window must be >= 0, got " + slidingWindow);
        }
        if (expertsPerToken > numExperts) {
            throw new IllegalArgumentException("num_experts_per_tok " + expertsPerToken + " exceeds num_local_experts "
                    + numExperts);
        }
    }

    private static void positive(String field, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + v);
        }
    }

    /**
     * Reads a Hugging Face {@code config.json}. Required: {@code hidden_size}, {@code intermediate_size},
     * {@code num_hidden_layers}, {@code num_attention_heads}, {@code vocab_size}. Optional, with defaults:
     * {@code num_key_value_heads} (= heads), {@code head_dim} (= hidden / heads), {@code tie_word_embeddings} (false),
     * {@code sliding_window} (none; null means none), {@code num_local_experts} (1), {@code num_experts_per_tok} (1),
     * {@code max_position_embeddings} (4096).
     *
     * @param name display name
     * @param json the file's text
     * @throws IllegalArgumentException for invalid JSON, a missing or mistyped field (named), or an invalid shape
     */
    public static ModelConfig fromHuggingFace(String name, String json) {
        if (json == null) {
            throw new IllegalArgumentException("config.json text of " + name + " must not be null");
        }
        Map<String, Object> m;
        try {
            m = Json.parseObject(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("config.json of " + name + " is not a JSON object: " + e.getMessage(),
                    e);
        }
        int hidden = required(m, name, "hidden_size");
        int heads = required(m, name, "num_attention_heads");
        int experts = optional(m, name, "num_local_experts", 1);
        return new ModelConfig(name, required(m, name, "vocab_size"), hidden, required(m, name, "intermediate_size"),
                required(m, name, "num_hidden_layers"), heads, optional(m, name, "num_key_value_heads", heads),
                optional(m, name, "head_dim", hidden / heads),
                Boolean.TRUE.equals(m.get("tie_word_embeddings")), optional(m, name, "sliding_window", 0), experts,
                optional(m, name, "num_experts_per_tok", 1), optional(m, name, "max_position_embeddings", 4096));
    }

    private static int required(Map<String, Object> m, String name, String field) {
        if (!m.containsKey(field) || m.get(field) == null) {
            throw new IllegalArgumentException("config.json of " + name + " is missing the field \"" + field + "\"");
        }
        return toInt(m.get(field), name, field);
    }

    private static int optional(Map<String, Object> m, String name, String field, int dflt) {
        Object v = m.get(field);
        return v == null ? dflt : toInt(v, name, field);
    }

    private static int toInt(Object v, String name, String field) {
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
                || n.doubleValue() > Integer.MAX_VALUE || n.doubleValue() < Integer.MIN_VALUE) {
            throw new IllegalArgumentException("field \"" + field + "\" of " + name
                    + " must be an integer, got " + v);
        }
        return n.intValue();
    }

    /** Elements of one layer's attention projections: q, k, v and o. */
    public long attentionParameters() {
        long q = (long) hiddenSize * numHeads * headDim;
        long kv = 2L * hiddenSize * numKvHeads * headDim;
        long o = (long) numHeads * headDim * hiddenSize;
        return q + kv + o;
    }

    /** Elements of one expert's gated MLP: gate, up and down. */
    public long mlpParametersPerExpert() {
        return 3L * hiddenSize * intermediateSize;
    }

    /** Elements of one layer's linear weights (attention, all experts, router). */
    public long linearParametersPerLayer() {
        long router = numExperts > 1 ? (long) hiddenSize * numExperts : 0;
        return attentionParameters() + numExperts * mlpParametersPerExpert() + router;
    }

    /** Embedding elements (and the LM head's, unless tied). */
    public long embeddingParameters() {
        return (long) vocabSize * hiddenSize * (tiedEmbeddings ? 1 : 2);
    }

    /** Norm elements: two RMSNorms per layer and the final one. */
    public long normParameters() {
        return (2L * numLayers + 1) * hiddenSize;
    }

    /** All parameters. */
    public long parameters() {
        return embeddingParameters() + numLayers * linearParametersPerLayer() + normParameters();
    }

    /** Parameters one token touches (MoE routes to {@code expertsPerToken} experts). */
    public long activeParameters() {
        long perLayer = attentionParameters() + expertsPerToken * mlpParametersPerExpert()
                + (numExperts > 1 ? (long) hiddenSize * numExperts : 0);
        return embeddingParameters() + numLayers * perLayer + normParameters();
    }

    /** KV elements per token across layers, K and V: {@code 2 × layers × kvHeads × headDim}. */
    public long kvElementsPerToken() {
        return 2L * numLayers * numKvHeads * headDim;
    }
}
