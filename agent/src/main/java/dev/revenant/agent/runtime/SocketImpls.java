package dev.revenant.agent.runtime;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The JDK internals the agent uses on {@code sun.nio.ch.NioSocketImpl}, the implementation behind
 * {@code java.net.Socket} and {@code ServerSocket}: its fields (some declared in
 * {@code java.net.SocketImpl}, reached through the subclass), a few of its private methods, and
 * {@code sun.nio.ch.Net}. Every handle is looked up once, when the class loads; the signatures are
 * the same on JDK 17 and 25 (checked with {@code javap -p} on both).
 *
 * <p>Stand-ins: {@code ServerSocket.accept} creates a fresh {@code NioSocketImpl} and asks the
 * server's impl to {@code accept(SocketImpl)} into it. In replay the agent answers that call by
 * letting its own listening {@code NioSocketImpl} (loopback, ephemeral port) accept into the same
 * fresh impl a connection the agent has just opened to it: the JDK's own code fills the impl, so
 * the app gets a genuine connected socket of the usual class, and the agent keeps the other end.
 */
final class SocketImpls {
    private static final MethodHandle NEW_IMPL;
    private static final MethodHandle CREATE;
    private static final MethodHandle ACCEPT;
    private static final MethodHandle CLOSE;
    private static final MethodHandle IS_OPEN;
    private static final MethodHandle IMPL_WRITE;
    private static final MethodHandle WRITE;
    private static final MethodHandle GET_FD;
    private static final MethodHandle GET_ADDRESS;
    private static final MethodHandle GET_PORT;
    private static final MethodHandle GET_LOCALPORT;
    private static final MethodHandle SET_ADDRESS;
    private static final MethodHandle SET_PORT;
    private static final MethodHandle SET_LOCALPORT;
    private static final MethodHandle GET_STATE_LOCK;
    private static final MethodHandle GET_WRITE_LOCK;
    private static final MethodHandle GET_NON_BLOCKING;
    private static final MethodHandle SET_NON_BLOCKING;
    private static final MethodHandle NET_LOCAL_ADDRESS;
    private static final MethodHandle NET_BIND;
    private static final MethodHandle NET_LISTEN;
    private static final MethodHandle NET_POLL;
    private static final MethodHandle CONFIGURE_BLOCKING;
    private static final MethodHandle CHANNEL_FD;
    private static final MethodHandle GET_STATE;
    private static final MethodHandle GET_OUTPUT_CLOSED;
    private static final MethodHandle CHANNEL_OUTPUT_CLOSED;
    /** {@code NioSocketImpl.ST_CONNECTED}, the same on 17 and 25. */
    private static final int ST_CONNECTED = 3;
    private static final short POLLOUT;
    /** What the release writes at most per call into a blocking channel that polled writable. */
    private static final int BLOCKING_CHANNEL_SLICE = 4096;
    /** NioSocketImpl writes at most this much per system call; so does the release. */
    private static final int MAX_WRITE = 128 * 1024;

    static final Class<?> IMPL;

