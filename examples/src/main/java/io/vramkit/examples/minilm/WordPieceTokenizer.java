package io.vramkit.examples.minilm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * BERT WordPiece tokenizer built from a Hugging Face {@code tokenizer.json} of type {@code WordPiece} with a
 * {@code BertNormalizer} and a {@code BertPreTokenizer}, reproducing what the Hugging Face {@code tokenizers}
 * library does for a single sequence:
 * <ol>
 *   <li>added (special) tokens such as {@code [CLS]} or {@code [MASK]} written literally in the text are matched
 *       first, on the raw text, and kept whole;</li>
 *   <li>normalization: drop NUL, U+FFFD and control characters, map whitespace to a space, surround CJK ideographs
 *       with spaces, strip accents (NFD, drop non-spacing marks; on when {@code strip_accents} is true, or null
 *       while {@code lowercase} is true), lower-case each code point;</li>
 *   <li>pre-tokenization: split on whitespace, and isolate each punctuation character (ASCII punctuation and the
 *       Unicode P* categories);</li>
 *   <li>WordPiece: greedy longest match from the left, continuation pieces prefixed with {@code ##}; a word that
 *       cannot be covered, or is longer than {@code max_input_chars_per_word} characters, becomes {@code [UNK]};</li>
 *   <li>post-processing: {@code [CLS] … [SEP]}; the word pieces are cut on the right so that the whole sequence has
 *       at most {@code maxLength} ids (the model's position limit, 512 for MiniLM).</li>
 * </ol>
 * The {@code truncation} and {@code padding} sections of the JSON (128, fixed) are not used: the demo truncates at
 * the model's position limit and packs sequences without padding. Immutable and thread-safe.
 */
public final class WordPieceTokenizer {

    /** The tokenization of one text. */
    public record Encoding(int[] ids, int untruncatedLength) {
        /** Validates the ids. */
        public Encoding {
            Objects.requireNonNull(ids, "ids");
        }

        /** Whether the text produced more ids than fit, so its tail was cut. */
        public boolean truncated() {
            return untruncatedLength > ids.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Encoding e && Arrays.equals(ids, e.ids) && untruncatedLength == e.untruncatedLength;
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(ids) * 31 + untruncatedLength;
        }

        @Override
        public String toString() {
            return Arrays.toString(ids) + (truncated() ? " (truncated from " + untruncatedLength + ")" : "");
        }
    }

    private final Map<String, Integer> vocab;
    private final String[] added;
    private final int[] addedIds;
    private final int unkId;
    private final int clsId;
    private final int sepId;
    private final String prefix;
    private final int maxCharsPerWord;
    private final boolean lowercase;
    private final boolean stripAccents;
    private final boolean cleanText;
    private final boolean chineseChars;
    private final int maxLength;

    private WordPieceTokenizer(Map<String, Object> json, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must be >= 2 (room for [CLS] and [SEP]), got " + maxLength);
        }
        this.maxLength = maxLength;
        Map<String, Object> model = map(json, "model");
        if (!"WordPiece".equals(model.get("type"))) {
            throw new IllegalArgumentException("tokenizer.json model.type must be WordPiece, got " + model.get("type"));
        }
        Map<String, Object> v = map(model, "vocab");
        Map<String, Integer> vocabulary = new HashMap<>(v.size() * 2);
        for (var e : v.entrySet()) {
            vocabulary.put(e.getKey(), ((Number) e.getValue()).intValue());
        }
        this.vocab = Map.copyOf(vocabulary);
        this.prefix = String.valueOf(model.getOrDefault("continuing_subword_prefix", "##"));
        this.maxCharsPerWord = ((Number) model.getOrDefault("max_input_chars_per_word", 100L)).intValue();
        this.unkId = id(String.valueOf(model.getOrDefault("unk_token", "[UNK]")));
        this.clsId = id("[CLS]");
        this.sepId = id("[SEP]");
        Map<String, Object> norm = map(json, "normalizer");
        if (!"BertNormalizer".equals(norm.get("type"))) {
            throw new IllegalArgumentException("tokenizer.json normalizer.type must be BertNormalizer, got "
                    + norm.get("type"));
        }
        this.lowercase = Boolean.TRUE.equals(norm.get("lowercase"));
        Object strip = norm.get("strip_accents");
        this.stripAccents = strip == null ? lowercase : Boolean.TRUE.equals(strip);
        this.cleanText = !Boolean.FALSE.equals(norm.get("clean_text"));
        this.chineseChars = !Boolean.FALSE.equals(norm.get("handle_chinese_chars"));
        List<String> addedTokens = new ArrayList<>();
        List<Integer> addedIdList = new ArrayList<>();
        Object at = json.get("added_tokens");
        if (at instanceof List<?> list) {
            for (Object o : list) {
                @SuppressWarnings("unchecked")
                Map<String, Object> t = (Map<String, Object>) o;
                addedTokens.add((String) t.get("content"));
                addedIdList.add(((Number) t.get("id")).intValue());
            }
        }
        this.added = addedTokens.toArray(String[]::new);
        this.addedIds = addedIdList.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Reads a tokenizer from a {@code tokenizer.json} stream (read to the end, not closed).
     *
     * @param json      the tokenizer.json bytes, UTF-8
     * @param maxLength the most ids one encoding may have, {@code [CLS]} and {@code [SEP]} included (512 for
     *                  MiniLM)
     * @throws IOException              if reading fails
     * @throws IllegalArgumentException if the JSON is not a BERT WordPiece tokenizer or {@code maxLength < 2}
     */
    public static WordPieceTokenizer read(InputStream json, int maxLength) throws IOException {
        Objects.requireNonNull(json, "json");
        Object root = Json.parse(new String(json.readAllBytes(), StandardCharsets.UTF_8));
        if (!(root instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("tokenizer.json must hold a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) root;
        return new WordPieceTokenizer(m, maxLength);
    }

    /** The vocabulary size. */
    public int vocabSize() {
        return vocab.size();
    }

    /** The most ids an encoding may have. */
    public int maxLength() {
        return maxLength;
    }

    /**
     * Tokenizes one text into {@code [CLS] pieces… [SEP]}, truncated to {@link #maxLength()} ids.
     *
     * @throws NullPointerException if {@code text} is null
     */
    public Encoding encode(String text) {
        Objects.requireNonNull(text, "text");
        List<Integer> pieces = new ArrayList<>();
        int start = 0;
        while (start <= text.length()) {
            int best = -1;
            int bestAt = text.length();
            for (int k = 0; k < added.length; k++) {
                int at = text.indexOf(added[k], start);
                if (at >= 0 && (at < bestAt || (at == bestAt && best >= 0 && added[k].length() > added[best].length()))) {
                    best = k;
                    bestAt = at;
                }
            }
            tokenizeSegment(text.substring(start, bestAt), pieces);
            if (best < 0) {
                break;
            }
            pieces.add(addedIds[best]);
            start = bestAt + added[best].length();
        }
        int keep = Math.min(pieces.size(), maxLength - 2);
        int[] ids = new int[keep + 2];
        ids[0] = clsId;
        for (int k = 0; k < keep; k++) {
            ids[k + 1] = pieces.get(k);
        }
        ids[keep + 1] = sepId;
        return new Encoding(ids, pieces.size() + 2);
    }

    private void tokenizeSegment(String raw, List<Integer> out) {
        if (raw.isEmpty()) {
            return;
        }
        String text = normalize(raw);
        StringBuilder word = new StringBuilder();
        for (int k = 0; k < text.length(); ) {
            int cp = text.codePointAt(k);
            k += Character.charCount(cp);
            if (isWhitespace(cp)) {
                flush(word, out);
            } else if (isPunctuation(cp)) {
                flush(word, out);
                word.appendCodePoint(cp);
                flush(word, out);
            } else {
                word.appendCodePoint(cp);
            }
        }
        flush(word, out);
    }

    private void flush(StringBuilder word, List<Integer> out) {
        if (word.isEmpty()) {
            return;
        }
        String w = word.toString();
        word.setLength(0);
        if (w.codePointCount(0, w.length()) > maxCharsPerWord) {
            out.add(unkId);
            return;
        }
        int mark = out.size();
        int start = 0;
        while (start < w.length()) {
            int end = w.length();
            Integer found = null;
            while (end > start) {
                String sub = w.substring(start, end);
                if (start > 0) {
                    sub = prefix + sub;
                }
                found = vocab.get(sub);
                if (found != null) {
                    break;
                }
                end = Character.isLowSurrogate(w.charAt(end - 1)) && end - 2 > start ? end - 2 : end - 1;
            }
            if (found == null) {
                while (out.size() > mark) {
                    out.remove(out.size() - 1);
                }
                out.add(unkId);
                return;
            }
            out.add(found);
            start = end;
        }
    }

    private String normalize(String raw) {
        StringBuilder b = new StringBuilder(raw.length() + 8);
        for (int k = 0; k < raw.length(); ) {
            int cp = raw.codePointAt(k);
            k += Character.charCount(cp);
            if (cleanText) {
                if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
                    continue;
                }
                if (isWhitespace(cp)) {
                    cp = ' ';
                }
            }
            if (chineseChars && isCjk(cp)) {
                b.append(' ').appendCodePoint(cp).append(' ');
            } else {
                b.appendCodePoint(cp);
            }
        }
        String s = b.toString();
        if (stripAccents) {
            String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
            StringBuilder c = new StringBuilder(nfd.length());
            nfd.codePoints().filter(cp -> Character.getType(cp) != Character.NON_SPACING_MARK)
                    .forEach(c::appendCodePoint);
            s = c.toString();
        }
        if (lowercase) {
            // Per code point, as Rust's char::to_lowercase: no context-dependent final sigma, but multi-char
            // results such as U+0130 -> "i\u0307" are kept.
            StringBuilder c = new StringBuilder(s.length());
            s.codePoints().forEach(cp -> c.append(new String(Character.toChars(cp)).toLowerCase(Locale.ROOT)));
            s = c.toString();
        }
        return s;
    }

    /** Rust's {@code char::is_whitespace} (the Unicode White_Space property) plus tab, newline, return. */
    static boolean isWhitespace(int cp) {
        return switch (cp) {
            case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 -> true;
            default -> cp >= 0x2000 && cp <= 0x200A;
        };
    }

    /**
     * Categories Cc, Cf, Co, Cs, except tab, newline and return, which count as whitespace. Unassigned code points
     * (Cn) are kept, as the reference does (they then become {@code [UNK]}).
     */
    static boolean isControl(int cp) {
        if (cp == '\t' || cp == '\n' || cp == '\r') {
            return false;
        }
        int t = Character.getType(cp);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.PRIVATE_USE
                || t == Character.SURROGATE;
    }

    /** ASCII punctuation, or Unicode categories Pc, Pd, Ps, Pe, Pi, Pf, Po. */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
            return true;
        }
        int t = Character.getType(cp);
        return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION
                || t == Character.START_PUNCTUATION || t == Character.END_PUNCTUATION
                || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
                || t == Character.OTHER_PUNCTUATION;
    }

    /** The CJK ideograph blocks BERT isolates. */
    static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }

    private int id(String token) {
        Integer i = vocab.get(token);
        if (i == null) {
            throw new IllegalArgumentException("tokenizer.json vocabulary has no '" + token + "'");
        }
        return i;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Map<String, Object> m, String key) {
        Object o = m.get(key);
        if (!(o instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("tokenizer.json has no object '" + key + "'");
        }
        return (Map<String, Object>) o;
    }
}
