package dev.revenant.bridge;

import java.time.Instant;

/**
 * The static entry points instrumented code calls. Each asks the installed {@link Determinants}
 * (the recorder or the replayer) and falls back to the live value when none is installed, when
 * the calling thread belongs to the agent, or while the runtime itself is working on this
 * thread. Never throws into the app: a failure inside the runtime is the runtime's to report.
 */
public final class Hooks {
    /** Kinds of determinants; part of the log format (payload byte 0). */
    public static final int NANO_TIME = 1;
    public static final int CURRENT_MILLIS = 2;
    public static final int INSTANT = 3;
    public static final int CLOCK_MILLIS = 4;
    public static final int RANDOM_SEED_UNIQUIFIER = 10;
    public static final int TLR_SEED = 11;
    public static final int SECURE_RANDOM_BYTES = 12;
    public static final int SECURE_RANDOM_SEED = 13;
    public static final int TLR_NEXT_SEED = 14;
    public static final int SLEEP = 20;
    public static final int TIMED_WAIT = 21;
    public static final int PARK_NANOS = 22;
    /** A switch of the serial scheduler's run token (record type SCHEDULE): from which thread, at which tick. */
    public static final int SWITCH = 40;

    /** Outcomes of a timed wait. */
    public static final long TIMED_OUT = 0;
    public static final long SIGNALLED = 1;
    public static final long INTERRUPTED = 2;

    private static volatile Determinants impl;
    /** Run at the start of JVM shutdown while set (see {@link #setShutdownGate}). */
    private static volatile Runnable shutdownGate;

    /**
     * What the JVM's shutdown waits for before its hooks run: the recorder sets it while its log
     * is still opening, so that an app which exits at once does not begin shutdown (after which
     * Chronicle cannot register its own hooks) before the log could be finished. Null to clear.
     */
    public static void setShutdownGate(Runnable gate) {
        shutdownGate = gate;
    }

    /** Entry of {@code java.lang.Shutdown.exit(int)} and {@code Shutdown.shutdown()}. */
    static void beforeShutdown() {
        Runnable g = shutdownGate;
        if (g != null) {
            // The agent's wait: no scheduling point (its parks would hand the token over at exit
            // in one role only) and no stamps from the exiting thread's sequence.
            ThreadState t = ThreadState.current();
            boolean busy = t.busy;
            boolean hashes = enter(t);
            try {
                g.run();
            } finally {
                t.busy = busy;
                IdentityHashes.resumeThread(hashes);
            }
        }
    }

    private Hooks() {}

    public static void install(Determinants d) {
        impl = d;
    }

    public static Determinants installed() {
        return impl;
    }

    /** The state of the calling thread if its determinants are to be handled, else null. */
    private static ThreadState app() {
        if (impl == null) {
            return null;
        }
        ThreadState t = ThreadState.current();
        if (t.agent || t.busy) {
            return null;
        }
        if (t.scheduled && !t.begun) {
            Sched.begin(t); // a thread whose start the hooks did not see runs nothing before it has the token
        }
        return t;
    }

    private static long value(int kind, long live) {
        ThreadState t = app();
        return t == null ? live : outcome(t, kind, live);
    }

    /** Replaces {@code System.nanoTime()} at instrumented call sites. */
    public static long nanoTime() {
        return value(NANO_TIME, System.nanoTime());
    }

    /** Replaces {@code System.currentTimeMillis()} at instrumented call sites. */
    public static long currentTimeMillis() {
        return value(CURRENT_MILLIS, System.currentTimeMillis());
    }

    /** Exit of {@code Clock.currentInstant()}: every {@code Instant.now()} and system clock. */
    public static Instant instant(Instant live) {
        ThreadState t = app();
        if (t == null || live == null) {
            return live;
        }
        boolean hashes = enter(t);
        try {
            long[] v = impl.pair(t, INSTANT, live.getEpochSecond(), live.getNano());
            return v[0] == live.getEpochSecond() && v[1] == live.getNano() ? live : Instant.ofEpochSecond(v[0], v[1]);
        } finally {
            leave(t, hashes);
        }
    }

    /** Exit of {@code Clock$SystemClock.millis()}. */
    public static long clockMillis(long live) {
        return value(CLOCK_MILLIS, live);
    }

    /** Exit of {@code Random.seedUniquifier()}. */
    public static long seedUniquifier(long live) {
        return value(RANDOM_SEED_UNIQUIFIER, live);
    }

