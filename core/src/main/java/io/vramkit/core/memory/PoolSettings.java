package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;

/**
 * The settings of a {@link CachingPool}; the defaults are PyTorch's CUDA caching allocator's.
 *
 * <p>Requests are rounded up to {@code minBlockBytes}. Rounded requests of at most {@code smallSizeBytes} come from the
 * small pool, whose segments are {@code smallSegmentBytes} each; larger ones come from the large pool, whose segments
 * are {@code largeSegmentBytes} for requests under {@code minLargeAllocBytes} and the request rounded up to
 * {@code largeRoundingBytes} otherwise. A request of at least {@code maxSplitBytes} never splits its block and a
 * smaller request never takes a free block of at least {@code maxSplitBytes}, which keeps big blocks whole for big
 * requests. The pool never reserves more than {@code reservedLimitBytes} from its upstream, and when a free leaves a
 * whole segment free while more than {@code releaseThresholdBytes} sit cached, that segment returns upstream at once
 * (as CUDA's {@code cudaMemPoolAttrReleaseThreshold}).
 *
 * <p>Immutable and thread-safe. Build one with {@link #builder()}.
 *
 * @param name               the pool's name in logs, events, snapshots and error messages
 * @param minBlockBytes      the rounding quantum and smallest block, a power of two of at least 16 bytes
 * @param smallSizeBytes     the largest rounded request the small pool serves, in bytes
 * @param smallSegmentBytes  the size of every small-pool segment, in bytes
 * @param largeSegmentBytes  the size of a large-pool segment made for a request under {@code minLargeAllocBytes}
 * @param minLargeAllocBytes requests from this size get a segment of their own rounded size
 * @param largeRoundingBytes what large own-size segments are rounded up to, in bytes
 * @param maxSplitBytes      blocks for requests at or above this size are never split; {@link Long#MAX_VALUE} for
 *                           no such size
 * @param reservedLimitBytes the most the pool holds from its upstream at once; {@link Long#MAX_VALUE} for no limit
 * @param releaseThresholdBytes free bytes the pool keeps cached before it returns wholly free segments at free time;
 *                           {@link Long#MAX_VALUE} (the default) keeps everything until {@code trim()} or exhaustion
 * @param leakDetection      how allocation sites are captured for snapshots and live lists
 */
