package io.vramkit.attention.cuda;

import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.BlockMask;
import io.vramkit.attention.HeadTensor;
import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.CudaAsyncResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.cuda.Dim3;
import io.vramkit.cuda.KernelModule;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Launches the attention module's CUDA kernels ({@code attention/src/main/cuda}: {@code flash_prefill.cu},
 * {@code paged_decode.cu}) on device buffers, with the semantics of {@link io.vramkit.attention.FlashAttention}
 * and {@link io.vramkit.attention.PagedDecodeAttention}.
 *
 * <p>Verified on an NVIDIA H200 (2026-11-26): the {@code gpu}-tagged tests compare every kernel with the CPU path
 * (and decode also with float64), with poisoned outputs; speeds are in {@code docs/benchmarks.md}.
 *
 * <p>All buffers are device memory on the module's device, laid out as the CPU path documents; the caller owns them
 * and keeps them alive until {@code stream} has run the kernels. Launches are asynchronous on {@code stream}.
 * Thread-safe (the underlying {@link KernelModule} is); close once, after the last launch was queued.
 *
 * {@snippet :
 * try (CudaAttention attention = CudaAttention.load(0); CudaStream stream = CudaStream.create(0)) {
 *     attention.flashPrefill(q, k, v, out, null, cuQ, cuK, batch, maxLq, totalQ, 32, 8, 128, DType.BF16,
 *             AttentionParams.builder().causal(true).build(), stream);
 * }
 * }
 */
public final class CudaAttention implements AutoCloseable {

    /** The default dynamic shared memory a kernel may use without opting in, in bytes. */
    public static final int DEFAULT_SHARED_LIMIT = 48 * 1024;
    /** Query heads per KV head the decode kernel packs at most. */
    public static final int MAX_DECODE_GROUP = 8;
    /** Fewest tokens per split {@link #suggestedSplitTokens} picks (unless the context is shorter). */
    public static final int MIN_SPLIT_TOKENS = 128;
    /** Resident decode blocks per SM that {@link #suggestedSplitTokens} assumes. */
    public static final int DECODE_BLOCKS_PER_SM = 4;
    /** Output columns per block of the split merge kernel (its grid is heads x batch x headDim / this). */
    private static final int MERGE_COLUMNS = 32;
    /**
     * Waves of decode blocks that {@link #suggestedSplitTokens} aims for: one, so that every block is resident at
     * once and the equal-length splits finish together (no tail wave), with as few partials to merge as will fill
     * the device.
     */
    public static final int DECODE_WAVES = 1;

    /**
     * The mma.sync prefill kernel variants ({@code flash_prefill_mma.cu}): {@code base} (4 warps of 32 query rows, two
     * barriers per key tile), {@code tuned} (the same tiles, one barrier per key tile, the softmax scale folded into
     * the exponent, O rescaled only when a row's max grew) and {@code rows16} (4 warps of 16 query rows with Q in
     * registers and 64 KiB of shared memory at head dimension 128, so three blocks fit an SM; the tuned softmax).
     * The last two need a positive scale; other calls take {@code base}.
     */
    public static final java.util.List<String> PREFILL_VARIANTS = java.util.List.of("base", "tuned", "rows16");
    /**
     * The variant {@link #load(int)} picks: {@code -Dvramkit.prefill.variant=base|tuned|rows16}, default tuned. On
     * an H200 (BF16, causal, 32/8 heads, d=128, batch 1 and 4, 4k and 16k tokens, standard normal inputs) tuned ran
     * at 323-355 TFLOP/s, rows16 at 293-311 and base at 255-288, measured in one run (docs/benchmarks.md, run 6).
     * Its d=128 build spills 8 bytes outside the inner loops at 255 registers; that cost is inside those figures.
     */
    public static final String DEFAULT_PREFILL_VARIANT = System.getProperty("vramkit.prefill.variant", "tuned");

