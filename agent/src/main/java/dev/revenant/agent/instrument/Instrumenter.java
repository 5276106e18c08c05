package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static net.bytebuddy.matcher.ElementMatchers.any;
import static net.bytebuddy.matcher.ElementMatchers.isConstructor;
import static net.bytebuddy.matcher.ElementMatchers.isDeclaredBy;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import dev.revenant.agent.runtime.StartupPhases;
import dev.revenant.bridge.IdentityHashes;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.asm.AsmVisitorWrapper;
import net.bytebuddy.asm.MemberSubstitution;

/**
 * Installs every instrumentation the current issue needs, by category, so that a test can switch
 * a category off to prove the determinism test notices (agent key {@code disable}).
 *
 * <ul>
 *   <li><b>clocks</b>: call sites of {@code System.nanoTime}/{@code currentTimeMillis} and the timed
 *       waits in app classes and in the JDK classes that read the clock for the app ({@code Date},
 *       {@code Timer}, {@code Random}'s constructor); {@code Clock.currentInstant()} (all of
 *       java.time); {@code Clock$SystemClock.millis()}.</li>
 *   <li><b>random</b>: {@code Random.seedUniquifier}, {@code ThreadLocalRandom.localInit} and
 *       {@code nextSeed}, {@code SecureRandom.nextBytes}/{@code generateSeed} (UUID.randomUUID goes
 *       through it; Math.random through a {@code new Random()}).</li>
 *   <li><b>threads</b>: {@code Thread.start} gives each child its virtual id.</li>
 *   <li><b>hashes</b>: identity-hash call sites in app classes and the JDK collections;
 *       {@code MethodHandleNatives.link*} pause the thread's hash sequence.</li>
 *   <li><b>sockets</b>: NIO socket and server socket channels (and their socket adaptors),
 *       {@code NioSocketImpl} (java.net sockets), the close of any channel (held output leaves
 *       first), the epoll selector's native wait; channel kinds not recorded yet say so when
 *       created.</li>
 * </ul>
 *
 * All of it is plain ASM: the JDK entry points through {@link JdkTransforms} (which also takes
 * ByteBuddy Advice for later additions), the app's call sites through one
 * {@link CallSiteTransformer} pass per class.
 */
public final class Instrumenter {
    public static final Set<String> CATEGORIES = Set.of("clocks", "random", "threads", "hashes", "sockets");

    /** The agent's own loader (Chronicle and the rest): never the app's, whatever the class names. */
    private static final ClassLoader AGENT_LOADER = Instrumenter.class.getClassLoader();

    private Instrumenter() {}

    /**
     * The JDK rewrites of the categories not switched off. Further JDK entry points (sockets, ...)
     * are added here the same way, one {@code add} per class.
     */
    static JdkTransforms jdkTransforms(Set<String> disabled) {
        JdkTransforms jdk = new JdkTransforms();
        // Whatever is disabled: shutdown may have to wait for a log that is still opening (LogOpening).
        jdk.addAsm("java.lang.Shutdown", JdkEntryRewrite.atEntry("exit", "(I)V", "beforeShutdown", "()V"),
                JdkEntryRewrite.atEntry("shutdown", "()V", "beforeShutdown", "()V"));
        if (!disabled.contains("clocks")) {
            jdk.addAsm("java.time.Clock",
                    JdkEntryRewrite.returnValue("currentInstant", "()Ljava/time/Instant;", "currentInstant"));
            jdk.addAsm("java.time.Clock$SystemClock", JdkEntryRewrite.returnValue("millis", "()J", "clockMillis"));
            for (String c : List.of("java.util.Date", "java.util.Timer", "java.util.TimerThread", "java.util.Random")) {
                jdk.addAsm(c, ClockCallSites.JDK);
            }
        }
        if (!disabled.contains("random")) {
            jdk.addAsm("java.util.Random", JdkEntryRewrite.returnValue("seedUniquifier", "()J", "seedUniquifier"));
            jdk.addAsm("java.util.concurrent.ThreadLocalRandom",
                    JdkEntryRewrite.beforeReturn("localInit", "()V", "threadLocalRandomInit", "()V"),
                    JdkEntryRewrite.returnValue("nextSeed", "()J", "threadLocalRandomNextSeed"));
            jdk.addAsm("java.security.SecureRandom",
                    // nextBytes(byte[]) and nextBytes(byte[], SecureRandomParameters)
                    JdkEntryRewrite.beforeReturn("nextBytes", "([B", "secureRandomBytes", "([B)V", 1),
                    JdkEntryRewrite.returnValue("generateSeed", "(I)[B", "secureRandomSeed"));
        }
        if (!disabled.contains("hashes")) {
            jdk.addAsm("java.lang.invoke.MethodHandleNatives",
                    JdkEntryRewrite.bracket("link", "linkageEnter", "linkageExit"));
        }
        if (!disabled.contains("threads")) {
            jdk.addAsm("java.lang.Thread",
                    JdkEntryRewrite.atEntry("start", "()V", "threadStarting", "(Ljava/lang/Thread;)V", 0));
        }
        if (!disabled.contains("sockets")) {
            sockets(jdk);
        }
        return jdk;
    }

