package dev.revenant.agent.runtime;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import dev.revenant.agent.runtime.schedule.SerialScheduler;
import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;

/**
 * Hands the program back its determinants in the order of the log.
 *
 * <p>The log is read once, front to back, with a small window ahead. A log recorded under the
 * serial scheduler ({@code schedule=serial}) is one total order: its {@code SCHEDULE} records say
 * which thread held the run token from where on, so every determinant of a scheduled thread lies on
 * the <em>main line</em> — the switches and the records of the thread that held the token when each
 * was written — and replay hands them out strictly in that order, the switches through
 * {@link #switchAt} to the {@link SerialScheduler}. Records of threads that never held the token
 * (the JDK's own threads, threads the scheduler leaves alone) are queued per thread on the side, as
 * is every thread but main in a log recorded without the scheduler: such threads get their own
 * determinants in their own order and nothing orders them against each other.
 *
 * <p>A session that a recovered process started when it went live ({@code HEADER} followed by
 * {@code CONTINUES}) continues the run: replay reads on through it. A session that starts a fresh
 * run ({@code HEADER} followed by {@code ENVIRONMENT}) ends what is replayed.
 *
 * <p>A request that does not match what the log holds next (another kind, a sequence gap, a switch
 * where the program asks for a value) is a divergence: replay stops with a report and exit code 3.
 * The {@link EndAction} runs once the log is used up: with the scheduler, when every record has
 * been handed out (the last position replayed by whichever thread owns it), or when the token's
 * holder needs one more; without it, when the first thread finds nothing more for itself.
 */
final class Replayer implements SerialScheduler.Script {
    static final int EXIT_DIVERGENCE = 3;
    /** How far a thread off the main line may read ahead for its next record. */
    private static final int WINDOW = 1 << 20;
    /** How many records past a determinant its {@code STAMP_CHECK} may lie (other threads' records in between). */
    private static final int CHECK_REACH = 256;

    private final LogReader reader;
    private final ArrayDeque<LogRecord> main = new ArrayDeque<>();
    private final Map<Long, ArrayDeque<LogRecord>> side = new HashMap<>();
    /** {@code STAMP_CHECK} records read and not yet compared, per thread (a log recorded with {@code check=stamps}). */
    private final Map<Long, ArrayDeque<LogRecord>> checks = new HashMap<>();
    /** How far to read on for a determinant's check: set once the log is seen to hold checks. */
    private int checkReach;
    /** Determinants in a row whose check was not found. */
    private int checksMissed;
    private final long endPosition;
    private final EndAction atEnd;
    private final Progress progress;
    private final boolean serial;
    private int preemptEvery;
    /** {@code schedule=none}: how long no thread may take a record while others wait for the end. */
    private static final long UNSCHEDULED_STALL_NANOS =
            Long.getLong("revenant.replay.unscheduledStallMillis", 20_000L) * 1_000_000L;
    /**
     * {@code schedule=none}: how long after the last record was taken a waiting thread ends the run
     * itself, when the thread that took it has not asked for anything since (the end normally
     * comes at that thread's next call, once its hook has acted on the record).
     */
    private static final long END_GRACE_NANOS = 100_000_000L;
    /** When a record was last handed out. */
    private long lastTakenAt = System.nanoTime();
    /** The scheduler replaying this log, once there is one (see {@link #scheduler(SerialScheduler)}). */
    private SerialScheduler scheduler;
    /** Whose records the main line holds, as read so far: the token's holder per the log. */
    private long readHolder = 1;
    private long sideLeft;
    private long replayed;
    private long queuedTotal;
    private long lastPosition = -1;
    /** The last record was handed out; the end action runs at the next call (see {@link #consumed}). */
    private boolean endPending;
    private boolean exhausted;
    private boolean ended;

    /**
     * What to do when the log is used up: {@code determinants} is how many it held for this run,
     * {@code lastPosition} the last position read.
     */
    interface EndAction {
        void logEnded(long determinants, long lastPosition);
    }

    /** Told now and then how far replay got. */
    interface Progress {
        void at(long replayed, long position);
    }

