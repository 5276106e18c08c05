package dev.revenant.agent.runtime;

import java.lang.instrument.Instrumentation;

import dev.revenant.agent.config.AgentConfig;
import dev.revenant.log.LogDirectory;
import dev.revenant.log.LogWriter;

/**
 * The agent runtime's entry, started by the bootstrap premain once java.base is open to it. It
 * parses the configuration, makes sure the bridge classes come from the boot loader, and hands
 * over to {@link Session}, which is the first class that names bridge types.
 */
public final class AgentMain {
    private static volatile LogWriter writer;

    private AgentMain() {}

    /**
     * Starts the agent in its role. Returns the time each phase took (one line of text), which
     * the bootstrap premain prints under {@code REVENANT_DEBUG_STARTUP=1}.
     */
    public static String start(String agentArgs, Instrumentation inst) throws Exception {
        StartupPhases phases = new StartupPhases();
        AgentConfig config = AgentConfig.parse(agentArgs, System.getenv(), System.getProperties());
        if (!config.disable().contains("sockets") && usesPlainSocketImpl()) {
            throw new AgentConfig.ConfigException("-Djdk.net.usePlainSocketImpl is set: on JDK 17 java.net.Socket and "
                    + "ServerSocket then use the legacy PlainSocketImpl, which Revenant does not record; remove the "
                    + "property (or set it to false)");
        }
        // The log directory first: its problems are the user's to fix and get the clearest message.
        java.nio.file.Path log = "record".equals(config.role()) ? LogDirectory.prepareForWriting(config.log())
                : LogDirectory.requireReadableLog(config.log());
        BootBridge.install(inst, log);
        phases.mark("config+bridge");
        Session.start(config, inst, phases);
        return phases.toString();
    }

    /**
     * JDK 17 falls back to the legacy {@code PlainSocketImpl} when {@code jdk.net.usePlainSocketImpl}
     * is set (system property or {@code conf/net.properties}) and is not "false"; JDK 18 removed it.
     * Reads the JDK's own decision, {@code SocketImpl.USE_PLAINSOCKETIMPL}, and falls back to the
     * property's rule if that field cannot be read.
     */
    static boolean usesPlainSocketImpl() {
        if (Runtime.version().feature() >= 18) {
            return false;
        }
        try {
            java.lang.reflect.Field f = Class.forName("java.net.SocketImpl", true, null)
                    .getDeclaredField("USE_PLAINSOCKETIMPL");
            Class<?> u = Class.forName("jdk.internal.misc.Unsafe");
            Object unsafe = u.getMethod("getUnsafe").invoke(null);
            Object base = u.getMethod("staticFieldBase", java.lang.reflect.Field.class).invoke(unsafe, f);
            long offset = (long) u.getMethod("staticFieldOffset", java.lang.reflect.Field.class).invoke(unsafe, f);
            return (boolean) u.getMethod("getBoolean", Object.class, long.class).invoke(unsafe, base, offset);
        } catch (ReflectiveOperationException | RuntimeException e) {
            String v = System.getProperty("jdk.net.usePlainSocketImpl");
            return v != null && !v.equalsIgnoreCase("false");
        }
    }

    static void setWriter(LogWriter w) {
        writer = w;
    }

    /** The log this JVM records into, or null before start-up or when not recording. */
    public static LogWriter writer() {
        return writer;
    }
}
