package dev.revenant.bridge;

import java.net.InetAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;

/**
 * What the rewritten socket methods of the JDK call (see
 * {@code dev.revenant.agent.instrument.HookRewrite} and {@code Instrumenter.sockets}): one thin
 * layer over {@link NetHooks} with the shapes the rewrite inserts, so the bytecode it adds stays
 * the same few instructions for every method.
 *
 * <ul>
 *   <li><b>{@code ...Enter}</b> (first thing in the method) returns null to let the JDK method run,
 *       or what replay (or held output) answers instead; the rewrite then returns
 *       {@link #replayedInt}/{@link #replayedBoolean}/{@link #replayedObject}/{@link #replayedVoid}
 *       of it without running the method.</li>
 *   <li><b>{@code ...Exit}</b> (before each return, only when the method ran) is handed the value
 *       about to be returned first and gives back the value to return.</li>
 *   <li><b>{@code ...Thrown}</b> (a catch-all handler around the method's code, after its own
 *       handlers) is handed what escapes and gives back what to throw.</li>
 * </ul>
 *
 * Nothing here lets an agent failure reach the app: each hook catches everything and lets the JDK
 * method go on with its own value, as if it had not been rewritten. The only throws are deliberate:
 * an exception the recording says the method threw, or one a connect's outcome replaces the
 * JDK's with. Field operands that are {@code FileDescriptor}s come as {@code Object}
 * ({@link NetHooks#fdVal}); references only {@code java.base} types: it is on the boot class path.
 */
public final class NetEntry {
    private NetEntry() {}

    // ------------------------------------------------------------------ replayed results

    /** The replayed result of an {@code int} method: an Integer, or a Throwable to throw. */
    public static int replayedInt(Object r) {
        if (r instanceof Integer i) {
            return i;
        }
        throw sneaky(r);
    }

    /** The replayed result of a {@code boolean} method: a Boolean, or a Throwable to throw. */
    public static boolean replayedBoolean(Object r) {
        if (r instanceof Boolean b) {
            return b;
        }
        throw sneaky(r);
    }

    /** The replayed result of a method returning an object: it, null for {@link NetHooks#NO_CONNECTION}, or a Throwable to throw. */
    public static Object replayedObject(Object r) {
        if (r instanceof Throwable) {
            throw sneaky(r);
        }
        return r == NetHooks.NO_CONNECTION ? null : r;
    }

    /** A replayed {@code void} method: returns, or throws the Throwable it was given. */
    public static void replayedVoid(Object r) {
        if (r instanceof Throwable) {
            throw sneaky(r);
        }
    }

