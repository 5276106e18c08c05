package dev.revenant.agent.instrument;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

import dev.revenant.bridge.Determinants;
import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.IdentityHashes;
import dev.revenant.bridge.ThreadState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * The JDK rewrites ({@link JdkTransforms}, {@link JdkEntryRewrite}, {@link ClockCallSites}) applied
 * to stand-in classes of this test, which are then defined in a fresh loader (so the VM verifies
 * the rewritten code) and run. The hooks are reached through {@link Hooks} with a test
 * {@link Determinants} installed.
 */
class JdkTransformsTest {

    /** Stand-ins for the JDK methods the agent rewrites. */
    public static final class Target {
        public static long millis() {
            return 42;
        }

        public static long seed(boolean big) {
            if (big) {
                return 1000;
            }
            return 7;
        }

        public static int answer() {
            return 41;
        }

        /** Returns whether the identity-hash sequence was paused while it ran. */
        public static boolean linkProbe() {
            boolean was = IdentityHashes.pauseThread();
            IdentityHashes.resumeThread(was);
            return was;
        }

        public static int linkThrowing(int x) {
            try {
                if (x == 1) {
                    throw new IllegalArgumentException("caught inside");
                }
            } catch (IllegalArgumentException e) {
                return -1;
            }
            if (x == 2) {
                throw new IllegalStateException("escapes");
            }
            return x;
        }

        public void close() {
            // a channel's close, say
        }

        public static long clocks() throws InterruptedException {
            Object lock = new Object();
            synchronized (lock) {
                lock.wait(1);
            }
            Thread.sleep(1);
            LockSupport.parkNanos(1);
            LockSupport.parkNanos(lock, 1);
            return System.nanoTime() + System.currentTimeMillis();
        }
    }

    /** Calls {@code sleep(1)} unqualified: compiled as {@code invokestatic OwnThread.sleep}. */
    public static class OwnThread extends Thread {
        public static void nap() throws InterruptedException {
            sleep(1);
        }
    }

    public static class GrandThread extends OwnThread {
        public static void nap2() throws InterruptedException {
            sleep(1);
        }
    }

    /** Declares its own static sleep(long): a call to it is not Thread.sleep. */
    public static class ShadowingThread extends Thread {
        public static void sleep(long ms) {
            // not Thread's
        }

        public static void nap() {
            sleep(1);
        }
    }

    /** Hooks in another class than JdkHooks. */
    public static final class Seen {
        static final List<Object> CLOSED = new ArrayList<>();

        public static void closing(Object o) {
            CLOSED.add(o);
        }
    }

    /** Counts what the hooks asked for and answers {@code 1000 + kind}. */
    static final class Fake implements Determinants {
        final List<Integer> kinds = new ArrayList<>();

        @Override
        public long value(ThreadState t, int kind, long live) {
            kinds.add(kind);
            return kind == Hooks.SLEEP || kind == Hooks.TIMED_WAIT || kind == Hooks.PARK_NANOS ? live : 1000 + kind;
        }

        @Override
        public long[] pair(ThreadState t, int kind, long a, long b) {
            kinds.add(kind);
            return new long[] {a, b};
        }

        @Override
        public void bytes(ThreadState t, int kind, byte[] buf, int off, int len) {
            kinds.add(kind);
        }
    }

    @AfterEach
    void uninstall() {
        Hooks.install(null);
    }

    @Test
    void returnValueHookReplacesWhatEveryReturnGives() throws Exception {
        JdkTransforms jdk = new JdkTransforms()
                .addAsm(Target.class.getName(), JdkEntryRewrite.returnValue("millis", "()J", "clockMillis"),
                        JdkEntryRewrite.returnValue("seed", "(Z)J", "seedUniquifier"));
        Class<?> c = define(Target.class, jdk.rewrite(Target.class.getName(), bytes(Target.class)));
        Fake fake = new Fake();
        Hooks.install(fake);
        assertThat(call(c, "millis")).isEqualTo(1000L + Hooks.CLOCK_MILLIS);
        assertThat(c.getMethod("seed", boolean.class).invoke(null, true)).isEqualTo(1000L + Hooks.RANDOM_SEED_UNIQUIFIER);
        assertThat(c.getMethod("seed", boolean.class).invoke(null, false)).isEqualTo(1000L + Hooks.RANDOM_SEED_UNIQUIFIER);
        assertThat(fake.kinds).containsExactly(Hooks.CLOCK_MILLIS, Hooks.RANDOM_SEED_UNIQUIFIER, Hooks.RANDOM_SEED_UNIQUIFIER);
    }

