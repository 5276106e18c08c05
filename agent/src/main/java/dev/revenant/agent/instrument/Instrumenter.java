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
    public static final Set<String> CATEGORIES = Set.of("clocks", "random", "threads", "hashes", "sockets");


    private Instrumenter() {}

    public static void install(Instrumentation inst, List<String> exclude, Set<String> disabled) throws Exception {
        long t0 = System.nanoTime();
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
        if (!disabled.contains("sockets")) {
            jdk = sockets(jdk);
        }
        // installOn retransforms what is loaded; it then stays registered for classes loaded
        // later, on app threads: swap it for the quiet wrapper.
        ClassFileTransformer jdkTransformer = jdk.installOn(inst);
        long t1 = System.nanoTime();
        inst.removeTransformer(jdkTransformer);
        inst.addTransformer(new QuietTransformer(jdkTransformer), true);

        if (!disabled.contains("hashes") && IdentityHashes.enabled()) {
            installHashes(inst, exclude);
        }
        long t2 = System.nanoTime();
        if (!disabled.contains("clocks")) {
            inst.addTransformer(new QuietTransformer(new ClockCallSites(appClasses(exclude))), false);
        }
        if (System.getenv("REVENANT_DEBUG_STARTUP") != null) {
            System.err.printf("revenant startup: JDK advice %.1f ms, identity-hash call sites %.1f ms, app transformer %.1f ms%n",
                    (t1 - t0) / 1e6, (t2 - t1) / 1e6, (System.nanoTime() - t2) / 1e6);
        }
    }

    /**
     * Sockets: NIO socket and server socket channels with their socket adaptors' blocking methods,
     * {@code java.net.Socket}/{@code ServerSocket} through {@code NioSocketImpl}, outgoing
     * connects, the close of any channel (held output leaves first), and the epoll selector's
     * native wait (its ready sets are determinants). Channel kinds not recorded yet say so when
     * they are created.
     */
    private static AgentBuilder sockets(AgentBuilder jdk)
            throws NoSuchMethodException {
        AsmVisitorWrapper epollWait = MemberSubstitution.relaxed()
                .method(named("wait").and(isDeclaredBy(named("sun.nio.ch.EPoll"))))
                .replaceWith(dev.revenant.bridge.NetHooks.class.getMethod("epollWait", int.class, long.class, int.class,
                        int.class))
                .on(any());
        return jdk.type(named("sun.nio.ch.ServerSocketChannelImpl"))
                .transform((b, td, cl, m, pd) -> b
                        .visit(Advice.to(NetAdvice.Bind.class).on(named("bind").and(takesArguments(2))))
                        .visit(Advice.to(NetAdvice.Accept.class).on(named("accept").and(takesArguments(0))))
                        // ServerSocketAdaptor.accept with a timeout
                        .visit(Advice.to(NetAdvice.Accept.class)
                                .on(named("blockingAccept").and(takesArguments(long.class))))
                        .visit(Advice.to(NetAdvice.LocalAddress.class)
                                .on(named("getLocalAddress").or(named("localAddress")).and(takesArguments(0)))))
                .type(named("sun.nio.ch.SocketChannelImpl"))
                .transform((b, td, cl, m, pd) -> b
                        .visit(Advice.to(NetAdvice.Read.class)
                                .on(named("read").and(takesArguments(java.nio.ByteBuffer.class))))
                        .visit(Advice.to(NetAdvice.Write.class)
                                .on(named("write").and(takesArguments(java.nio.ByteBuffer.class))))
                        .visit(Advice.to(NetAdvice.Vectored.class)
                                .on(named("read").or(named("write")).and(takesArguments(3))))
                        // the socket adaptor (SocketChannel.socket()) and Channels.newInputStream/newOutputStream
                        .visit(Advice.to(NetAdvice.StreamRead.class).on(named("blockingRead")
                                .and(takesArguments(byte[].class, int.class, int.class, long.class))))
                        .visit(Advice.to(NetAdvice.StreamWrite.class).on(named("blockingWriteFully")
                                .and(takesArguments(byte[].class, int.class, int.class))))
                        .visit(Advice.to(NetAdvice.Available.class).on(named("available").and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.ChannelConnect.class)
                                .on(named("connect").and(takesArguments(java.net.SocketAddress.class))))
                        .visit(Advice.to(NetAdvice.VoidConnect.class).on(named("blockingConnect")
                                .and(takesArguments(java.net.SocketAddress.class, long.class))))
                        .visit(Advice.to(NetAdvice.FinishConnect.class)
                                .on(named("finishConnect").and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.LocalAddress.class)
                                .on(named("getLocalAddress").or(named("localAddress")).and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.RemoteAddress.class)
                                .on(named("getRemoteAddress").or(named("remoteAddress")).and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.ShutdownOutput.class)
                                .on(named("shutdownOutput").and(takesArguments(0)))))
                // java.net.Socket and ServerSocket (JDK 17 without -Djdk.net.usePlainSocketImpl, and 25)
                .type(named("sun.nio.ch.NioSocketImpl"))
                .transform((b, td, cl, m, pd) -> b
                        .visit(Advice.to(NetAdvice.ImplBind.class)
                                .on(named("bind").and(takesArguments(java.net.InetAddress.class, int.class))))
                        .visit(Advice.to(NetAdvice.ImplListen.class).on(named("listen").and(takesArguments(int.class))))
                        .visit(Advice.to(NetAdvice.ImplAccept.class)
                                .on(named("accept").and(takesArguments(java.net.SocketImpl.class))))
                        .visit(Advice.to(NetAdvice.StreamRead.class)
                                .on(named("read").and(takesArguments(byte[].class, int.class, int.class))))
                        .visit(Advice.to(NetAdvice.StreamWrite.class)
                                .on(named("write").and(takesArguments(byte[].class, int.class, int.class))))
                        .visit(Advice.to(NetAdvice.Available.class).on(named("available").and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.VoidConnect.class)
                                .on(named("connect").and(takesArguments(java.net.SocketAddress.class, int.class))))
                        .visit(Advice.to(NetAdvice.ImplClose.class).on(named("close").and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.ImplShutdownOutput.class)
                                .on(named("shutdownOutput").and(takesArguments(0))))
                        .visit(Advice.to(NetAdvice.BindAddress.class)
                                .on(named("getOption").and(takesArguments(int.class)))))
                .type(named("java.nio.channels.spi.AbstractInterruptibleChannel"))
                .transform((b, td, cl, m, pd) -> b.visit(Advice.to(NetAdvice.Close.class)
                        .on(named("close").and(takesArguments(0)))))
                .type(named("sun.nio.ch.EPollSelectorImpl"))
                .transform((b, td, cl, m, pd) -> b
                        .visit(Advice.to(NetAdvice.SelectorOpened.class)
                                .on(net.bytebuddy.matcher.ElementMatchers.isConstructor()))
                        .visit(epollWait))
                .type(named("sun.nio.ch.DatagramChannelImpl").or(named("sun.nio.ch.UnixAsynchronousSocketChannelImpl"))
                        .or(named("sun.nio.ch.UnixAsynchronousServerSocketChannelImpl")))
                .transform((b, td, cl, m, pd) -> b.visit(Advice.to(NetAdvice.Unsupported.class)
                        .on(net.bytebuddy.matcher.ElementMatchers.isConstructor())));
    }

    /**
     * Identity hashes: every call site that may hash an object, in app classes and in the JDK
     * collections, first stamps a deterministic hash into the object's header (see
     * {@code IdentityHashes}). The JDK classes already loaded are retransformed.
     */
    private static void installHashes(Instrumentation inst, List<String> exclude) throws Exception {
        // Load the rewriting code (and ASM) before the transformer can be asked to transform it.
        HashCallSites.transform(classBytes(Instrumenter.class));
        HashTransformer t = new HashTransformer(appClasses(exclude));
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
    private static HashTransformer.AppClasses appClasses(List<String> exclude) {
        return (loader, internalName) -> loader != null && loader != ClassLoader.getPlatformClassLoader()
                && !isIgnoredName(internalName.replace('/', '.'), exclude);
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
