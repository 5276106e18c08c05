package dev.revenant.agent.runtime;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * {@code revenant replay --to POSITION}: an app thread whose next determinant lies at or after
 * the position (or that has none left in the log, which the recorded run asked for only later)
 * parks before taking it, for good. The first thread to park prints one line saying where replay
 * stopped. With {@code hold} the JVM then stays as it is (for a debugger, jstack, or a look
 * around); without it the JVM exits 0 once no thread has taken a determinant for a moment, so
 * that the other threads got as far as the log lets them.
 */
final class StopPoint {
    static final String LINE = "revenant: replay stopped at position ";
    private static final long QUIET_NANOS = 200_000_000L;

    private final long position;
    private final boolean hold;
    private final AtomicBoolean announced = new AtomicBoolean();
    private volatile boolean reached;

    StopPoint(long position, boolean hold) {
        this.position = position;
        this.hold = hold;
    }

    long position() {
        return position;
    }

    boolean reached() {
        return reached;
    }

    /** Before a thread takes its next determinant: returns at once, or parks this thread for good. */
    void before(ThreadState t, String asked, Replayer replayer) {
        LogRecord next = replayer.peekQuietly(t);
        if (next != null && next.position() < position) {
            return;
        }
        reached = true;
        if (announced.compareAndSet(false, true)) {
            announce(t, asked, next, replayer);
        }
        while (true) {
            LockSupport.park(this); // an interrupt does not let it go on: the log says nothing past here
            Thread.interrupted();
        }
    }

    private void announce(ThreadState t, String asked, LogRecord next, Replayer replayer) {
        System.out.flush();
        String what = next == null ? "a determinant the log does not hold (" + asked + "; the recorded run ended first)"
                : "its next determinant at position " + next.position() + ": "
                        + DeterminantCodec.describe(next.payload()) + " (thread sequence " + next.threadSeq() + ")";
        AgentLog.line(LINE + position + ": thread \"" + Thread.currentThread().getName() + "\" (virtual id " + t.vid
                + ") waits for " + what + "; " + replayer.replayed() + " determinants replayed; "
                + (hold ? "the JVM is held (pid " + ProcessHandle.current().pid() + ") until it is stopped"
                        : "the JVM exits once the other threads got this far"));
        if (!hold) {
            Thread exit = new Thread(() -> exitWhenQuiet(replayer), "revenant-stop");
            exit.setDaemon(true);
            exit.start();
        }
    }

    /** Exits 0 once no thread has taken a determinant for {@link #QUIET_NANOS}. */
    private static void exitWhenQuiet(Replayer replayer) {
        long seen = replayer.replayed();
        long since = System.nanoTime();
        while (System.nanoTime() - since < QUIET_NANOS) {
            LockSupport.parkNanos(20_000_000L);
            long now = replayer.replayed();
            if (now != seen) {
                seen = now;
                since = System.nanoTime();
            }
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(0);
    }
}
