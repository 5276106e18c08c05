package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;


import dev.revenant.agent.runtime.StartupPhases;
import dev.revenant.bridge.IdentityHashes;
import dev.revenant.bridge.Preempt;

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
 *   <li><b>threads</b>: {@code Thread.start} gives each child its virtual id; with the serial
 *       scheduler also the scheduling points ({@link #scheduling}).</li>
 *   <li><b>hashes</b>: identity-hash call sites in app classes and the JDK collections;
 *       {@code MethodHandleNatives.link*} pause the thread's hash sequence.</li>
 *   <li><b>sockets</b>: NIO socket and server socket channels (and their socket adaptors),
 *       {@code NioSocketImpl} (java.net sockets), the close of any channel (held output leaves
 *       first), the epoll selector's native wait; channel kinds not recorded yet say so when
 *       created.</li>
 * </ul>
 *
 * All of it is plain ASM (the agent carries no ByteBuddy): the JDK entry points through
 * {@link JdkTransforms}, the app's call sites through one
 * {@link CallSiteTransformer} pass per class.
 */
public final class Instrumenter {
    public static final Set<String> CATEGORIES = Set.of("clocks", "random", "threads", "hashes", "sockets");

    /** The agent's own loader (Chronicle and the rest): never the app's, whatever the class names. */
    private static final ClassLoader AGENT_LOADER = Instrumenter.class.getClassLoader();

    private Instrumenter() {}

    /**
     * The JDK rewrites of the categories not switched off. Further JDK entry points (sockets, ...)
     * are added here the same way, one {@code addAsm} per class.
     */
    static JdkTransforms jdkTransforms(Set<String> disabled, boolean serial) {
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
            // JDK 21+ starts the threads of executors (SharedThreadContainer) with start(ThreadContainer),
            // which does not pass through start(); JDK 17 has no such method.
            if (Runtime.version().feature() >= 21) {
                jdk.addAsm("java.lang.Thread",
                        JdkEntryRewrite.atEntry("start", "()V", "threadStarting", "(Ljava/lang/Thread;)V", 0),
                        JdkEntryRewrite.atEntry("start", "(Ljdk/internal/vm/ThreadContainer;)V", "threadStarting",
                                "(Ljava/lang/Thread;)V", 0));
            } else {
                jdk.addAsm("java.lang.Thread",
                        JdkEntryRewrite.atEntry("start", "()V", "threadStarting", "(Ljava/lang/Thread;)V", 0));
            }
            if (serial) {
                scheduling(jdk, !disabled.contains("clocks"));
            }
        }
        if (!disabled.contains("sockets")) {
            sockets(jdk);
        }
        return jdk;
    }

    private static final String SCHED = "dev/revenant/bridge/Sched";

    /**
     * The {@code java.util.concurrent} classes that read the clock or wait with a timeout
     * themselves (found with javap on JDK 17 and 25; a class missing from one JDK is simply never
     * loaded there, and one without clock calls on this JDK is left as it is: by JDK 25 the timed
     * waits of LinkedTransferQueue and SynchronousQueue live in LinkedTransferQueue$DualNode).
     * Under the serial scheduler their waits are scheduling points and their clock reads are
     * determinants, so that a timed wait decides the same way in replay.
     */
    static final List<String> TIMED_JUC = List.of(
            "java.util.concurrent.locks.AbstractQueuedSynchronizer",
            "java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject",
            "java.util.concurrent.locks.AbstractQueuedLongSynchronizer",
            "java.util.concurrent.locks.AbstractQueuedLongSynchronizer$ConditionObject",
            "java.util.concurrent.locks.StampedLock",
            "java.util.concurrent.FutureTask", "java.util.concurrent.AbstractExecutorService",
            "java.util.concurrent.ScheduledThreadPoolExecutor",
            "java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask",
            "java.util.concurrent.SynchronousQueue$TransferStack", "java.util.concurrent.SynchronousQueue$TransferQueue",
            "java.util.concurrent.LinkedTransferQueue", "java.util.concurrent.LinkedTransferQueue$DualNode",
            "java.util.concurrent.CompletableFuture", "java.util.concurrent.CompletableFuture$Signaller",
            "java.util.concurrent.Exchanger", "java.util.concurrent.Phaser$QNode",
            "java.util.concurrent.ForkJoinPool", "java.util.concurrent.ForkJoinTask",
            "java.util.concurrent.DelayScheduler", "java.util.concurrent.ThreadPerTaskExecutor");

    /**
     * The serial scheduler's scheduling points in the JDK: every park ({@code LockSupport}'s calls
     * of {@code Unsafe.park}), a thread's first and last moments ({@code Thread.run} and the
     * {@code run} of the JDK's own thread classes; {@code Thread.exit}, which the VM calls when a
     * thread ends), {@code Thread.join(long)}; and the clock reads and timed waits of the JDK's
     * concurrency classes.
     */
    private static void scheduling(JdkTransforms jdk, boolean clocks) {
        jdk.addAsm("java.util.concurrent.locks.LockSupport",
                HookRewrite.replaceVirtualCalls("jdk/internal/misc/Unsafe", "park", "(ZJ)V", SCHED, "park"));
        jdk.addAsm("java.lang.Thread",
                JdkEntryRewrite.atEntry("run", "()V", "threadRun", "()V").callingInto(SCHED),
                JdkEntryRewrite.atEntry("exit", "()V", "threadExit", "()V").callingInto(SCHED),
                JdkEntryRewrite.bracket("join", "(J)V", "joinEnter", "joinExit").callingInto(SCHED));
        jdk.addAsm("java.util.TimerThread", JdkEntryRewrite.atEntry("run", "()V", "threadRun", "()V").callingInto(SCHED));
        if (clocks) {
            for (String c : TIMED_JUC) {
                jdk.addAsm(c, ClockCallSites.JDK_IF_ANY);
            }
        }
    }

    /** What the socket rewrites call (on the boot class path). */
    private static final String NET = "dev/revenant/bridge/NetEntry";
    private static final HookRewrite.Operand THIS = HookRewrite.Operand.self();
    /** The descriptor number of a channel ({@code SocketChannelImpl}, {@code ServerSocketChannelImpl}). */
    private static final HookRewrite.Operand FD_VAL = HookRewrite.Operand.field("fdVal", "I");
    /** The {@code FileDescriptor} of a channel, or of a {@code SocketImpl} (its protected field). */
    private static final HookRewrite.Operand FD = HookRewrite.Operand.field("fd", "Ljava/io/FileDescriptor;");

    private static HookRewrite.Operand arg(int i) {
        return HookRewrite.Operand.arg(i);
    }

    private static HookRewrite on(String name, String desc) {
        return HookRewrite.on(name, desc, NET);
    }

    // What NioSocketImpl and a socket channel's adaptor streams have in common: the same hooks.

    /** A read into {@code (byte[], int, int, ...)} returning the count. */
    private static HookRewrite streamRead(String name, String desc) {
        return on(name, desc).skipIf("streamReadEnter", FD, arg(0), arg(1), arg(2))
                .outcome("streamReadExit", FD, arg(0), arg(1), arg(2));
    }

    /** A write of a whole {@code (byte[], int, int)}. */
    private static HookRewrite streamWrite(String name) {
        return on(name, "([BII)V").skipIf("streamWriteEnter", THIS, FD, arg(0), arg(1), arg(2))
                .outcome("streamWriteExit", FD, arg(0), arg(1), arg(2));
    }

    private static HookRewrite available() {
        return on("available", "()I").skipIf("availableEnter", FD).outcome("availableExit", FD);
    }

    /** A connect whose first argument is the peer's address (replaced by a stand-in's in replay). */
    private static HookRewrite connect(String name, String desc) {
        return on(name, desc).replaceArg(0, "connectEnter", THIS, FD, arg(0)).outcome("connectExit", THIS, FD, arg(0));
    }

    /**
     * Sockets: hooks around the JDK's socket methods (see {@link dev.revenant.bridge.NetEntry} for
     * what each one does), all plain ASM, so that rewriting a socket class costs a few milliseconds
     * whenever it happens, including in premain: JDK 25 loads {@code SocketChannelImpl} before
     * {@code main} (any {@code Files.newInputStream} checks channels against it). Descriptors are
     * exact and the same on JDK 17 and 25; a rewrite that finds its method missing says so.
     */
    private static void sockets(JdkTransforms jdk) {
        String ssc = "Ljava/nio/channels/ServerSocketChannel;";
        String sc = "Ljava/nio/channels/SocketChannel;";
        String addr = "Ljava/net/SocketAddress;";
        jdk.addAsm("sun.nio.ch.ServerSocketChannelImpl",
                on("bind", "(" + addr + "I)" + ssc).skipIf("bindEnter", THIS, FD_VAL, arg(0), arg(1))
                        .outcome("bindExit", FD_VAL),
                on("accept", "()" + sc).skipIf("acceptEnter", FD_VAL).outcome("acceptExit", FD_VAL),
                // ServerSocketAdaptor.accept with a timeout
                on("blockingAccept", "(J)" + sc).skipIf("acceptEnter", FD_VAL).outcome("acceptExit", FD_VAL),
                on("getLocalAddress", "()" + addr).exit("localAddress", FD_VAL),
                on("localAddress", "()" + addr).exit("localAddress", FD_VAL),
                // ServerSocket.isBound, getLocalSocketAddress (HttpServer.getAddress) ask this
                on("isBound", "()Z").exit("serverBound", FD_VAL));
        String buf = "Ljava/nio/ByteBuffer;";
        String vectored = "scatter/gather socket I/O (SocketChannel.read/write of ByteBuffer[])";
        jdk.addAsm("sun.nio.ch.SocketChannelImpl",
                on("read", "(" + buf + ")I").skipIf("readEnter", FD_VAL, arg(0)).outcome("readExit", FD_VAL, arg(0)),
                on("write", "(" + buf + ")I").skipIf("writeEnter", THIS, FD_VAL, arg(0))
                        .outcome("writeExit", FD_VAL, arg(0)),
                on("read", "([" + buf + "II)J").atEntry("unsupported", HookRewrite.Operand.text(vectored)),
                on("write", "([" + buf + "II)J").atEntry("unsupported", HookRewrite.Operand.text(vectored)),
                // the socket adaptor (SocketChannel.socket()) and Channels.newInputStream/newOutputStream
                streamRead("blockingRead", "([BIIJ)I"),
                streamWrite("blockingWriteFully"),
                available(),
                connect("connect", "(" + addr + ")Z"),
                connect("blockingConnect", "(" + addr + "J)V"),
                on("finishConnect", "()Z").skipIf("finishConnectEnter", THIS, FD).outcome("finishConnectExit", FD),
                on("getLocalAddress", "()" + addr).exit("localAddress", FD_VAL),
                on("localAddress", "()" + addr).exit("localAddress", FD_VAL),
                on("getRemoteAddress", "()" + addr).exit("remoteAddress", FD_VAL),
                on("remoteAddress", "()" + addr).exit("remoteAddress", FD_VAL),
                on("shutdownOutput", "()" + sc).atEntry("shuttingDownOutput", FD_VAL));
        // java.net.Socket and ServerSocket (JDK 17 without -Djdk.net.usePlainSocketImpl, and 25)
        jdk.addAsm("sun.nio.ch.NioSocketImpl",
                on("bind", "(Ljava/net/InetAddress;I)V").skipIf("implBindEnter", THIS, FD, arg(0), arg(1))
                        .outcome("implBindExit", THIS, FD),
                on("listen", "(I)V").skipIf("listenEnter", FD, arg(0)),
                on("accept", "(Ljava/net/SocketImpl;)V").skipIf("implAcceptEnter", FD, arg(0))
                        .outcome("implAcceptExit", FD, arg(0)),
                streamRead("read", "([BII)I"),
                streamWrite("write"),
                available(),
                connect("connect", "(" + addr + "I)V"),
                on("close", "()V").atEntry("implClosing", FD),
                on("shutdownOutput", "()V").atEntry("implShuttingDownOutput", FD),
                on("getOption", "(I)Ljava/lang/Object;").exit("bindAddress", FD, arg(0)));
        // FileChannel.transferTo into a socket goes out by sendfile, past the socket hooks: said once.
        jdk.addAsm("sun.nio.ch.FileChannelImpl",
                JdkEntryRewrite.atEntry("transferTo", "(JJLjava/nio/channels/WritableByteChannel;)J", "transferringTo",
                        "(Ljava/lang/Object;)V", 5).callingInto("dev/revenant/bridge/NetHooks"));
        jdk.addAsm("java.nio.channels.spi.AbstractInterruptibleChannel",
                JdkEntryRewrite.atEntry("close", "()V", "closing", "(Ljava/lang/Object;)V", 0)
                        .callingInto("dev/revenant/bridge/NetHooks"));
        jdk.addAsm("sun.nio.ch.EPollSelectorImpl",
                on("<init>", null).exit("selectorOpened", HookRewrite.Operand.field("epfd", "I"),
                        HookRewrite.Operand.field("eventfd", "Lsun/nio/ch/EventFD;")),
                HookRewrite.replaceCalls("sun/nio/ch/EPoll", "wait", "(IJII)I", "dev/revenant/bridge/NetHooks",
                        "epollWait"));
        for (String c : List.of("sun.nio.ch.DatagramChannelImpl", "sun.nio.ch.UnixAsynchronousSocketChannelImpl",
                "sun.nio.ch.UnixAsynchronousServerSocketChannelImpl")) {
            jdk.addAsm(c, on("<init>", null).exit("unsupported", HookRewrite.Operand.text(c)));
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
        return install(inst, exclude, disabled, false, phases);
    }

    /** {@code serial}: with the serial scheduler's scheduling points ({@code schedule=serial}). */
    public static Installed install(Instrumentation inst, List<String> exclude, Set<String> disabled, boolean serial,
                                    StartupPhases phases) throws Exception {
        Installed installed = new Installed(inst);
        // What the rewritten JDK methods call: linked now, not inside the first Clock.instant().
        Class.forName("dev.revenant.bridge.JdkHooks", true, null);
        JdkTransforms jdk = jdkTransforms(disabled, serial);
        installed.jdkClasses.addAll(jdk.classNames());
        ClassFileTransformer entries = jdk.register(inst);
        if (entries != null) {
            installed.transformers.add(entries);
        }

        boolean hashes = !disabled.contains("hashes") && IdentityHashes.enabled();
        boolean clocks = !disabled.contains("clocks");
        boolean preempt = serial && Preempt.every() > 0;
        if (hashes || clocks || preempt) {
            CallSiteTransformer sites = new CallSiteTransformer(clocks, hashes, preempt,
                    (loader, internalName) -> loader != null && loader != ClassLoader.getPlatformClassLoader()
                            && loader != AGENT_LOADER && !isIgnoredName(internalName.replace('/', '.'), exclude));
            // Run the rewriting code once (and load ASM) before the transformer can be asked to
            // rewrite a class that this code itself needs.
            CallSiteTransformer.rewrite(Instrumenter.class.getClassLoader(), classBytes(Instrumenter.class), true, true,
                    preempt, true);
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
                || n.startsWith("com.sun.jna.") || n.startsWith("jnr.")
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