    /**
     * The paged-decode kernel variants for INT8 and FP8 caches ({@code paged_decode.cu}): {@code mma} (both products
     * on mma.sync tensor cores, the codes unpacked to FP16; head dimensions 64, 128 and 256) and {@code vec} (the
     * vectorized CUDA-core kernel that every other type and shape takes).
     */
    public static final java.util.List<String> DECODE_VARIANTS = java.util.List.of("mma", "vec");
    /**
     * The decode variant {@link #load(int)} picks for INT8 and FP8 caches: {@code -Dvramkit.decode.variant=mma|vec},
     * default mma. Both passed the {@code gpu} tests on an H200. There (32/8 heads, d=128, block 16) mma read INT8 KV
     * at 68-69% of the device copy bandwidth and FP8 E4M3 at 70-72% (batch 16 at 32k tokens, batch 64 at 4k), where
     * vec reached 30-32% (docs/benchmarks.md, GPU run 13).
     */
    public static final String DEFAULT_DECODE_VARIANT = System.getProperty("vramkit.decode.variant", "mma");

    private final KernelModule module;
    private final int deviceOrdinal;
    /** One of {@link #PREFILL_VARIANTS}. */
    private final String prefillVariant;
    /** One of {@link #DECODE_VARIANTS}. */
    private final String decodeVariant;
    /** The device's opt-in dynamic shared-memory limit per block, in bytes. */
    private final int sharedOptInBytes;
    /** Stream-ordered memory for block-mask tables, made on first use. */
    private CudaAsyncResource maskMemory;

    private CudaAttention(KernelModule module, int deviceOrdinal, int sharedOptInBytes, String prefillVariant,
                          String decodeVariant) {
        this.module = module;
        this.prefillVariant = prefillVariant;
        this.decodeVariant = decodeVariant;
        this.deviceOrdinal = deviceOrdinal;
        this.sharedOptInBytes = sharedOptInBytes;
    }

    /**
     * Loads the kernels on a device.
     *
     * @throws io.vramkit.cuda.KernelUnavailableException when the build had no nvcc or the GPU is not supported
     * @throws io.vramkit.cuda.CudaException             when the driver fails
     */
    public static CudaAttention load(int deviceOrdinal) {
        return load(deviceOrdinal, DEFAULT_PREFILL_VARIANT);
    }

    /**
     * Loads the kernels on a device, with {@link #flashPrefill} taking the given mma.sync kernel variant where it
     * applies (benchmarks and tests compare them).
     *
     * @param prefillVariant one of {@link #PREFILL_VARIANTS}
     * @throws IllegalArgumentException                  naming prefillVariant when it is not one of them
     * @throws io.vramkit.cuda.KernelUnavailableException when the build had no nvcc or the GPU is not supported
     * @throws io.vramkit.cuda.CudaException             when the driver fails
     */
    public static CudaAttention load(int deviceOrdinal, String prefillVariant) {
        return load(deviceOrdinal, prefillVariant, DEFAULT_DECODE_VARIANT);
    }

    /**
     * Loads the kernels on a device, with {@link #flashPrefill} and {@link #pagedDecode} taking the given kernel
     * variants where they apply (benchmarks and tests compare them).
     *
     * @param prefillVariant one of {@link #PREFILL_VARIANTS}
     * @param decodeVariant  one of {@link #DECODE_VARIANTS}
     * @throws IllegalArgumentException                  naming the variant that is not one of its list
     * @throws io.vramkit.cuda.KernelUnavailableException when the build had no nvcc or the GPU is not supported
     * @throws io.vramkit.cuda.CudaException             when the driver fails
     */
    public static CudaAttention load(int deviceOrdinal, String prefillVariant, String decodeVariant) {
        if (!PREFILL_VARIANTS.contains(prefillVariant)) {
            throw new IllegalArgumentException("prefillVariant must be one of " + PREFILL_VARIANTS + ", got "
                    + prefillVariant);
        }
        if (!DECODE_VARIANTS.contains(decodeVariant)) {
            throw new IllegalArgumentException("decodeVariant must be one of " + DECODE_VARIANTS + ", got "
                    + decodeVariant);
        }
        KernelModule module = KernelModule.load(deviceOrdinal, CudaAttention.class, "attention");
        try {
            return new CudaAttention(module, deviceOrdinal,
                    io.vramkit.cuda.CudaDevice.get(deviceOrdinal).maxSharedMemoryPerBlockOptInBytes(),
                    prefillVariant, decodeVariant);
        } catch (RuntimeException e) {
            module.close();
            throw e;
        }
    }

