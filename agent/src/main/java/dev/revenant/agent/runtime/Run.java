package dev.revenant.agent.runtime;

import dev.revenant.agent.runtime.schedule.SerialScheduler;
import dev.revenant.bridge.Determinants;
import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogWriter;

/**
 * The determinants of this JVM, in whichever phase it is: recording from the start; replaying
 * (offline {@code replay}); or recovering — replaying, then, once the log has nothing more for a
 * thread, live again and recording into the same log ({@link #goLive}).
 *
 * <p>A thread is replayed while the log still has determinants for it; after the process went
 * live it records. Clocks stay monotonic across the switch: {@code nanoTime} continues from the
 * last replayed value (the new process's counter has another origin) and wall-clock reads never
 * go back below the last replayed one.
 */
final class Run implements Determinants {
    /** Opens the log for the live phase; called once, on the thread that found the end of the log. */
    interface GoLive {
        Recorder open(Run run) throws Exception;
    }

    private final Replayer replayer;
    private volatile Recorder recorder;
    private final GoLive goLive;
    /** {@code replay --to}: where app threads stop; null otherwise. */
    private volatile StopPoint stop;
    /** The serial scheduler's run token, when the run is scheduled ({@code schedule=serial}); else null. */
    private volatile SerialScheduler scheduler;
    // Clock continuity across the switch, from the replayed values.
    private long maxNano = Long.MIN_VALUE;
    private long maxMillis = Long.MIN_VALUE;
    private volatile long nanoOffset;
    private volatile long millisFloor = Long.MIN_VALUE;

    private Run(Replayer replayer, Recorder recorder, GoLive goLive) {
        this.replayer = replayer;
        this.recorder = recorder;
        this.goLive = goLive;
    }

    static Run recording(Recorder recorder) {
        return new Run(null, recorder, null);
    }

    /** Replays; with {@code goLive == null} the replayer's own end action ends the JVM. */
    static Run replaying(Replayer replayer, GoLive goLive) {
        return new Run(replayer, null, goLive);
    }

    void schedule(SerialScheduler s) {
        this.scheduler = s;
    }

    SerialScheduler scheduler() {
        return scheduler;
    }

    /** The serial scheduler's switch log: a {@code SCHEDULE} record, on the live recorder. */
    void recordSwitch(ThreadState to, long fromVid, long fromTick) {
        Recorder r = recorder;
        if (r != null) {
            r.appendSwitch(to, fromVid, fromTick);
        }
    }

    void stopAt(StopPoint s) {
        this.stop = s;
    }

    StopPoint stopPoint() {
        return stop;
    }

    Replayer replayer() {
        return replayer;
    }

    Recorder recorder() {
        return recorder;
    }

    boolean live() {
        return recorder != null;
    }

    /** Called by the replayer's end action in recovery, with its lock held. */
    void wentLive() {
        try {
            long now = System.nanoTime();
            if (maxNano != Long.MIN_VALUE && now <= maxNano) {
                nanoOffset = maxNano - now + 1;
            }
            millisFloor = maxMillis;
            recorder = goLive.open(this);
            SerialScheduler s = scheduler;
            if (s != null) {
                s.goLive();
            }
        } catch (Throwable e) {
            AgentLog.error("recovery could not go live: " + e.getMessage()
                    + "; the process stops here, its log is unchanged — fix the cause and run recover again");
            Runtime.getRuntime().halt(1);
        }
    }

    @Override
    public boolean replaying(ThreadState t) {
        if (replayer == null) {
            return false;
        }
        if (scheduler != null) {
            return recorder == null; // one total order: everybody replays until the process goes live
        }
        return recorder == null || replayer.hasMore(t);
    }

    /** This thread's next logged determinant of {@code kind}, or null if it is live (now). */
    LogRecord take(ThreadState t, int kind) {
        if (!replaying(t)) {
            return null;
        }
        StopPoint s = stop;
        if (s != null) {
            s.before(t, DeterminantCodec.kindName(kind), replayer);
        }
        LogRecord r = replayer.take(t, kind);
        if (r == null && goLive == null) {
            beyondEnd(t, kind); // offline replay under the scheduler: the recorded run got this far
        }
        return r;
    }

