package dev.revenant.agent.instrument;

import static net.bytebuddy.matcher.ElementMatchers.any;
import static net.bytebuddy.matcher.ElementMatchers.isDeclaredBy;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.none;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.util.List;
import java.util.Set;

import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.IdentityHashes;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.asm.AsmVisitorWrapper;
import net.bytebuddy.asm.MemberSubstitution;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.utility.JavaModule;

/**
 * Installs every instrumentation the current issue needs, by category, so that a test can switch
 * a category off to prove the determinism test notices (agent key {@code disable}).
 *
 * <ul>
 *   <li><b>clocks</b>: call sites of {@code System.nanoTime}/{@code currentTimeMillis} in app
 *       classes and in the JDK classes that read the clock for the app ({@code Date}, {@code Timer},
 *       {@code Random}'s constructor); {@code Clock.currentInstant()} (all of java.time);
 *       {@code Clock$SystemClock.millis()}.</li>
 *   <li><b>random</b>: {@code Random.seedUniquifier}, {@code ThreadLocalRandom.localInit},
 *       {@code SecureRandom.nextBytes}/{@code generateSeed} (UUID.randomUUID goes through it;
 *       Math.random through a {@code new Random()}).</li>
 *   <li><b>threads</b>: {@code Thread.start} gives each child its virtual id.</li>
 * </ul>
 */
public final class Instrumenter {
    public static final Set<String> CATEGORIES = Set.of("clocks", "random", "threads", "hashes");


    private Instrumenter() {}

    public static void install(Instrumentation inst, List<String> exclude, Set<String> disabled,
                               dev.revenant.agent.runtime.StartupPhases phases) throws Exception {
        AgentBuilder jdk = new AgentBuilder.Default()
                .disableClassFormatChanges()
                .with(AgentBuilder.RedefinitionStrategy.RETRANSFORMATION)
                .with(AgentBuilder.InitializationStrategy.NoOp.INSTANCE)
                .with(AgentBuilder.TypeStrategy.Default.REDEFINE)
                .with(AgentBuilder.Listener.StreamWriting.toSystemError().withErrorsOnly())
                .ignore(none());
        if (!disabled.contains("clocks")) {
            jdk = jdk.type(named("java.time.Clock"))
                    .transform((b, td, cl, m, pd) -> b.visit(Advice.to(JdkAdvice.CurrentInstant.class)
                            .on(named("currentInstant").and(takesArguments(0)))))
                    .type(named("java.time.Clock$SystemClock"))
                    .transform((b, td, cl, m, pd) -> b.visit(Advice.to(JdkAdvice.ClockMillis.class)
                            .on(named("millis").and(takesArguments(0)))))
                    .type(named("java.util.Date").or(named("java.util.Timer")).or(named("java.util.TimerThread"))
                            .or(named("java.util.Random")))
                    .transform((b, td, cl, m, pd) -> b.visit(clockCallSites()));
        }
        if (!disabled.contains("random")) {
            jdk = jdk.type(named("java.util.Random"))
                    .transform((b, td, cl, m, pd) -> b.visit(Advice.to(JdkAdvice.SeedUniquifier.class)
                            .on(named("seedUniquifier").and(takesArguments(0)))))
                    .type(named("java.util.concurrent.ThreadLocalRandom"))
                    .transform((b, td, cl, m, pd) -> b
                            .visit(Advice.to(JdkAdvice.LocalInit.class)
                                    .on(named("localInit").and(takesArguments(0))))
                            .visit(Advice.to(JdkAdvice.NextSeed.class)
                                    .on(named("nextSeed").and(takesArguments(0)))))
                    .type(named("java.security.SecureRandom"))
                    .transform((b, td, cl, m, pd) -> b
                            .visit(Advice.to(JdkAdvice.SecureNextBytes.class)
                                    .on(named("nextBytes").and(takesArgument(0, byte[].class))))
                            .visit(Advice.to(JdkAdvice.GenerateSeed.class)
                                    .on(named("generateSeed").and(takesArguments(1)))));
        }
        if (!disabled.contains("hashes")) {
            jdk = jdk.type(named("java.lang.invoke.MethodHandleNatives"))
                    .transform((b, td, cl, m, pd) -> b.visit(Advice.to(JdkAdvice.PauseHashes.class)
                            .on(net.bytebuddy.matcher.ElementMatchers.nameStartsWith("link"))));
        }
        if (!disabled.contains("threads")) {
            jdk = jdk.type(named("java.lang.Thread"))
                    .transform((b, td, cl, m, pd) -> b.visit(Advice.to(JdkAdvice.ThreadStart.class)
                            .on(named("start").and(takesArguments(0)))));
        }
        // installOn retransforms what is loaded; it then stays registered for classes loaded
        // later, on app threads: swap it for the quiet wrapper.
        ClassFileTransformer jdkTransformer = jdk.installOn(inst);
        phases.mark("JDK advice");
        inst.removeTransformer(jdkTransformer);
        inst.addTransformer(new QuietTransformer(jdkTransformer), true);

        if (!disabled.contains("hashes") && IdentityHashes.enabled()) {
            installHashes(inst, exclude);
        }
        phases.mark("identity-hash call sites");
        if (!disabled.contains("clocks")) {
            ClassFileTransformer app = new AgentBuilder.Default()
                    .disableClassFormatChanges()
                    .with(AgentBuilder.Listener.StreamWriting.toSystemError().withErrorsOnly())
                    .ignore(appIgnored(exclude))
                    .type(any())
                    .transform((b, td, cl, m, pd) -> b.visit(clockCallSites()))
                    .makeRaw();
            inst.addTransformer(new QuietTransformer(app), false);
        }
        phases.mark("app transformer");
    }

