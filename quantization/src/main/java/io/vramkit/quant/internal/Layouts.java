package io.vramkit.quant.internal;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian value layouts and numeric constants shared by the kernels; the byte order of docs/formats.md. */
public final class Layouts {

    /** Little-endian unaligned float. */
    public static final ValueLayout.OfFloat F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Little-endian unaligned short (FP16 and BF16 bit patterns). */
    public static final ValueLayout.OfShort I16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** A byte. */
    public static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /**
     * The NF4 codebook of QLoRA (Dettmers et al. 2023, Appendix E; the values of bitsandbytes), indexed by the
     * 4-bit code.
     */
    public static final float[] NF4 = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

    /**
     * Decision thresholds between neighbouring NF4 codes: the code of a normalized value {@code v} is the number
     * of thresholds with {@code v > threshold}, so a value exactly on a midpoint takes the lower code.
     */
    public static final float[] NF4_MIDPOINTS = new float[15];

    static {
        for (int i = 0; i < 15; i++) {
            NF4_MIDPOINTS[i] = (NF4[i] + NF4[i + 1]) * 0.5f;
        }
    }

    /** Adding then subtracting this rounds a float of magnitude below 2^22 to the nearest integer, ties to even. */
    public static final float RINT_MAGIC = 12582912f;

    private Layouts() {
    }

    /** The NF4 code of a normalized value; see {@link #NF4_MIDPOINTS}. NaN maps to 0. */
    public static int nf4Code(float v) {
        int q = 0;
        for (float m : NF4_MIDPOINTS) {
            q += v > m ? 1 : 0;
        }
        return q;
    }

    /** float to bfloat16 bits, round to nearest even (the input must not be NaN). */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** bfloat16 bits to float (exact). */
    public static float fromBf16(short h) {
        return Float.intBitsToFloat(h << 16);
    }
}
