package io.vramkit.examples.plan;

import io.vramkit.core.json.Json;
import java.util.Locale;

/** Builds one JSON object on one line, fields in insertion order. Not thread-safe. */
public final class JsonOut {

    private final StringBuilder sb = new StringBuilder("{");

    /** Adds a string field (null becomes JSON null). */
    public JsonOut put(String key, String v) {
        key(key);
        if (v == null) {
            sb.append("null");
        } else {
            quote(v);
        }
        return this;
    }

    /** Adds an integer field. */
    public JsonOut put(String key, long v) {
        key(key);
        sb.append(v);
        return this;
    }

    /** Adds a number field (non-finite values become null). */
    public JsonOut put(String key, double v) {
        key(key);
        sb.append(Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v).replaceAll("\\.?0+(e|$)", "$1")
                : "null");
        return this;
    }

    /** Adds a boolean field. */
    public JsonOut put(String key, boolean v) {
        key(key);
        sb.append(v);
        return this;
    }

    /** Adds a nested object built by another JsonOut. */
    public JsonOut put(String key, JsonOut v) {
        key(key);
        sb.append(v);
        return this;
    }

    private void key(String k) {
        if (sb.length() > 1) {
            sb.append(',');
        }
        quote(k);
        sb.append(':');
    }

    private void quote(String s) {
        Json.quote(s, sb);
    }

    @Override
    public String toString() {
        return sb + "}";
    }
}