    /**
     * Before {@code ThreadLocalRandom.localInit()} returns: the thread's seed and probe become a
     * function of its virtual id, the same in record and replay, and nothing is logged. Every value
     * the app draws is logged anyway ({@link #threadLocalRandomNextSeed}), so the seed decides
     * nothing the app sees; the probe only picks contention cells. Logging them made the JDK's own
     * first use a determinant — a {@code ConcurrentHashMap} whose CAS lost under contention with an
     * agent thread draws a probe, in record but not in replay — which the log cannot order.
     */
    public static void threadLocalRandomInit() {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        long x = t.vid * 0x9E3779B97F4A7C15L + 0x5DEECE66DL;
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        x ^= x >>> 31;
        int probe = (int) (x >>> 32) | 1; // never 0, which would mean "not initialised"
        JdkAccess.setThreadLocalRandom(Thread.currentThread(), x, probe);
    }

    /**
     * Exit of {@code ThreadLocalRandom.nextSeed()}: each step of a thread's sequence mixes in the
     * JVM's thread id, which differs between runs, so every value is a determinant.
     */
    public static long threadLocalRandomNextSeed(long live) {
        return value(TLR_NEXT_SEED, live);
    }

    /** Exit of {@code SecureRandom.nextBytes(byte[])} and friends. */
    public static void secureRandomBytes(byte[] bytes) {
        if (bytes == null) {
            return;
        }
        bytes(SECURE_RANDOM_BYTES, bytes);
    }

    /** Exit of {@code SecureRandom.generateSeed(int)}. */
    public static byte[] secureRandomSeed(byte[] seed) {
        if (seed != null) {
            bytes(SECURE_RANDOM_SEED, seed);
        }
        return seed;
    }

