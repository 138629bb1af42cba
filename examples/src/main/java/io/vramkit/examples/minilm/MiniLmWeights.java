package io.vramkit.examples.minilm;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The weights of all-MiniLM-L6-v2 (BERT: 6 layers, hidden 384, 12 heads of 32, FFN 1536, 512 positions), taken from
 * the ONNX graph's initializers.
 *
 * <p>The ONNX export stores each linear layer as {@code MatMul(x, W)} with {@code W} of shape {@code [in, out]},
 * the transpose of PyTorch's {@code nn.Linear.weight}. The weight of each role is found by reading the graph: the
 * {@code MatMul} whose output is named {@code /encoder/layer.N/<role>/MatMul_output_0} names the initializer it
 * multiplies by. The weights are stored here transposed back to {@code [out, in]}, the layout of
 * {@code y = x·Wᵀ + b} that the quantized matmul takes. Biases and LayerNorm parameters are named initializers.
 *
 * <p>Immutable after construction (arrays must be treated as read-only); thread-safe to share.
 *
 * @param wordEmbeddings     {@code [vocab, hidden]}
 * @param positionEmbeddings {@code [maxPositions, hidden]}
 * @param tokenTypeEmbeddings {@code [2, hidden]}
 * @param embLnGamma         embeddings LayerNorm scale, {@code [hidden]}
 * @param embLnBeta          embeddings LayerNorm shift, {@code [hidden]}
 * @param layers             the encoder layers, in order
 * @param vocab              vocabulary size
 * @param hidden             hidden size (384)
 * @param heads              attention heads (12)
 * @param intermediate       FFN inner size (1536)
 * @param maxPositions       position-embedding rows (512)
 * @param layerNormEps       LayerNorm epsilon read from the graph (1e-12)
 */
