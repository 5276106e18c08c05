package dev.revenant.bridge;

import java.lang.invoke.MethodHandle;

/**
 * The serial scheduler's entry points (agent key {@code schedule=serial}): one app thread runs at
 * a time, holding the <em>run token</em>. A thread gives the token up at a scheduling point — a
 * call that may block (park, wait, sleep, join, a socket read, accept or select) and its own end —
 * and takes it back before it goes on; who gets it in between is the scheduler's choice when
 * recording and the log's when replaying. Each thread counts the scheduling points it passes
 * ({@link ThreadState#ticks}); a switch is logged as "from thread F at its tick n to thread T", so a
 * replay hands the token over at exactly the same place in each thread's own execution.
 *
 * <p>The {@link Scheduler} itself lives in the runtime ({@code dev.revenant.agent.runtime.schedule});
 * this class only decides whether the calling thread takes part, and never throws into the app.
 * While a thread is inside a blocking call with the token given up ({@link ThreadState#released}),
 * the scheduling points nested in that call (the JDK's own parks, say) pass straight through.
 */
public final class Sched {
    /** What the runtime installs: the run token, in record or replay mode. */
    public interface Scheduler {
        /**
         * {@code t} (which holds the token) passes a scheduling point: counts it ({@code tick}) and
         * hands the token on — to the next waiting thread when recording, to the thread the log
         * names when replaying. {@code tick == false}: a second hand-over at the same point (a
         * thread that was waiting when a recovery went live does the call it waited at for real).
         */
        void release(ThreadState t, boolean tick);

        /**
         * Returns once {@code t} holds the token. {@code monitor}, if not null, is a monitor the
         * thread holds (it returns from {@code Object.wait}); it is let go while the thread waits, so
         * that the token's holder can take it.
         */
        void acquire(ThreadState t, Object monitor);

        /** True while blocking calls are answered from the log instead of made. */
        boolean replaying();

        /** {@code t} ends: gives the token up for good. */
        void exit(ThreadState t);
    }

    /** {@link #block}'s answer when replay answers the call: the thread holds the token, the call is not made. */
    public static final ThreadState REPLAYED = ThreadState.placeholder();

    private static volatile Scheduler impl;
    private static final MethodHandle PARK = JdkAccess.parkHandle();

    private Sched() {}

    public static void install(Scheduler s) {
        impl = s;
    }

    public static Scheduler installed() {
        return impl;
    }

    /** Threads the scheduler leaves alone although an app thread started them: the JDK's cleaner threads. */
    static boolean unscheduledKind(Thread t) {
        return t.getClass().getName().equals("jdk.internal.misc.InnocuousThread");
    }

    /** The calling thread if it takes part and is at a scheduling point it must honour; begins it first. */
    static ThreadState current() {
        if (impl == null) {
            return null;
        }
        ThreadState t = ThreadState.current();
        if (!t.takesPart()) {
            return null;
        }
        if (!t.begun) {
            begin(t);
        }
        return t;
    }

    /** A scheduled thread's first scheduling point: it waits for the token before it runs anything else. */
    static void begin(ThreadState t) {
        Scheduler s = impl;
        if (s == null || t.begun || !t.scheduled) {
            return;
        }
        t.begun = true;
        boolean h = Hooks.enter(t);
        try {
            s.acquire(t, null);
        } catch (Throwable e) {
            failed(e);
        } finally {
            Hooks.leave(t, h);
        }
    }

    /** Entry of {@code Thread.run()} (and of the JDK's thread classes that override it). */
    public static void threadRun() {
        try {
            current();
        } catch (Throwable e) {
            failed(e);
        }
    }

    /** Entry of {@code Thread.exit()}, which the VM calls when a thread ends: the token goes for good. */
    public static void threadExit() {
        try {
            ThreadState t = current();
            if (t == null) {
                return;
            }
            Scheduler s = impl;
            boolean h = Hooks.enter(t);
            try {
                t.ended = true;
                t.unlist();
                s.exit(t);
            } finally {
                Hooks.leave(t, h);
            }
        } catch (Throwable e) {
            failed(e);
        }
    }

    /**
     * Before a call that may block: the calling thread gives the token up. Returns null when the
     * thread does not take part (make the call, nothing to do after); {@link #REPLAYED} when replay
     * answers the call (do not make it: the thread holds the token again); else the thread, which
     * makes the call and then calls {@link #resume}.
     */
    public static ThreadState block(Object monitor) {
        try {
            ThreadState t = current();
            return t == null ? null : block(t, monitor);
        } catch (Throwable e) {
            failed(e);
            return null;
        }
    }

