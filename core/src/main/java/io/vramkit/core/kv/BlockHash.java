package io.vramkit.core.kv;

/**
 * The hash chain of full KV blocks used for prefix sharing: a block's hash covers its parent block's hash, a salt
 * (for tenant isolation: different salts never share blocks) and the block's token ids, so equal hashes mean equal
 * prefixes up to and including the block.
 *
 * <p>The hash is a 64-bit multiply-xorshift mix (not cryptographic). {@link KvBlockPool#lookup} compares parent hash,
 * salt and token ids on every hit, so a collision costs a cache miss, never a wrong block. Stateless and thread-safe.
 */
public final class BlockHash {

    /** The parent hash of a sequence's first block. */
    public static final long ROOT = 0x6A09E667F3BCC908L;

    private BlockHash() {
    }

    /**
     * Hashes one block.
     *
     * @param parent the previous block's hash, or {@link #ROOT}
     * @param salt   the tenant salt (0 when not isolating)
     * @param tokens token ids
     * @param offset index of the block's first token in {@code tokens}
     * @param count  tokens in the block
     * @return the block's chain hash
     * @throws IndexOutOfBoundsException if the range is outside {@code tokens}
     */
    public static long of(long parent, long salt, int[] tokens, int offset, int count) {
        java.util.Objects.checkFromIndexSize(offset, count, tokens.length);
        long h = mix(parent ^ 0x9E3779B97F4A7C15L) ^ mix(salt + 0xC2B2AE3D27D4EB4FL);
        for (int i = 0; i < count; i++) {
            h = (h ^ (tokens[offset + i] & 0xFFFFFFFFL)) * 0xFF51AFD7ED558CCDL;
            h ^= h >>> 29;
        }
        return mix(h ^ count);
    }

    private static long mix(long z) {
        // fmix64 of MurmurHash3
        z = (z ^ (z >>> 33)) * 0xFF51AFD7ED558CCDL;
        z = (z ^ (z >>> 33)) * 0xC4CEB9FE1A85EC53L;
        return z ^ (z >>> 33);
    }
}
