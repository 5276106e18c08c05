package dev.revenant.bridge;

import java.net.SocketAddress;
import java.nio.ByteBuffer;

/**
 * What the socket hooks in {@code sun.nio.ch} call (through {@link NetEntry}): socket channels, server socket channels, the epoll
 * selector, {@code NioSocketImpl} (the implementation behind {@code java.net.Socket} and
 * {@code ServerSocket}) and the blocking methods the channels' socket adaptors use. Each entry asks the installed {@link Net} (the runtime's record, replay or
 * recovery logic) when the calling thread is an app thread that is not already inside the agent;
 * otherwise it lets the JDK do its own work. Never throws into the app except where the JDK method
 * itself would (a replayed {@code IOException}).
 *
 * <p>The {@code ...Enter} methods return {@code null} to let the JDK method run, or a non-null
 * value that the rewritten method returns instead of running its code (record with held output; replay).
 */
public final class NetHooks {
    /** Kinds of socket determinants; part of the log format (payload byte 0). */
    public static final int BIND = 30;
    public static final int ACCEPT = 31;
    public static final int READ = 32;
    public static final int WRITE = 33;
    public static final int SELECT = 34;
    public static final int CONNECT = 35;
    public static final int AVAILABLE = 36;

    /** What a replayed void method (accept into a SocketImpl, a write of a whole array) answers. */
    public static final Object DONE = new Object();

    /** What a replayed {@code accept()} returns when the recorded one returned null. */
    public static final Object NO_CONNECTION = new Object();

    private static volatile Net impl;
    private static Binds binds;
    private static Accepts accepts;
    private static Transfers transfers;
    private static Connects connects;
    private static Selectors selectors;
    private static volatile LiveWait liveWait;

    /** The real {@code EPoll.wait}, which the bridge cannot call itself (package-private in sun.nio.ch). */
    public interface LiveWait {
        int wait(int epfd, long address, int max, int timeout) throws java.io.IOException;
    }

    /** Installed first thing, so a selector whose wait is rewritten never runs without it. */
    public static void installLiveWait(LiveWait w) {
        liveWait = w;
    }

    private NetHooks() {}

    public static void install(Net n) {
        binds = n.binds();
        accepts = n.accepts();
        transfers = n.transfers();
        connects = n.connects();
        selectors = n.selectors();
        impl = n; // last: the parts are seen once this is
    }

    /** The runtime side, implemented in the agent's class loader: one part per concern. */
    public interface Net {
        Binds binds();

        Accepts accepts();

        Transfers transfers();

        Connects connects();

        Selectors selectors();

        /** Says once that the app uses something this version does not record. */
        void unsupported(String what);
    }

    /** Server sockets bound, and the addresses a socket reports (NIO channels and {@code NioSocketImpl}). */
    public interface Binds {
        Object bindEnter(ThreadState t, Object channel, int fd, SocketAddress requested, int backlog);

        void bindExit(ThreadState t, int fd, Object result, Throwable thrown);

        SocketAddress localAddress(ThreadState t, int fd, SocketAddress live);

        /** {@code ServerSocketChannelImpl.isBound()}: true for a server replay keeps unbound at its recorded address. */
        boolean serverBound(ThreadState t, int fd, boolean live);

        SocketAddress remoteAddress(ThreadState t, int fd, SocketAddress live);

        /** Non-null skips {@code NioSocketImpl.bind}: {@link #DONE}, or a Throwable to throw. */
        Object implBindEnter(ThreadState t, Object impl, int fd, java.net.InetAddress host, int port);

        void implBindExit(ThreadState t, Object impl, int fd, Throwable thrown);

        /** True skips {@code NioSocketImpl.listen}: the socket is hidden until the process goes live. */
        boolean listenEnter(ThreadState t, int fd, int backlog);

        /** {@code getOption(SO_BINDADDR)} of a SocketImpl: the recorded local address in replay. */
        Object bindAddress(ThreadState t, int fd, Object live);
    }

    /** Accepted connections, of a {@code ServerSocketChannel} and of a {@code ServerSocket}. */
    public interface Accepts {
        Object acceptEnter(ThreadState t, int serverFd);

        void acceptExit(ThreadState t, int serverFd, Object accepted, Throwable thrown);

        /** Non-null skips {@code NioSocketImpl.accept(SocketImpl)}: {@link #DONE} (filled), or a Throwable. */
        Object implAcceptEnter(ThreadState t, int serverFd, Object si);

