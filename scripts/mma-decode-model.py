#!/usr/bin/env python3
"""Executable model of the fragment bookkeeping of paged_decode_mma (attention/src/main/cuda/paged_decode.cu).

It follows, per lane, what the kernel does with one warp and one 16-token INT8 tile: the K and V copies into a stage
(which lane copies which 16-byte chunk, where it lands, the swizzle), the reads back, the byte permutes and FP16
magic-number unpack, and the mma.sync.m16n8k16 operand layouts of PTX (A row-major 16x16, B column-major 16x8,
C 16x8: lane = 4 * group + thread-in-group). It checks Q K^T and V^T P^T against NumPy, that every O^T element is
written once, that each K chunk read back is the one copied for it, and that no quarter warp's 16-byte reads share a
bank. Use it to check a change to the kernel's layouts on a machine without a GPU (it changes nothing and runs in a
few seconds); keep it in step with the kernel. A developer tool: neither the build nor the tests use it.

    python3 scripts/mma-decode-model.py
"""
import numpy as np


def prmt(x, y, sel):
    """__byte_perm(x, y, sel): result byte i is byte (sel >> 4i) & 7 of the 8 bytes y:x."""
    b = [(x >> (8 * i)) & 0xFF for i in range(4)] + [(y >> (8 * i)) & 0xFF for i in range(4)]
    return sum(b[(sel >> (4 * i)) & 7] << (8 * i) for i in range(4))


def f16(v):
    return int(np.array(v, dtype=np.float16).view(np.uint16))


def half2(lo, hi):
    return f16(lo) | (f16(hi) << 16)


def unhalf2(w):
    return (float(np.array(w & 0xFFFF, dtype=np.uint16).view(np.float16)),
            float(np.array(w >> 16, dtype=np.uint16).view(np.float16)))


def pair_i8(w, hi):
    """mma_pair<KV_I8, hi>: bytes (0, 1) or (2, 3) of w (sign bits already flipped) as two exact FP16 codes."""
    a, b = unhalf2(prmt(w, 0x64646464, 0x4342 if hi else 0x4140))
    return half2(a - 1152.0, b - 1152.0)


def bias(w):
    return w ^ 0x80808080


def mma(c, a_regs, b_regs):
    """c[lane] += A B for one m16n8k16 tile, from the lanes' fragments."""
    A = np.zeros((16, 16))
    B = np.zeros((16, 8))
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        a = [unhalf2(x) for x in a_regs[lane]]
        A[g][2 * t:2 * t + 2] = a[0]
        A[g + 8][2 * t:2 * t + 2] = a[1]
        A[g][2 * t + 8:2 * t + 10] = a[2]
        A[g + 8][2 * t + 8:2 * t + 10] = a[3]
        b = [unhalf2(x) for x in b_regs[lane]]
        B[2 * t][g], B[2 * t + 1][g] = b[0]
        B[2 * t + 8][g], B[2 * t + 9][g] = b[1]
    C = A @ B
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        c[lane][0] += C[g][2 * t]
        c[lane][1] += C[g][2 * t + 1]
        c[lane][2] += C[g + 8][2 * t]
        c[lane][3] += C[g + 8][2 * t + 1]


def words(bs):
    return [int(bs[i]) | int(bs[i + 1]) << 8 | int(bs[i + 2]) << 16 | int(bs[i + 3]) << 24
            for i in range(0, len(bs), 4)]


