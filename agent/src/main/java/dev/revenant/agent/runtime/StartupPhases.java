package dev.revenant.agent.runtime;

import java.util.Locale;

/**
 * Times the runtime's part of start-up ({@code AgentMain.start}) phase by phase, for
 * {@code REVENANT_DEBUG_STARTUP=1}: the bootstrap premain appends the text to its own one-line
 * report. Always on: a phase costs one {@code System.nanoTime()} and a few string appends.
 */
public final class StartupPhases {
    /** Whether start-up timing was asked for ({@code REVENANT_DEBUG_STARTUP=1}). */
    static boolean debug() {
        return "1".equals(System.getenv("REVENANT_DEBUG_STARTUP")) || Boolean.getBoolean("revenant.debug.startup");
    }

    private final StringBuilder text = new StringBuilder();
    private long last = System.nanoTime();

    /** Ends the phase that began at the previous mark (or at construction) and names it. */
    public void mark(String phase) {
        long now = System.nanoTime();
        add(phase, now - last);
        last = now;
    }

    /** Records a span measured elsewhere (e.g. on another thread), without moving the mark. */
    public void add(String phase, long nanos) {
        if (text.length() > 0) {
            text.append(", ");
        }
        text.append(phase).append(' ').append(String.format(Locale.ROOT, "%.1f", nanos / 1e6)).append(" ms");
    }

    /** Adds free text (a count, a choice made). */
    public void note(String s) {
        if (text.length() > 0 && !s.startsWith(")")) {
            text.append(", ");
        }
        text.append(s);
    }

    @Override
    public String toString() {
        return text.toString();
    }
}