        void implAcceptExit(ThreadState t, int serverFd, Object si, Throwable thrown);
    }

    /** Reads, writes, {@code available} and closes of connections: channels, socket streams and adaptors alike. */
    public interface Transfers {
        Object readEnter(ThreadState t, int fd, ByteBuffer dst);

        void readExit(ThreadState t, int fd, ByteBuffer dst, int n, Throwable thrown);

        Object writeEnter(ThreadState t, Object channel, int fd, ByteBuffer src);

        void writeExit(ThreadState t, int fd, int n, Throwable thrown, ByteBuffer src);

        /** Reads into an array ({@code NioSocketImpl.read}, {@code SocketChannelImpl.blockingRead}). */
        Object streamReadEnter(ThreadState t, int fd, byte[] b, int off, int len);

        void streamReadExit(ThreadState t, int fd, byte[] b, int off, int n, Throwable thrown);

        /** Writes a whole array ({@code NioSocketImpl.write}, {@code SocketChannelImpl.blockingWriteFully}). */
        Object streamWriteEnter(ThreadState t, Object owner, int fd, byte[] b, int off, int len);

        void streamWriteExit(ThreadState t, int fd, int len, Throwable thrown);

        Object availableEnter(ThreadState t, int fd);

        void availableExit(ThreadState t, int fd, int n, Throwable thrown);

        void closing(ThreadState t, Object channel);

        void shuttingDownOutput(ThreadState t, int fd);

        void implClosing(ThreadState t, int fd);
    }

    /** Outgoing connects of a channel or a {@code SocketImpl}. */
    public interface Connects {
        /**
         * Outgoing connect of a channel or a SocketImpl: null lets the JDK connect as asked; a
         * SocketAddress makes it connect there instead (replay: a stand-in); a Throwable is thrown.
         */
        Object connectEnter(ThreadState t, Object owner, int fd, SocketAddress remote);

        /** After the JDK connected: records, or (replay) finishes the stand-in; a Boolean replaces the result. */
        Object connectExit(ThreadState t, Object owner, int fd, SocketAddress remote, Object entered, boolean result,
                           Throwable thrown);

        Object finishConnectEnter(ThreadState t, Object channel, int fd);

        void finishConnectExit(ThreadState t, int fd, boolean result, Throwable thrown);
    }

    /** The epoll selector: its wake-up descriptor and its ready sets. */
    public interface Selectors {
        void selectorOpened(int epfd, Object eventfd);

        /** Writes the logged ready set into the poll array and returns its size; -1 if this thread is live. */
        int epollReplay(ThreadState t, int epfd, long address, int max);

        int epollWaitLive(int epfd, long address, int max, int timeout) throws java.io.IOException;

        void epollRecord(ThreadState t, int epfd, long address, int n);
    }

    private static ThreadState app() {
        if (impl == null) {
            return null;
        }
        ThreadState t = ThreadState.current();
        if (t.agent || t.busy) {
            return null;
        }
        if (t.scheduled && !t.begun) {
            Sched.begin(t);
        }
        return t;
    }

    /**
     * The enter hook of a call that may block: the token is given up first (and, in replay, taken
     * back as the log says) — then the runtime answers or lets the call run; an answer takes the
     * token back at once, a call that runs takes it back in its exit hook ({@link #resumed}).
     */
    private interface Entering {
        Object enter(ThreadState t);
    }

    private static Object blockingEnter(ThreadState t, Entering e) {
        ThreadState b = Sched.block(null);
        Object r = null;
        boolean h = enter(t);
        try {
            r = e.enter(t);
        } finally {
            leave(t, h);
            if (r != null) {
                Sched.resume(b, null);
            }
        }
        return r;
    }

    /** First thing in the exit hook of a call {@link #blockingEnter} let run: the token back. */
    private static void resumed(ThreadState t) {
        Sched.resume(t, null);
    }

    private static boolean enter(ThreadState t) {
        return Hooks.enter(t);
    }

    private static void leave(ThreadState t, boolean hashesWerePaused) {
        Hooks.leave(t, hashesWerePaused);
    }