public record MiniLmWeights(float[] wordEmbeddings, float[] positionEmbeddings, float[] tokenTypeEmbeddings,
                            float[] embLnGamma, float[] embLnBeta, List<Layer> layers, int vocab, int hidden,
                            int heads, int intermediate, int maxPositions, float layerNormEps) {

    /** Head count of all-MiniLM-L6-v2; the ONNX graph stores it only as a reshape constant. */
    public static final int HEADS = 12;

    /** Copies the layer list. */
    public MiniLmWeights {
        layers = List.copyOf(layers);
    }

    /** Per-head dimension, {@code hidden / heads}. */
    public int headDim() {
        return hidden / heads;
    }

    /** The number of parameters in all linear layers (QKV, attention output, FFN), biases excluded. */
    public long linearParameters() {
        long n = 0;
        for (Layer l : layers) {
            for (Linear lin : l.linears()) {
                n += (long) lin.out() * lin.in();
            }
        }
        return n;
    }

    /** The number of parameters in the whole model, embeddings, biases and norms included. */
    public long totalParameters() {
        long n = wordEmbeddings.length + positionEmbeddings.length + tokenTypeEmbeddings.length
                + embLnGamma.length + embLnBeta.length;
        for (Layer l : layers) {
            for (Linear lin : l.linears()) {
                n += (long) lin.out() * lin.in() + lin.bias().length;
            }
            n += l.attnLnGamma().length + l.attnLnBeta().length + l.outLnGamma().length + l.outLnBeta().length;
        }
        return n;
    }

    /**
     * One linear layer {@code y = x·Wᵀ + b}.
     *
     * @param name   the role, e.g. {@code layer.0.attention.self.query}
     * @param weight {@code [out, in]}, row-major
     * @param bias   {@code [out]}
     * @param out    output features
     * @param in     input features
     */
    public record Linear(String name, float[] weight, float[] bias, int out, int in) {
        /** Checks the shapes. */
        public Linear {
            if (weight.length != (long) out * in || bias.length != out) {
                throw new IllegalArgumentException("linear " + name + ": weight has " + weight.length
                        + " values and bias " + bias.length + ", expected " + out + "x" + in + " and " + out);
            }
        }
    }

    /**
     * One encoder layer.
     *
     * @param query       Q projection
     * @param key         K projection
     * @param value       V projection
     * @param attnOut     attention output projection
     * @param attnLnGamma post-attention LayerNorm scale
     * @param attnLnBeta  post-attention LayerNorm shift
     * @param ffnIn       FFN up projection (to {@code intermediate})
     * @param ffnOut      FFN down projection
     * @param outLnGamma  post-FFN LayerNorm scale
     * @param outLnBeta   post-FFN LayerNorm shift
     */
    public record Layer(Linear query, Linear key, Linear value, Linear attnOut, float[] attnLnGamma,
                        float[] attnLnBeta, Linear ffnIn, Linear ffnOut, float[] outLnGamma, float[] outLnBeta) {
        /** The six linear layers, in execution order. */
        public List<Linear> linears() {
            return List.of(query, key, value, attnOut, ffnIn, ffnOut);
        }
    }

    /**
     * Reads the weights from an ONNX stream (read to the end, not closed).
     *
     * @throws IOException              if reading fails
     * @throws IllegalArgumentException if the graph is not a BERT encoder of the expected layout; the message names
     *                                  the missing tensor or node
     */
    public static MiniLmWeights read(InputStream onnx) throws IOException {
        return from(OnnxReader.read(onnx));
    }

    /**
     * Maps a parsed ONNX BERT graph to weights.
     *
     * @throws IllegalArgumentException if a tensor or node is missing or has the wrong shape
     */
    public static MiniLmWeights from(OnnxModel m) {
        OnnxModel.Tensor word = m.initializer("embeddings.word_embeddings.weight");
        OnnxModel.Tensor pos = m.initializer("embeddings.position_embeddings.weight");
        OnnxModel.Tensor type = m.initializer("embeddings.token_type_embeddings.weight");
        if (word.dims().length != 2) {
            throw new IllegalArgumentException("word embeddings must be 2-D, got " + word);
        }
        int vocab = (int) word.dims()[0];
        int hidden = (int) word.dims()[1];
        int maxPos = (int) pos.dims()[0];
        float eps = m.initializer("/embeddings/LayerNorm/Constant_1_output_0").floats()[0];
        List<Layer> layers = new ArrayList<>();
        int intermediate = 0;
        for (int l = 0; m.initializers().containsKey("encoder.layer." + l + ".output.LayerNorm.weight"); l++) {
            String p = "encoder.layer." + l + ".";
            Linear q = linear(m, l, "attention/self/query", p + "attention.self.query", hidden, hidden);
            Linear k = linear(m, l, "attention/self/key", p + "attention.self.key", hidden, hidden);
            Linear v = linear(m, l, "attention/self/value", p + "attention.self.value", hidden, hidden);
            Linear o = linear(m, l, "attention/output/dense", p + "attention.output.dense", hidden, hidden);
            Linear up = linear(m, l, "intermediate/dense", p + "intermediate.dense", -1, hidden);
            intermediate = up.out();
            Linear down = linear(m, l, "output/dense", p + "output.dense", hidden, intermediate);
            layers.add(new Layer(q, k, v, o,
                    vec(m, p + "attention.output.LayerNorm.weight", hidden),
                    vec(m, p + "attention.output.LayerNorm.bias", hidden), up, down,
                    vec(m, p + "output.LayerNorm.weight", hidden), vec(m, p + "output.LayerNorm.bias", hidden)));
        }
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("no encoder layers (encoder.layer.0.*) in the ONNX graph");
        }
        if (hidden % HEADS != 0) {
            throw new IllegalArgumentException("hidden size " + hidden + " is not a multiple of " + HEADS + " heads");
        }
        return new MiniLmWeights(word.floats(), pos.floats(), type.floats(),
                vec(m, "embeddings.LayerNorm.weight", hidden), vec(m, "embeddings.LayerNorm.bias", hidden),
                layers, vocab, hidden, HEADS, intermediate, maxPos, eps);
    }

    private static Linear linear(OnnxModel m, int layer, String path, String name, int out, int in) {
        String matmulOut = "/encoder/layer." + layer + "/" + path + "/MatMul_output_0";
        OnnxModel.Tensor w = null;
        for (OnnxModel.Node n : m.nodes()) {
            if (n.opType().equals("MatMul") && n.outputs().contains(matmulOut)) {
                for (String input : n.inputs()) {
                    OnnxModel.Tensor t = m.initializers().get(input);
                    if (t != null) {
                        w = t;
                    }
                }
            }
        }
        if (w == null) {
            throw new IllegalArgumentException("no MatMul with an initializer producing " + matmulOut);
        }
        int[] d = w.intDims();
        if (d.length != 2 || d[0] != in || (out >= 0 && d[1] != out)) {
            throw new IllegalArgumentException(name + ": MatMul weight " + w + " should be [" + in + ", "
                    + (out >= 0 ? out : "?") + "] (ONNX stores x·W with W = [in, out])");
        }
        int o = d[1];
        float[] src = w.floats();
        float[] t = new float[o * in];
        for (int i = 0; i < in; i++) {
            for (int j = 0; j < o; j++) {
                t[j * in + i] = src[i * o + j];
            }
        }
        return new Linear(name.substring("encoder.".length()), t, vec(m, name + ".bias", o), o, in);
    }

    private static float[] vec(OnnxModel m, String name, int n) {
        OnnxModel.Tensor t = m.initializer(name);
        if (t.floats() == null || t.floats().length != n) {
            throw new IllegalArgumentException(name + " should hold " + n + " floats, got " + t);
        }
        return t.floats();
    }
}
