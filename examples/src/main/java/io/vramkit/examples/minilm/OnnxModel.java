package io.vramkit.examples.minilm;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The parts of an ONNX {@code ModelProto} that the MiniLM demo needs: the graph's nodes in file order, its
 * initializers (weights) by name, and the names of its inputs and outputs. Produced by {@link OnnxReader}.
 * Immutable apart from the weight arrays, which callers must treat as read-only; safe to share across threads
 * once built.
 *
 * @param nodes        the graph's nodes, in the order the file lists them (ONNX requires topological order)
 * @param initializers the initializer tensors by name
 * @param inputs       the graph input names (initializers that are also listed as inputs are excluded)
 * @param outputs      the graph output names
 */
public record OnnxModel(List<Node> nodes, Map<String, Tensor> initializers, List<String> inputs,
                        List<String> outputs) {

    /** ONNX {@code TensorProto.DataType} FLOAT. */
    public static final int FLOAT = 1;
    /** ONNX {@code TensorProto.DataType} INT64. */
    public static final int INT64 = 7;
    /** ONNX {@code TensorProto.DataType} INT32. */
    public static final int INT32 = 6;

    /** Copies the collections so the record is immutable. */
    public OnnxModel {
        nodes = List.copyOf(nodes);
        initializers = Map.copyOf(initializers);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /**
     * Returns an initializer by name.
     *
     * @throws IllegalArgumentException if there is no initializer called {@code name}
     */
    public Tensor initializer(String name) {
        Tensor t = initializers.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no initializer named '" + name + "' in the ONNX graph");
        }
        return t;
    }

    /**
     * One graph node.
     *
     * @param name       the node name (may be empty)
     * @param opType     the operator, e.g. {@code MatMul}
     * @param domain     the operator domain, empty for the default ONNX domain
     * @param inputs     input value names, in operator order
     * @param outputs    output value names
     * @param attributes integer and float attributes by name (other attribute kinds are skipped)
     */
    public record Node(String name, String opType, String domain, List<String> inputs, List<String> outputs,
                       Map<String, Double> attributes) {
        /** Copies the collections so the record is immutable. */
        public Node {
            inputs = List.copyOf(inputs);
            outputs = List.copyOf(outputs);
            attributes = Map.copyOf(attributes);
        }
    }

    /**
     * One initializer tensor. Exactly one of {@code floats} and {@code longs} is non-null, depending on the type.
     *
     * @param name     the tensor name
     * @param dims     the shape, outermost first
     * @param dataType the ONNX data type code ({@link #FLOAT}, {@link #INT64}, {@link #INT32})
     * @param floats   the values of a FLOAT tensor in row-major order, else null
     * @param longs    the values of an integer tensor in row-major order, else null
     */
    public record Tensor(String name, long[] dims, int dataType, float[] floats, long[] longs) {
        /** Checks that the payload matches the type and the shape. */
        public Tensor {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dims, "dims");
            long n = elementCount(dims);
            if (dataType == FLOAT) {
                if (floats == null || floats.length != n || longs != null) {
                    throw new IllegalArgumentException("FLOAT tensor '" + name + "' of shape " + Arrays.toString(dims)
                            + " has " + (floats == null ? "no" : floats.length) + " float values");
                }
            } else if (longs == null || longs.length != n || floats != null) {
                throw new IllegalArgumentException("integer tensor '" + name + "' of shape " + Arrays.toString(dims)
                        + " has " + (longs == null ? "no" : longs.length) + " integer values");
            }
        }

        /** The number of elements, the product of {@code dims} (1 for a scalar). */
        public long size() {
            return elementCount(dims);
        }

        /** The dims as ints. @throws ArithmeticException if a dim exceeds int range */
        public int[] intDims() {
            int[] d = new int[dims.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = Math.toIntExact(dims[i]);
            }
            return d;
        }

        private static long elementCount(long[] dims) {
            long n = 1;
            for (long d : dims) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dim " + d + " in " + Arrays.toString(dims));
                }
                n = Math.multiplyExact(n, d);
            }
            return n;
        }

        @Override
        public String toString() {
            return name + Arrays.toString(dims) + (dataType == FLOAT ? " float" : " int" + dataType);
        }
    }
}
