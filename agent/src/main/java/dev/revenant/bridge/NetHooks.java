package dev.revenant.bridge;

import java.net.SocketAddress;
import java.nio.ByteBuffer;

/**
 * What the advice in {@code sun.nio.ch} calls: socket channels, server socket channels and the
 * epoll selector. Each entry asks the installed {@link Net} (the runtime's record, replay or
 * recovery logic) when the calling thread is an app thread that is not already inside the agent;
 * otherwise it lets the JDK do its own work. Never throws into the app except where the JDK method
 * itself would (a replayed {@code IOException}).
 *
 * <p>The {@code ...Enter} methods return {@code null} to let the JDK method run, or a non-null
 * value that the advice returns instead of running it (record with held output; replay).
 */
public final class NetHooks {
    /** Kinds of socket determinants; part of the log format (payload byte 0). */
    public static final int BIND = 30;
    public static final int ACCEPT = 31;
    public static final int READ = 32;
    public static final int WRITE = 33;
    public static final int SELECT = 34;

    /** What a replayed {@code accept()} returns when the recorded one returned null. */
    public static final Object NO_CONNECTION = new Object();

    private static volatile Net impl;

    private NetHooks() {}

    public static void install(Net n) {
        impl = n;
    }

    /** The runtime side; implemented in the agent's class loader. */
    public interface Net {
        Object bindEnter(ThreadState t, Object channel, int fd, SocketAddress requested, int backlog);

        void bindExit(ThreadState t, int fd, Object result, Throwable thrown);

        SocketAddress localAddress(ThreadState t, int fd, SocketAddress live);

        SocketAddress remoteAddress(ThreadState t, int fd, SocketAddress live);

        Object acceptEnter(ThreadState t, int serverFd);

        void acceptExit(ThreadState t, int serverFd, Object accepted, Throwable thrown);

        Object readEnter(ThreadState t, int fd, ByteBuffer dst);

        void readExit(ThreadState t, int fd, ByteBuffer dst, int n, Throwable thrown);

        Object writeEnter(ThreadState t, Object channel, int fd, ByteBuffer src);

        void writeExit(ThreadState t, int fd, int n, Throwable thrown, ByteBuffer src);

        void closing(ThreadState t, Object channel);

        void shuttingDownOutput(ThreadState t, int fd);

        void selectorOpened(int epfd, Object eventfd);

        void unsupported(String what);

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
        return t.agent || t.busy ? null : t;
    }

    private static boolean enter(ThreadState t) {
        t.busy = true;
        return IdentityHashes.pauseThread();
    }

    private static void leave(ThreadState t, boolean hashesWerePaused) {
        t.busy = false;
        IdentityHashes.resumeThread(hashesWerePaused);
    }

    public static Object bindEnter(Object channel, int fd, SocketAddress requested, int backlog) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return impl.bindEnter(t, channel, fd, requested, backlog);
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
            impl.bindExit(t, fd, result, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static SocketAddress localAddress(int fd, SocketAddress live) {
        Net n = impl;
        return n == null ? live : n.localAddress(ThreadState.current(), fd, live);
    }

    public static SocketAddress remoteAddress(int fd, SocketAddress live) {
        Net n = impl;
        return n == null ? live : n.remoteAddress(ThreadState.current(), fd, live);
    }

    public static Object acceptEnter(int serverFd) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return impl.acceptEnter(t, serverFd);
        } finally {
            leave(t, h);
        }
    }

    public static void acceptExit(int serverFd, Object accepted, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            impl.acceptExit(t, serverFd, accepted, thrown);
        } finally {
            leave(t, h);
        }
    }

    public static Object readEnter(int fd, ByteBuffer dst) {
        ThreadState t = app();
        if (t == null) {
            return null;
        }
        boolean h = enter(t);
        try {
            return impl.readEnter(t, fd, dst);
        } finally {
            leave(t, h);
        }
    }

    public static void readExit(int fd, ByteBuffer dst, int n, Throwable thrown) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            impl.readExit(t, fd, dst, n, thrown);
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
            return impl.writeEnter(t, channel, fd, src);
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
            impl.writeExit(t, fd, n, thrown, src);
        } finally {
            leave(t, h);
        }
    }

    /** Entry of {@code AbstractInterruptibleChannel.close()}, for every channel. */
    public static void closing(Object channel) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            impl.closing(t, channel);
        } finally {
            leave(t, h);
        }
    }

    public static void shuttingDownOutput(int fd) {
        ThreadState t = app();
        if (t == null) {
            return;
        }
        boolean h = enter(t);
        try {
            impl.shuttingDownOutput(t, fd);
        } finally {
            leave(t, h);
        }
    }

    /** Exit of the {@code EPollSelectorImpl} constructor: which fd is the selector's wake-up fd. */
    public static void selectorOpened(int epfd, Object eventfd) {
        Net n = impl;
        if (n != null) {
            n.selectorOpened(epfd, eventfd);
        }
    }

    /**
     * Replaces the call of the native {@code EPoll.wait} inside {@code EPollSelectorImpl}: the ready
     * set is a determinant. The selector thread is not marked busy while it waits in the kernel.
     */
    public static int epollWait(int epfd, long address, int max, int timeout) throws java.io.IOException {
        Net n = impl;
        ThreadState t = app();
        if (t == null) {
            return n.epollWaitLive(epfd, address, max, timeout);
        }
        boolean h = enter(t);
        try {
            int replayed = n.epollReplay(t, epfd, address, max);
            if (replayed >= 0) {
                return replayed;
            }
        } finally {
            leave(t, h);
        }
        int ready = n.epollWaitLive(epfd, address, max, timeout);
        h = enter(t);
        try {
            n.epollRecord(t, epfd, address, ready);
        } finally {
            leave(t, h);
        }
        return ready;
    }

    /** Warns once per kind about socket use that is not recorded yet. */
    public static void unsupported(String what) {
        if (app() != null) {
            impl.unsupported(what);
        }
    }

    public static String kindName(int kind) {
        return switch (kind) {
            case BIND -> "ServerSocketChannel.bind";
            case ACCEPT -> "accept";
            case READ -> "socket read";
            case WRITE -> "socket write";
            case SELECT -> "select (ready set)";
            default -> null;
        };
    }
}