    /** The decode variant this instance launches for INT8 and FP8 caches, one of {@link #DECODE_VARIANTS}. */
    public String decodeVariant() {
        return decodeVariant;
    }

    /**
     * Shared memory in bytes of a flash-prefill block of {@code rows} query rows and {@code keys} keys per tile.
     */
    public static long flashSharedBytes(int rows, int keys, int headDim, DType type) {
        long dPad = (headDim + 15) / 16 * 16;
        return (rows * dPad + 2L * keys * dPad + (long) rows * keys) * type.byteSize()
                + ((long) rows * keys + rows * dPad + 3L * rows) * 4;
    }

    /** Query rows of a block of the mma.sync prefill kernel (base, tuned; rows16 takes half). */
    private static final int MMA_ROWS = 128;
    /** Keys per tile of the mma.sync prefill kernel. */
    private static final int MMA_KEYS = 64;

    /**
     * Shared memory in bytes of a block of the mma.sync prefill kernel ({@code flash_prefill_mma.cu}) for a head
     * dimension it takes: 128 query rows and two buffers of 64 keys and 64 values, at the head dimension padded to
     * 64 or 128.
     */
    public static long mmaPrefillSharedBytes(int headDim) {
        return (long) (MMA_ROWS + 4 * MMA_KEYS) * mmaPaddedHeadDim(headDim) * 2;
    }

    /** The kernel name prefix, rows per block and shared bytes of the variant a call takes (base for scale <= 0). */
    private record MmaLaunch(String prefix, int rows, long sharedBytes) { }

    private MmaLaunch mmaLaunch(int headDim, float scale) {
        String v = scale > 0f ? prefillVariant : "base";
        return switch (v) {
            case "tuned" -> new MmaLaunch("vramkit_fa2t_prefill_", MMA_ROWS, mmaPrefillSharedBytes(headDim));
            case "rows16" -> new MmaLaunch("vramkit_fa2q_prefill_", MMA_ROWS / 2,
                    4L * MMA_KEYS * mmaPaddedHeadDim(headDim) * 2);
            default -> new MmaLaunch("vramkit_fa2_prefill_", MMA_ROWS, mmaPrefillSharedBytes(headDim));
        };
    }