    /**
     * Offline replay: the thread holding the token asks for a determinant the log does not hold —
     * where the recorded run was cut off. What the program printed up to here is what it printed
     * when recorded; it ends here, with 0.
     */
    private void beyondEnd(ThreadState t, int kind) {
        System.out.flush();
        AgentLog.info("replay reached the end of the log after " + replayer.replayed() + " determinants (position "
                + replayer.lastPosition() + "): thread \"" + Thread.currentThread().getName() + "\" (virtual id "
                + t.vid + ") asks for " + DeterminantCodec.kindName(kind) + ", which the recorded run never got to");
        Runtime.getRuntime().halt(0);
    }

    /** Stands for "replayed, and the log holds nothing more for this thread" in {@link #peekForEvent}. */
    static final LogRecord NOTHING_LOGGED = new LogRecord(-1, -1, 0, 0, 0, 0, new byte[0]);

    /**
     * For an event that is logged only when it is unusual (a write that does not take everything):
     * this thread's next logged determinant without taking it; null if the thread is live (now); or
     * {@link #NOTHING_LOGGED} when an offline replay has no more for it — the recorded run may well
     * have made this event (it logs nothing), so replay goes on until the thread needs a
     * determinant. Recovery goes live there instead.
     */
    LogRecord peekForEvent(ThreadState t) {
        if (!replaying(t)) {
            return null;
        }
        if (scheduler != null) {
            // One total order: the write was logged only if it is this thread's next event.
            LogRecord r = replayer.peek(t); // the end action runs if the log is used up
            return r != null ? r : replaying(t) ? NOTHING_LOGGED : null;
        }
        LogRecord r = replayer.peekQuietly(t);
        if (r != null) {
            return r;
        }
        if (goLive == null) {
            return NOTHING_LOGGED;
        }
        return replayer.peek(t); // runs the end action: the process goes live, and so does this thread
    }

    /** Records a determinant of the live phase; its position, or -1 if the log failed. */
    long record(ThreadState t, int kind, byte[] payload) {
        return recorder.append(t, kind, payload);
    }

    LogWriter log() {
        Recorder r = recorder;
        return r == null ? null : r.log();
    }

    private void replayedClock(int kind, long v) {
        switch (kind) {
            case Hooks.NANO_TIME -> maxNano = Math.max(maxNano, v);
            case Hooks.CURRENT_MILLIS, Hooks.CLOCK_MILLIS -> maxMillis = Math.max(maxMillis, v);
            default -> {
            }
        }
    }

    private long liveClock(int kind, long live) {
        return switch (kind) {
            case Hooks.NANO_TIME -> live + nanoOffset;
            case Hooks.CURRENT_MILLIS, Hooks.CLOCK_MILLIS -> Math.max(live, millisFloor);
            default -> live;
        };
    }

    @Override
    public long value(ThreadState t, int kind, long live) {
        LogRecord r = take(t, kind);
        if (r != null) {
            long v = DeterminantCodec.first(r.payload());
            replayedClock(kind, v);
            return v;
        }
        return recorder.value(t, kind, liveClock(kind, live));
    }

    @Override
    public long[] pair(ThreadState t, int kind, long a, long b) {
        LogRecord r = take(t, kind);
        if (r != null) {
            long s = DeterminantCodec.first(r.payload());
            long n = DeterminantCodec.second(r.payload());
            if (kind == Hooks.INSTANT) {
                maxMillis = Math.max(maxMillis, s * 1000 + n / 1_000_000);
            }
            return new long[] {s, n};
        }
        if (kind == Hooks.INSTANT && millisFloor != Long.MIN_VALUE && a * 1000 + b / 1_000_000 < millisFloor) {
            a = Math.floorDiv(millisFloor, 1000);
            b = Math.floorMod(millisFloor, 1000) * 1_000_000L;
        }
        return recorder.pair(t, kind, a, b);
    }

    @Override
    public void bytes(ThreadState t, int kind, byte[] buf, int off, int len) {
        LogRecord r = take(t, kind);
        if (r != null) {
            byte[] p = r.payload();
            if (p.length - 1 != len) {
                Replayer.diverged(t, DeterminantCodec.kindName(kind) + " of " + len + " bytes", r,
                        "the log holds " + (p.length - 1) + " bytes");
            }
            System.arraycopy(p, 1, buf, off, len);
            return;
        }
        recorder.bytes(t, kind, buf, off, len);
    }
}
