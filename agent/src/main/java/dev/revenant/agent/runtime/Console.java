package dev.revenant.agent.runtime;

import java.io.OutputStream;
import java.io.PrintStream;

/**
 * The app's console during recovery: what it prints while it replays was printed already by the
 * run that crashed, so {@code System.out} and {@code System.err} swallow it until the process
 * goes live. The agent's own lines go to the process's stderr directly ({@link AgentLog}).
 */
final class Console {
    private static PrintStream out;
    private static PrintStream err;

    private Console() {}

    static synchronized void suppress() {
        if (out == null) {
            out = System.out;
            err = System.err;
            PrintStream quiet = new PrintStream(OutputStream.nullOutputStream(), false);
            System.setOut(quiet);
            System.setErr(quiet);
        }
    }

    static synchronized void restore() {
        if (out != null) {
            System.setOut(out);
            System.setErr(err);
            out = null;
            err = null;
        }
    }
}