    /**
     * Reads the log's first record after the session's environment: a {@code SCHEDULE} record
     * there means the log was recorded under the serial scheduler.
     */
    Replayer(LogReader reader, long endPosition, EndAction atEnd, Progress progress) {
        this.reader = reader;
        this.endPosition = endPosition;
        this.atEnd = atEnd;
        this.progress = progress;
        LogRecord first = nextOfRun();
        this.serial = first != null && first.type() == RecordTypes.SCHEDULE;
        if (first == null) {
            exhausted = true;
        } else if (!serial) {
            queue(first);
        } else {
            lastPosition = first.position(); // the scheduler's opening mark: main holds the token
            // ... and its tick field is the preemption budget (0 in logs from before preemption)
            long budget = DeterminantCodec.second(first.payload());
            preemptEvery = budget > 0 && budget <= Integer.MAX_VALUE ? (int) budget : 0;
        }
        // A log recorded with check=stamps shows a check within its first records.
        for (int i = 0; i < 16 && checkReach == 0 && readOne(); i++) {
            // reading on
        }
    }

    /** Loop back-edges between preemption points in the recorded run (0: none); see {@code Preempt}. */
    int preemptEvery() {
        return preemptEvery;
    }

    /** Whether the log was recorded under the serial scheduler. */
    boolean serial() {
        return serial;
    }

    synchronized long replayed() {
        return replayed;
    }

    synchronized long lastPosition() {
        return lastPosition;
    }

    /** Whether the end action has run. */
    synchronized boolean ended() {
        return ended;
    }

    /** True while this thread may still get a recorded determinant (without the scheduler: has some queued, or the log is not read to its end). */
    synchronized boolean hasMore(ThreadState t) {
        if (serial) {
            return !ended;
        }
        ArrayDeque<LogRecord> q = queueOf(t.vid);
        return q != null && !q.isEmpty() || !ended;
    }

    private boolean onMainLine(ThreadState t) {
        return serial ? t.scheduled : t.vid == 1;
    }

    private ArrayDeque<LogRecord> queueOf(long vid) {
        if (!main.isEmpty() && main.peek().thread() == vid && main.peek().type() != RecordTypes.SCHEDULE) {
            return main;
        }
        return side.get(vid);
    }

    /** Reads one more record into the queues; false once the log (or this run) is exhausted. */
    private boolean readOne() {
        if (exhausted) {
            return false;
        }
        LogRecord r = nextOfRun();
        if (r == null) {
            exhausted = true;
            return false;
        }
        queue(r);
        return true;
    }

    /**
     * The run's next record, through the sessions of recoveries; null where the run ends. A
     * {@code HEADER} followed by another {@code HEADER} is a session that ended before it wrote
     * anything (a recovery killed as it went live: its {@code CONTINUES} was still in the writer's
     * ring): it holds nothing of the run and is passed over. A {@code HEADER} followed by anything
     * but {@code CONTINUES} starts a fresh run, which ends this one.
     */
    private LogRecord nextOfRun() {
        LogRecord r;
        try {
            r = reader.next();
            while (r != null && r.type() == RecordTypes.HEADER) {
                LogRecord second = reader.next();
                if (second == null) {
                    return null; // nothing follows: this run ended
                }
                if (second.type() == RecordTypes.HEADER) {
                    r = second; // an empty session: look at the next one
                    continue;
                }
                if (second.type() != RecordTypes.CONTINUES) {
                    return null; // a fresh run starts here
                }
                checkContinues(second);
                r = reader.next();
            }
        } catch (IOException e) {
            AgentLog.error("replay stopped: the log cannot be read further: " + e.getMessage());
            Runtime.getRuntime().halt(1);
            return null;
        }
        return r == null || r.position() > endPosition ? null : r;
    }

