package io.vramkit.core.testing;

import io.vramkit.core.json.Json;
import java.util.Map;

/**
 * JSON parsing for tests in any module (CLI {@code --json} lines, reports), through core's own small reader: objects
 * become {@link java.util.LinkedHashMap}, arrays {@link java.util.ArrayList}, integers {@link Long}, other numbers
 * {@link Double}. Stateless and thread-safe.
 */
public final class TestJson {

    private TestJson() {
    }

    /** Parses one JSON value. @throws IllegalArgumentException naming the offset of the first error */
    public static Object parse(String text) {
        return Json.parse(text);
    }

    /** Parses one JSON object. @throws IllegalArgumentException if the text is not one object */
    public static Map<String, Object> parseObject(String text) {
        return Json.parseObject(text);
    }

    /** Writes maps, lists, strings, numbers, booleans and null as compact JSON. */
    public static String write(Object value) {
        return Json.write(value);
    }
}