def model(D, G, rng):
    KB, VB, KS = D // 4, D // 8, D // 16
    CH = min(VB, 16)
    kchunk = (lambda x, k: k ^ ((x & 1) << 2)) if D >= 128 else (lambda x, k: k)  # mma_kchunk
    kdim = lambda t, s: 16 * (t + 4 * (s >> 2)) + 4 * (s & 3)                      # mma_kdim
    vdim = lambda g, mt: CH * (g + 8 * ((2 * mt) // CH)) + (2 * mt) % CH           # mma_vdim

    K = rng.integers(-127, 128, size=(16, D))
    V = rng.integers(-127, 128, size=(16, D))
    vs = rng.uniform(0.01, 0.02, 16)
    q = np.zeros((8, D))
    q[:G] = rng.standard_normal((G, D)) * 0.1
    Kb = (K & 0xFF).astype(np.uint8)
    Vb = (V & 0xFF).astype(np.uint8)

    # K stage: instruction i, lane -> token x, chunk k (D/16 lanes per token), stored at x * D + 16 * kchunk(x, k)
    stage = {}
    for i in range(D // 32):
        for lane in range(32):
            f = 32 * i + lane
            x, k = f // (D // 16), f % (D // 16)
            dst = x * D + 16 * kchunk(x, k)
            assert dst not in stage
            stage[dst] = Kb[x][16 * k:16 * k + 16]
    assert len(stage) == D
    # no quarter warp's 16-byte K reads share a bank
    for n in range(2):
        for c in range(KB // 16):
            for ph in range(4):
                banks = {}
                for lane in range(8 * ph, 8 * ph + 8):
                    g, t = lane >> 2, lane & 3
                    a = (g + 8 * n) * D + 16 * kchunk(g + 8 * n, t + 4 * c)
                    for w in range(4):
                        banks.setdefault((a // 4 + w) % 32, set()).add(a)
                assert max(len(v) for v in banks.values()) == 1, "bank conflict"

    qa = [[(half2(*q[l >> 2][kdim(l & 3, s):kdim(l & 3, s) + 2]),
            half2(*q[l >> 2][kdim(l & 3, s) + 2:kdim(l & 3, s) + 4])) for s in range(KS)] for l in range(32)]
    s = [[[0.0] * 4 for _ in range(32)] for _ in range(2)]
    for n in range(2):
        for ks in range(KS):
            a_regs = [(qa[l][ks][0], 0, qa[l][ks][1], 0) for l in range(32)]
            b_regs = []
            for l in range(32):
                g, t = l >> 2, l & 3
                x = g + 8 * n
                chunk = stage[x * D + 16 * kchunk(x, t + 4 * (ks >> 2))]
                w = bias(words(chunk)[ks & 3])
                b_regs.append((pair_i8(w, 0), pair_i8(w, 1)))
            mma(s[n], a_regs, b_regs)
    S = q.astype(np.float16).astype(np.float64) @ K.T
    for l in range(32):
        g, t = l >> 2, l & 3
        for j in range(4):
            assert abs(s[j >> 1][l][j & 1] - S[g][2 * t + (j & 1) + 8 * (j >> 1)]) < 1e-9, "Q K^T"

    P = np.exp(S * 0.01 - (S * 0.01).max(axis=1, keepdims=True)) * vs[None, :]
    pb = []
    for l in range(32):
        g, t = l >> 2, l & 3
        pb.append((half2(P[g][2 * t], P[g][2 * t + 1]), half2(P[g][2 * t + 8], P[g][2 * t + 9])))
    o = [[[0.0] * 4 for _ in range(32)] for _ in range(KS)]
    vslice = lambda row, g: np.concatenate([row[CH * (g + 8 * c):CH * (g + 8 * c) + CH] for c in range(VB // CH)])
    for w in range(VB // 4):
        a0, a1 = [], []
        for l in range(32):
            g, t = l >> 2, l & 3
            vw = [words(vslice(Vb[tok], g))[w] for tok in (2 * t, 2 * t + 1, 2 * t + 8, 2 * t + 9)]
            lo01, hi01 = bias(prmt(vw[0], vw[1], 0x5140)), bias(prmt(vw[0], vw[1], 0x7362))
            lo23, hi23 = bias(prmt(vw[2], vw[3], 0x5140)), bias(prmt(vw[2], vw[3], 0x7362))
            a0.append((pair_i8(lo01, 0), pair_i8(lo01, 1), pair_i8(lo23, 0), pair_i8(lo23, 1)))
            a1.append((pair_i8(hi01, 0), pair_i8(hi01, 1), pair_i8(hi23, 0), pair_i8(hi23, 1)))
        mma(o[2 * w], a0, pb)
        mma(o[2 * w + 1], a1, pb)
    want = P.astype(np.float16).astype(np.float64) @ V
    got = np.full((8, D), np.nan)
    for mt in range(KS):
        for l in range(32):
            g, t = l >> 2, l & 3
            d0 = vdim(g, mt)
            for h, d, c in ((2 * t, d0, 0), (2 * t + 1, d0, 1), (2 * t, d0 + 1, 2), (2 * t + 1, d0 + 1, 3)):
                assert np.isnan(got[h][d]), "O^T element written twice"
                got[h][d] = o[mt][l][c]
    assert not np.isnan(got).any(), "O^T element not written"
    assert np.abs(got - want).max() < 1e-9, "V^T P^T"


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    for D in (64, 128, 256):
        for G in (1, 4, 8):
            model(D, G, rng)
        print(f"d={D}: Q K^T, V^T P^T, O^T coverage, K stage copies and bank map agree with the kernel's layouts")