    private static RuntimeException sneaky(Object r) {
        if (r instanceof Throwable t) {
            NetEntry.<RuntimeException>throwUnchecked(t);
        }
        return new IllegalStateException("revenant: a socket hook answered " + r + " where a result was expected");
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void throwUnchecked(Throwable t) throws T {
        throw (T) t;
    }

    // ------------------------------------------------------------------ server socket channels

    public static Object bindEnter(Object self, int fd, Object local, int backlog) {
        try {
            return NetHooks.bindEnter(self, fd, (SocketAddress) local, backlog);
        } catch (Throwable t) {
            return null;
        }
    }

    public static Object bindExit(Object ret, int fd) {
        try {
            NetHooks.bindExit(fd, ret, null);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return ret;
    }

    public static Throwable bindExitThrown(Throwable thrown, int fd) {
        try {
            NetHooks.bindExit(fd, null, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    public static Object acceptEnter(int fd) {
        try {
            return NetHooks.acceptEnter(fd);
        } catch (Throwable t) {
            return null;
        }
    }

    public static Object acceptExit(Object ret, int fd) {
        try {
            NetHooks.acceptExit(fd, ret, null);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return ret;
    }

    public static Throwable acceptExitThrown(Throwable thrown, int fd) {
        try {
            NetHooks.acceptExit(fd, null, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    /** {@code ServerSocketChannelImpl.isBound()} (what {@code ServerSocket.isBound} and {@code getLocalSocketAddress} ask). */
    public static boolean serverBound(boolean ret, int fd) {
        try {
            return NetHooks.serverBound(fd, ret);
        } catch (Throwable t) {
            return ret;
        }
    }

    /** {@code getLocalAddress()}/{@code localAddress()} of either kind of channel. */
    public static Object localAddress(Object ret, int fd) {
        try {
            return NetHooks.localAddress(fd, (SocketAddress) ret);
        } catch (Throwable t) {
            return ret;
        }
    }

    public static Object remoteAddress(Object ret, int fd) {
        try {
            return NetHooks.remoteAddress(fd, (SocketAddress) ret);
        } catch (Throwable t) {
            return ret;
        }
    }

    // ------------------------------------------------------------------ socket channels

    public static Object readEnter(int fd, Object dst) {
        try {
            return NetHooks.readEnter(fd, (ByteBuffer) dst);
        } catch (Throwable t) {
            return null;
        }
    }

    public static int readExit(int n, int fd, Object dst) {
        try {
            NetHooks.readExit(fd, (ByteBuffer) dst, n, null);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return n;
    }

    public static Throwable readExitThrown(Throwable thrown, int fd, Object dst) {
        try {
            NetHooks.readExit(fd, (ByteBuffer) dst, 0, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    public static Object writeEnter(Object self, int fd, Object src) {
        try {
            return NetHooks.writeEnter(self, fd, (ByteBuffer) src);
        } catch (Throwable t) {
            return null;
        }
    }

    public static int writeExit(int n, int fd, Object src) {
        try {
            NetHooks.writeExit(fd, n, null, (ByteBuffer) src);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return n;
    }

    public static Throwable writeExitThrown(Throwable thrown, int fd, Object src) {
        try {
            NetHooks.writeExit(fd, 0, thrown, (ByteBuffer) src);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    public static void shuttingDownOutput(int fd) {
        try {
            NetHooks.shuttingDownOutput(fd);
        } catch (Throwable ignored) {
            // the shutdown goes ahead
        }
    }

    /** Socket I/O the agent does not record yet (said once per kind). */
    public static void unsupported(String what) {
        try {
            NetHooks.unsupported(what);
        } catch (Throwable ignored) {
            // nothing to add
        }
    }

    // ------------------------------------------------ connects (channels and NioSocketImpl)

    /**
     * Entry of a connect: the address the JDK should connect to (in replay the agent's loopback
     * stand-in instead of the recorded peer), or the recorded failure thrown at once.
     */
    public static Object connectEnter(Object self, Object fd, Object remote) {
        Object r;
        try {
            r = NetHooks.connectEnter(self, NetHooks.fdVal(fd), (SocketAddress) remote);
        } catch (Throwable t) {
            return remote;
        }
        if (r instanceof Throwable) {
            throw sneaky(r);
        }
        return r instanceof SocketAddress ? r : remote;
    }

    /**
     * Exit of {@code SocketChannelImpl.connect(SocketAddress)}: {@code remote} is the argument as
     * the entry left it (a stand-in's address in replay), which is how the runtime tells.
     */
    public static boolean connectExit(boolean ret, Object self, Object fd, Object remote) {
        Object r = connected(self, fd, remote, ret, null);
        if (r instanceof Boolean b) {
            return b;
        }
        if (r instanceof Throwable) {
            throw sneaky(r);
        }
        return ret;
    }

    /** Exit of {@code SocketChannelImpl.blockingConnect} and {@code NioSocketImpl.connect}. */
    public static void connectExit(Object self, Object fd, Object remote) {
        Object r = connected(self, fd, remote, true, null);
        if (r instanceof Throwable) {
            throw sneaky(r);
        }
    }

    public static Throwable connectExitThrown(Throwable thrown, Object self, Object fd, Object remote) {
        Object r = connected(self, fd, remote, false, thrown);
        return r instanceof Throwable t ? t : thrown;
    }

    private static Object connected(Object self, Object fd, Object remote, boolean result, Throwable thrown) {
        try {
            return NetHooks.connectExit(self, NetHooks.fdVal(fd), (SocketAddress) remote, remote, result, thrown);
        } catch (Throwable t) {
            return null;
        }
    }

    public static Object finishConnectEnter(Object self, Object fd) {
        try {
            return NetHooks.finishConnectEnter(self, NetHooks.fdVal(fd));
        } catch (Throwable t) {
            return null;
        }
    }

    public static boolean finishConnectExit(boolean ret, Object fd) {
        try {
            NetHooks.finishConnectExit(NetHooks.fdVal(fd), ret, null);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return ret;
    }

    public static Throwable finishConnectExitThrown(Throwable thrown, Object fd) {
        try {
            NetHooks.finishConnectExit(NetHooks.fdVal(fd), false, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    // ------------------------------------------------ streams: NioSocketImpl and the channel adaptors

    public static Object streamReadEnter(Object fd, byte[] b, int off, int len) {
        try {
            return NetHooks.streamReadEnter(NetHooks.fdVal(fd), b, off, len);
        } catch (Throwable t) {
            return null;
        }
    }

    public static int streamReadExit(int n, Object fd, byte[] b, int off, int len) {
        try {
            NetHooks.streamReadExit(NetHooks.fdVal(fd), b, off, len, n, null);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return n;
    }

    public static Throwable streamReadExitThrown(Throwable thrown, Object fd, byte[] b, int off, int len) {
        try {
            NetHooks.streamReadExit(NetHooks.fdVal(fd), b, off, len, 0, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    public static Object streamWriteEnter(Object self, Object fd, byte[] b, int off, int len) {
        try {
            return NetHooks.streamWriteEnter(self, NetHooks.fdVal(fd), b, off, len);
        } catch (Throwable t) {
            return null;
        }
    }

    public static void streamWriteExit(Object fd, byte[] b, int off, int len) {
        try {
            NetHooks.streamWriteExit(NetHooks.fdVal(fd), b, off, len, null);
        } catch (Throwable ignored) {
            // nothing to change
        }
    }

    public static Throwable streamWriteExitThrown(Throwable thrown, Object fd, byte[] b, int off, int len) {
        try {
            NetHooks.streamWriteExit(NetHooks.fdVal(fd), b, off, len, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    public static Object availableEnter(Object fd) {
        try {
            return NetHooks.availableEnter(NetHooks.fdVal(fd));
        } catch (Throwable t) {
            return null;
        }
    }

    public static int availableExit(int n, Object fd) {
        try {
            NetHooks.availableExit(NetHooks.fdVal(fd), n, null);
        } catch (Throwable ignored) {
            // the JDK's result stands
        }
        return n;
    }

    public static Throwable availableExitThrown(Throwable thrown, Object fd) {
        try {
            NetHooks.availableExit(NetHooks.fdVal(fd), 0, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    // ------------------------------------------------ NioSocketImpl only

    public static Object implBindEnter(Object self, Object fd, Object host, int port) {
        try {
            return NetHooks.implBindEnter(self, NetHooks.fdVal(fd), (InetAddress) host, port);
        } catch (Throwable t) {
            return null;
        }
    }

    public static void implBindExit(Object self, Object fd) {
        try {
            NetHooks.implBindExit(self, NetHooks.fdVal(fd), null);
        } catch (Throwable ignored) {
            // nothing to change
        }
    }

    public static Throwable implBindExitThrown(Throwable thrown, Object self, Object fd) {
        try {
            NetHooks.implBindExit(self, NetHooks.fdVal(fd), thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    /** Entry of {@code listen}: non-null (skip it) while the server socket is hidden in replay. */
    public static Object listenEnter(Object fd, int backlog) {
        try {
            return NetHooks.listenEnter(NetHooks.fdVal(fd), backlog) ? Boolean.TRUE : null;
        } catch (Throwable t) {
            return null;
        }
    }

    public static Object implAcceptEnter(Object fd, Object si) {
        try {
            return NetHooks.implAcceptEnter(NetHooks.fdVal(fd), si);
        } catch (Throwable t) {
            return null;
        }
    }

    public static void implAcceptExit(Object fd, Object si) {
        try {
            NetHooks.implAcceptExit(NetHooks.fdVal(fd), si, null);
        } catch (Throwable ignored) {
            // nothing to change
        }
    }

    public static Throwable implAcceptExitThrown(Throwable thrown, Object fd, Object si) {
        try {
            NetHooks.implAcceptExit(NetHooks.fdVal(fd), si, thrown);
        } catch (Throwable ignored) {
            // the JDK's exception stands
        }
        return thrown;
    }

    public static void implClosing(Object fd) {
        try {
            NetHooks.implClosing(NetHooks.fdVal(fd));
        } catch (Throwable ignored) {
            // the close goes ahead
        }
    }

    public static void implShuttingDownOutput(Object fd) {
        try {
            NetHooks.shuttingDownOutput(NetHooks.fdVal(fd));
        } catch (Throwable ignored) {
            // the shutdown goes ahead
        }
    }

    /** {@code getOption(int)}: {@code SO_BINDADDR} as recorded. */
    public static Object bindAddress(Object ret, Object fd, int option) {
        try {
            return NetHooks.bindAddress(NetHooks.fdVal(fd), option, ret);
        } catch (Throwable t) {
            return ret;
        }
    }

    // ------------------------------------------------ the epoll selector

    /** Exit of an {@code EPollSelectorImpl} constructor. */
    public static void selectorOpened(int epfd, Object eventfd) {
        try {
            NetHooks.selectorOpened(epfd, eventfd);
        } catch (Throwable ignored) {
            // the selector works, unrecorded wake-ups aside
        }
    }
}
