package io.vramkit.attention;

/**
 * Options of an attention call: softmax scale, causal masking, sliding window, logit softcap, logsumexp output and
 * an optional block-sparse mask. Immutable and thread-safe; build with {@link #builder()}.
 *
 * <p><b>Masks.</b> Query {@code i} (0-based within its sequence of {@code Lq} queries) may see key {@code j}
 * (0-based within its sequence of {@code Lk} keys) when all of these hold, with {@code p = i + Lk - Lq} the query's
 * position on the key axis (bottom-right alignment, FlashAttention ≥ 2.1):
 * <ul>
 *   <li>causal: {@code j <= p};</li>
 *   <li>window: {@code p - windowLeft <= j <= p + windowRight}, both ends inclusive, {@code -1} meaning unbounded
 *       on that side;</li>
 *   <li>block mask: the block {@code (i / rowBlock, j / colBlock)} is allowed.</li>
 * </ul>
 * A query row that sees no key outputs zeros, and its logsumexp is {@code -Infinity}.
 *
 * <p><b>Scores.</b> {@code s = scale · q·k}; with a softcap {@code c > 0}, {@code s = c · tanh(s / c)} (Gemma 2).
 *
 * {@snippet :
 * AttentionParams p = AttentionParams.builder().causal(true).window(4095, 0).build();
 * }
 */
public final class AttentionParams {

    private static final AttentionParams DEFAULTS = builder().build();

    private final float scale;
    private final boolean causal;
    private final int windowLeft;
    private final int windowRight;
    private final float softcap;
    private final boolean returnLse;
    private final BlockMask blockMask;

    private AttentionParams(Builder b) {
        this.scale = b.scale;
        this.causal = b.causal;
        this.windowLeft = b.windowLeft;
        this.windowRight = b.windowRight;
        this.softcap = b.softcap;
        this.returnLse = b.returnLse;
        this.blockMask = b.blockMask;
    }

    /** Default options: scale {@code 1/sqrt(headDim)}, not causal, no window, no softcap, no LSE, no block mask. */
    public static AttentionParams defaults() {
        return DEFAULTS;
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** The explicit softmax scale, or {@code NaN} for {@code 1/sqrt(headDim)}. */
    public float scale() {
        return scale;
    }

    /** The softmax scale used for a head dimension. */
    public float scaleFor(int headDim) {
        return Float.isNaN(scale) ? (float) (1.0 / Math.sqrt(headDim)) : scale;
    }

    /** Whether causal masking (bottom-right aligned) applies. */
    public boolean causal() {
        return causal;
    }

    /** Keys visible to the left of the query position, inclusive; {@code -1} for unbounded. */
    public int windowLeft() {
        return windowLeft;
    }

    /** Keys visible to the right of the query position, inclusive; {@code -1} for unbounded. */
    public int windowRight() {
        return windowRight;
    }

    /** The logit softcap, {@code 0} when off. */
    public float softcap() {
        return softcap;
    }

    /** Whether the call returns the logsumexp of each query row. */
    public boolean returnLse() {
        return returnLse;
    }

    /** The block-sparse mask, or {@code null}. */
    public BlockMask blockMask() {
        return blockMask;
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.scale = scale;
        b.causal = causal;
        b.windowLeft = windowLeft;
        b.windowRight = windowRight;
        b.softcap = softcap;
        b.returnLse = returnLse;
        b.blockMask = blockMask;
        return b;
    }

    @Override
    public String toString() {
        return "AttentionParams[scale=" + (Float.isNaN(scale) ? "1/sqrt(d)" : scale) + ", causal=" + causal
                + ", window=(" + windowLeft + ", " + windowRight + "), softcap=" + softcap + ", lse=" + returnLse
                + (blockMask != null ? ", " + blockMask : "") + "]";
    }

    /** Builds {@link AttentionParams}; each setter validates its argument at once. Not thread-safe. */
    public static final class Builder {
        private float scale = Float.NaN;
        private boolean causal;
        private int windowLeft = -1;
        private int windowRight = -1;
        private float softcap;
        private boolean returnLse;
        private BlockMask blockMask;

        private Builder() {
        }

        /**
         * Sets the softmax scale.
         *
         * @throws IllegalArgumentException if {@code scale} is not finite and positive
         */
        public Builder scale(float scale) {
            if (!(scale > 0) || Float.isInfinite(scale)) {
                throw new IllegalArgumentException("scale must be finite and positive, got " + scale);
            }
            this.scale = scale;
            return this;
        }

        /** Turns causal masking (bottom-right aligned) on or off. */
        public Builder causal(boolean causal) {
            this.causal = causal;
            return this;
        }

        /**
         * Sets the sliding window, both ends inclusive.
         *
         * @param left  keys visible left of the query position, {@code -1} for unbounded
         * @param right keys visible right of the query position, {@code -1} for unbounded
         * @throws IllegalArgumentException if {@code left} or {@code right} is below {@code -1}
         */
        public Builder window(int left, int right) {
            if (left < -1) {
                throw new IllegalArgumentException("windowLeft must be -1 (unbounded) or >= 0, got " + left);
            }
            if (right < -1) {
                throw new IllegalArgumentException("windowRight must be -1 (unbounded) or >= 0, got " + right);
            }
            this.windowLeft = left;
            this.windowRight = right;
            return this;
        }

        /**
         * Sets the logit softcap.
         *
         * @param softcap {@code 0} for none, else a finite positive cap
         * @throws IllegalArgumentException if {@code softcap} is negative or not finite
         */
        public Builder softcap(float softcap) {
            if (!(softcap >= 0) || Float.isInfinite(softcap)) {
                throw new IllegalArgumentException("softcap must be 0 (off) or finite and positive, got " + softcap);
            }
            this.softcap = softcap;
            return this;
        }

        /** Whether calls return the logsumexp ({@code ln Σ exp(s)}) of each query row. */
        public Builder returnLse(boolean returnLse) {
            this.returnLse = returnLse;
            return this;
        }

        /** Sets the block-sparse mask ({@code null} for none). */
        public Builder blockMask(BlockMask blockMask) {
            this.blockMask = blockMask;
            return this;
        }

        /** The options. */
        public AttentionParams build() {
            return new AttentionParams(this);
        }
    }
}
