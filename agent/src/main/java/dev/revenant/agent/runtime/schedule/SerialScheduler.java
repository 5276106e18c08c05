package dev.revenant.agent.runtime.schedule;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

import dev.revenant.bridge.Sched;
import dev.revenant.bridge.ThreadState;

/**
 * The run token of {@code schedule=serial}: exactly one scheduled app thread holds it and runs.
 *
 * <p><b>Recording</b>, a thread that passes a scheduling point hands the token to the thread that
 * has waited longest for it (first come, first served), or leaves it free when nobody waits; the
 * next thread to want it takes it. Whenever the token goes to another thread than the one that had
 * it last, {@link SwitchLog#switched} logs "from F at its tick n to T", on the thread that makes the
 * switch, before T can run: so the log holds every record of a thread's turn after the switch that
 * began it.
 *
 * <p><b>Replaying</b>, the token moves only where the log says: at each scheduling point the holder
 * asks the {@link Script} whether the log's next event is a switch from it at this tick, and if so
 * hands the token to the thread it names. Everybody else waits. Once the log is used up,
 * {@link #goLive} turns the token into a recording one, with the threads that were waiting for it
 * queued in the order they began to wait.
 *
 * <p>Threads wait by parking ({@code LockSupport.park} with the thread marked busy, so the park
 * hook lets it through) or, when they hold a monitor (returning from {@code Object.wait}), by
 * waiting on that monitor for a millisecond at a time, so that its lock is free meanwhile.
 * Everything here runs on app threads with the thread marked busy; the lock is a private monitor
 * (the replay script's, when replaying), which no app code can see.
 */
public final class SerialScheduler implements Sched.Scheduler {
    /** Where a recording scheduler writes its switches. */
    public interface SwitchLog {
        void switched(ThreadState to, long fromVid, long fromTick);
    }

    /** The switches a replay follows, read from the log. */
    public interface Script {
        /**
         * Called by the holder at a scheduling point: if the log's next event is a switch from
         * {@code from} at {@code tick}, takes it and returns the virtual id it goes to; -1 if the
         * log does not switch here. A switch the program has already passed is a divergence (the
         * script reports it and stops the JVM).
         */
        long switchAt(ThreadState from, long tick);

        /** The holder ended and the log switches nowhere from it: the replay has run out of threads. */
        void holderEnded(ThreadState t);

        /**
         * Called by a waiting thread while the holder is stuck entering a monitor: if the log's
         * next event is a switch from {@code holder} at {@code tick}, takes it and returns the
         * virtual id it goes to; -1 otherwise. Never reports a divergence (the holder may simply
         * not have got there yet).
         */
        long switchFromBlocked(ThreadState holder, long tick);

        /**
         * The holder has been blocked entering a monitor whose owner waits for the token, and the
         * log does not switch: nothing can move again. Reports the divergence and stops the JVM
         * (returns only at the log's end, where going live sorts it out).
         */
        void stuckOnMonitor(ThreadState holder, String detail);
    }

    /** How long replay lets a holder stay blocked on a monitor whose owner waits for the token. */
    private static final long STUCK_NANOS = 2_000_000_000L;

    /**
     * Set in a logged switch's tick when the token was taken from a holder stuck entering a monitor
     * (after that tick, before its next one) rather than given up at the scheduling point itself:
     * replay then takes the switch where the holder runs on, not at its scheduling point.
     */
    public static final long STOLEN = 1L << 62;

    /** The tick a logged switch names, without its {@link #STOLEN} mark. */
    public static long tickOf(long logged) {
        return logged & ~STOLEN;
    }

    /** Whether a logged switch was taken from a holder stuck entering a monitor. */
    public static boolean stolen(long logged) {
        return (logged & STOLEN) != 0;
    }

    /** A logged switch's tick for people: the number, and how the token was taken if it was stolen. */
    public static String describeTick(long logged) {
        return tickOf(logged) + (stolen(logged) ? " (taken while it was stuck entering a monitor)" : "");
    }

    private final Object lock;
    private final SwitchLog log;
    private volatile Script script;
    private volatile boolean replaying;
    /** Virtual id of the thread that holds the token; 0: nobody (free). */
    private volatile long holder;
    /** Its state, once known (a thread granted the token in replay may not have begun yet). */
    private ThreadState holderState;
    /**
     * Replay: every scheduled thread seen here, by virtual id, so that a grant knows the state of a
     * thread that gets the token while it runs on without it (after a stolen switch) and so never
     * passes {@link #acquire}; a holder blocked on a monitor is then still seen. Lock held.
     */
    private final java.util.Map<Long, ThreadState> seen = new java.util.HashMap<>();
    /** Threads waiting for the token, longest first. */
    private final List<ThreadState> waiting = new ArrayList<>();
    /** Who had the token last, and at which of its ticks it gave it up. */
    private long lastVid;
    private long lastTick;
    private long switches;
    private long steals;
    /** Replay: the holder last seen blocked on a monitor held by a token waiter, at which tick, since when. */
    private long stuckVid;
    private long stuckTick;
    private long stuckSince;
    /** Sees which monitor a blocked holder waits for; made here, in premain, in both roles. */
    private final java.lang.management.ThreadMXBean threads;
    private final int lockHash;

