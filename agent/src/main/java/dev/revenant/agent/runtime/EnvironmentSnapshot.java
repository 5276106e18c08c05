package dev.revenant.agent.runtime;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The start-up environment of a recorded run: the command line, environment variables and system
 * properties. Recorded once; in replay the app sees the recorded values, and each difference from
 * the live ones is reported as a warning.
 */
record EnvironmentSnapshot(String command, Map<String, String> env, Map<String, String> properties) {

    /** Properties that belong to the agent or differ by design between record and replay. */
    private static boolean ours(String key) {
        return key.startsWith("revenant.") || key.startsWith("jffi.") || key.startsWith("jna.")
                || key.startsWith("chronicle.") || key.equals("sun.java.command") || key.startsWith("slf4j.")
                || key.equals("disable.perf.info") || key.equals("jnidispatch.path");
    }

    /** The agent's own variables ({@code REVENANT_*}): settings of this run, not inputs of the app. */
    private static boolean oursEnv(String key) {
        return key.startsWith("REVENANT_");
    }

    static EnvironmentSnapshot live() {
        Properties props = System.getProperties();
        Map<String, String> sys = new TreeMap<>();
        for (String k : props.stringPropertyNames()) {
            if (!ours(k)) {
                sys.put(k, props.getProperty(k));
            }
        }
        Map<String, String> env = new TreeMap<>(System.getenv());
        env.keySet().removeIf(EnvironmentSnapshot::oursEnv);
        return new EnvironmentSnapshot(System.getProperty("sun.java.command", ""), env, sys);
    }

    byte[] encode() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF("revenant-env-1");
        str(out, command);
        map(out, env);
        map(out, properties);
        out.flush();
        return bytes.toByteArray();
    }

    static EnvironmentSnapshot decode(byte[] payload) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(payload));
        String magic = in.readUTF();
        if (!magic.equals("revenant-env-1")) {
            throw new IOException("unknown environment record format '" + magic + "'");
        }
        return new EnvironmentSnapshot(str(in), map(in), map(in));
    }

    /** Names of the differences between this (recorded) snapshot and {@code live}. */
    List<String> differences(EnvironmentSnapshot live) {
        List<String> d = new ArrayList<>();
        if (!command.equals(live.command)) {
            d.add("command line (" + command + " vs " + live.command + ")");
        }
        diff("environment variable", env, live.env, d);
        diff("system property", properties, live.properties, d);
        return d;
    }

    /**
     * Set by the JDK on first use (time zones), so whether it exists at start-up is timing; or set
     * by the shell to what differs by nature between the recorded run and its replay started from
     * the CLI ({@code _}, the command's path; {@code SHLVL}; {@code OLDPWD}): not worth a warning.
     */
    private static boolean lazy(String key) {
        return key.equals("user.timezone") || key.equals("_") || key.equals("SHLVL") || key.equals("OLDPWD");
    }

    private static void diff(String what, Map<String, String> rec, Map<String, String> now, List<String> out) {
        for (Map.Entry<String, String> e : rec.entrySet()) {
            String v = now.get(e.getKey());
            if (lazy(e.getKey()) && (v == null || !e.getKey().equals("user.timezone"))) {
                continue;
            }
            if (v == null) {
                out.add(what + " " + e.getKey() + " (missing now)");
            } else if (!v.equals(e.getValue())) {
                out.add(what + " " + e.getKey());
            }
        }
        for (String k : now.keySet()) {
            if (!rec.containsKey(k) && !lazy(k)) {
                out.add(what + " " + k + " (new now)");
            }
        }
    }

    /** Makes the running JVM show the recorded environment variables and system properties. */
    void apply() throws ReflectiveOperationException {
        Properties props = System.getProperties();
        for (String k : new ArrayList<>(props.stringPropertyNames())) {
            if (!ours(k) && !properties.containsKey(k)) {
                props.remove(k);
            }
        }
        properties.forEach((k, v) -> {
            if (!v.equals(props.getProperty(k))) {
                props.setProperty(k, v);
            }
        });
        // System.getenv() and getenv(name) serve an unmodifiable wrapper built at start-up (a
        // static final field); swap the map it wraps for the recorded variables.
        Class<?> pe = Class.forName("java.lang.ProcessEnvironment");
        Field unmodifiable = pe.getDeclaredField("theUnmodifiableEnvironment");
        unmodifiable.setAccessible(true);
        Object wrapper = unmodifiable.get(null);
        Field inner = wrapper.getClass().getDeclaredField("m");
        inner.setAccessible(true);
        Map<String, String> shown = new TreeMap<>(env);
        System.getenv().forEach((k, v) -> {
            if (oursEnv(k)) {
                shown.put(k, v); // the agent reads its settings through the same map
            }
        });
        inner.set(wrapper, shown);
    }

    private static void str(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String str(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > (64 << 20)) {
            throw new IOException("environment record is damaged (string of " + n + " bytes)");
        }
        byte[] b = in.readNBytes(n);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void map(DataOutputStream out, Map<String, String> m) throws IOException {
        out.writeInt(m.size());
        for (Map.Entry<String, String> e : m.entrySet()) {
            str(out, e.getKey());
            str(out, e.getValue());
        }
    }

    private static Map<String, String> map(DataInputStream in) throws IOException {
        int n = in.readInt();
        Map<String, String> m = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            m.put(str(in), str(in));
        }
        return m;
    }
}