    public static Object bindEnter(Object channel, int fd, SocketAddress requested, int backlog) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return binds.bindEnter(t, channel, fd, requested, backlog);
        } finally {
            leave(t, h);
        }
    }

    public static void bindExit(int fd, Object result, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            binds.bindExit(t, fd, result, thrown);
        } finally {
            leave(t, h);
        }
    }

    /** The agent's own work (stand-ins, recording an accept) always sees the real addresses. */
    public static SocketAddress localAddress(int fd, SocketAddress live) {
        ThreadState t = app();
        return t == null ? live : binds.localAddress(t, fd, live);
    }

    public static boolean serverBound(int fd, boolean live) {
        ThreadState t = app();
        return t == null ? live : binds.serverBound(t, fd, live);
    }

    public static SocketAddress remoteAddress(int fd, SocketAddress live) {
        ThreadState t = app();
        return t == null ? live : binds.remoteAddress(t, fd, live);
    }

    public static Object acceptEnter(int serverFd) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        return blockingEnter(t, x -> accepts.acceptEnter(x, serverFd));
    }

    public static void acceptExit(int serverFd, Object accepted, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        resumed(t);
        boolean h = enter(t);
        try {
            accepts.acceptExit(t, serverFd, accepted, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object readEnter(int fd, ByteBuffer dst) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        return blockingEnter(t, x -> transfers.readEnter(x, fd, dst));
    }

    public static void readExit(int fd, ByteBuffer dst, int n, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        resumed(t);
        boolean h = enter(t);
        try {
            transfers.readExit(t, fd, dst, n, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object writeEnter(Object channel, int fd, ByteBuffer src) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return transfers.writeEnter(t, channel, fd, src);
        } finally {
            leave(t, h);
        }
    }

    public static void writeExit(int fd, int n, Throwable thrown, ByteBuffer src) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            transfers.writeExit(t, fd, n, thrown, src);
        } finally {
            leave(t, h);
        }
    }

    /** Entry of {@code AbstractInterruptibleChannel.close()}, for every channel. */
    public static void closing(Object channel) {
        // Called from plain-ASM code at the entry of AbstractInterruptibleChannel.close(): nothing
        // may escape into the app's close.
        try {
            ThreadState t = app();
            if (t == null) {
                return;
            }
            boolean h = enter(t);
            try {
                transfers.closing(t, channel);
            } finally {
                leave(t, h);
            }
        } catch (Throwable ignored) {
            // the close goes ahead
        }
    }

    public static void shuttingDownOutput(int fd) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            transfers.shuttingDownOutput(t, fd);
        } finally {
            leave(t, h);
        }
    }

    /** Exit of the {@code EPollSelectorImpl} constructor: which fd is the selector's wake-up fd. */
    public static void selectorOpened(int epfd, Object eventfd) {
        if (impl != null) {
            selectors.selectorOpened(epfd, eventfd);
        }
    }

    /**
     * Replaces the call of the native {@code EPoll.wait} inside {@code EPollSelectorImpl}: the ready
     * set is a determinant. The selector thread is not marked busy while it waits in the kernel.
     */
    public static int epollWait(int epfd, long address, int max, int timeout) throws java.io.IOException {
        if (impl == null) {
            return liveWait.wait(epfd, address, max, timeout);
        }
        Selectors n = selectors;
        ThreadState t = app();
        if (t == null) {
            return n.epollWaitLive(epfd, address, max, timeout);
        }
        ThreadState b = timeout != 0 ? Sched.block(null) : null; // selectNow never blocks
        boolean h = enter(t);
        int replayed;
        try {
            replayed = n.epollReplay(t, epfd, address, max);
        } finally {
            leave(t, h);
        }
        if (replayed >= 0) {
            Sched.resume(b, null);
            return replayed;
        }
        int ready;
        try {
            ready = n.epollWaitLive(epfd, address, max, timeout);
        } finally {
            Sched.resume(b, null);
        }
        h = enter(t);
        try {
            n.epollRecord(t, epfd, address, ready);
        } finally {
            leave(t, h);
        }
        return ready;
    }

    // ------------------------------------------------ java.net.Socket / ServerSocket, socket adaptors

    /** The number inside a {@code FileDescriptor} (-1 for null). */
    public static int fdVal(Object fileDescriptor) {
        return JdkAccess.fdVal(fileDescriptor);
    }

    /** Bounds the JDK method checks itself first: such calls (and empty ones) are not determinants. */
    public static boolean trivial(byte[] b, int off, int len) {
        return b == null || len <= 0 || off < 0 || off > b.length - len;
    }

    public static Object implBindEnter(Object socketImpl, int fd, java.net.InetAddress host, int port) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return binds.implBindEnter(t, socketImpl, fd, host, port);
        } finally {
            leave(t, h);
        }
    }

    public static void implBindExit(Object socketImpl, int fd, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            binds.implBindExit(t, socketImpl, fd, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static boolean listenEnter(int fd, int backlog) {
        ThreadState t = app();
        if (t == null) {
            return false;
        }
        boolean h = enter(t);
        try {
            return binds.listenEnter(t, fd, backlog);
        } finally {
            leave(t, h);
        }
    }

    public static Object implAcceptEnter(int serverFd, Object si) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        return blockingEnter(t, x -> accepts.implAcceptEnter(x, serverFd, si));
    }

    public static void implAcceptExit(int serverFd, Object si, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        resumed(t);
        boolean h = enter(t);
        try {
            accepts.implAcceptExit(t, serverFd, si, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object streamReadEnter(int fd, byte[] b, int off, int len) {
        ThreadState t = app();
        if (t == null || trivial(b, off, len)) {
            return null;
        }
        return blockingEnter(t, x -> transfers.streamReadEnter(x, fd, b, off, len));
    }

    public static void streamReadExit(int fd, byte[] b, int off, int len, int n, Throwable thrown) {
        ThreadState t = app();
        if (t == null || trivial(b, off, len)) {
            return;
        }
        resumed(t);
        boolean h = enter(t);
        try {
            transfers.streamReadExit(t, fd, b, off, n, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object streamWriteEnter(Object owner, int fd, byte[] b, int off, int len) {
        ThreadState t = app();
        if (t == null || trivial(b, off, len)) {
            return null;
        }
        boolean h = enter(t);
        try {
            return transfers.streamWriteEnter(t, owner, fd, b, off, len);
        } finally {
            leave(t, h);
        }
    }

    public static void streamWriteExit(int fd, byte[] b, int off, int len, Throwable thrown) {
        ThreadState t = app();
        if (t == null || trivial(b, off, len)) {
            return;
        }
        boolean h = enter(t);
        try {
            transfers.streamWriteExit(t, fd, len, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object availableEnter(int fd) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return transfers.availableEnter(t, fd);
        } finally {
            leave(t, h);
        }
    }

    public static void availableExit(int fd, int n, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            transfers.availableExit(t, fd, n, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object connectEnter(Object owner, int fd, SocketAddress remote) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return connects.connectEnter(t, owner, fd, remote);
        } finally {
            leave(t, h);
        }
    }

    public static Object connectExit(Object owner, int fd, SocketAddress remote, Object entered, boolean result,
                                     Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return connects.connectExit(t, owner, fd, remote, entered, result, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object finishConnectEnter(Object channel, int fd) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return connects.finishConnectEnter(t, channel, fd);
        } finally {
            leave(t, h);
        }
    }

    public static void finishConnectExit(int fd, boolean result, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            connects.finishConnectExit(t, fd, result, thrown);
        } finally {
            leave(t, h);
        }
    }

    /** Entry of {@code NioSocketImpl.close()}: held output leaves first. */
    public static void implClosing(int fd) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            transfers.implClosing(t, fd);
        } finally {
            leave(t, h);
        }
    }

    public static Object bindAddress(int fd, int option, Object live) {
        if (option != 0x000F) { // SocketOptions.SO_BINDADDR
            return live;
        }
        ThreadState t = app();
        return t == null ? live : binds.bindAddress(t, fd, live);
    }

    /**
     * Entry of {@code FileChannelImpl.transferTo}: into a socket the bytes leave by sendfile, neither
     * held by output commit nor seen by the write hooks. Plain-ASM call site: never throws.
     */
    public static void transferringTo(Object target) {
        try {
            if (target != null && target.getClass().getName().equals("sun.nio.ch.SocketChannelImpl")) {
                unsupported("FileChannel.transferTo into a socket (sent at once by sendfile: not held until stable)");
            }
        } catch (Throwable ignored) {
            // the transfer goes ahead
        }
    }

    /** Warns once per kind about socket use that is not recorded yet. */
    public static void unsupported(String what) {
        if (app() != null) {
            impl.unsupported(what);
        }
    }

    public static String kindName(int kind) {
        return switch (kind) {
            case BIND -> "bind";
            case ACCEPT -> "accept";
            case READ -> "socket read";
            case WRITE -> "socket write";
            case SELECT -> "select (ready set)";
            case CONNECT -> "connect";
            case AVAILABLE -> "socket available()";
            default -> null;
        };
    }
}
