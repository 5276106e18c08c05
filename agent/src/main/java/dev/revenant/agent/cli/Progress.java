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
        this.enabled = System.console() != null && System.getenv("REVENANT_NO_PROGRESS") == null;
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