    /**
     * Identity hashes: every call site that may hash an object, in app classes and in the JDK
     * collections, first stamps a deterministic hash into the object's header (see
     * {@code IdentityHashes}). The JDK classes already loaded are retransformed.
     */
    private static void installHashes(Instrumentation inst, List<String> exclude) throws Exception {
        // Load the rewriting code (and ASM) before the transformer can be asked to transform it.
        HashCallSites.transform(classBytes(Instrumenter.class));
        HashTransformer t = new HashTransformer((loader, internalName) -> {
            if (loader == null || loader == ClassLoader.getPlatformClassLoader()) {
                return false;
            }
            String n = internalName.replace('/', '.');
            return !isIgnoredName(n, exclude);
        });
        inst.addTransformer(new QuietTransformer(t), true);
        List<Class<?>> loaded = new java.util.ArrayList<>();
        for (Class<?> c : inst.getAllLoadedClasses()) {
            if (HashCallSites.isJdkTarget(c.getName().replace('.', '/')) && inst.isModifiableClass(c)) {
                loaded.add(c);
            }
        }
        inst.retransformClasses(loaded.toArray(Class<?>[]::new));
    }

    private static byte[] classBytes(Class<?> c) throws java.io.IOException {
        try (java.io.InputStream in = c.getResourceAsStream(c.getSimpleName() + ".class")) {
            return in.readAllBytes();
        }
    }

    /**
     * Replaces the System clock calls and the timed waits (sleep, wait(timeout), parkNanos) with
     * the hooks, in every method and constructor.
     */
    static AsmVisitorWrapper clockCallSites() {
        try {
            return MemberSubstitution.relaxed()
                    .method(named("nanoTime").and(isDeclaredBy(System.class)))
                    .replaceWith(Hooks.class.getMethod("nanoTime"))
                    .method(named("currentTimeMillis").and(isDeclaredBy(System.class)))
                    .replaceWith(Hooks.class.getMethod("currentTimeMillis"))
                    .method(named("sleep").and(isDeclaredBy(Thread.class)).and(takesArguments(long.class)))
                    .replaceWith(Hooks.class.getMethod("sleep", long.class))
                    .method(named("wait").and(isDeclaredBy(Object.class)).and(takesArguments(long.class)))
                    .replaceWith(Hooks.class.getMethod("timedWait", Object.class, long.class))
                    .method(named("parkNanos").and(isDeclaredBy(java.util.concurrent.locks.LockSupport.class))
                            .and(takesArguments(long.class)))
                    .replaceWith(Hooks.class.getMethod("parkNanos", long.class))
                    .method(named("parkNanos").and(isDeclaredBy(java.util.concurrent.locks.LockSupport.class))
                            .and(takesArguments(Object.class, long.class)))
                    .replaceWith(Hooks.class.getMethod("parkNanos", Object.class, long.class))
                    .on(any());
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** App classes: not the JDK's, not ours or our libraries', not what the user excluded. */
    private static AgentBuilder.RawMatcher appIgnored(List<String> exclude) {
        return (TypeDescription type, ClassLoader loader, JavaModule module, Class<?> redefined,
                java.security.ProtectionDomain pd) ->
                loader == null || loader == ClassLoader.getPlatformClassLoader() || isIgnoredName(type.getName(), exclude);
    }

    private static boolean isIgnoredName(String n, List<String> exclude) {
        if (n.startsWith("dev.revenant.") && !n.startsWith("dev.revenant.demo.")
                || n.startsWith("net.bytebuddy.") || n.startsWith("com.sun.jna.") || n.startsWith("jnr.")
                || n.startsWith("com.kenai.jffi.") || n.startsWith("java.") || n.startsWith("jdk.")
                || n.startsWith("sun.") || n.contains("$$Lambda") || n.startsWith("org.junit.")) {
            return true;
        }
        for (String prefix : exclude) {
            if (n.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }
}