    @Test
    void entryHookMayLiveInAnotherBridgeClass() throws Exception {
        JdkTransforms jdk = new JdkTransforms().addAsm(Target.class.getName(),
                JdkEntryRewrite.atEntry("close", "()V", "closing", "(Ljava/lang/Object;)V", 0)
                        .callingInto(Seen.class.getName().replace('.', '/')));
        Class<?> c = define(Target.class, jdk.rewrite(Target.class.getName(), bytes(Target.class)));
        Object t = c.getConstructor().newInstance();
        Seen.CLOSED.clear();
        c.getMethod("close").invoke(t);
        assertThat(Seen.CLOSED).containsExactly(t);
    }

    @Test
    void bracketPausesTheHashSequenceAndRestoresItOnEveryExit() throws Exception {
        JdkTransforms jdk = new JdkTransforms()
                .addAsm(Target.class.getName(), JdkEntryRewrite.bracket("link", "linkageEnter", "linkageExit"));
        Class<?> c = define(Target.class, jdk.rewrite(Target.class.getName(), bytes(Target.class)));
        assertThat(call(c, "linkProbe")).isEqualTo(true);
        assertThat(paused()).isFalse();
        Method m = c.getMethod("linkThrowing", int.class);
        assertThat(m.invoke(null, 0)).isEqualTo(0);
        assertThat(m.invoke(null, 1)).isEqualTo(-1); // its own handler still catches first
        assertThat(paused()).isFalse();
        assertThatThrownBy(() -> m.invoke(null, 2)).isInstanceOf(InvocationTargetException.class)
                .hasCauseInstanceOf(IllegalStateException.class);
        assertThat(paused()).isFalse();
        // nested in code that paused the thread itself: still paused after
        boolean was = IdentityHashes.pauseThread();
        try {
            assertThat(call(c, "linkProbe")).isEqualTo(true);
            assertThat(paused()).isTrue();
        } finally {
            IdentityHashes.resumeThread(was);
        }
    }

    private static boolean paused() {
        boolean was = IdentityHashes.pauseThread();
        IdentityHashes.resumeThread(was);
        return was;
    }

    @Test
    void clockCallSitesGoThroughTheHooks() throws Exception {
        byte[] rewritten = CallSiteTransformer.rewrite(Target.class.getClassLoader(), bytes(Target.class), true, false);
        assertThat(hookCalls(rewritten, "clocks")).containsExactly("timedWait", "sleep", "parkNanos", "parkNanos",
                "nanoTime", "currentTimeMillis");
        Class<?> c = define(Target.class, rewritten);
        Fake fake = new Fake();
        Hooks.install(fake);
        assertThat(call(c, "clocks")).isEqualTo(1000L + Hooks.NANO_TIME + 1000L + Hooks.CURRENT_MILLIS);
        assertThat(fake.kinds).containsExactly(Hooks.TIMED_WAIT, Hooks.SLEEP, Hooks.PARK_NANOS, Hooks.PARK_NANOS,
                Hooks.NANO_TIME, Hooks.CURRENT_MILLIS);
    }

    @Test
    void sleepThroughAThreadSubclassIsThreadSleepUnlessTheSubclassHasItsOwn() throws Exception {
        ClassLoader l = getClass().getClassLoader();
        assertThat(hookCalls(CallSiteTransformer.rewrite(l, bytes(OwnThread.class), true, false), "nap"))
                .containsExactly("sleep");
        assertThat(hookCalls(CallSiteTransformer.rewrite(l, bytes(GrandThread.class), true, false), "nap2"))
                .containsExactly("sleep");
        assertThat(CallSiteTransformer.rewrite(l, bytes(ShadowingThread.class), true, false)).isNull();
    }

