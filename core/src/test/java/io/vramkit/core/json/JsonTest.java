package io.vramkit.core.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void roundTripsNestedValues() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "quote \" backslash \\ newline \n tab \t ctrl \u0001 unicode é");
        m.put("long", Long.MIN_VALUE);
        m.put("double", 1.5e-7);
        m.put("whole", 3.0);
        m.put("t", true);
        m.put("n", null);
        m.put("list", Arrays.asList(1L, "two", List.of(), Map.of()));
        String json = Json.write(m);
        assertEquals(m, Json.parse(json));
        assertEquals(json, Json.write(Json.parse(json)));
        assertEquals(List.of(1L, 2.5, "x"), Json.parse(" [1, 2.5 , \"x\"] "));
    }

    @Test
    void errorsNameTheOffset() {
        for (String bad : new String[] {"", "{", "{\"a\" 1}", "[1,]", "\"abc", "tru", "{\"a\":1} x", "-", "\"\\q\""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
            assertTrue(e.getMessage().contains("offset"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[]"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(new Object()));
    }
}