    /**
     * A recovered session continues the run after the last position its replay read; that must not
     * lie before the last record of the run read here. If it does, the log forks (a recovery went
     * on from an earlier point than the records before it: logs written before empty sessions were
     * passed over), and replaying both branches would rebuild a state no process ever had: stop.
     */
    private void checkContinues(LogRecord continues) {
        long after = Recovery.continuedAfter(continues.payload());
        if (after < 0 || after >= lastPosition) {
            return; // only sessions' own records lie between (older versions counted those in)
        }
        AgentLog.error("replay stopped: the log forks at position " + continues.position() + ": the session of epoch "
                + continues.epoch() + " continued the run after position " + after + ", but the run read so far ends at "
                + lastPosition + " (records " + (after + 1) + ".." + lastPosition
                + " belong to a branch it did not replay). No process had the state both branches would build, so "
                + "this log cannot be replayed exactly past position " + after
                + "; `revenant inspect --log DIR` shows the sessions");
        System.out.flush();
        Runtime.getRuntime().halt(EXIT_DIVERGENCE);
    }

    private void queue(LogRecord r) {
        lastPosition = r.position();
        if (r.type() == RecordTypes.STAMP_CHECK) {
            checks.computeIfAbsent(r.thread(), k -> new ArrayDeque<>()).add(r);
            checkReach = CHECK_REACH;
        } else if (r.type() == RecordTypes.SCHEDULE && serial) {
            main.add(r);
            readHolder = r.thread();
            queuedTotal++;
        } else if (isDeterminant(r.type())) {
            queuedTotal++;
            if (r.thread() == readHolder) {
                main.add(r);
            } else {
                side.computeIfAbsent(r.thread(), k -> new ArrayDeque<>()).add(r);
                sideLeft++;
            }
        }
    }

    private static boolean isDeterminant(int type) {
        return type == RecordTypes.CLOCK || type == RecordTypes.RANDOM || type == RecordTypes.TIMED_WAIT
                || type == RecordTypes.SOCKET_ACCEPT || type == RecordTypes.SOCKET_READ
                || type == RecordTypes.SOCKET_WRITE || type == RecordTypes.SELECT;
    }

    /** The main line's next record (reading on as needed), or null at the end of the log. */
    private LogRecord peekMain() {
        while (main.isEmpty() && readOne()) {
            // reading on
        }
        return main.peek();
    }

    /** This thread's next record off the main line, reading ahead (bounded under the scheduler). */
    private LogRecord peekSide(ThreadState t) {
        ArrayDeque<LogRecord> q = side.get(t.vid);
        long read = 0;
        while ((q == null || q.isEmpty()) && (!serial || read++ < WINDOW) && readOne()) {
            q = side.get(t.vid);
        }
        return q == null ? null : q.peek();
    }

    /** Whether {@code t}'s determinants come off the main line now (not while it runs on after a stolen switch). */
    private boolean fromMain(ThreadState t) {
        return onMainLine(t) && !(serial && t.stolenAt == t.ticks);
    }

    /** Set once replay runs under a serial scheduler: it takes the switches recorded as stolen. */
    void scheduler(SerialScheduler s) {
        scheduler = s;
    }

    /**
     * The main line's next record is a switch taken from {@code t} when it was recorded, while it was
     * stuck entering a monitor after its current tick; here it ran on without getting stuck. Takes the
     * switch now, so that {@code t} runs on without the token, as recorded. Lock held.
     */
    private boolean takePassedSteal(ThreadState t) {
        LogRecord r = peekMain();
        if (!serial || scheduler == null || r == null || r.type() != RecordTypes.SCHEDULE) {
            return false;
        }
        long tick = DeterminantCodec.second(r.payload());
        if (!SerialScheduler.stolen(tick) || DeterminantCodec.first(r.payload()) != t.vid
                || SerialScheduler.tickOf(tick) != t.ticks) {
            return false;
        }
        main.poll();
        consumed(r);
        scheduler.stolenInReplay(t, r.thread());
        return true;
    }

    /** The thread's next determinant if it is its turn to take one, without taking it; null if there is none. */
    private LogRecord next(ThreadState t) {
        if (fromMain(t) && !takePassedSteal(t)) {
            LogRecord r = peekMain();
            return r != null && r.thread() == t.vid && r.type() != RecordTypes.SCHEDULE ? r : null;
        }
        return peekSide(t);
    }

