package dev.revenant.agent.cli;

import java.io.PrintWriter;

/**
 * A one-line progress indicator on stderr, shown only when a person is watching (a console is
 * attached) and the work takes longer than a second; scripts and pipes see nothing of it.
 */
final class Progress {
    private final PrintWriter err;
    private final String what;
    private final boolean enabled;
    private final long start = System.nanoTime();
    private long lastShown;
    private boolean shown;

    Progress(PrintWriter err, String what) {
        this.err = err;
        this.what = what;
        this.enabled = terminal() && System.getenv("REVENANT_NO_PROGRESS") == null;
    }

    /**
     * True when a person is at a terminal. Up to JDK 21 {@code System.console()} is null unless
     * stdin and stdout are terminals; from JDK 22 it returns a console even when they are
     * redirected, and {@code Console.isTerminal()} (not in 17's API, hence reflection) tells.
     */
    static boolean terminal() {
        java.io.Console c = System.console();
        if (c == null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return true; // JDK 17-21: a console exists only on a terminal
        }
    }

    void update(long done) {
        if (!enabled || (done & 0x3FF) != 0) {
            return;
        }
        long now = System.nanoTime();
        if (now - start < 1_000_000_000L || now - lastShown < 200_000_000L) {
            return;
        }
        lastShown = now;
        shown = true;
        err.print("\r" + what + ": " + done + " records read, " + (now - start) / 1_000_000_000L + " s");
        err.flush();
    }

    void done() {
        if (shown) {
            err.print("\r\033[K");
            err.flush();
        }
    }
}
