package dev.revenant.agent.runtime;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import dev.revenant.bridge.Determinants;
import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;

/**
 * Replay mode: hands each thread the determinants it recorded, in its own order. Records are
 * read from the log in position order and queued per virtual thread, so threads that do not race
 * replay exactly; racing threads need the scheduler (a later issue).
 *
 * <p>A request that does not match what the log holds next for that thread (another kind, a
 * sequence gap) is a divergence: replay stops with a report and exit code 3. When the log is
 * exhausted, replay has reproduced everything the recorded run did: it says so and ends the JVM.
 */
final class Replayer implements Determinants, Hooks.Replaying {
    static final int EXIT_DIVERGENCE = 3;

    private final LogReader reader;
    private final Map<Long, ArrayDeque<LogRecord>> queues = new HashMap<>();
    private final long endPosition;
    private final EndAction atEnd;
    private long replayed;
    private boolean exhausted;

    /** What to do when the log runs out. */
    interface EndAction {
        void logEnded(long replayed, long lastPosition);
    }

    Replayer(LogReader reader, long endPosition, EndAction atEnd) {
        this.reader = reader;
        this.endPosition = endPosition;
        this.atEnd = atEnd;
    }

    long replayed() {
        return replayed;
    }

    private synchronized LogRecord next(ThreadState t, int kind) {
        ArrayDeque<LogRecord> q = queues.get(t.vid);
        while ((q == null || q.isEmpty()) && !exhausted) {
            LogRecord r;
            try {
                r = reader.next();
            } catch (IOException e) {
                AgentLog.error("replay stopped: the log cannot be read further: " + e.getMessage());
                Runtime.getRuntime().halt(1);
                return null;
            }
            if (r == null || r.position() > endPosition) {
                exhausted = true;
                break;
            }
            if (r.type() == RecordTypes.HEADER) {
                exhausted = true; // the next session (a recovery) starts here: this run ended
                break;
            }
            if (r.type() != RecordTypes.CLOCK && r.type() != RecordTypes.RANDOM
                    && r.type() != RecordTypes.TIMED_WAIT) {
                continue; // environment and other records are read at start-up, not per call
            }
            queues.computeIfAbsent(r.thread(), k -> new ArrayDeque<>()).add(r);
            q = queues.get(t.vid);
        }
        if (q == null || q.isEmpty()) {
            atEnd.logEnded(replayed, reader.lastPosition());
            return null;
        }
        LogRecord r = q.poll();
        if (DeterminantCodec.kind(r.payload()) != kind || r.threadSeq() != t.seq) {
            diverged(t, kind, r);
        }
        t.seq++;
        replayed++;
        return r;
    }

    private void diverged(ThreadState t, int kind, LogRecord expected) {
        StringBuilder sb = new StringBuilder();
        sb.append("replay diverged at log position ").append(expected.position()).append(" on thread ")
                .append(Thread.currentThread().getName()).append(" (virtual id ").append(t.vid).append(")\n");
        sb.append("  the log holds next: ").append(DeterminantCodec.describe(expected.payload()))
                .append(" (thread sequence ").append(expected.threadSeq()).append(")\n");
        sb.append("  the program asked:  ").append(Hooks.kindName(kind)).append(" (thread sequence ").append(t.seq)
                .append(")\n");
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

    @Override
    public long value(ThreadState t, int kind, long live) {
        LogRecord r = next(t, kind);
        return r == null ? live : DeterminantCodec.first(r.payload());
    }

    @Override
    public long[] pair(ThreadState t, int kind, long a, long b) {
        LogRecord r = next(t, kind);
        return r == null ? new long[] {a, b}
                : new long[] {DeterminantCodec.first(r.payload()), DeterminantCodec.second(r.payload())};
    }

    @Override
    public void bytes(ThreadState t, int kind, byte[] buf, int off, int len) {
        LogRecord r = next(t, kind);
        if (r == null) {
            return;
        }
        byte[] p = r.payload();
        if (p.length - 1 != len) {
            diverged(t, kind, r);
        }
        System.arraycopy(p, 1, buf, off, len);
    }
}