    /**
     * Whether {@link #flashPrefill} takes the mma.sync kernel for a head dimension and options (given 16-byte
     * aligned buffers and enough shared memory): a head dimension that is a multiple of 8 up to 128, no block mask,
     * no softcap. Other calls take the WMMA kernel.
     */
    public static boolean mmaPrefillCovers(int headDim, AttentionParams params) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        return headDim % 8 == 0 && headDim >= 8 && headDim <= 128 && p.blockMask() == null && p.softcap() == 0f;
    }

    private static int mmaPaddedHeadDim(int headDim) {
        return headDim <= 64 ? 64 : 128;
    }

    /**
     * Queues flash-attention prefill. FP16 or BF16 inputs and output; {@code lse} ({@code [heads, totalQ]} FP32) may
     * be null. Calls {@link #mmaPrefillCovers covered} by the FlashAttention-2 style mma.sync kernel
     * ({@code flash_prefill_mma.cu}) take it when {@code q}, {@code k}, {@code v} and {@code out} are 16-byte aligned
     * and its {@link #mmaPrefillSharedBytes shared memory} fits the device's opt-in limit per block. Other calls take
     * the WMMA kernel ({@code flash_prefill.cu}): its 64-row variant when its shared memory fits that limit
     * ({@code KernelFunction} opts in above {@link #DEFAULT_SHARED_LIMIT}), else the 16-row one.
     * The mma.sync kernel is the {@link #PREFILL_VARIANTS variant} this instance was loaded with (base for a scale
     * <= 0). All three variants passed the {@code gpu} tests on an H200.
     *
     * <p>A {@link BlockMask} in {@code params} is honoured as on the CPU: key tiles with no allowed pair are
     * skipped, and elements of disallowed pairs are masked. To check, as the CPU does, that the mask covers the
     * longest sequence, this call then reads the two offset arrays back to the host (synchronizing {@code stream}),
     * and uploads the mask table to stream-ordered device memory freed after the kernel on {@code stream}.
     *
     * @param cuSeqlensQ device {@code int32[batch + 1]}
     * @param cuSeqlensK device {@code int32[batch + 1]}
     * @param maxSeqlenQ the longest query sequence (sizes the grid)
     * @throws IllegalArgumentException naming the argument: a null buffer, a type other than FP16/BF16, heads not a
     *                                  multiple of kvHeads, a head dimension outside 1..256, a block mask that does
     *                                  not cover the longest sequence, or a negative size
     */
    public void flashPrefill(Buffer q, Buffer k, Buffer v, Buffer out, Buffer lse, Buffer cuSeqlensQ,
                             Buffer cuSeqlensK, int batch, int maxSeqlenQ, int totalQ, int heads, int kvHeads,
                             int headDim, DType type, AttentionParams params, CudaStream stream) {
        flashPrefill(q, k, v, out, lse, cuSeqlensQ, cuSeqlensK, batch, maxSeqlenQ, totalQ, heads, kvHeads, headDim,
                type, params, stream, true);
    }

    /** {@link #flashPrefill}, with {@code allowMma} false forcing the WMMA kernel (tests compare the two). */
    void flashPrefill(Buffer q, Buffer k, Buffer v, Buffer out, Buffer lse, Buffer cuSeqlensQ, Buffer cuSeqlensK,
                      int batch, int maxSeqlenQ, int totalQ, int heads, int kvHeads, int headDim, DType type,
                      AttentionParams params, CudaStream stream, boolean allowMma) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        requireAll(q, "q", k, "k", v, "v", out, "out", cuSeqlensQ, "cuSeqlensQ", cuSeqlensK, "cuSeqlensK");
        Objects.requireNonNull(stream, "stream");
        String suffix = switch (type) {
            case FP16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new IllegalArgumentException("type must be FP16 or BF16 on CUDA, got " + type);
        };
        checkShape(heads, kvHeads, headDim);
        if (batch < 1 || maxSeqlenQ < 0 || totalQ < 0) {
            throw new IllegalArgumentException("batch (" + batch + ") must be >= 1 and maxSeqlenQ (" + maxSeqlenQ
                    + "), totalQ (" + totalQ + ") >= 0");
        }
        if (maxSeqlenQ == 0) {
            return;
        }
        float scale = p.scaleFor(headDim);
        MmaLaunch mma = mmaLaunch(headDim, scale);
        if (allowMma && mmaPrefillCovers(headDim, p) && mma.sharedBytes() <= sharedOptInBytes
                && aligned16(q, k, v, out) && positionsFit(q, heads, headDim) && positionsFit(k, kvHeads, headDim)
                && ((long) maxSeqlenQ + mma.rows() - 1) / mma.rows() * heads * batch < Integer.MAX_VALUE) {
            module.function(mma.prefix() + suffix + "_d" + mmaPaddedHeadDim(headDim)).launch(
                    new Dim3((maxSeqlenQ + mma.rows() - 1) / mma.rows(), heads, batch), Dim3.of(128),
                    (int) mma.sharedBytes(), stream, q, k, v, out, orNull(lse), cuSeqlensQ,
                    cuSeqlensK, totalQ, heads, kvHeads, headDim, scale, p.causal() ? 1 : 0,
                    p.windowLeft(), p.windowRight());
            return;
        }
        BlockMask mask = p.blockMask();
        Buffer maskTable = mask == null ? null : uploadMask(mask, cuSeqlensQ, cuSeqlensK, batch, stream);
        try {
            boolean big = flashSharedBytes(64, 64, headDim, type) <= sharedOptInBytes;
            int rows = big ? 64 : 16;
            int shared = (int) flashSharedBytes(rows, big ? 64 : 16, headDim, type);
            String name = "vramkit_flash_prefill_" + (big ? "" : "small_") + suffix;
            module.function(name).launch(new Dim3((maxSeqlenQ + rows - 1) / rows, heads, batch),
                    Dim3.of(big ? 128 : 32), shared, stream, q, k, v, out, orNull(lse), cuSeqlensQ, cuSeqlensK,
                    totalQ, heads, kvHeads, headDim, (headDim + 15) / 16 * 16, p.scaleFor(headDim),
                    p.causal() ? 1 : 0, p.windowLeft(), p.windowRight(), p.softcap(), orNull(maskTable),
                    mask == null ? 1 : mask.rowBlock(), mask == null ? 1 : mask.colBlock(),
                    mask == null ? 0 : mask.colBlocks());
        } finally {
            if (maskTable != null) {
                maskTable.close();
            }
        }
    }

    private static boolean aligned16(Buffer... buffers) {
        for (Buffer b : buffers) {
            if ((b.address() & 15) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Whether every token a 16-bit buffer of this row width can hold has a position below 2^30 (the mma kernel's). */
    private static boolean positionsFit(Buffer b, int heads, int headDim) {
        return b.byteSize() / (2L * heads * headDim) < (1L << 30);
    }

    /** Checks that {@code mask} covers the longest sequence, then copies its table to the device on {@code stream}. */
    private Buffer uploadMask(BlockMask mask, Buffer cuSeqlensQ, Buffer cuSeqlensK, int batch, CudaStream stream) {
        int maxQ = 0;
        int maxK = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cq = arena.allocate(4L * (batch + 1), 4);
            MemorySegment ck = arena.allocate(4L * (batch + 1), 4);
            stream.copyToHostAsync(cuSeqlensQ, 0, cq);
            stream.copyToHostAsync(cuSeqlensK, 0, ck);
            stream.synchronize();
            for (int b = 0; b < batch; b++) {
                maxQ = Math.max(maxQ, cq.getAtIndex(ValueLayout.JAVA_INT, b + 1)
                        - cq.getAtIndex(ValueLayout.JAVA_INT, b));
                maxK = Math.max(maxK, ck.getAtIndex(ValueLayout.JAVA_INT, b + 1)
                        - ck.getAtIndex(ValueLayout.JAVA_INT, b));
            }
        }
        if ((long) mask.rowBlocks() * mask.rowBlock() < maxQ || (long) mask.colBlocks() * mask.colBlock() < maxK) {
            throw new IllegalArgumentException("blockMask " + mask + " does not cover the longest sequence ("
                    + maxQ + " queries, " + maxK + " keys)");
        }
        long bytes = (long) mask.rowBlocks() * mask.colBlocks();
        CudaAsyncResource memory;
        synchronized (this) {
            if (maskMemory == null) {
                maskMemory = new CudaAsyncResource(deviceOrdinal, 0);
            }
            memory = maskMemory;
        }
        Buffer table = Buffer.allocate(memory, bytes, 256, stream);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, 1);
            for (int qb = 0; qb < mask.rowBlocks(); qb++) {
                for (int kb = 0; kb < mask.colBlocks(); kb++) {
                    host.set(ValueLayout.JAVA_BYTE, (long) qb * mask.colBlocks() + kb,
                            (byte) (mask.allowed(qb, kb) ? 1 : 0));
                }
            }
            stream.copyToDeviceAsync(host, table, 0);
            // the host copy is released below: wait for the transfer rather than rely on pageable staging
            stream.synchronize();
        } catch (RuntimeException e) {
            table.close();
            throw e;
        }
        return table;
    }

    /** Bytes of the split partials buffer {@link #pagedDecode} needs. */
    public static long partialsBytes(int batch, int heads, int headDim, int maxSplits) {
        return (long) batch * heads * maxSplits * (headDim + 2) * 4;
    }

    /** Splits of {@code splitTokens} keys that a context of {@code maxContext} tokens needs at most. */
    public static int maxSplits(int maxContext, int splitTokens) {
        return Math.max(1, (maxContext + splitTokens - 1) / splitTokens);
    }

    /**
     * A split size for {@link #pagedDecode}: at most as many splits as make {@code batch * kvHeads * splits} blocks
     * fill the device {@value #DECODE_WAVES} time(s) at {@value #DECODE_BLOCKS_PER_SM} resident blocks per SM (more
     * would only add partials to write and merge, and a tail wave), but no split shorter than
     * {@value #MIN_SPLIT_TOKENS} tokens (a block then spends more on its pipeline start and its partial than on
     * reading keys), rounded up to a multiple of 64 tokens (so the blocks are between half a wave and one wave, or
     * fewer at the minimum split). One split covers the whole context when the batch alone fills the device. The merge
     * that follows reads {@code (headDim + 2) * 4} bytes per split and query head, about 1% of the KV bytes at
     * these sizes.
     *
     * @param batch      sequences in the batch, at least 1
     * @param kvHeads    KV heads, at least 1
     * @param maxContext the longest context in tokens, at least 0
     * @param smCount    the device's multiprocessors ({@link io.vramkit.cuda.CudaDevice#multiProcessorCount()}),
     *                   at least 1
     * @return tokens per split, at least 1
     * @throws IllegalArgumentException naming the argument out of range
     */
    public static int suggestedSplitTokens(int batch, int kvHeads, int maxContext, int smCount) {
        if (batch < 1 || kvHeads < 1 || maxContext < 0 || smCount < 1) {
            throw new IllegalArgumentException("batch " + batch + ", kvHeads " + kvHeads + ", maxContext "
                    + maxContext + ", smCount " + smCount + " out of range");
        }
        long wantedBlocks = (long) DECODE_WAVES * DECODE_BLOCKS_PER_SM * smCount;
        long rows = (long) batch * kvHeads;
        long splits = Math.max(1, wantedBlocks / rows);
        long split = Math.max(MIN_SPLIT_TOKENS, (maxContext + splits - 1) / splits);
        split = (split + 63) / 64 * 64;
        return (int) Math.max(1, Math.min(split, Math.max(maxContext, 1)));
    }

    /** Dynamic shared memory in bytes of the vectorized decode kernel for a KV type (3 stages of 4 warps). */
    static int decodeSharedBytes(DType kvType) {
        boolean quantized = quantizedKv(kvType);
        // per warp and stage: 64 bytes of K and 64 of V per lane, plus (INT8/FP8) 8 rows x 8 token scales of K and V
        return 4 * 3 * (2 * 32 * 64 + (quantized ? 2 * 8 * 8 * 4 : 0));
    }

    /** Whether a KV type stores codes with per-block scales (INT8, FP8 E4M3, FP8 E5M2). */
    private static boolean quantizedKv(DType kvType) {
        return kvType == DType.INT8 || kvType == DType.FP8_E4M3 || kvType == DType.FP8_E5M2;
    }

    /** Dynamic shared memory in bytes of the tensor-core decode kernel (3 stages of 4 warps, 16-token tiles). */
    static int decodeMmaSharedBytes(int headDim) {
        // per warp and stage: 16 tokens' K and V rows (one byte per element), plus their 16 K and 16 V scales
        return 4 * 3 * (2 * 16 * headDim + 32 * 4);
    }

    /**
     * Whether the tensor-core decode kernel ({@code mma} variant) covers a KV type and head dimension: INT8, FP8
     * E4M3 or E5M2 at head dimension 64, 128 or 256 (it also needs the vectorized kernel's alignment).
     */
    public static boolean mmaDecodeCovers(DType kvType, int headDim) {
        return quantizedKv(kvType) && (headDim == 64 || headDim == 128 || headDim == 256);
    }

    /**
     * Whether {@link #pagedDecode} takes the vectorized kernel: head dimension a multiple of 8 in 32..256 and both
     * caches 16-byte aligned. Other shapes run the scalar kernel (one key per warp at a time, lane-strided loads).
     */
    static boolean vectorizedDecode(Buffer kCache, Buffer vCache, int headDim) {
        return headDim % 8 == 0 && headDim >= 32 && headDim <= HeadTensor.MAX_HEAD_DIM
                && kCache.address() % 16 == 0 && vCache.address() % 16 == 0;
    }

    /**
     * Queues paged decode attention (and the split merge when a context spans several splits).
     *
     * <p>Head dimensions that are a multiple of 8 in 32..256, with 16-byte aligned caches, run the vectorized kernel:
     * each warp streams keys and values through a 3-stage {@code cp.async} pipeline in shared memory, 8 elements per
     * lane and token, and updates its online softmax once per group of rows. Other shapes run the scalar kernel.
     * Both passed the {@code gpu} tests on an H200. INT8 and FP8 caches at head dimension 64, 128 or 256 take the
     * tensor-core kernel instead when this instance's decode variant is {@code mma} (the default; see
     * {@link #DECODE_VARIANTS}): the same pipeline in 16-token tiles, with {@code Q K^T} and {@code P V} on
     * mma.sync and the codes unpacked to FP16 (it passed the same {@code gpu} tests on an H200). Pick
     * {@code splitTokens} with {@link #suggestedSplitTokens}.
     *
     * @param q           device {@code [batch, heads, headDim]} of {@code qType} (FP32, FP16, BF16); out likewise
     * @param kScales     device FP32 {@code [numBlocks, kvHeads]} for INT8/FP8 KV, else null; vScales likewise
     * @param blockTables device {@code int32[batch, maxBlocksPerSeq]}
     * @param contextLens device {@code int32[batch]}
     * @param partials    device scratch of {@link #partialsBytes} bytes, or null when
     *                    {@code maxSplits(maxContext, splitTokens) == 1}
     * @param lse         device FP32 {@code [heads, batch]}, or null
     * @throws IllegalArgumentException naming the argument (types, shapes, group above {@value #MAX_DECODE_GROUP},
     *                                  missing scales or partials, a block mask)
     */
    public void pagedDecode(Buffer q, Buffer kCache, Buffer vCache, Buffer kScales, Buffer vScales,
                            Buffer blockTables, int maxBlocksPerSeq, Buffer contextLens, Buffer out, Buffer lse,
                            Buffer partials, int batch, int maxContext, int heads, int kvHeads, int headDim,
                            int blockSize, DType qType, DType kvType, int splitTokens, AttentionParams params,
                            CudaStream stream) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        requireAll(q, "q", kCache, "kCache", vCache, "vCache", blockTables, "blockTables", contextLens,
                "contextLens", out, "out");
        Objects.requireNonNull(stream, "stream");
        String qs = switch (qType) {
            case FP32 -> "f32";
            case FP16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new IllegalArgumentException("qType must be FP32, FP16 or BF16, got " + qType);
        };
        String kvs = switch (kvType) {
            case FP32 -> "f32";
            case FP16 -> "f16";
            case BF16 -> "bf16";
            case INT8 -> "i8";
            case FP8_E4M3 -> "e4m3";
            case FP8_E5M2 -> "e5m2";
            default -> throw new IllegalArgumentException(
                    "kvType must be FP32, FP16, BF16, INT8, FP8_E4M3 or FP8_E5M2, got " + kvType);
        };
        checkShape(heads, kvHeads, headDim);
        if (heads / kvHeads > MAX_DECODE_GROUP) {
            throw new IllegalArgumentException("heads / kvHeads = " + heads / kvHeads + " exceeds "
                    + MAX_DECODE_GROUP + " on CUDA");
        }
        boolean quantized = quantizedKv(kvType);
        if (quantized && (kScales == null || vScales == null)) {
            throw new IllegalArgumentException("kScales and vScales are required for " + kvType);
        }
        if (batch < 1 || maxContext < 0 || blockSize < 1 || splitTokens < 1 || maxBlocksPerSeq < 0) {
            throw new IllegalArgumentException("batch " + batch + ", maxContext " + maxContext + ", blockSize "
                    + blockSize + ", splitTokens " + splitTokens + ", maxBlocksPerSeq " + maxBlocksPerSeq
                    + " out of range");
        }
        if (p.blockMask() != null) {
            throw new IllegalArgumentException("blockMask is not supported by decode attention, got "
                    + p.blockMask());
        }
        int splits = maxSplits(maxContext, splitTokens);
        if (splits > 1 && partials == null) {
            throw new IllegalArgumentException("partials must hold " + partialsBytes(batch, heads, headDim, splits)
                    + " bytes for " + splits + " splits");
        }
        Dim3 grid = new Dim3(splits, kvHeads, batch);
        if (vectorizedDecode(kCache, vCache, headDim)) {
            int g = heads / kvHeads;
            int packed = g <= 1 ? 1 : g <= 2 ? 2 : g <= 4 ? 4 : 8;
            int qCode = switch (qType) {
                case FP32 -> 0;
                case FP16 -> 1;
                default -> 2;
            };
            boolean mma = decodeVariant.equals("mma") && mmaDecodeCovers(kvType, headDim)
                    && decodeMmaSharedBytes(headDim) <= Math.max(sharedOptInBytes, DEFAULT_SHARED_LIMIT);
            String name = mma ? "vramkit_paged_decode_mma_" + kvs + "_d" + headDim
                    : "vramkit_paged_decode_vec_" + kvs + "_g" + packed;
            int shared = mma ? decodeMmaSharedBytes(headDim) : decodeSharedBytes(kvType);
            module.function(name).launch(grid, Dim3.of(128), shared, stream, q, qCode, kCache, vCache,
                    orNull(kScales), orNull(vScales), blockTables, maxBlocksPerSeq, contextLens, out, orNull(lse),
                    orNull(partials), batch, heads, kvHeads, headDim, blockSize, splitTokens, splits,
                    p.scaleFor(headDim), p.windowLeft(), p.softcap());
        } else {
            module.function("vramkit_paged_decode_" + qs + "_" + kvs).launch(grid, Dim3.of(128), 0, stream, q,
                    kCache, vCache, orNull(kScales), orNull(vScales), blockTables, maxBlocksPerSeq, contextLens, out,
                    orNull(lse), orNull(partials), batch, heads, kvHeads, headDim, blockSize, splitTokens, splits,
                    p.scaleFor(headDim), p.windowLeft(), p.softcap());
        }
        if (splits > 1) {
            module.function("vramkit_paged_decode_merge_" + qs).launch(
                    new Dim3(heads, batch, (headDim + MERGE_COLUMNS - 1) / MERGE_COLUMNS), Dim3.of(128), 0,
                    stream, contextLens, partials, out, orNull(lse), batch, heads, headDim, splitTokens, splits,
                    p.windowLeft());
        }
    }

    private static Object orNull(Buffer b) {
        return b == null ? MemorySegment.NULL : b;
    }

    private static void checkShape(int heads, int kvHeads, int headDim) {
        if (kvHeads < 1 || heads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("query heads (" + heads + ") must be a multiple of kvHeads ("
                    + kvHeads + ")");
        }
        if (headDim < 1 || headDim > HeadTensor.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("headDim must be in 1.." + HeadTensor.MAX_HEAD_DIM + ", got "
                    + headDim);
        }
    }

    private static void requireAll(Object... pairs) {
        for (int i = 0; i < pairs.length; i += 2) {
            if (pairs[i] == null) {
                throw new IllegalArgumentException(pairs[i + 1] + " must not be null");
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (maskMemory != null) {
                maskMemory.close();
                maskMemory = null;
            }
        }
        module.close();
    }

    @Override
    public String toString() {
        return "CudaAttention[" + module + "]";
    }
}