    static {
        try {
            MethodHandles.Lookup me = MethodHandles.lookup();
            IMPL = Class.forName("sun.nio.ch.NioSocketImpl");
            MethodHandles.Lookup l = MethodHandles.privateLookupIn(IMPL, me);
            NEW_IMPL = l.findConstructor(IMPL, MethodType.methodType(void.class, boolean.class))
                    .asType(MethodType.methodType(Object.class, boolean.class));
            CREATE = generic(l.findVirtual(IMPL, "create", MethodType.methodType(void.class, boolean.class)));
            ACCEPT = l.findVirtual(IMPL, "accept", MethodType.methodType(void.class, SocketImpl.class))
                    .asType(MethodType.methodType(void.class, Object.class, Object.class));
            CLOSE = generic(l.findVirtual(IMPL, "close", MethodType.methodType(void.class)));
            IS_OPEN = generic(l.findVirtual(IMPL, "isOpen", MethodType.methodType(boolean.class)));
            IMPL_WRITE = generic(l.findVirtual(IMPL, "implWrite",
                    MethodType.methodType(int.class, byte[].class, int.class, int.class)));
            WRITE = generic(l.findVirtual(IMPL, "write",
                    MethodType.methodType(void.class, byte[].class, int.class, int.class)));
            GET_FD = generic(l.findGetter(IMPL, "fd", FileDescriptor.class));
            GET_ADDRESS = generic(l.findGetter(IMPL, "address", InetAddress.class));
            GET_PORT = generic(l.findGetter(IMPL, "port", int.class));
            GET_LOCALPORT = generic(l.findGetter(IMPL, "localport", int.class));
            SET_ADDRESS = generic(l.findSetter(IMPL, "address", InetAddress.class));
            SET_PORT = generic(l.findSetter(IMPL, "port", int.class));
            SET_LOCALPORT = generic(l.findSetter(IMPL, "localport", int.class));
            GET_STATE_LOCK = generic(l.findGetter(IMPL, "stateLock", Object.class));
            GET_WRITE_LOCK = generic(l.findGetter(IMPL, "writeLock", ReentrantLock.class));
            GET_NON_BLOCKING = generic(l.findGetter(IMPL, "nonBlocking", boolean.class));
            SET_NON_BLOCKING = generic(l.findSetter(IMPL, "nonBlocking", boolean.class));
            Class<?> net = Class.forName("sun.nio.ch.Net");
            MethodHandles.Lookup nl = MethodHandles.privateLookupIn(net, me);
            NET_LOCAL_ADDRESS = nl.findStatic(net, "localAddress",
                    MethodType.methodType(InetSocketAddress.class, FileDescriptor.class));
            NET_BIND = nl.findStatic(net, "bind",
                    MethodType.methodType(void.class, FileDescriptor.class, InetAddress.class, int.class));
            NET_LISTEN = nl.findStatic(net, "listen", MethodType.methodType(void.class, FileDescriptor.class, int.class));
            NET_POLL = nl.findStatic(net, "poll",
                    MethodType.methodType(int.class, FileDescriptor.class, int.class, long.class));
            POLLOUT = (short) nl.findStaticVarHandle(net, "POLLOUT", short.class).get();
            Class<?> sc = Class.forName("sun.nio.ch.SocketChannelImpl");
            MethodHandles.Lookup scl = MethodHandles.privateLookupIn(sc, me);
            CHANNEL_FD = generic(scl.findGetter(sc, "fd", FileDescriptor.class));
            CHANNEL_OUTPUT_CLOSED = generic(scl.findGetter(sc, "isOutputClosed", boolean.class));
            GET_STATE = generic(l.findGetter(IMPL, "state", int.class));
            GET_OUTPUT_CLOSED = generic(l.findGetter(IMPL, "isOutputClosed", boolean.class));
            if ((int) l.findStaticVarHandle(IMPL, "ST_CONNECTED", int.class).get() != ST_CONNECTED) {
                throw new NoSuchFieldException("NioSocketImpl.ST_CONNECTED is not " + ST_CONNECTED);
            }
            Class<?> ioUtil = Class.forName("sun.nio.ch.IOUtil");
            CONFIGURE_BLOCKING = MethodHandles.privateLookupIn(ioUtil, me).findStatic(ioUtil, "configureBlocking",
                    MethodType.methodType(void.class, FileDescriptor.class, boolean.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static Object listener;
    private static InetSocketAddress listenerAddress;

    private SocketImpls() {}

    /** The handle with its receiver typed {@code Object}, so callers need not name the JDK class. */
    private static MethodHandle generic(MethodHandle h) {
        return h.asType(h.type().changeParameterType(0, Object.class));
    }

    static boolean isImpl(Object o) {
        return o != null && o.getClass() == IMPL;
    }

    static FileDescriptor fd(Object impl) {
        try {
            return (FileDescriptor) GET_FD.invokeExact(impl);
        } catch (Throwable e) {
            return null;
        }
    }

    /** The remote address the impl reports (its {@code address} and {@code port} fields). */
    static InetSocketAddress remote(Object impl) {
        try {
            InetAddress a = (InetAddress) GET_ADDRESS.invokeExact(impl);
            int port = (int) GET_PORT.invokeExact(impl);
            return a == null ? null : new InetSocketAddress(a, port);
        } catch (Throwable e) {
            return null;
        }
    }

    /** The socket's local address as the kernel has it; null if it cannot be read. */
    static InetSocketAddress localAddress(Object impl) {
        try {
            FileDescriptor fd = fd(impl);
            return fd == null ? null : (InetSocketAddress) NET_LOCAL_ADDRESS.invokeExact(fd);
        } catch (Throwable e) {
            return null;
        }
    }

    static int localPort(Object impl) {
        try {
            return (int) GET_LOCALPORT.invokeExact(impl);
        } catch (Throwable e) {
            return -1;
        }
    }

    /**
     * Makes the impl report these addresses: what {@code Socket.getInetAddress/getPort/getLocalPort}
     * (and a bound ServerSocket's) read. A null leaves that field as it is.
     */
    static void setAddresses(Object impl, InetAddress remoteHost, int remotePort, int localPort) {
        try {
            if (remoteHost != null) {
                SET_ADDRESS.invokeExact(impl, remoteHost);
                SET_PORT.invokeExact(impl, remotePort);
            }
            if (localPort >= 0) {
                SET_LOCALPORT.invokeExact(impl, localPort);
            }
        } catch (Throwable e) {
            AgentLog.warn("cannot set the recorded addresses of a socket: " + e);
        }
    }

    /** Binds (and if {@code backlog >= 0}, listens) a socket whose bind replay kept hidden. */
    static void liveBind(Object impl, InetAddress host, int port, int backlog) throws IOException {
        FileDescriptor fd = fd(impl);
        try {
            NET_BIND.invokeExact(fd, host, port);
            if (backlog >= 0) {
                NET_LISTEN.invokeExact(fd, backlog);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
    }

    static void closeQuietly(Object impl) {
        try {
            CLOSE.invokeExact(impl);
        } catch (Throwable ignored) {
            // it was closing anyway
        }
    }

    /**
     * Replay: makes the fresh {@code si} a connected stand-in (see the class comment) and returns
     * the agent's end. Runs on an app thread marked busy, so the hooks of the agent's own listener,
     * connect and accept let the JDK work.
     */
    static synchronized SocketChannel acceptStandIn(Object si) throws IOException {
        try {
            if (listener == null) {
                Object l = NEW_IMPL.invokeExact(true);
                CREATE.invokeExact(l, true);
                NET_BIND.invokeExact(fd(l), InetAddress.getLoopbackAddress(), 0);
                NET_LISTEN.invokeExact(fd(l), 50);
                SET_LOCALPORT.invokeExact(l, localAddress(l).getPort());
                listener = l;
                listenerAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), localAddress(l).getPort());
            }
            SocketChannel peer = SocketChannel.open(listenerAddress);
            try {
                ACCEPT.invokeExact(listener, si);
            } catch (Throwable e) {
                peer.close();
                throw e;
            }
            return peer;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
    }

    /** The JDK's own blocking write of a whole array (its hook lets a busy thread through). */
    static void writeFully(Object impl, byte[] b, int off, int len) throws IOException {
        try {
            WRITE.invokeExact(impl, b, off, len);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
    }

    /**
     * Whether a write to this socket would be taken by the JDK: connected, output not shut down
     * (and, for a channel's adaptor stream, blocking). Otherwise the JDK's write runs and throws
     * its own exception, which is the recorded outcome; the outbox never takes what the JDK refuses.
     */
    static boolean acceptsWrites(Object owner) {
        try {
            if (isImpl(owner)) {
                return (int) GET_STATE.invokeExact(owner) == ST_CONNECTED && !(boolean) GET_OUTPUT_CLOSED.invokeExact(owner);
            }
            SocketChannel ch = (SocketChannel) owner;
            return ch.isOpen() && ch.isConnected() && ch.isBlocking() && !(boolean) CHANNEL_OUTPUT_CLOSED.invokeExact(owner);
        } catch (Throwable e) {
            return false;
        }
    }

    /**
     * The outbox's way out for a socket channel. A non-blocking channel's write takes what fits. A
     * blocking channel's (the socket adaptor's streams) would wait for the peer to read, holding up
     * every other connection's release: it is written only when a zero-timeout poll finds room,
     * and at most {@value #BLOCKING_CHANNEL_SLICE} bytes at a time. Linux reports a TCP socket
     * writable when its free send space is at least half of what is queued, and the send buffer is
     * at least 16 KiB by default, so such a write does not wait.
     */
    static int releaseWrite(SocketChannel ch, ByteBuffer data) throws IOException {
        if (!ch.isBlocking()) {
            return ch.write(data);
        }
        try {
            FileDescriptor fd = (FileDescriptor) CHANNEL_FD.invokeExact((Object) ch);
            if ((int) NET_POLL.invokeExact(fd, (int) POLLOUT, 0L) == 0) {
                return 0;
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
        ByteBuffer slice = data.duplicate();
        slice.limit(slice.position() + Math.min(slice.remaining(), BLOCKING_CHANNEL_SLICE));
        int n = ch.write(slice);
        data.position(data.position() + n);
        return n;
    }

    /** Going live: the agent's listener for stand-ins is no longer needed. */
    static synchronized void closeStandInListener() {
        if (listener != null) {
            closeQuietly(listener);
            listener = null;
        }
    }

    /**
     * The outbox's way out for a {@code java.net.Socket} (runs on {@code revenant-outbox}): writes
     * what the socket takes now without waiting for room. The socket is switched to non-blocking
     * mode once (its own read and write loops handle that mode: it is what a read timeout does), a
     * zero-timeout poll under the impl's state lock says whether there is room, and
     * {@code implWrite} — below the hooked {@code write}, so it is not held again — writes; with
     * room it returns at once. Returns the bytes written, 0 if there is no room.
     */
    static int releaseWrite(Object impl, ByteBuffer data) throws IOException {
        try {
            ReentrantLock wl = (ReentrantLock) GET_WRITE_LOCK.invokeExact(impl);
            wl.lock();
            try {
                Object stateLock = GET_STATE_LOCK.invokeExact(impl);
                synchronized (stateLock) {
                    if (!(boolean) IS_OPEN.invokeExact(impl)) {
                        throw new SocketException("Socket closed");
                    }
                    FileDescriptor fd = fd(impl);
                    if (!(boolean) GET_NON_BLOCKING.invokeExact(impl)) {
                        CONFIGURE_BLOCKING.invokeExact(fd, false);
                        SET_NON_BLOCKING.invokeExact(impl, true);
                    }
                    if ((int) NET_POLL.invokeExact(fd, (int) POLLOUT, 0L) == 0) {
                        return 0;
                    }
                }
                int len = Math.min(data.remaining(), MAX_WRITE);
                int n = (int) IMPL_WRITE.invokeExact(impl, data.array(), data.arrayOffset() + data.position(), len);
                if (n > 0) {
                    data.position(data.position() + n);
                }
                return Math.max(0, n);
            } finally {
                wl.unlock();
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
    }
}
