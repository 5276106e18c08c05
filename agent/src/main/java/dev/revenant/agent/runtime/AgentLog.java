package dev.revenant.agent.runtime;

/** The agent's own messages: one line each on stderr, prefixed, never on the app's stdout. */
public final class AgentLog {
    private AgentLog() {}

    public static void error(String message) {
        System.err.println("revenant: " + message);
        System.err.flush();
    }

    public static void warn(String message) {
        System.err.println("revenant: warning: " + message);
        System.err.flush();
    }

    public static void info(String message) {
        if (!"false".equals(System.getProperty("revenant.verbose"))) {
            System.err.println("revenant: " + message);
            System.err.flush();
        }
    }
}
