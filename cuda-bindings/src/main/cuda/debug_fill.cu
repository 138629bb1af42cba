// Debug fill: poisons freed device memory so that a use-after-free reads an obvious pattern (0xDEADBEEF by
// default) instead of stale but plausible values. Launched by io.vramkit.cuda.PoisonOnFreeResource.
//
// Each thread writes 16-byte vectors over the aligned body in a grid-stride loop; the unaligned head and tail
// (fewer than 16 bytes each) are written byte by byte by the first threads. The pattern is a 32-bit word repeated
// in little-endian order from the start of the 4-byte-aligned address space, so every byte of the range has a
// value that depends only on its address modulo 4 and a host-side check can predict it.
#include <cstdint>
#include <cstddef>

static __device__ __forceinline__ unsigned char pattern_byte(uintptr_t address, uint32_t pattern) {
    return (unsigned char) (pattern >> ((address & 3u) * 8u));
}

extern "C" __global__ void vramkit_poison_fill(unsigned char *data, unsigned long long bytes, unsigned int pattern) {
    const uintptr_t start = (uintptr_t) data;
    const uintptr_t end = start + bytes;
    const uintptr_t body_start = (start + 15u) & ~(uintptr_t) 15u;
    const uintptr_t body_end = end & ~(uintptr_t) 15u;
    const unsigned long long tid = blockIdx.x * (unsigned long long) blockDim.x + threadIdx.x;
    const unsigned long long stride = (unsigned long long) gridDim.x * blockDim.x;

    if (body_start >= body_end) {
        // Fewer than one aligned vector: byte by byte.
        for (unsigned long long i = tid; i < bytes; i += stride) {
            data[i] = pattern_byte(start + i, pattern);
        }
        return;
    }
    // Start and end of the body are 16-byte aligned, so the word pattern starts at byte 0 of each vector.
    const uint4 vec = make_uint4(pattern, pattern, pattern, pattern);
    uint4 *body = (uint4 *) body_start;
    const unsigned long long vectors = (body_end - body_start) / 16u;
    for (unsigned long long i = tid; i < vectors; i += stride) {
        body[i] = vec;
    }
    const unsigned long long head = body_start - start;
    const unsigned long long tail = end - body_end;
    if (tid < head) {
        data[tid] = pattern_byte(start + tid, pattern);
    }
    if (tid < tail) {
        data[(body_end - start) + tid] = pattern_byte(body_end + tid, pattern);
    }
}
