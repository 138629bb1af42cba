package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Our WordPiece tokenizer against the reference: Hugging Face {@code tokenizers} (the Rust library, through DJL's
 * JNI binding) loading the very same tokenizer.json from the langchain4j artifact, with truncation at 512 and no
 * padding.
 */
class WordPieceTokenizerTest {

    private static WordPieceTokenizer ours;
    private static HuggingFaceTokenizer reference;

    @BeforeAll
    static void load() throws Exception {
        ours = MiniLmModel.tokenizer();
        try (InputStream in = MiniLmModel.open(MiniLmModel.TOKENIZER_RESOURCE)) {
            reference = HuggingFaceTokenizer.newInstance(in, Map.of("maxLength", "512", "truncation", "true",
                    "padding", "false", "addSpecialTokens", "true"));
        }
    }

    @AfterAll
    static void close() {
        reference.close();
    }

    private static void assertSame(String text) {
        Encoding ref = reference.encode(text);
        long[] r = ref.getIds();
        int[] o = ours.encode(text).ids();
        long[] ol = Arrays.stream(o).asLongStream().toArray();
        assertArrayEquals(r, ol, () -> "ids differ for <" + text + ">\nref  " + Arrays.toString(ref.getTokens())
                + "\nours " + Arrays.toString(o));
    }

    @Test
    void everyDefaultSentenceMatchesTheReference() {
        List<String> sentences = SentenceSet.defaults();
        assertTrue(sentences.size() >= 200, "default set has " + sentences.size() + " sentences");
        int truncated = 0;
        for (String s : sentences) {
            assertSame(s);
            WordPieceTokenizer.Encoding e = ours.encode(s);
            if (e.truncated()) {
                truncated++;
                assertEquals(512, e.ids().length);
                assertTrue(reference.encode(s).exceedMaxLength() || reference.encode(s).getIds().length == 512);
            }
        }
        assertTrue(truncated >= 1, "the default set must hold at least one input over 512 tokens");
    }

    @Test
    void edgeCasesMatchTheReference() {
        List<String> edge = new ArrayList<>(List.of(
                "", " ", "\t\n", "[CLS]", "hello [MASK] world", "a[SEP]b", "[UNK][PAD]", "[cls] lower-case special",
                "non\u00A0breaking\u2003em-space\u3000ideographic", "zero\u200Bwidth\u200Djoiner\uFEFFbom",
                "ctrl\u0001\u0007\u000B\u000C\u0085chars", "replacement \uFFFD char", "NUL\u0000byte",
                "İstanbul ΟΔΟΣ Σίσυφος ǅ ß ﬁ", "e\u0301 combining accent, Å vs A\u030A", "한국어 ひらがな カタカナ 漢字 𠀀𪜀",
                "x".repeat(100), "y".repeat(101), "émoji 🧑‍🤝‍🧑 flags 🇫🇷 keycap 1️⃣", "$5 + 3^2 = <x> | ~y` {z}",
                "«guillemets» ¿qué? ¡sí! – — … · • ‰ ′ ″", "unaffable unbelievably rebuilding",
                "word ".repeat(600), "a,".repeat(400)));
        for (String s : edge) {
            assertSame(s);
        }
    }

    @Test
    void randomUnicodeMatchesTheReference() {
        Random rnd = new Random(7);
        int[][] ranges = {{0x20, 0x7E}, {0xA0, 0x24F}, {0x370, 0x3FF}, {0x400, 0x4FF}, {0x4E00, 0x4E80},
                {0x3040, 0x30FF}, {0x2000, 0x206F}, {0x1F600, 0x1F64F}, {0x0, 0x20}};
        for (int n = 0; n < 300; n++) {
            StringBuilder b = new StringBuilder();
            int len = 1 + rnd.nextInt(40);
            for (int i = 0; i < len; i++) {
                int[] r = ranges[rnd.nextInt(ranges.length)];
                b.appendCodePoint(r[0] + rnd.nextInt(r[1] - r[0] + 1));
            }
            assertSame(b.toString());
        }
    }

    @Test
    void truncationKeepsClsAndSep() {
        WordPieceTokenizer.Encoding e = ours.encode("word ".repeat(1000));
        assertEquals(512, e.ids().length);
        assertEquals(1002, e.untruncatedLength());
        assertTrue(e.truncated());
        assertEquals(101, e.ids()[0]);
        assertEquals(102, e.ids()[511]);
        assertEquals(2, ours.encode("").ids().length);
    }

    @Test
    void badArgumentsAreNamed() throws Exception {
        byte[] json = MiniLmModel.open(MiniLmModel.TOKENIZER_RESOURCE).readAllBytes();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WordPieceTokenizer.read(new ByteArrayInputStream(json), 1));
        assertTrue(e.getMessage().contains("maxLength") && e.getMessage().contains("1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.read(
                new ByteArrayInputStream("{\"model\":{\"type\":\"BPE\"}}".getBytes(StandardCharsets.UTF_8)), 512));
        assertTrue(e.getMessage().contains("BPE"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.read(
                new ByteArrayInputStream("{\"model\": [1,".getBytes(StandardCharsets.UTF_8)), 512));
        assertTrue(e.getMessage().contains("offset"), e.getMessage());
        assertThrows(NullPointerException.class, () -> ours.encode(null));
        // The tokenizer is immutable: a failed call leaves it working.
        assertSame("still works");
    }
}