    /**
     * Sockets. The socket classes load when the app first uses sockets, so their ByteBuddy advice is
     * built then (lazily), not in premain. {@code AbstractInterruptibleChannel} is loaded before
     * {@code main} (every FileChannel): its close hook is plain ASM, so that premain loads no
     * ByteBuddy.
     */
    private static void sockets(JdkTransforms jdk) {
        jdk.add("sun.nio.ch.ServerSocketChannelImpl", () -> new AsmVisitorWrapper.Compound(
                Advice.to(NetAdvice.Bind.class).on(named("bind").and(takesArguments(2))),
                Advice.to(NetAdvice.Accept.class).on(named("accept").and(takesArguments(0))),
                // ServerSocketAdaptor.accept with a timeout
                Advice.to(NetAdvice.Accept.class).on(named("blockingAccept").and(takesArguments(long.class))),
                Advice.to(NetAdvice.LocalAddress.class)
                        .on(named("getLocalAddress").or(named("localAddress")).and(takesArguments(0)))));
        jdk.add("sun.nio.ch.SocketChannelImpl", () -> new AsmVisitorWrapper.Compound(
                Advice.to(NetAdvice.Read.class).on(named("read").and(takesArguments(java.nio.ByteBuffer.class))),
                Advice.to(NetAdvice.Write.class).on(named("write").and(takesArguments(java.nio.ByteBuffer.class))),
                Advice.to(NetAdvice.Vectored.class).on(named("read").or(named("write")).and(takesArguments(3))),
                // the socket adaptor (SocketChannel.socket()) and Channels.newInputStream/newOutputStream
                Advice.to(NetAdvice.StreamRead.class).on(named("blockingRead")
                        .and(takesArguments(byte[].class, int.class, int.class, long.class))),
                Advice.to(NetAdvice.StreamWrite.class).on(named("blockingWriteFully")
                        .and(takesArguments(byte[].class, int.class, int.class))),
                Advice.to(NetAdvice.Available.class).on(named("available").and(takesArguments(0))),
                Advice.to(NetAdvice.ChannelConnect.class)
                        .on(named("connect").and(takesArguments(java.net.SocketAddress.class))),
                Advice.to(NetAdvice.VoidConnect.class).on(named("blockingConnect")
                        .and(takesArguments(java.net.SocketAddress.class, long.class))),
                Advice.to(NetAdvice.FinishConnect.class).on(named("finishConnect").and(takesArguments(0))),
                Advice.to(NetAdvice.LocalAddress.class)
                        .on(named("getLocalAddress").or(named("localAddress")).and(takesArguments(0))),
                Advice.to(NetAdvice.RemoteAddress.class)
                        .on(named("getRemoteAddress").or(named("remoteAddress")).and(takesArguments(0))),
                Advice.to(NetAdvice.ShutdownOutput.class).on(named("shutdownOutput").and(takesArguments(0)))));
        // java.net.Socket and ServerSocket (JDK 17 without -Djdk.net.usePlainSocketImpl, and 25)
        jdk.add("sun.nio.ch.NioSocketImpl", () -> new AsmVisitorWrapper.Compound(
                Advice.to(NetAdvice.ImplBind.class)
                        .on(named("bind").and(takesArguments(java.net.InetAddress.class, int.class))),
                Advice.to(NetAdvice.ImplListen.class).on(named("listen").and(takesArguments(int.class))),
                Advice.to(NetAdvice.ImplAccept.class).on(named("accept").and(takesArguments(java.net.SocketImpl.class))),
                Advice.to(NetAdvice.StreamRead.class).on(named("read").and(takesArguments(byte[].class, int.class, int.class))),
                Advice.to(NetAdvice.StreamWrite.class)
                        .on(named("write").and(takesArguments(byte[].class, int.class, int.class))),
                Advice.to(NetAdvice.Available.class).on(named("available").and(takesArguments(0))),
                Advice.to(NetAdvice.VoidConnect.class)
                        .on(named("connect").and(takesArguments(java.net.SocketAddress.class, int.class))),
                Advice.to(NetAdvice.ImplClose.class).on(named("close").and(takesArguments(0))),
                Advice.to(NetAdvice.ImplShutdownOutput.class).on(named("shutdownOutput").and(takesArguments(0))),
                Advice.to(NetAdvice.BindAddress.class).on(named("getOption").and(takesArguments(int.class)))));
        // FileChannel.transferTo into a socket goes out by sendfile, past the socket hooks: said once.
        jdk.addAsm("sun.nio.ch.FileChannelImpl",
                JdkEntryRewrite.atEntry("transferTo", "(JJLjava/nio/channels/WritableByteChannel;)J", "transferringTo",
                        "(Ljava/lang/Object;)V", 5).callingInto("dev/revenant/bridge/NetHooks"));
        jdk.addAsm("java.nio.channels.spi.AbstractInterruptibleChannel",
                JdkEntryRewrite.atEntry("close", "()V", "closing", "(Ljava/lang/Object;)V", 0)
                        .callingInto("dev/revenant/bridge/NetHooks"));
        jdk.add("sun.nio.ch.EPollSelectorImpl", () -> {
            try {
                return new AsmVisitorWrapper.Compound(
                        Advice.to(NetAdvice.SelectorOpened.class).on(isConstructor()),
                        MemberSubstitution.relaxed()
                                .method(named("wait").and(isDeclaredBy(named("sun.nio.ch.EPoll"))))
                                .replaceWith(dev.revenant.bridge.NetHooks.class.getMethod("epollWait", int.class,
                                        long.class, int.class, int.class))
                                .on(any()));
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException(e);
            }
        });
        for (String c : List.of("sun.nio.ch.DatagramChannelImpl", "sun.nio.ch.UnixAsynchronousSocketChannelImpl",
                "sun.nio.ch.UnixAsynchronousServerSocketChannelImpl")) {
            jdk.add(c, () -> Advice.to(NetAdvice.Unsupported.class).on(isConstructor()));
        }
    }

