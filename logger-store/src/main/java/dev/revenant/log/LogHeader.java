package dev.revenant.log;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Payload of a {@link RecordTypes#HEADER} record, written first by every writer session.
 *
 * <p>Encoded as UTF-8 {@code key=value} lines so that a new field never breaks an old reader and
 * {@code inspect} can print it as it is. Keys: {@code format}, {@code epoch}, {@code mainClass},
 * {@code classPathHash}, {@code jvmVersion}, {@code agentVersion}, {@code vmFlags}, {@code startedAtMillis}, and,
 * when the session found an earlier log, {@code previousEnd} (last intact position),
 * {@code previousStable} (highest stable watermark found) and {@code previousDroppedBytes}.
 */
public record LogHeader(int formatVersion, int epoch, AppFingerprint fingerprint, long startedAtMillis,
                        long previousEnd, long previousStable, long previousDroppedBytes) {

    public byte[] encode() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", Integer.toString(formatVersion));
        m.put("epoch", Integer.toString(epoch));
        m.put("mainClass", fingerprint.mainClass());
        m.put("classPathHash", fingerprint.classPathHash());
        m.put("jvmVersion", fingerprint.jvmVersion());
        m.put("agentVersion", fingerprint.agentVersion());
        m.put("vmFlags", fingerprint.vmFlags());
        m.put("startedAtMillis", Long.toString(startedAtMillis));
        m.put("previousEnd", Long.toString(previousEnd));
        m.put("previousStable", Long.toString(previousStable));
        m.put("previousDroppedBytes", Long.toString(previousDroppedBytes));
        StringBuilder sb = new StringBuilder();
        m.forEach((k, v) -> sb.append(k).append('=').append(v.replace('\n', ' ')).append('\n'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Decodes a header payload; throws {@link IllegalArgumentException} naming what is wrong. */
    public static LogHeader decode(byte[] payload) {
        Map<String, String> m = fields(payload);
        String format = m.get("format");
        if (format == null) {
            throw new IllegalArgumentException("header record has no format version");
        }
        return new LogHeader(Integer.parseInt(format), Integer.parseInt(m.getOrDefault("epoch", "0")),
                new AppFingerprint(m.getOrDefault("mainClass", "?"), m.getOrDefault("classPathHash", "?"),
                        m.getOrDefault("jvmVersion", "?"), m.getOrDefault("agentVersion", "?"),
                        m.getOrDefault("vmFlags", "")),
                Long.parseLong(m.getOrDefault("startedAtMillis", "0")),
                Long.parseLong(m.getOrDefault("previousEnd", "-1")),
                Long.parseLong(m.getOrDefault("previousStable", "-1")),
                Long.parseLong(m.getOrDefault("previousDroppedBytes", "0")));
    }

    /** The raw key/value pairs of a header payload, in order. */
    public static Map<String, String> fields(byte[] payload) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : new String(payload, StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }
}