    private static void bytes(int kind, byte[] b) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean hashes = enter(t);
        try {
            impl.bytes(t, kind, b, 0, b.length);
        } finally {
            leave(t, hashes);
        }
    }

    /**
     * Replaces {@code Thread.sleep(millis)} at instrumented call sites. The determinant is the
     * outcome (slept, or interrupted); replay does not sleep again, it returns the outcome. Under
     * the serial scheduler a sleep is a scheduling point: the token is given up meanwhile.
     */
    public static void sleep(long millis) throws InterruptedException {
        ThreadState t = app();
        if (t == null) {
            Thread.sleep(millis);
            return;
        }
        ThreadState b = Sched.block(null);
        long outcome = TIMED_OUT;
        if (b != Sched.REPLAYED && (b != null || !impl.replaying(t))) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                outcome = INTERRUPTED;
            } finally {
                Sched.resume(b, null);
            }
        }
        outcome = outcome(t, SLEEP, outcome);
        if (outcome == INTERRUPTED) {
            throw new InterruptedException("sleep interrupted");
        }
    }

    /**
     * Replaces {@code Thread.yield()} ({@code spin} false) and {@code Thread.onSpinWait()} ({@code
     * spin} true) in app code: a scheduling point. A thread that spins on a flag or a lock word that
     * another thread will change (a compare-and-set lock, say) says so with these, and under the
     * serial scheduler that other thread can only change it if the spinner hands the token on.
     * Replay hands over at the same points and makes no real call.
     */
    public static void spinPoint(boolean spin) {
        ThreadState b = Sched.block(null);
        try {
            if (b != Sched.REPLAYED) {
                if (spin) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        } finally {
            Sched.resume(b, null);
        }
    }

    /**
     * Replaces {@code o.wait(millis)}: the outcome is whether it returned before its time (a
     * notify, or a spurious wake-up) or timed out. Replay of a timeout returns at once (holding the
     * monitor, as a wait that timed out does); a signalled wait waits for the signal again — or,
     * under the serial scheduler, for the log to hand the thread the token, which is the signal.
     */
    public static void timedWait(Object o, long millis) throws InterruptedException {
        ThreadState t = app();
        if (t == null || millis < 0) {
            o.wait(millis);
            return;
        }
        ThreadState b = Sched.block(o);
        if (millis == 0 && b == null) {
            o.wait(0); // an untimed wait outside the scheduler: nothing to record
            return;
        }
        if (b == Sched.REPLAYED || b == null && impl.replaying(t)) {
            long outcome = outcome(t, TIMED_WAIT, TIMED_OUT);
            if (outcome == SIGNALLED && b == null) {
                o.wait(millis);
            } else if (outcome == INTERRUPTED) {
                throw new InterruptedException();
            }
            return;
        }
        if (Sched.wokeAtGoingLive(b)) {
            Sched.resume(b, o);
            outcome(t, TIMED_WAIT, SIGNALLED); // a spurious wake-up
            return;
        }
        long start = System.nanoTime();
        long outcome;
        try {
            o.wait(millis);
            outcome = millis > 0 && System.nanoTime() - start >= millis * 1_000_000L ? TIMED_OUT : SIGNALLED;
        } catch (InterruptedException e) {
            Sched.resume(b, o);
            outcome(t, TIMED_WAIT, INTERRUPTED);
            throw e;
        }
        Sched.resume(b, o);
        outcome(t, TIMED_WAIT, outcome);
    }

    /** Replaces {@code o.wait()} at instrumented call sites: a scheduling point, its outcome recorded. */
    public static void untimedWait(Object o) throws InterruptedException {
        timedWait(o, 0);
    }

    /** Replaces {@code LockSupport.parkNanos(nanos)}. */
    public static void parkNanos(long nanos) {
        park(null, nanos);
    }

    /** Replaces {@code LockSupport.parkNanos(blocker, nanos)}. */
    public static void parkNanos(Object blocker, long nanos) {
        park(blocker, nanos);
    }

    private static void park(Object blocker, long nanos) {
        ThreadState t = app();
        if (t == null || nanos <= 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(blocker, nanos);
            return;
        }
        ThreadState b = Sched.block(null);
        if (b == Sched.REPLAYED || b == null && impl.replaying(t)) {
            if (outcome(t, PARK_NANOS, TIMED_OUT) != TIMED_OUT && b == null) {
                java.util.concurrent.locks.LockSupport.parkNanos(blocker, nanos);
            }
            return;
        }
        if (Sched.wokeAtGoingLive(b)) {
            Sched.resume(b, null);
            outcome(t, PARK_NANOS, SIGNALLED); // a spurious wake-up
            return;
        }
        long start = System.nanoTime();
        try {
            java.util.concurrent.locks.LockSupport.parkNanos(blocker, nanos);
        } finally {
            Sched.resume(b, null);
        }
        outcome(t, PARK_NANOS, System.nanoTime() - start >= nanos ? TIMED_OUT : SIGNALLED);
    }

    /**
     * Marks the thread busy while the runtime works on it: nested hooks pass straight through and
     * the runtime's own object hashing does not move the app's identity-hash sequence.
     */
    static boolean enter(ThreadState t) {
        t.busy = true;
        return IdentityHashes.pauseThread();
    }

    static void leave(ThreadState t, boolean hashesWerePaused) {
        t.busy = false;
        IdentityHashes.resumeThread(hashesWerePaused);
    }

    /** Asks the runtime for one value, with the thread marked busy (nested hooks pass through). */
    private static long outcome(ThreadState t, int kind, long live) {
        boolean hashes = enter(t);
        try {
            return impl.value(t, kind, live);
        } finally {
            leave(t, hashes);
        }
    }

    /** Entry of {@code Thread.start()}: the parent decides the child's virtual id. */
    public static void threadStarting(Thread child) {
        try {
            if (child != null && child.getState() == Thread.State.NEW) {
                ThreadState.starting(child);
            }
        } catch (Throwable ignored) {
            // the child falls back to a name-derived id
        }
    }

    public static String kindName(int kind) {
        return switch (kind) {
            case NANO_TIME -> "System.nanoTime";
            case CURRENT_MILLIS -> "System.currentTimeMillis";
            case INSTANT -> "Instant (java.time clock)";
            case CLOCK_MILLIS -> "Clock.millis";
            case RANDOM_SEED_UNIQUIFIER -> "new Random() seed";
            case TLR_SEED -> "ThreadLocalRandom seed";
            case TLR_NEXT_SEED -> "ThreadLocalRandom next seed";
            case SLEEP -> "Thread.sleep outcome";
            case TIMED_WAIT -> "Object.wait(timeout) outcome";
            case PARK_NANOS -> "LockSupport.parkNanos outcome";
            case SWITCH -> "thread switch";
            case SECURE_RANDOM_BYTES -> "SecureRandom bytes";
            case SECURE_RANDOM_SEED -> "SecureRandom seed";
            default -> "kind " + kind;
        };
    }
}
