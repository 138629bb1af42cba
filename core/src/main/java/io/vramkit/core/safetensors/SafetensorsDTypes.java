package io.vramkit.core.safetensors;

import io.vramkit.core.DType;

/** Mapping between {@link DType} and the safetensors dtype strings. */
final class SafetensorsDTypes {

    private SafetensorsDTypes() {
    }

    static String name(DType t) {
        return switch (t) {
            case FP64 -> "F64";
            case FP32 -> "F32";
            case FP16 -> "F16";
            case BF16 -> "BF16";
            case FP8_E4M3 -> "F8_E4M3";
            case FP8_E5M2 -> "F8_E5M2";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case INT32 -> "I32";
            case INT64 -> "I64";
        };
    }

    static DType parse(String s, String tensor) {
        return switch (s) {
            case "F64" -> DType.FP64;
            case "F32" -> DType.FP32;
            case "F16" -> DType.FP16;
            case "BF16" -> DType.BF16;
            case "F8_E4M3" -> DType.FP8_E4M3;
            case "F8_E5M2" -> DType.FP8_E5M2;
            case "I8" -> DType.INT8;
            case "U8" -> DType.UINT8;
            case "I32" -> DType.INT32;
            case "I64" -> DType.INT64;
            default -> throw new IllegalArgumentException("tensor '" + tensor + "' has dtype '" + s
                    + "', which vramkit does not read (supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I8, U8, "
                    + "I32, I64)");
        };
    }
}