    private SerialScheduler(SwitchLog log, Script script, long firstHolder, Object lock) {
        this.lock = lock;
        this.threads = java.lang.management.ManagementFactory.getThreadMXBean();
        this.lockHash = System.identityHashCode(lock);
        this.log = log;
        this.script = script;
        this.replaying = script != null;
        this.holder = firstHolder;
        this.lastVid = firstHolder;
    }

    /** Recording, with {@code main} holding the token. */
    public static SerialScheduler recording(SwitchLog log, ThreadState main) {
        main.schedule();
        main.begun = true;
        SerialScheduler s = new SerialScheduler(log, null, main.vid, new Object());
        s.holderState = main;
        return s;
    }

    /**
     * Replaying {@code script}, with the main thread (virtual id 1) holding the token as it did
     * when recorded; switches go to {@code liveLog} once the process is live. The script's own
     * monitor is the token's lock, so that the two never wait for each other.
     */
    public static SerialScheduler replaying(Script script, SwitchLog liveLog, ThreadState main) {
        main.schedule();
        main.begun = true;
        SerialScheduler s = new SerialScheduler(liveLog, script, main.vid, script);
        s.holderState = main;
        return s;
    }

    @Override
    public boolean replaying() {
        return replaying;
    }

    /** Switches made (recorded or replayed) so far. */
    public long switches() {
        synchronized (lock) {
            return switches;
        }
    }

    @Override
    public void release(ThreadState t, boolean tick) {
        if (tick) {
            t.ticks++;
        }
        synchronized (lock) {
            if (replaying) {
                seen.putIfAbsent(t.vid, t);
            }
            if (holder != t.vid) {
                return; // not its token to give (a thread that began without it); nothing to hand over
            }
            if (replaying) {
                long to = script.switchAt(t, t.ticks);
                if (to >= 0) {
                    grant(to);
                }
                return;
            }
            handOver(t.vid, t.ticks, false);
        }
    }

    /** Recording: the token goes to the longest waiter, or is left free. Lock held. */
    private void handOver(long fromVid, long fromTick, boolean stolen) {
        lastVid = fromVid;
        lastTick = fromTick;
        if (waiting.isEmpty()) {
            holder = 0;
            holderState = null;
            return;
        }
        ThreadState next = waiting.remove(0);
        if (next.vid != fromVid) {
            log.switched(next, fromVid, stolen ? fromTick | STOLEN : fromTick);
            switches++;
        }
        holder = next.vid;
        holderState = next;
        LockSupport.unpark(next.thread);
    }

    /** Replaying: the token goes to {@code vid}, which may not have begun yet. Lock held. */
    private void grant(long vid) {
        holder = vid;
        ThreadState known = seen.get(vid);
        holderState = known != null && !known.ended ? known : null;
        switches++;
        for (int i = 0; i < waiting.size(); i++) {
            ThreadState w = waiting.get(i);
            if (w.vid == vid) {
                waiting.remove(i);
                LockSupport.unpark(w.thread);
                return;
            }
        }
    }

    @Override
    public void acquire(ThreadState t, Object monitor) {
        while (true) {
            boolean head;
            synchronized (lock) {
                if (replaying) {
                    seen.putIfAbsent(t.vid, t);
                }
                if (holder == t.vid) {
                    waiting.remove(t);
                    holderState = t;
                    if (replaying) {
                        // A second hand-over at the same tick: logged when a recovery went live
                        // while this thread waited, and it then made its call for real.
                        long to = script.switchAt(t, t.ticks);
                        if (to >= 0 && to != t.vid) {
                            grant(to);
                            waiting.add(t);
                        } else {
                            return;
                        }
                    } else {
                        return;
                    }
                } else if (!replaying && holder == 0) {
                    holder = t.vid;
                    holderState = t;
                    if (lastVid != t.vid) {
                        log.switched(t, lastVid, lastTick);
                        switches++;
                    }
                    return;
                } else {
                    if (!waiting.contains(t)) {
                        waiting.add(t);
                    }
                    if (takeFromStuckHolder(t)) {
                        continue;
                    }
                }
                head = waiting.get(0) == t;
            }
            await(t, monitor, head);
        }
    }

