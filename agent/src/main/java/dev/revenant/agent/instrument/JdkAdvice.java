package dev.revenant.agent.instrument;

import java.time.Instant;

import dev.revenant.bridge.Hooks;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bytecode.assign.Assigner;

/**
 * Advice inlined into JDK methods. Each is tiny and only calls {@link Hooks} (on the boot class
 * path, so the JDK's class loader can link it); {@code suppress = Throwable.class} means no agent
 * failure ever surfaces as the app's exception.
 */
final class JdkAdvice {
    private JdkAdvice() {}

    /** {@code java.time.Clock.currentInstant()}: every Instant.now(), LocalDateTime.now(), system clock instant. */
    static final class CurrentInstant {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Return(readOnly = false) Instant ret) {
            ret = Hooks.instant(ret);
        }
    }

    /** {@code java.time.Clock$SystemClock.millis()}. */
    static final class ClockMillis {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Return(readOnly = false) long ret) {
            ret = Hooks.clockMillis(ret);
        }
    }

    /** {@code java.util.Random.seedUniquifier()}: half of every {@code new Random()} seed. */
    static final class SeedUniquifier {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Return(readOnly = false) long ret) {
            ret = Hooks.seedUniquifier(ret);
        }
    }

    /** {@code java.util.concurrent.ThreadLocalRandom.localInit()}: the seed a thread gets. */
    static final class LocalInit {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit() {
            Hooks.threadLocalRandomInit();
        }
    }

    /** {@code java.util.concurrent.ThreadLocalRandom.nextSeed()}: every value a thread draws. */
    static final class NextSeed {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Return(readOnly = false) long ret) {
            ret = Hooks.threadLocalRandomNextSeed(ret);
        }
    }

    /** {@code java.security.SecureRandom.nextBytes(byte[])}: key material, UUIDs, nonces. */
    static final class SecureNextBytes {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Argument(0) byte[] bytes) {
            Hooks.secureRandomBytes(bytes);
        }
    }

    /** {@code java.security.SecureRandom.generateSeed(int)}. */
    static final class GenerateSeed {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) byte[] ret) {
            ret = Hooks.secureRandomSeed(ret);
        }
    }

    /**
     * {@code java.lang.invoke.MethodHandleNatives.link*}: the VM's up-calls that bootstrap
     * invokedynamic sites, lambdas and string concatenation. They fill JDK-wide caches that the
     * agent may already have filled in one role and not the other, so objects they hash must not
     * take from the app thread's identity-hash sequence.
     */
    static final class PauseHashes {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static boolean enter() {
            return dev.revenant.bridge.IdentityHashes.pauseThread();
        }

        @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class)
        static void exit(@Advice.Enter boolean was) {
            dev.revenant.bridge.IdentityHashes.resumeThread(was);
        }
    }

    /** {@code java.lang.Thread.start()}: the parent decides the child's virtual id. */
    static final class ThreadStart {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Thread self) {
            Hooks.threadStarting(self);
        }
    }
}
