package dev.revenant.it;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict little JSON parser for checking what the CLI prints (the test class path has no JSON
 * library). Objects become {@code Map<String, Object>} (in order), arrays {@code List<Object>},
 * integers {@code Long}, other numbers {@code Double}; anything malformed, or text after the
 * value, throws {@link IllegalArgumentException} with the offset.
 */
final class MiniJson {
    private final String s;
    private int i;

    private MiniJson(String s) {
        this.s = s;
    }

    static Object parse(String text) {
        MiniJson p = new MiniJson(text);
        p.ws();
        Object v = p.value();
        p.ws();
        if (p.i != text.length()) {
            throw p.fail("text after the value");
        }
        return v;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("not a JSON object: " + text);
        }
        return (Map<String, Object>) v;
    }

    /** Walks a path of keys and indexes: {@code at(o, "sessions", 0, "epoch")}. */
    @SuppressWarnings("unchecked")
    static Object at(Object root, Object... path) {
        Object v = root;
        for (Object k : path) {
            if (k instanceof Integer n) {
                v = ((List<Object>) v).get(n);
            } else {
                Map<String, Object> m = (Map<String, Object>) v;
                if (!m.containsKey((String) k)) {
                    throw new IllegalArgumentException("no key " + k + " in " + m.keySet());
                }
                v = m.get((String) k);
            }
        }
        return v;
    }

    static long num(Object root, Object... path) {
        return ((Number) at(root, path)).longValue();
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object root, Object... path) {
        return (List<Object>) at(root, path);
    }

    private IllegalArgumentException fail(String what) {
        return new IllegalArgumentException(what + " at offset " + i + " of: "
                + (s.length() > 300 ? s.substring(0, 300) + "..." : s));
    }

    private void ws() {
        while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private Object value() {
        if (i >= s.length()) {
            throw fail("value expected");
        }
        char c = s.charAt(i);
        switch (c) {
            case '{' -> {
                return obj();
            }
            case '[' -> {
                return arr();
            }
            case '"' -> {
                return str();
            }
            case 't' -> {
                return word("true", Boolean.TRUE);
            }
            case 'f' -> {
                return word("false", Boolean.FALSE);
            }
            case 'n' -> {
                return word("null", null);
            }
            default -> {
                return number();
            }
        }
    }

    private Object word(String w, Object v) {
        if (!s.startsWith(w, i)) {
            throw fail("bad literal");
        }
        i += w.length();
        return v;
    }

    private Map<String, Object> obj() {
        Map<String, Object> m = new LinkedHashMap<>();
        i++;
        ws();
        if (peek('}')) {
            i++;
            return m;
        }
        while (true) {
            ws();
            if (!peek('"')) {
                throw fail("key expected");
            }
            String k = str();
            ws();
            expect(':');
            ws();
            if (m.put(k, value()) != null) {
                throw fail("duplicate key " + k);
            }
            ws();
            if (peek(',')) {
                i++;
                continue;
            }
            expect('}');
            return m;
        }
    }

    private List<Object> arr() {
        List<Object> l = new ArrayList<>();
        i++;
        ws();
        if (peek(']')) {
            i++;
            return l;
        }
        while (true) {
            ws();
            l.add(value());
            ws();
            if (peek(',')) {
                i++;
                continue;
            }
            expect(']');
            return l;
        }
    }

    private String str() {
        expect('"');
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw fail("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                throw fail("raw control character in a string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                    i += 4;
                }
                default -> throw fail("bad escape \\" + e);
            }
        }
    }

    private Object number() {
        int start = i;
        if (peek('-')) {
            i++;
        }
        while (i < s.length() && "0123456789.eE+-".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
        String n = s.substring(start, i);
        if (n.isEmpty() || n.equals("-")) {
            throw fail("value expected");
        }
        try {
            return n.matches("-?(0|[1-9][0-9]*)") ? (Object) Long.parseLong(n) : (Object) Double.parseDouble(n);
        } catch (NumberFormatException ex) {
            throw fail("bad number " + n);
        }
    }

    private boolean peek(char c) {
        return i < s.length() && s.charAt(i) == c;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw fail("'" + c + "' expected");
        }
        i++;
    }
}