    @Test
    void failuresAndMissesAreReportedAndTheClassKeepsItsCode() throws Exception {
        String err = stderrOf(() -> {
            JdkTransforms jdk = new JdkTransforms().addAsm(Target.class.getName(), next -> {
                throw new IllegalStateException("boom");
            });
            assertThat(jdk.rewrite(Target.class.getName(), bytes(Target.class))).isNull();
        });
        assertThat(err).contains("revenant: ERROR: instrumenting " + Target.class.getName()).contains("boom");

        err = stderrOf(() -> {
            JdkTransforms jdk = new JdkTransforms()
                    .addAsm(Target.class.getName(), JdkEntryRewrite.returnValue("noSuchMethod", "()J", "clockMillis"));
            jdk.rewrite(Target.class.getName(), bytes(Target.class));
        });
        assertThat(err).contains("found nothing to rewrite").contains("noSuchMethod");

        err = stderrOf(() -> {
            JdkTransforms jdk = new JdkTransforms()
                    .addAsm(Target.class.getName(), HookRewrite.on("answer", "()J", "x/Hooks").exit("gone"));
            jdk.rewrite(Target.class.getName(), bytes(Target.class));
        });
        assertThat(err).contains("found nothing to rewrite").contains("answer()J");

        // Seen reads no clock: an error for a class that must have clock calls, silence for a candidate
        err = stderrOf(() -> new JdkTransforms().addAsm(Seen.class.getName(), ClockCallSites.JDK)
                .rewrite(Seen.class.getName(), bytes(Seen.class)));
        assertThat(err).contains("found nothing to rewrite").contains("clock call sites");
        err = stderrOf(() -> new JdkTransforms().addAsm(Seen.class.getName(), ClockCallSites.JDK_IF_ANY)
                .rewrite(Seen.class.getName(), bytes(Seen.class)));
        assertThat(err).isEmpty();
    }

    @Test
    void namesAreBinaryNames() {
        JdkTransforms jdk = new JdkTransforms().addAsm("java.time.Clock$SystemClock", ClockCallSites.JDK);
        assertThat(jdk.classNames()).containsExactly("java.time.Clock$SystemClock");
        assertThatThrownBy(() -> jdk.addAsm("java/lang/Thread", ClockCallSites.JDK))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---------------------------------------------------------------------------------------

    interface Action {
        void run() throws Exception;
    }

    static String stderrOf(Action a) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            a.run();
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    private static Object call(Class<?> c, String method) throws Exception {
        try {
            return c.getMethod(method).invoke(null);
        } catch (InvocationTargetException e) {
            throw (Exception) e.getCause();
        }
    }

    static byte[] bytes(Class<?> c) throws IOException {
        String name = c.getName();
        try (InputStream in = c.getResourceAsStream(name.substring(name.lastIndexOf('.') + 1) + ".class")) {
            return in.readAllBytes();
        }
    }

    /** Defines {@code bytes} as class {@code like}'s name in a fresh child loader (verified on link). */
    static Class<?> define(Class<?> like, byte[] bytes) throws Exception {
        assertThat(bytes).as("rewritten bytes").isNotNull();
        ClassLoader parent = JdkTransformsTest.class.getClassLoader();
        ClassLoader loader = new ClassLoader("test-" + like.getSimpleName(), parent) {
            @Override
            protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
                if (name.equals(like.getName())) {
                    synchronized (getClassLoadingLock(name)) {
                        Class<?> c = findLoadedClass(name);
                        return c != null ? c : defineClass(name, bytes, 0, bytes.length);
                    }
                }
                return super.loadClass(name, resolve);
            }
        };
        Class<?> c = Class.forName(like.getName(), true, loader);
        assertThat(c.getClassLoader()).isSameAs(loader);
        return c;
    }

    /** Names of the Hooks methods called, in order, in method {@code method} of the class file. */
    static List<String> hookCalls(byte[] classFile, String method) {
        assertThat(classFile).as("rewritten bytes").isNotNull();
        List<String> calls = new ArrayList<>();
        new ClassReader(classFile).accept(new ClassVisitor(Opcodes.ASM9) {
            @Override
            public MethodVisitor visitMethod(int access, String name, String d, String s, String[] e) {
                if (!name.equals(method)) {
                    return null;
                }
                return new MethodVisitor(Opcodes.ASM9) {
                    @Override
                    public void visitMethodInsn(int op, String owner, String n, String desc, boolean itf) {
                        if (owner.equals(ClockCallSites.HOOKS)) {
                            calls.add(n);
                        }
                    }
                };
            }
        }, 0);
        return calls;
    }
}