public record PoolSettings(String name, long minBlockBytes, long smallSizeBytes, long smallSegmentBytes,
                           long largeSegmentBytes, long minLargeAllocBytes, long largeRoundingBytes,
                           long maxSplitBytes, long reservedLimitBytes, long releaseThresholdBytes,
                           LeakDetection.Level leakDetection) {

    /**
     * Checks the settings.
     *
     * @throws IllegalArgumentException naming the first bad setting and its value
     */
    public PoolSettings {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank, got '" + name + "'");
        }
        if (minBlockBytes < 16 || Long.bitCount(minBlockBytes) != 1 || minBlockBytes > MiB) {
            throw new IllegalArgumentException(
                    "minBlockBytes must be a power of two between 16 and 1048576, got " + minBlockBytes);
        }
        requireMultiple("smallSizeBytes", smallSizeBytes, minBlockBytes);
        requireMultiple("smallSegmentBytes", smallSegmentBytes, minBlockBytes);
        if (smallSegmentBytes < smallSizeBytes) {
            throw new IllegalArgumentException("smallSegmentBytes (" + smallSegmentBytes
                    + ") must be at least smallSizeBytes (" + smallSizeBytes + ")");
        }
        requireMultiple("largeRoundingBytes", largeRoundingBytes, minBlockBytes);
        requireMultiple("minLargeAllocBytes", minLargeAllocBytes, minBlockBytes);
        requireMultiple("largeSegmentBytes", largeSegmentBytes, minBlockBytes);
        if (largeSegmentBytes < minLargeAllocBytes) {
            throw new IllegalArgumentException("largeSegmentBytes (" + largeSegmentBytes
                    + ") must be at least minLargeAllocBytes (" + minLargeAllocBytes + ")");
        }
        if (maxSplitBytes <= smallSizeBytes) {
            throw new IllegalArgumentException(
                    "maxSplitBytes must be larger than smallSizeBytes (" + smallSizeBytes + "), got " + maxSplitBytes);
        }
        if (reservedLimitBytes <= 0) {
            throw new IllegalArgumentException("reservedLimitBytes must be positive, got " + reservedLimitBytes);
        }
        if (releaseThresholdBytes < 0) {
            throw new IllegalArgumentException(
                    "releaseThresholdBytes must not be negative, got " + releaseThresholdBytes);
        }
        if (leakDetection == null) {
            throw new IllegalArgumentException("leakDetection must not be null");
        }
    }

    private static void requireMultiple(String what, long value, long quantum) {
        if (value <= 0 || value % quantum != 0 || value > (1L << 50)) {
            throw new IllegalArgumentException(
                    what + " must be a positive multiple of minBlockBytes (" + quantum + "), got " + value);
        }
    }

    /** The defaults: 512-byte blocks, 1 MiB small requests in 2 MiB segments, 20 MiB large segments. */
    public static PoolSettings defaults() {
        return builder().build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.minBlockBytes = minBlockBytes;
        b.smallSizeBytes = smallSizeBytes;
        b.smallSegmentBytes = smallSegmentBytes;
        b.largeSegmentBytes = largeSegmentBytes;
        b.minLargeAllocBytes = minLargeAllocBytes;
        b.largeRoundingBytes = largeRoundingBytes;
        b.maxSplitBytes = maxSplitBytes;
        b.reservedLimitBytes = reservedLimitBytes;
        b.releaseThresholdBytes = releaseThresholdBytes;
        b.leakDetection = leakDetection;
        return b;
    }

    /** The settings in one line, sizes in MiB, as the out-of-memory message prints them. */
    public String describe() {
        return "minBlockBytes=" + ByteSizes.human(minBlockBytes) + ", smallSizeBytes=" + ByteSizes.human(smallSizeBytes)
                + ", smallSegmentBytes=" + ByteSizes.human(smallSegmentBytes) + ", largeSegmentBytes="
                + ByteSizes.human(largeSegmentBytes) + ", minLargeAllocBytes=" + ByteSizes.human(minLargeAllocBytes)
                + ", largeRoundingBytes=" + ByteSizes.human(largeRoundingBytes) + ", maxSplitBytes="
                + ByteSizes.human(maxSplitBytes) + ", reservedLimitBytes=" + ByteSizes.human(reservedLimitBytes)
                + ", releaseThresholdBytes=" + ByteSizes.human(releaseThresholdBytes);
    }

    /** A mutable builder; not thread-safe. Every setter names its argument in the exception {@link #build} throws. */
    public static final class Builder {
        private String name = "pool";
        private long minBlockBytes = 512;
        private long smallSizeBytes = MiB;
        private long smallSegmentBytes = 2 * MiB;
        private long largeSegmentBytes = 20 * MiB;
        private long minLargeAllocBytes = 10 * MiB;
        private long largeRoundingBytes = 2 * MiB;
        private long maxSplitBytes = Long.MAX_VALUE;
        private long reservedLimitBytes = Long.MAX_VALUE;
        private long releaseThresholdBytes = Long.MAX_VALUE;
        private LeakDetection.Level leakDetection = LeakDetection.LEVEL;

        private Builder() {
        }

        /** Sets {@link PoolSettings#name()}. */
        public Builder name(String v) {
            name = v;
            return this;
        }

        /** Sets {@link PoolSettings#minBlockBytes()}. */
        public Builder minBlockBytes(long v) {
            minBlockBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#smallSizeBytes()}. */
        public Builder smallSizeBytes(long v) {
            smallSizeBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#smallSegmentBytes()}. */
        public Builder smallSegmentBytes(long v) {
            smallSegmentBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#largeSegmentBytes()}. */
        public Builder largeSegmentBytes(long v) {
            largeSegmentBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#minLargeAllocBytes()}. */
        public Builder minLargeAllocBytes(long v) {
            minLargeAllocBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#largeRoundingBytes()}. */
        public Builder largeRoundingBytes(long v) {
            largeRoundingBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#maxSplitBytes()}. */
        public Builder maxSplitBytes(long v) {
            maxSplitBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#reservedLimitBytes()}. */
        public Builder reservedLimitBytes(long v) {
            reservedLimitBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#releaseThresholdBytes()}. */
        public Builder releaseThresholdBytes(long v) {
            releaseThresholdBytes = v;
            return this;
        }

        /** Sets {@link PoolSettings#leakDetection()}. */
        public Builder leakDetection(LeakDetection.Level v) {
            leakDetection = v;
            return this;
        }

        /** The settings. @throws IllegalArgumentException naming the first bad setting */
        public PoolSettings build() {
            return new PoolSettings(name, minBlockBytes, smallSizeBytes, smallSegmentBytes, largeSegmentBytes,
                    minLargeAllocBytes, largeRoundingBytes, maxSplitBytes, reservedLimitBytes, releaseThresholdBytes,
                    leakDetection);
        }
    }
}
