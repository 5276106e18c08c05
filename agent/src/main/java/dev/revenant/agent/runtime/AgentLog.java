package dev.revenant.agent.runtime;

/** The agent's own messages: one line each on stderr, prefixed, never on the app's stdout. */
public final class AgentLog {
    /** The process's own stderr: the app's System.err may be swapped (recovery keeps it quiet). */
    private static final java.io.PrintStream ERR = new java.io.PrintStream(
            new java.io.FileOutputStream(java.io.FileDescriptor.err), true);

    private AgentLog() {}

    /** A line for tools (progress, summaries), as it is. */
    public static void line(String s) {
        ERR.println(s);
        ERR.flush();
    }

    public static void error(String message) {
        ERR.println("revenant: " + message);
        ERR.flush();
    }

    public static void warn(String message) {
        ERR.println("revenant: warning: " + message);
        ERR.flush();
    }

    public static void info(String message) {
        if (!"false".equals(System.getProperty("revenant.verbose"))) {
            ERR.println("revenant: " + message);
            ERR.flush();
        }
    }
}
