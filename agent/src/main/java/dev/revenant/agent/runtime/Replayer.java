package dev.revenant.agent.runtime;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;

/**
 * Hands each thread the determinants it recorded, in its own order. Records are read from the log
 * in position order and queued per virtual thread, so threads that do not race replay exactly;
 * racing threads need the scheduler (a later issue).
 *
 * <p>A session that a recovered process started when it went live ({@code HEADER} followed by
 * {@code CONTINUES}) continues the run: replay reads on through it. A session that starts a fresh
 * run ({@code HEADER} followed by {@code ENVIRONMENT}) ends what is replayed.
 *
 * <p>A request that does not match what the log holds next for that thread (another kind, a
 * sequence gap) is a divergence: replay stops with a report and exit code 3. When the log has
 * nothing more for a thread, the {@link EndAction} decides: {@code replay} ends the JVM, recovery
 * goes live and {@link #take} returns null.
 */
final class Replayer {
    static final int EXIT_DIVERGENCE = 3;

    private final LogReader reader;
    private final Map<Long, ArrayDeque<LogRecord>> queues = new HashMap<>();
    private final long endPosition;
    private final EndAction atEnd;
    private final Progress progress;
    private long replayed;
    private long queuedTotal;
    private long queuedLeft;
    private long lastPosition = -1;
    private boolean exhausted;
    private boolean ended;

    /**
     * What to do when the log has nothing more for a thread: {@code determinants} is how many the
     * log holds for this run (other threads may still be replaying theirs).
     */
    interface EndAction {
        void logEnded(long determinants, long lastPosition);
    }

    /** Told now and then how far replay got. */
    interface Progress {
        void at(long replayed, long position);
    }

    Replayer(LogReader reader, long endPosition, EndAction atEnd, Progress progress) {
        this.reader = reader;
        this.endPosition = endPosition;
        this.atEnd = atEnd;
        this.progress = progress;
    }

    synchronized long replayed() {
        return replayed;
    }

    synchronized long lastPosition() {
        return lastPosition;
    }

    /** Set once the log is read to its end and every queued determinant was taken: no thread replays. */
    private volatile boolean drained;

    /** True while this thread still has recorded determinants queued or the log is not read to its end. */
    boolean hasMore(ThreadState t) {
        if (drained) {
            return false;
        }
        synchronized (this) {
            ArrayDeque<LogRecord> q = queues.get(t.vid);
            return q != null && !q.isEmpty() || !ended;
        }
    }

    /**
     * The calling thread's next determinant without taking it, or null when the log has nothing
     * more for it (after the end action ran, if it returned).
     */
    synchronized LogRecord peek(ThreadState t) {
        ArrayDeque<LogRecord> q = fill(t);
        return q == null || q.isEmpty() ? null : q.peek();
    }

    /** Like {@link #peek} but never runs the end action: null if the log has nothing more for this thread. */
    synchronized LogRecord peekQuietly(ThreadState t) {
        ArrayDeque<LogRecord> q = queues.get(t.vid);
        while ((q == null || q.isEmpty()) && !exhausted) {
            if (!readOne()) {
                exhausted = true;
                break;
            }
            q = queues.get(t.vid);
        }
        return q == null || q.isEmpty() ? null : q.peek();
    }

    /** Reads on until this thread has a determinant queued or the log ends; runs the end action once. */
    private ArrayDeque<LogRecord> fill(ThreadState t) {
        ArrayDeque<LogRecord> q = queues.get(t.vid);
        while ((q == null || q.isEmpty()) && !exhausted) {
            if (!readOne()) {
                exhausted = true;
                break;
            }
            q = queues.get(t.vid);
        }
        if ((q == null || q.isEmpty()) && !ended) {
            ended = true;
            drained = queuedLeft == 0;
            atEnd.logEnded(queuedTotal, lastPosition);
        }
        return q;
    }

    private static boolean isDeterminant(int type) {
        return type == RecordTypes.CLOCK || type == RecordTypes.RANDOM || type == RecordTypes.TIMED_WAIT
                || type == RecordTypes.SOCKET_ACCEPT || type == RecordTypes.SOCKET_READ
                || type == RecordTypes.SOCKET_WRITE || type == RecordTypes.SELECT;
    }

    /** Reads one more record into the queues; false once the log (or this run) is exhausted. */
    private boolean readOne() {
        LogRecord r;
        try {
            r = reader.next();
            if (r != null && r.type() == RecordTypes.HEADER) {
                LogRecord second = reader.next();
                if (second == null || second.type() != RecordTypes.CONTINUES) {
                    return false; // a fresh run starts here, or nothing follows: this run ended
                }
                r = reader.next();
            }
        } catch (IOException e) {
            AgentLog.error("replay stopped: the log cannot be read further: " + e.getMessage());
            Runtime.getRuntime().halt(1);
            return false;
        }
        if (r == null || r.position() > endPosition) {
            return false;
        }
        lastPosition = r.position();
        if (isDeterminant(r.type())) {
            queues.computeIfAbsent(r.thread(), k -> new ArrayDeque<>()).add(r);
            queuedTotal++;
            queuedLeft++;
        }
        return true;
    }

    /**
     * The calling thread's next determinant, which must be of {@code kind}; null when the log has
     * nothing more for it (after the end action ran, if it returned).
     */
    synchronized LogRecord take(ThreadState t, int kind) {
        ArrayDeque<LogRecord> q = fill(t);
        if (q == null || q.isEmpty()) {
            return null;
        }
        LogRecord r = q.poll();
        if (--queuedLeft == 0 && ended) {
            drained = true;
        }
        if (DeterminantCodec.kind(r.payload()) != kind || r.threadSeq() != t.seq) {
            diverged(t, DeterminantCodec.kindName(kind), r, null);
        }
        t.seq++;
        if ((++replayed & 1023) == 0) {
            progress.at(replayed, r.position());
        }
        return r;
    }

    /** Stops replay with the report: where, what the log held, what the program did. Never returns. */
    static void diverged(ThreadState t, String asked, LogRecord expected, String detail) {
        StringBuilder sb = new StringBuilder();
        sb.append("replay diverged at log position ").append(expected.position()).append(" on thread ")
                .append(Thread.currentThread().getName()).append(" (virtual id ").append(t.vid).append(")\n");
        sb.append("  the log holds next: ").append(DeterminantCodec.describe(expected.payload()))
                .append(" (thread sequence ").append(expected.threadSeq()).append(")\n");
        sb.append("  the program asked:  ").append(asked).append(" (thread sequence ").append(t.seq).append(")\n");
        if (detail != null) {
            sb.append("  ").append(detail).append('\n');
        }
        sb.append("  at:\n");
        for (StackTraceElement e : Thread.currentThread().getStackTrace()) {
            String c = e.getClassName();
            if (c.startsWith("dev.revenant.") || c.startsWith("java.lang.Thread")) {
                continue;
            }
            sb.append("    ").append(e).append('\n');
        }
        sb.append("  the program does not do what it did when it was recorded (other code, other input, or a race "
                + "between threads the log does not order yet)");
        AgentLog.error(sb.toString());
        Runtime.getRuntime().halt(EXIT_DIVERGENCE);
    }
}
