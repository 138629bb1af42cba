package io.vramkit.attention;

/** Argument checks shared by the attention entry points; every message names the argument and its value. */
final class Validation {

    private Validation() {
    }

    static void checkHeads(int heads, int kvHeads) {
        if (kvHeads < 1) {
            throw new IllegalArgumentException("kvHeads must be >= 1, got " + kvHeads);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("query heads (" + heads + ") must be a multiple of kvHeads ("
                    + kvHeads + ")");
        }
    }

    /**
     * Checks cumulative sequence offsets and returns the batch size.
     *
     * @param batch the expected batch size, or -1 to accept any
     */
    static int checkCuSeqlens(String name, int[] cu, int tokens, int batch) {
        if (cu == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        if (cu.length < 2) {
            throw new IllegalArgumentException(name + " must have batch+1 >= 2 entries, got " + cu.length);
        }
        if (batch >= 0 && cu.length != batch + 1) {
            throw new IllegalArgumentException(name + " must have batch+1 = " + (batch + 1) + " entries, got "
                    + cu.length);
        }
        if (cu[0] != 0) {
            throw new IllegalArgumentException(name + "[0] must be 0, got " + cu[0]);
        }
        for (int i = 1; i < cu.length; i++) {
            if (cu[i] < cu[i - 1]) {
                throw new IllegalArgumentException(name + " must be non-decreasing: " + name + "[" + i + "] = "
                        + cu[i] + " < " + name + "[" + (i - 1) + "] = " + cu[i - 1]);
            }
        }
        if (cu[cu.length - 1] != tokens) {
            throw new IllegalArgumentException(name + "[" + (cu.length - 1) + "] = " + cu[cu.length - 1]
                    + " must equal the token count " + tokens);
        }
        return cu.length - 1;
    }
}