    /**
     * The holder is stuck entering a monitor that a thread without the token holds (that thread
     * gave the token up at a blocking call inside {@code synchronized}, and now waits for it): no
     * scheduling point is coming, so the token is taken from it where it stands, at its current
     * tick, and logged like any switch. It runs on without the token once it has the monitor, up
     * to its next scheduling point, where it waits for the token again. Lock held.
     */
    private boolean takeFromStuckHolder(ThreadState t) {
        ThreadState h = holderState;
        if (h == null || h == t || h.busy || h.released || h.ended || h.thread.getState() != Thread.State.BLOCKED) {
            return false;
        }
        java.lang.management.ThreadInfo info = threads.getThreadInfo(h.thread.getId());
        java.lang.management.LockInfo on = info == null ? null : info.getLockInfo();
        if (on == null || on.getIdentityHashCode() == lockHash || h.thread.getState() != Thread.State.BLOCKED) {
            return false; // not blocked any more, or only on the token's own lock
        }
        if (!ThreadState.isScheduledId(info.getLockOwnerId())) {
            // The monitor's owner is outside the schedule (the agent's log writer, a JDK system
            // thread): it runs without the token and lets go by itself, and it exists in one role
            // only, so a switch taken here would be one the other role never takes.
            return false;
        }
        if (replaying) {
            long to = script.switchFromBlocked(h, h.ticks);
            if (to < 0) {
                watchStuck(h, on, info);
                return false;
            }
            grant(to);
            h.stolenAt = h.ticks;
        } else {
            if (waiting.get(0) != t) {
                return false; // the longest waiter takes it
            }
            handOver(h.vid, h.ticks, true);
        }
        steals++;
        return true;
    }

    /**
     * Replay: the holder ran on past the tick at which the log says its token was taken while it was
     * stuck entering a monitor (here it was not stuck: nobody held that monitor): the token goes to
     * {@code to} now, and the holder runs on without it to its next scheduling point, as recorded.
     * Called by the script, whose monitor is this scheduler's lock.
     */
    public void stolenInReplay(ThreadState h, long to) {
        synchronized (lock) {
            h.stolenAt = h.ticks;
            grant(to);
            steals++;
        }
    }

    /**
     * Replay, the log not switching: if the monitor's owner waits for the token, the holder can never
     * get it. After {@link #STUCK_NANOS} of that at one tick, a divergence report, not a hang. Lock held.
     */
    private void watchStuck(ThreadState h, java.lang.management.LockInfo on, java.lang.management.ThreadInfo info) {
        boolean ownerWaits = false;
        for (ThreadState w : waiting) {
            ownerWaits |= w.thread.getId() == info.getLockOwnerId();
        }
        long now = System.nanoTime();
        if (!ownerWaits || stuckVid != h.vid || stuckTick != h.ticks) {
            stuckVid = ownerWaits ? h.vid : 0;
            stuckTick = h.ticks;
            stuckSince = now;
        } else if (now - stuckSince > STUCK_NANOS) {
            script.stuckOnMonitor(h, "thread " + h.thread.getName() + " is blocked entering the monitor of " + on
                    + ", which thread " + info.getLockOwnerName() + " holds while it waits for its turn; when"
                    + " recorded it did not block there (the serial scheduler does not yet order who gets a monitor:"
                    + " threads that block, sleep, wait or do I/O inside a synchronized block other threads also enter)");
        }
    }

    /** Switches taken from a holder stuck entering a monitor, so far. */
    public long steals() {
        synchronized (lock) {
            return steals;
        }
    }

    /**
     * Waits (bounded, then looks again) until this thread may hold the token. A grant unparks the
     * thread it goes to; the timeout is for looking at a holder that may be stuck on a monitor (see
     * {@link #takeFromStuckHolder}), which only the longest waiter needs to do often: when every
     * waiter looked each millisecond, 20 waiting threads of a busy server woke 20,000 times a second
     * for nothing, a context switch each, on two cores. A thread that becomes the longest waiter
     * while parked looks at its next timeout (at most 50 ms later); a grant wakes it at once.
     */
    private void await(ThreadState t, Object monitor, boolean head) {
        if (monitor == null) {
            LockSupport.parkNanos(this, head && holder != 0 ? 1_000_000L : 50_000_000L);
            return;
        }
        try {
            monitor.wait(1);
        } catch (InterruptedException e) {
            t.thread.interrupt(); // kept for the app's next look at it
        }
    }

    @Override
    public void exit(ThreadState t) {
        release(t, true);
        synchronized (lock) {
            waiting.remove(t);
            if (holder == t.vid && replaying) {
                script.holderEnded(t);
            }
        }
    }

    /**
     * The log is used up: the token records from now on. The holder keeps it (if it ended, the
     * longest waiter gets it); the threads waiting for the log's word wait on, first come first
     * served.
     */
    public void goLive() {
        synchronized (lock) {
            if (!replaying) {
                return;
            }
            replaying = false;
            seen.clear();
            script = null;
            if (holder == 0 || holderState != null && holderState.ended) {
                handOver(holder, holderState == null ? 0 : holderState.ticks, false);
            }
            for (ThreadState w : waiting) {
                LockSupport.unpark(w.thread);
            }
        }
    }

    /** For reports: the virtual id holding the token (0: nobody). */
    public long holder() {
        return holder;
    }
}