    static ThreadState block(ThreadState t, Object monitor) {
        Scheduler s = impl;
        boolean h = Hooks.enter(t);
        try {
            if (TickTrace.on()) {
                TickTrace.tick(t, s.replaying());
            }
            boolean wasReplaying = s.replaying();
            s.release(t, true);
            if (s.replaying()) {
                s.acquire(t, monitor);
                if (s.replaying()) {
                    return REPLAYED;
                }
                s.release(t, false); // went live while waiting: the call is made for real
                t.wentLiveWaiting = true;
            } else if (wasReplaying) {
                // The run went live inside that release (this was the log's last scheduling
                // point), which in replay keeps the token where the log does not switch: hand it
                // on now, or the thread would block in its call holding it, and everybody with it.
                s.release(t, false);
                t.wentLiveWaiting = true;
            }
            t.released = true;
            return t;
        } finally {
            Hooks.leave(t, h);
        }
    }

    /**
     * Whether {@code b} (what {@link #block} returned) went live while it waited for the log's
     * word; clears the mark. A park or a wait that did must not be made for real: what would have
     * woken it (an unpark, a notify) may already have happened while it waited for the token — the
     * scheduler's own waiting consumed the permit or the notification — and a real call would then
     * sleep for ever (seen: a pool whose four workers all slept with a task queued). It returns at
     * once instead, as a spurious wake-up, which both calls allow: the caller looks at its condition
     * again and, live now, waits for real if it must.
     */
    public static boolean wokeAtGoingLive(ThreadState b) {
        if (b == null || b == REPLAYED || !b.wentLiveWaiting) {
            return false;
        }
        b.wentLiveWaiting = false;
        return true;
    }

    /** After a call that {@link #block} let through: takes the token back. A no-op for null or {@link #REPLAYED}. */
    public static void resume(ThreadState t, Object monitor) {
        if (t == null || t == REPLAYED || !t.released) {
            return;
        }
        Scheduler s = impl;
        t.released = false;
        t.wentLiveWaiting = false;
        if (s == null) {
            return;
        }
        boolean h = Hooks.enter(t);
        try {
            s.acquire(t, monitor);
        } catch (Throwable e) {
            failed(e);
        } finally {
            Hooks.leave(t, h);
        }
    }

    /**
     * A preemption point ({@link Preempt}): a scheduling point with no call behind it. Recording
     * hands the token to the longest waiter, if any, and waits for it back; replay hands over where
     * the log says.
     */
    static void preemptPoint(ThreadState t) {
        if (impl == null) {
            return;
        }
        ThreadState b = block(t, null);
        resume(b, null);
    }

    /** The thread's own state if it gave the token up at a blocking call still to be resumed, else null. */
    static ThreadState released(ThreadState t) {
        return t != null && t.released ? t : null;
    }

    /**
     * Replaces {@code Unsafe.park} inside {@code LockSupport} (every park of {@code java.util.concurrent}
     * and of the app): a scheduling point. In replay the hand-over is the wake-up: the thread does
     * not park, it returns once the log gives it the token again.
     */
    public static void park(Object unsafe, boolean absolute, long time) throws Throwable {
        if (impl != null && LockOwners.waitsOutsideSchedule()) {
            // Not a scheduling point in either role: the lock is the agent's for a moment (or just
            // free), which replay would not see. The thread keeps the token and parks for at most a
            // millisecond; the lock's acquire loop then looks again.
            parkBriefly(absolute, time);
            return;
        }
        ThreadState b = block(null);
        if (b == REPLAYED) {
            return;
        }
        if (wokeAtGoingLive(b)) {
            resume(b, null);
            return;
        }
        try {
            PARK.invokeExact(absolute, time);
        } finally {
            resume(b, null);
        }
    }

    private static void parkBriefly(boolean absolute, long time) throws Throwable {
        long ms = 1;
        if (absolute) {
            PARK.invokeExact(true, Math.min(time, System.currentTimeMillis() + ms));
        } else {
            long cap = ms * 1_000_000L;
            PARK.invokeExact(false, time == 0 ? cap : Math.min(time, cap));
        }
    }

    /** Entry of {@code Thread.join(long)}: waiting for a thread to end is a scheduling point. */
    public static void joinEnter() {
        ThreadState b = block(null);
        if (b != null && b != REPLAYED) {
            b.inJoin = true;
        }
    }

    /** Every exit of {@code Thread.join(long)}. */
    public static void joinExit() {
        try {
            if (impl == null) {
                return;
            }
            ThreadState t = ThreadState.current();
            if (t.inJoin) {
                t.inJoin = false;
                resume(t, null);
            }
        } catch (Throwable e) {
            failed(e);
        }
    }

    private static volatile boolean toldFailure;

    /** An agent failure inside the scheduler: said once; the app goes on (its replay will say where it parts). */
    static void failed(Throwable e) {
        if (!toldFailure) {
            toldFailure = true;
            try {
                System.err.println("revenant: ERROR: the thread scheduler failed: " + e);
                e.printStackTrace();
            } catch (Throwable ignored) {
                // stderr gone
            }
        }
    }
}
