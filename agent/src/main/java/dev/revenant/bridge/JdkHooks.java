package dev.revenant.bridge;

import java.time.Instant;

/**
 * What the rewritten JDK entry points call (see {@code dev.revenant.agent.instrument.JdkEntryRewrite}).
 * Each one delegates to {@link Hooks} and swallows anything thrown: the JDK method goes on with its
 * own value, as if it had not been instrumented, and the app never sees an agent failure as its
 * own exception. (The rewrite inserts plain calls, no exception handlers, so this is where that
 * guarantee lives.) References only {@code java.base} types: it is on the boot class path.
 */
public final class JdkHooks {
    private JdkHooks() {}

    /** Entry of {@code java.lang.Shutdown.exit(int)} and {@code shutdown()}: may wait, bounded, for the log. */
    public static void beforeShutdown() {
        try {
            Hooks.beforeShutdown();
        } catch (Throwable t) {
            // shutdown goes ahead
        }
    }

    /** Return of {@code java.time.Clock.currentInstant()}. */
    public static Instant currentInstant(Instant live) {
        try {
            return Hooks.instant(live);
        } catch (Throwable t) {
            return live;
        }
    }

    /** Return of {@code java.time.Clock$SystemClock.millis()}. */
    public static long clockMillis(long live) {
        try {
            return Hooks.clockMillis(live);
        } catch (Throwable t) {
            return live;
        }
    }

    /** Return of {@code java.util.Random.seedUniquifier()}. */
    public static long seedUniquifier(long live) {
        try {
            return Hooks.seedUniquifier(live);
        } catch (Throwable t) {
            return live;
        }
    }

    /** Return of {@code java.util.concurrent.ThreadLocalRandom.localInit()}. */
    public static void threadLocalRandomInit() {
        try {
            Hooks.threadLocalRandomInit();
        } catch (Throwable t) {
            // the thread keeps the seed the JDK gave it
        }
    }

    /** Return of {@code java.util.concurrent.ThreadLocalRandom.nextSeed()}. */
    public static long threadLocalRandomNextSeed(long live) {
        try {
            return Hooks.threadLocalRandomNextSeed(live);
        } catch (Throwable t) {
            return live;
        }
    }

    /** Return of {@code java.security.SecureRandom.nextBytes(byte[] ...)}: its first argument. */
    public static void secureRandomBytes(byte[] bytes) {
        try {
            Hooks.secureRandomBytes(bytes);
        } catch (Throwable t) {
            // the bytes stay as generated
        }
    }

    /** Return of {@code java.security.SecureRandom.generateSeed(int)}. */
    public static byte[] secureRandomSeed(byte[] live) {
        try {
            return Hooks.secureRandomSeed(live);
        } catch (Throwable t) {
            return live;
        }
    }

    /** Entry of {@code java.lang.Thread.start()}. */
    public static void threadStarting(Thread child) {
        Hooks.threadStarting(child); // catches everything itself
    }

    /** Entry of {@code java.lang.invoke.MethodHandleNatives.link*}. */
    public static void linkageEnter() {
        IdentityHashes.enterLinkage(); // never throws
    }

    /** Normal or exceptional exit of {@code java.lang.invoke.MethodHandleNatives.link*}. */
    public static void linkageExit() {
        IdentityHashes.exitLinkage(); // never throws
    }
}
