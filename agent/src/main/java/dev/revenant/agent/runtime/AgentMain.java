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
        // The log directory first: its problems are the user's to fix and get the clearest message.
        java.nio.file.Path log = "record".equals(config.role()) ? LogDirectory.prepareForWriting(config.log())
                : LogDirectory.requireReadableLog(config.log());
        BootBridge.install(inst, log);
        phases.mark("config+bridge");
        Session.start(config, inst, phases);
        return phases.toString();
    }

    static void setWriter(LogWriter w) {
        writer = w;
    }

    /** The log this JVM records into, or null before start-up or when not recording. */
    public static LogWriter writer() {
        return writer;
    }
}
