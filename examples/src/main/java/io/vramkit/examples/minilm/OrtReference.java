package io.vramkit.examples.minilm;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The reference: ONNX Runtime (Java API, CPU execution provider) running the same ONNX file on the same token ids.
 * A batch is padded on the right to its longest sequence, with {@code attention_mask} 0 on the padding and
 * {@code token_type_ids} 0; {@code last_hidden_state} is unpadded back to the packed layout and pooled exactly as
 * {@link MiniLmEncoder} pools (mean over real tokens, then L2 normalization).
 *
 * <p>Owns a native ONNX Runtime session: close it. Not thread-safe (one batch at a time).
 */
public final class OrtReference implements AutoCloseable {

    private final OrtEnvironment env;
    private final OrtSession session;
    private final int hidden;

    /**
     * Creates a session.
     *
     * @param onnx    the ONNX model bytes
     * @param threads intra-op threads (use the same count as vramkit's executor for a fair comparison)
     * @param hidden  the model's hidden size, to check the output shape
     * @throws OrtException             if ONNX Runtime cannot load the model
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public OrtReference(byte[] onnx, int threads, int hidden) throws OrtException {
        Objects.requireNonNull(onnx, "onnx");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.hidden = hidden;
        this.env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            this.session = env.createSession(onnx, options);
        }
    }

    /**
     * Runs a batch.
     *
     * @param batch token-id sequences ({@code [CLS] … [SEP]}), each non-empty
     * @return the packed last hidden state and the pooled embeddings, in {@link MiniLmEncoder.Output}'s layout
     * @throws OrtException             if the run fails
     * @throws IllegalArgumentException if the batch or a sequence is empty, or the output shape is unexpected
     */
    public MiniLmEncoder.Output run(List<int[]> batch) throws OrtException {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("batch must hold at least one sequence, got 0");
        }
        int b = batch.size();
        int len = 0;
        int[] cu = new int[b + 1];
        for (int s = 0; s < b; s++) {
            int n = batch.get(s).length;
            if (n == 0) {
                throw new IllegalArgumentException("batch[" + s + "] is empty");
            }
            len = Math.max(len, n);
            cu[s + 1] = cu[s] + n;
        }
        long[] ids = new long[b * len];
        long[] mask = new long[b * len];
        long[] types = new long[b * len];
        for (int s = 0; s < b; s++) {
            int[] seq = batch.get(s);
            for (int p = 0; p < seq.length; p++) {
                ids[s * len + p] = seq[p];
                mask[s * len + p] = 1;
            }
        }
        long[] shape = {b, len};
        try (OnnxTensor tIds = OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape);
             OnnxTensor tMask = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
             OnnxTensor tTypes = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
             OrtSession.Result r = session.run(Map.of("input_ids", tIds, "attention_mask", tMask,
                     "token_type_ids", tTypes))) {
            OnnxTensor out = (OnnxTensor) r.get("last_hidden_state").orElseThrow(
                    () -> new IllegalArgumentException("the model has no output last_hidden_state"));
            long[] os = out.getInfo().getShape();
            if (os.length != 3 || os[0] != b || os[1] != len || os[2] != hidden) {
                throw new IllegalArgumentException("last_hidden_state has shape " + java.util.Arrays.toString(os)
                        + ", expected [" + b + ", " + len + ", " + hidden + "]");
            }
            float[] padded = new float[b * len * hidden];
            out.getFloatBuffer().get(padded);
            float[] packed = new float[cu[b] * hidden];
            for (int s = 0; s < b; s++) {
                System.arraycopy(padded, s * len * hidden, packed, cu[s] * hidden, (cu[s + 1] - cu[s]) * hidden);
            }
            return new MiniLmEncoder.Output(packed, cu, MiniLmEncoder.pool(packed, cu, hidden));
        }
    }

    /** Closes the session. The shared {@link OrtEnvironment} stays, as ONNX Runtime requires. */
    @Override
    public void close() throws OrtException {
        session.close();
    }
}