    /**
     * The calling thread's next determinant without taking it, or null when the log has nothing
     * more for it now (after the end action ran, if that is what the log being used up means).
     */
    synchronized LogRecord peek(ThreadState t) {
        endIfPending();
        LogRecord r = next(t);
        if (r == null) {
            endIfUsedUp(t);
        }
        return r;
    }

    /** Like {@link #peek} but never runs the end action. */
    synchronized LogRecord peekQuietly(ThreadState t) {
        return next(t);
    }

    /**
     * Runs the end action when the log has nothing more for {@code t} (and, under the scheduler, for
     * anybody). Without the scheduler ({@code schedule=none}) the end is the same: every record read
     * has been taken; a thread with nothing more waits at its place until then (see
     * {@link #awaitEndUnscheduled}). Going live when the first thread ran dry let the others replay
     * on top of the live run: ZooKeeper's selector thread then diverged right after recover had
     * printed "live again", and a replay printed "reached the end of the log" and exited 0 while
     * other threads still had determinants left.
     */
    private void endIfUsedUp(ThreadState t) {
        if (ended) {
            return;
        }
        if (serial) {
            if (onMainLine(t) ? peekMain() != null : peekSide(t) != null) {
                return;
            }
            if (onMainLine(t) || main.isEmpty() && sideLeft == 0 && exhausted) {
                end();
            }
            return;
        }
        if (sideLeft == 0 && peekMain() == null) {
            end();
            return;
        }
        awaitEndUnscheduled(t);
    }

