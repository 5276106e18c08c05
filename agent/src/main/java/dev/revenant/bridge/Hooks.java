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

    private static volatile Determinants impl;

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
        return t.agent || t.busy ? null : t;
    }

    private static long value(int kind, long live) {
        ThreadState t = app();
        if (t == null) {
            return live;
        }
        t.busy = true;
        try {
            return impl.value(t, kind, live);
        } finally {
            t.busy = false;
        }
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
        t.busy = true;
        try {
            long[] v = impl.pair(t, INSTANT, live.getEpochSecond(), live.getNano());
            return v[0] == live.getEpochSecond() && v[1] == live.getNano() ? live : Instant.ofEpochSecond(v[0], v[1]);
        } finally {
            t.busy = false;
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

    /** Exit of {@code ThreadLocalRandom.localInit()}: the seed it gave the calling thread. */
    public static void threadLocalRandomInit() {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        t.busy = true;
        try {
            long seed = JdkAccess.threadLocalRandomSeed(Thread.currentThread());
            int probe = JdkAccess.threadLocalRandomProbe(Thread.currentThread());
            long[] v = impl.pair(t, TLR_SEED, seed, probe);
            if (v[0] != seed || v[1] != probe) {
                JdkAccess.setThreadLocalRandom(Thread.currentThread(), v[0], (int) v[1]);
            }
        } finally {
            t.busy = false;
        }
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
        t.busy = true;
        try {
            impl.bytes(t, kind, b, 0, b.length);
        } finally {
            t.busy = false;
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
            case SECURE_RANDOM_BYTES -> "SecureRandom bytes";
            case SECURE_RANDOM_SEED -> "SecureRandom seed";
            default -> "kind " + kind;
        };
    }
}
