package dev.revenant.bridge;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.LockSupport;

/**
 * A debugging aid for replay divergences of the serial scheduler: with the environment variable
 * {@code REVENANT_TRACE_TICKS} naming a directory, every scheduling point a scheduled thread passes
 * is written to {@code <dir>/ticks-<pid>.txt} as one line — virtual id, tick, role, what the thread
 * waits for (a park's blocker, and who owns it) and the first app-side frames. Comparing a record's
 * file with a replay's shows where a thread's ticks part. Off (one static read) otherwise.
 */
public final class TickTrace {
    private static final String DIR = System.getenv("REVENANT_TRACE_TICKS");
    private static FileOutputStream out;

    private TickTrace() {}

    public static boolean on() {
        return DIR != null;
    }

    /** Called on the thread at its scheduling point, just before the tick is counted (the line shows the tick it gets). */
    static void tick(ThreadState t, boolean replaying) {
        StringBuilder b = new StringBuilder(256);
        b.append(t.vid).append(" ").append(t.ticks + 1).append(replaying ? " replay" : " record")
                .append(" stamps=").append(IdentityHashes.threadCounter());
        Object blocker = LockSupport.getBlocker(t.thread);
        if (blocker != null) {
            b.append(" blocker=").append(blocker.getClass().getName());
            Thread owner = LockOwners.owner(blocker);
            if (owner != null) {
                b.append(" owner=").append(owner.getName());
            }
        }
        frames(b, 6);
        b.append('\n');
        write(b.toString());
    }

    /** A determinant the thread records or takes in replay: its sequence number and kind, with the stamp counter. */
    public static void determinant(ThreadState t, long seq, int kind, boolean replaying) {
        write(t.vid + " D" + seq + " k" + kind + (replaying ? " replay" : " record") + " ticks=" + t.ticks
                + " stamps=" + IdentityHashes.threadCounter() + "\n");
    }

    /** A counter-derived identity-hash stamp on the calling thread: its number, the object's class, where. */
    static void stamp(long n, Class<?> c) {
        StringBuilder b = new StringBuilder(256);
        b.append(ThreadState.current().vid).append(" S").append(n).append(' ').append(c.getName());
        frames(b, 8);
        write(b.append('\n').toString());
    }

    private static void frames(StringBuilder b, int max) {
        int shown = 0;
        for (StackTraceElement e : new Throwable().getStackTrace()) {
            if (e.getClassName().startsWith("dev.revenant.bridge.")) {
                continue;
            }
            b.append(" | ").append(e.getClassName()).append('.').append(e.getMethodName()).append(':').append(e.getLineNumber());
            if (++shown == max) {
                break;
            }
        }
    }

    private static synchronized void write(String line) {
        try {
            if (out == null) {
                out = new FileOutputStream(DIR + "/ticks-" + ProcessHandle.current().pid() + ".txt", true);
            }
            out.write(line.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // a debugging aid: nothing to do
        }
    }
}