    /** What {@link #install} registered, so that it can be taken back out. */
    public static final class Installed {
        private final Instrumentation inst;
        private final List<ClassFileTransformer> transformers = new ArrayList<>();
        private final Set<String> jdkClasses = new HashSet<>();

        private Installed(Instrumentation inst) {
            this.inst = inst;
        }

        /**
         * Removes the transformers and retransforms the JDK classes they rewrote, which restores
         * their original code. App classes already rewritten stay so (premain runs before the
         * app loads any). Never throws.
         */
        public void uninstall() {
            try {
                for (ClassFileTransformer t : transformers) {
                    inst.removeTransformer(t);
                }
                JdkTransforms.retransform(inst, JdkTransforms.loadedTargets(inst, jdkClasses));
            } catch (Throwable t) {
                JdkTransforms.reportError("(all)", "removing the instrumentation failed", t);
            }
        }
    }

    public static Installed install(Instrumentation inst, List<String> exclude, Set<String> disabled,
                                    StartupPhases phases) throws Exception {
        Installed installed = new Installed(inst);
        // What the rewritten JDK methods call: linked now, not inside the first Clock.instant().
        Class.forName("dev.revenant.bridge.JdkHooks", true, null);
        JdkTransforms jdk = jdkTransforms(disabled);
        installed.jdkClasses.addAll(jdk.classNames());
        ClassFileTransformer entries = jdk.register(inst);
        if (entries != null) {
            installed.transformers.add(entries);
        }

        boolean hashes = !disabled.contains("hashes") && IdentityHashes.enabled();
        boolean clocks = !disabled.contains("clocks");
        if (hashes || clocks) {
            CallSiteTransformer sites = new CallSiteTransformer(clocks, hashes,
                    (loader, internalName) -> loader != null && loader != ClassLoader.getPlatformClassLoader()
                            && loader != AGENT_LOADER && !isIgnoredName(internalName.replace('/', '.'), exclude));
            // Run the rewriting code once (and load ASM) before the transformer can be asked to
            // rewrite a class that this code itself needs.
            CallSiteTransformer.rewrite(Instrumenter.class.getClassLoader(), classBytes(Instrumenter.class), true, true);
            ClassFileTransformer registered = new QuietTransformer(sites);
            inst.addTransformer(registered, true);
            installed.transformers.add(registered);
            if (hashes) {
                for (String n : HashCallSites.JDK_CLASSES) {
                    installed.jdkClasses.add(n.replace('/', '.'));
                }
            }
        }
        phases.mark("transformers");
        // The JDK classes already loaded, entry points and hash call sites together: one
        // retransformation, one stop-the-world pause (it walks every loaded class).
        JdkTransforms.retransform(inst, JdkTransforms.loadedTargets(inst, installed.jdkClasses));
        phases.mark("retransformed");
        return installed;
    }

    private static byte[] classBytes(Class<?> c) throws java.io.IOException {
        try (java.io.InputStream in = c.getResourceAsStream(c.getSimpleName() + ".class")) {
            return in.readAllBytes();
        }
    }

    /** App classes: not the JDK's, not ours or our libraries', not what the user excluded. */
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
