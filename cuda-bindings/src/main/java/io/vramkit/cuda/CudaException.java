package io.vramkit.cuda;

/**
 * A CUDA runtime, driver or cuBLAS call returned an error. Every call vramkit makes is checked; there is no
 * exceptions-off mode.
 *
 * <p>Carries the function that failed, the numeric code, its symbolic name (such as
 * {@code cudaErrorInsufficientDriver}) and the library's own message; {@link #getMessage()} adds a diagnosis for the
 * common set-up failures (no driver, driver too old, no device). Immutable.
 */
public class CudaException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Which API produced the code. */
    public enum Api {
        /** The CUDA runtime ({@code cudaError_t}). */
        RUNTIME,
        /** The CUDA driver ({@code CUresult}). */
        DRIVER,
        /** cuBLAS ({@code cublasStatus_t}). */
        CUBLAS
    }

    private final Api api;
    private final String function;
    private final int code;
    private final String errorName;
    private final String errorMessage;

    /**
     * @param api          which API produced the code
     * @param function     the C function that failed, e.g. {@code cudaMalloc}
     * @param code         the numeric error code
     * @param errorName    the code's symbolic name
     * @param errorMessage the library's description of the code
     * @param diagnosis    extra advice appended to the message, or null
     */
    public CudaException(Api api, String function, int code, String errorName, String errorMessage,
                         String diagnosis) {
        super(function + " failed: " + errorName + " (" + code + "): " + errorMessage
                + (diagnosis == null ? "" : ". " + diagnosis));
        this.api = api;
        this.function = function;
        this.code = code;
        this.errorName = errorName;
        this.errorMessage = errorMessage;
    }

    /** Which API produced the code. */
    public Api api() {
        return api;
    }

    /** The C function that failed. */
    public String function() {
        return function;
    }

    /** The numeric error code ({@code cudaError_t}, {@code CUresult} or {@code cublasStatus_t}). */
    public int code() {
        return code;
    }

    /** The code's symbolic name, e.g. {@code cudaErrorMemoryAllocation}. */
    public String errorName() {
        return errorName;
    }

    /** The library's description of the code. */
    public String errorMessage() {
        return errorMessage;
    }
}
