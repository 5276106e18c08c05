package dev.revenant.agent.runtime;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.instrument.Instrumentation;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import dev.revenant.agent.config.AgentConfig;
import dev.revenant.log.AppFingerprint;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * The agent runtime, started by the bootstrap premain once java.base is open to it.
 *
 * <p>This first version opens the log (one writer session: header with the app fingerprint),
 * records the start-up environment (arguments, environment variables, system properties) as one
 * durable record, and closes the log at shutdown. Clocks, randomness, sockets and threads come in
 * the next issues.
 */
public final class AgentMain {
    private static volatile LogWriter writer;

    private AgentMain() {}

    public static void start(String agentArgs, Instrumentation inst) throws IOException {
        AgentConfig config = AgentConfig.parse(agentArgs, System.getenv(), System.getProperties());
        String command = System.getProperty("sun.java.command", "?");
        String main = command.split(" ")[0];
        String version = AgentMain.class.getPackage().getImplementationVersion();
        AppFingerprint fp = AppFingerprint.compute(main, System.getProperty("java.class.path"),
                version == null ? "dev" : version);
        LogWriter w = LogWriter.open(config.log(), new LogWriter.Options().fingerprint(fp));
        long p = w.append(RecordTypes.ENVIRONMENT, 0, 0, environment(command));
        w.awaitStable(p);
        writer = w;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                w.close();
            } catch (Throwable t) {
                System.err.println("revenant: closing the log failed: " + t.getMessage());
            }
        }, "revenant-shutdown"));
    }

    /** The log this JVM records into, or null before start-up or when not recording. */
    public static LogWriter writer() {
        return writer;
    }

    /** Command line, environment variables and system properties, each sorted, as one payload. */
    static byte[] environment(String command) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeUTF("command");
        writeLong(out, command);
        Map<String, String> env = new TreeMap<>(System.getenv());
        out.writeInt(env.size());
        for (Map.Entry<String, String> e : env.entrySet()) {
            writeLong(out, e.getKey());
            writeLong(out, e.getValue());
        }
        Properties props = System.getProperties();
        Map<String, String> sys = new TreeMap<>();
        for (String k : props.stringPropertyNames()) {
            sys.put(k, props.getProperty(k));
        }
        out.writeInt(sys.size());
        for (Map.Entry<String, String> e : sys.entrySet()) {
            writeLong(out, e.getKey());
            writeLong(out, e.getValue());
        }
        out.flush();
        return bytes.toByteArray();
    }

    private static void writeLong(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }
}