    /**
     * {@code schedule=none}, a thread with nothing more to replay: it waits until the other threads
     * have taken theirs and the run goes live (or the replay ends). If no thread takes anything for
     * {@link #UNSCHEDULED_STALL_NANOS} meanwhile, the replay has parted from the recording (the log
     * does not say how the threads interleaved): the report names who still has what, and the
     * process stops with exit 3 rather than going live with part of the log unreplayed. Lock held.
     */
    private void awaitEndUnscheduled(ThreadState t) {
        while (!ended) {
            if (endPending && System.nanoTime() - lastTakenAt > END_GRACE_NANOS) {
                // The thread that took the last record has not come back to end the run (its next
                // call may be a real one): its hook has long finished acting on that record.
                end();
                return;
            }
            if (System.nanoTime() - lastTakenAt > UNSCHEDULED_STALL_NANOS) {
                stalled(t);
            }
            try {
                wait(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void stalled(ThreadState t) {
        StringBuilder left = new StringBuilder();
        int shown = 0;
        if (!main.isEmpty()) {
            left.append("thread ").append(main.peek().thread()).append(" (").append(main.size()).append(")");
            shown++;
        }
        for (java.util.Map.Entry<Long, ArrayDeque<LogRecord>> e : side.entrySet()) {
            if (!e.getValue().isEmpty() && shown++ < 8) {
                left.append(left.length() > 0 ? ", " : "").append("thread ").append(e.getKey()).append(" (")
                        .append(e.getValue().size()).append(")");
            }
        }
        AgentLog.error("replay cannot reach the end of the log: no thread has taken a determinant for "
                + UNSCHEDULED_STALL_NANOS / 1_000_000_000 + " s, while " + left + " still have determinants to replay"
                + " (first at position " + firstLeft() + "); thread " + Thread.currentThread().getName() + " (virtual id "
                + t.vid + ") has nothing more and waits. The log was recorded with schedule=none, which does not"
                + " record how threads interleave, so this run has parted from the recording; record with"
                + " schedule=serial (the default) to recover a program whose threads race");
        System.out.flush();
        Runtime.getRuntime().halt(EXIT_DIVERGENCE);
    }

    private long firstLeft() {
        long first = main.isEmpty() ? Long.MAX_VALUE : main.peek().position();
        for (ArrayDeque<LogRecord> q : side.values()) {
            if (!q.isEmpty()) {
                first = Math.min(first, q.peek().position());
            }
        }
        return first;
    }

    private void endIfPending() {
        if (endPending && !ended) {
            end();
        }
    }

    private void end() {
        ended = true;
        notifyAll();
        atEnd.logEnded(queuedTotal, lastPosition);
    }

    /** After a record was handed out: the end action runs as soon as nothing is left. */
    private void consumed(LogRecord r) {
        lastTakenAt = System.nanoTime();
        if ((++replayed & 1023) == 0) {
            progress.at(replayed, r.position());
        }
        if (!ended && sideLeft == 0 && peekMain() == null) {
            // The hook that took the last record has yet to act on it (a replayed bind has yet to
            // register its server, say): the run goes live at the next thing any thread asks of
            // the replayer, once that hook has finished (without the scheduler, threads waiting
            // for the end also look at it: see awaitEndUnscheduled).
            endPending = true;
        }
    }

    /**
     * The calling thread's next determinant, which must be of {@code kind}; null when the log has
     * nothing more for it (after the end action ran, if it returned).
     */
    synchronized LogRecord take(ThreadState t, int kind) {
        endIfPending();
        LogRecord r;
        if (fromMain(t) && !takePassedSteal(t)) {
            r = peekMain();
            if (r != null && (r.thread() != t.vid || r.type() == RecordTypes.SCHEDULE)) {
                diverged(t, DeterminantCodec.kindName(kind), r, serial
                        ? "the log holds an event of another thread (or a switch) here: this thread should not have asked"
                        : null);
            }
        } else {
            r = peekSide(t);
        }
        if (r == null) {
            endIfUsedUp(t);
            while (serial && !ended && !onMainLine(t)) {
                // A thread the scheduler leaves alone that never got this far when recorded: it
                // waits for the rest of the log (then, in a recovery, it is live).
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return null;
        }
        if (r == main.peek()) {
            main.poll();
        } else {
            side.get(t.vid).poll();
            sideLeft--;
        }
        if (DeterminantCodec.kind(r.payload()) != kind || r.threadSeq() != t.seq) {
            diverged(t, DeterminantCodec.kindName(kind), r, null);
        }
        if (checkReach > 0) {
            compareStamps(t, r, kind);
        }
        if (dev.revenant.bridge.TickTrace.on()) {
            dev.revenant.bridge.TickTrace.determinant(t, t.seq, kind, true);
        }
        t.seq++;
        consumed(r);
        return r;
    }

    /**
     * {@code check=stamps}: the thread's stamp counter and tick must be what they were when {@code r}
     * was recorded. Its check follows it closely in the log; a determinant without one (a later
     * session recorded without the mode) is not compared, and after a run of those replay stops looking.
     */
    private void compareStamps(ThreadState t, LogRecord r, int kind) {
        long stamps = dev.revenant.bridge.IdentityHashes.threadCounter();
        LogRecord c = checkOf(t.vid, r.threadSeq());
        for (int read = 0; c == null && read < checkReach && readOne(); read++) {
            c = checkOf(t.vid, r.threadSeq());
        }
        if (c == null) {
            if (++checksMissed > 32) {
                checkReach = 0;
            }
            return;
        }
        checksMissed = 0;
        String why = StampCheck.mismatch(c.payload(), r.threadSeq(), stamps, t.ticks);
        if (why != null) {
            diverged(t, DeterminantCodec.kindName(kind), r, why);
        }
    }

    /** The check of {@code vid}'s determinant {@code seq} if it has been read; older ones are dropped. */
    private LogRecord checkOf(long vid, long seq) {
        ArrayDeque<LogRecord> q = checks.get(vid);
        while (q != null && !q.isEmpty() && q.peek().threadSeq() < seq) {
            q.poll();
        }
        return q != null && !q.isEmpty() && q.peek().threadSeq() == seq ? q.poll() : null;
    }

    @Override
    public synchronized long switchAt(ThreadState from, long tick) {
        endIfPending();
        if (!serial || ended) {
            return -1;
        }
        LogRecord r = peekMain();
        if (r == null || r.type() != RecordTypes.SCHEDULE) {
            return -1;
        }
        long fromVid = DeterminantCodec.first(r.payload());
        long fromTick = SerialScheduler.tickOf(DeterminantCodec.second(r.payload()));
        boolean stolen = SerialScheduler.stolen(DeterminantCodec.second(r.payload()));
        if (stolen && fromVid == from.vid && fromTick == tick) {
            return -1; // recorded after this point, where the thread got stuck on a monitor: taken there
        }
        if (stolen && fromVid == from.vid && fromTick == tick - 1) {
            // Recorded while it was stuck on a monitor before this point; here it got here unstuck.
            main.poll();
            consumed(r);
            return r.thread();
        }
        if (fromVid != from.vid) {
            diverged(from, "a scheduling point (tick " + tick + ")", r,
                    "the log switches from another thread here: the threads did not run as recorded");
        }
        if (fromTick > tick) {
            return -1;
        }
        if (fromTick < tick) {
            diverged(from, "a scheduling point (tick " + tick + ")", r,
                    "the log switched away from this thread at its tick " + fromTick + ", which it has passed"
                            + " (one known cause: threads that block, sleep or wait for I/O inside a synchronized"
                            + " block other threads also enter; the serial scheduler does not yet order who gets"
                            + " such a monitor)");
        }
        main.poll();
        consumed(r);
        return r.thread();
    }

    @Override
    public synchronized long switchFromBlocked(ThreadState holder, long tick) {
        if (!serial || ended) {
            return -1;
        }
        LogRecord r = peekMain();
        if (r == null || r.type() != RecordTypes.SCHEDULE || DeterminantCodec.first(r.payload()) != holder.vid
                || SerialScheduler.tickOf(DeterminantCodec.second(r.payload())) != tick) {
            return -1;
        }
        main.poll();
        consumed(r);
        return r.thread();
    }

    @Override
    public synchronized void stuckOnMonitor(ThreadState holder, String detail) {
        LogRecord r = peekMain();
        if (r != null && !ended) {
            diverged(holder, "nothing: it is blocked entering a monitor", r, detail);
        }
    }

    @Override
    public synchronized void holderEnded(ThreadState t) {
        endIfPending();
        LogRecord r = peekMain();
        if (r != null) {
            diverged(t, "nothing more (the thread ends)", r, "the log holds more for this thread, or switches "
                    + "from it later: it ended sooner than when it was recorded");
        }
        if (!ended) {
            end();
        }
    }

    /** Stops replay with the report: where, what the log held, what the program did. Never returns. */
    static void diverged(ThreadState t, String asked, LogRecord expected, String detail) {
        StringBuilder sb = new StringBuilder();
        sb.append("replay diverged at log position ").append(expected.position()).append(" on thread ")
                .append(Thread.currentThread().getName()).append(" (virtual id ").append(t.vid).append(")\n");
        sb.append("  the log holds next: ").append(describe(expected))
                .append(" (thread ").append(expected.thread()).append(", sequence ").append(expected.threadSeq())
                .append(")\n");
        sb.append("  the program asked:  ").append(asked).append(" (thread sequence ").append(t.seq)
                .append(", scheduling tick ").append(t.ticks).append(")\n");
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
                + "between threads the log does not order)");
        AgentLog.error(sb.toString());
        System.out.flush();
        Runtime.getRuntime().halt(EXIT_DIVERGENCE);
    }

    private static String describe(LogRecord r) {
        if (r.type() == RecordTypes.SCHEDULE) {
            return "switch to thread " + r.thread() + " from thread " + DeterminantCodec.first(r.payload())
                    + " at its tick " + SerialScheduler.describeTick(DeterminantCodec.second(r.payload()));
        }
        return DeterminantCodec.describe(r.payload());
    }

    /** The payload of a {@code SCHEDULE} record: who gave the token up, at which of its ticks. */
    static byte[] switchPayload(long fromVid, long fromTick) {
        return DeterminantCodec.pair(Hooks.SWITCH, fromVid, fromTick);
    }
}
