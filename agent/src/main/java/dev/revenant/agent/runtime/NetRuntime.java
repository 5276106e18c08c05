package dev.revenant.agent.runtime;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.bridge.NetHooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * Sockets and the epoll selector, in every phase of a {@link Run}: NIO socket channels (and their
 * socket adaptors' blocking streams), {@code java.net.Socket}/{@code ServerSocket} through
 * {@code NioSocketImpl} ({@link SocketImpls}), outgoing connects.
 *
 * <p><b>Connections</b> get ids in the order the recorded run bound or accepted them; the log
 * names connections by id, the hooks find them by file descriptor.
 *
 * <p><b>Record</b>: the JDK does the I/O; bind, accept, read (with the bytes), write counts and
 * each ready set of the selector are logged. With {@code commit=pessimistic} writes do not reach
 * the socket: they go into the connection's outbox ({@link Outboxes}) and leave once stable.
 *
 * <p><b>Replay</b> (and recovery before going live): no real I/O with the outside. A bind is not
 * made (the server socket stays unbound until the process goes live); an accept is answered with
 * a <em>stand-in</em>, a real loopback connection to a peer the agent owns, and so is a connect
 * (made to a one-off listener of the agent's instead); reads return the logged bytes, writes the
 * logged counts; the selector reports the logged ready sets, written into its
 * poll array with the descriptors of this process. <b>Going live</b> binds each server socket to
 * the address it had and resets the stand-ins' peers, so a connection open at the crash sees an
 * {@code IOException} on its next read or write, and its client retries.
 */
final class NetRuntime implements NetHooks.Net {
    private static final long DRAIN_MILLIS = 30_000;

    private final Run run;
    private final boolean holdOutput;
    private volatile Outboxes outboxes;
    private final ConcurrentHashMap<Integer, Conn> byFd = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Conn> byId = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, Integer> wakeupByEpfd = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();
    // For monitoring: server sockets bound, connections accepted and made, as this process recorded them.
    final AtomicLong bindsRecorded = new AtomicLong();
    final AtomicLong accepted = new AtomicLong();
    final AtomicLong connected = new AtomicLong();
    private final List<Conn> hiddenServers = new ArrayList<>();
    /** Set (under the hiddenServers lock) once going live bound them: a later replayed bind binds at once. */
    private boolean serversBound;
    private ServerSocketChannel standInListener;
    private volatile boolean warnedUntracked;

    /**
     * The JDK internals the socket hooks use. A holder of its own: loading it loads
     * {@code SocketChannelImpl} and friends, whose transformation is the agent's first use of
     * ByteBuddy (~200 ms on two cores). Recording initialises it on a background thread while
     * {@code main} starts ({@link #prepareInBackground}); an app thread that needs it earlier waits
     * for that initialisation, as the JVM makes every thread wait for a class being initialised.
     */
    static final class Jdk {
        static final MethodHandle EPOLL_WAIT;
        static final MethodHandle SOCKET_FD;
        static final MethodHandle SERVER_FD;
        static final MethodHandle EVENTFD_FD;
        static final MethodHandle GET_INT;
        static final MethodHandle PUT_INT;
        static final int EVENT_SIZE;
        static final int EVENTS_OFFSET;
        static final int FD_OFFSET;

        static {
            try {
                MethodHandles.Lookup l = MethodHandles.lookup();
                Class<?> epoll = Class.forName("sun.nio.ch.EPoll");
                MethodHandles.Lookup el = MethodHandles.privateLookupIn(epoll, l);
                EPOLL_WAIT = el.findStatic(epoll, "wait", MethodType.methodType(int.class, int.class, long.class, int.class,
                        int.class));
                EVENT_SIZE = (int) el.findStaticVarHandle(epoll, "SIZEOF_EPOLLEVENT", int.class).get();
                EVENTS_OFFSET = (int) el.findStaticVarHandle(epoll, "OFFSETOF_EVENTS", int.class).get();
                FD_OFFSET = (int) el.findStaticVarHandle(epoll, "OFFSETOF_FD", int.class).get();
                Class<?> sc = Class.forName("sun.nio.ch.SocketChannelImpl");
                SOCKET_FD = MethodHandles.privateLookupIn(sc, l).findGetter(sc, "fdVal", int.class)
                        .asType(MethodType.methodType(int.class, Object.class));
                Class<?> ssc = Class.forName("sun.nio.ch.ServerSocketChannelImpl");
                SERVER_FD = MethodHandles.privateLookupIn(ssc, l).findGetter(ssc, "fdVal", int.class)
                        .asType(MethodType.methodType(int.class, Object.class));
                Class<?> ev = Class.forName("sun.nio.ch.EventFD");
                EVENTFD_FD = MethodHandles.privateLookupIn(ev, l).findGetter(ev, "efd", int.class)
                        .asType(MethodType.methodType(int.class, Object.class));
                Class<?> u = Class.forName("jdk.internal.misc.Unsafe");
                Object unsafe = u.getMethod("getUnsafe").invoke(null);
                GET_INT = l.findVirtual(u, "getInt", MethodType.methodType(int.class, long.class)).bindTo(unsafe);
                PUT_INT = l.findVirtual(u, "putInt", MethodType.methodType(void.class, long.class, int.class)).bindTo(unsafe);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private Jdk() {
        }
    }

    /** A connection or server socket the log knows by id. */
    static final class Conn {
        final long id;
        volatile int fd;
        /** Replay: the recorded addresses, reported instead of the stand-in's. */
        SocketAddress local;
        SocketAddress remote;
        /** Replay: a server socket not bound yet, with what to bind it to when going live. */
        ServerSocketChannel hidden;
        int backlog;
        /** Replay: the same for a {@code ServerSocket} (or a bound {@code Socket}): its impl and the host it asked for; backlog -1 until it listens. */
        Object hiddenImpl;
        InetAddress bindHost;
        /** Replay: the agent's end of a stand-in connection. */
        SocketChannel peer;
        volatile Outboxes.Outbox outbox;
        /** Writes made on this connection so far (record and replay count alike). */
        long writes;

        Conn(long id, int fd) {
            this.id = id;
            this.fd = fd;
        }
    }

    NetRuntime(Run run, boolean holdOutput) {
        this.run = run;
        this.holdOutput = holdOutput;
        if (run.live()) {
            startOutput();
        }
    }

    private void startOutput() {
        startOutput(run.log());
    }

    private void startOutput(dev.revenant.log.LogWriter log) {
        if (holdOutput && outboxes == null) {
            outboxes = new Outboxes(log);
        }
    }

    /** {@code diskfull=fail} while the log is paused: held output is dropped and writes fail. */
    void refuseOutput(java.io.IOException cause, boolean fail) {
        Outboxes o = outboxes;
        if (o != null && fail) {
            o.refuse(cause);
        }
    }

    void acceptOutput() {
        Outboxes o = outboxes;
        if (o != null) {
            o.accept();
        }
    }

    /** At exit: waits (up to {@code millis}) for held output to leave. */
    void drainAll(long millis) {
        long deadline = System.currentTimeMillis() + millis;
        for (Conn c : byFd.values()) {
            Outboxes.Outbox ob = c.outbox;
            if (ob != null && !ob.isEmpty()) {
                ob.drain(Math.max(1, deadline - System.currentTimeMillis()));
            }
        }
    }

    /** Initialises {@link Jdk} now, on this thread (replay: the same moment in every run). */
    static void prepareJdk() {
        try {
            Class.forName(Jdk.class.getName(), true, Jdk.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Initialises {@link Jdk} on an agent thread ({@code revenant-prepare-net}) so that {@code main}
     * need not wait for it. If the JDK lacks what the hooks need, sockets cannot be recorded: the
     * app is stopped with exit 2 (strict) before any socket output could leave, as premain would
     * have stopped it.
     */
    static void prepareInBackground() {
        Thread t = new Thread(() -> {
            try {
                prepareJdk();
            } catch (Throwable e) {
                Throwable c = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
                try {
                    AgentLog.error("agent start-up failed: this JDK lacks the socket internals the agent records ("
                            + c + ") — the app is stopped (exit 2); run with disable=sockets to record without them");
                } finally {
                    Runtime.getRuntime().halt(2);
                }
            }
        }, "revenant-prepare-net");
        t.setDaemon(true);
        t.start();
    }

    // ---------------------------------------------------------------- helpers

    long idOf(int fd) {
        Conn c = byFd.get(fd);
        return c == null ? NetCodec.UNTRACKED : c.id;
    }

    private Conn register(long id, int fd) {
        Conn c = new Conn(id, fd);
        byFd.put(fd, c);
        if (id >= 0) {
            byId.put(id, c);
            nextId.accumulateAndGet(id + 1, Math::max);
        }
        return c;
    }

    private static int fdOf(Object socketChannel) {
        try {
            return (int) Jdk.SOCKET_FD.invokeExact(socketChannel);
        } catch (Throwable e) {
            return -1;
        }
    }

    private static int serverFdOf(Object serverChannel) {
        try {
            return (int) Jdk.SERVER_FD.invokeExact(serverChannel);
        } catch (Throwable e) {
            return -1;
        }
    }

    /**
     * The connection's outbox, made on its first held write. A descriptor the kernel gave again to
     * another socket (its old connection closed) gets a fresh outbox writing to the new owner.
     */
    private Outboxes.Outbox outboxFor(Outboxes boxes, Conn c, Object owner) {
        synchronized (c) {
            Outboxes.Outbox ob = c.outbox;
            if (ob == null || ob.owner != owner) {
                ob = SocketImpls.isImpl(owner) ? boxes.create(data -> SocketImpls.releaseWrite(owner, data), owner)
                        : boxes.create((SocketChannel) owner);
                c.outbox = ob;
            }
            return ob;
        }
    }

    /**
     * The exception a recorded failure message stands for: the recorded class when it is a JDK
     * {@code IOException} (a {@code SocketTimeoutException} stays one) or {@code RuntimeException}
     * (an {@code IllegalBlockingModeException}), else a plain {@code IOException}.
     */
    static Throwable failure(String recorded) {
        int colon = recorded.indexOf(": ");
        String cls = colon > 0 ? recorded.substring(0, colon) : "";
        String msg = colon > 0 ? recorded.substring(colon + 2) : recorded;
        if (cls.startsWith("java.")) {
            try {
                Class<?> c = Class.forName(cls, false, null);
                if (IOException.class.isAssignableFrom(c) || RuntimeException.class.isAssignableFrom(c)) {
                    try {
                        return (Throwable) c.getConstructor(String.class).newInstance(msg.isEmpty() ? null : msg);
                    } catch (NoSuchMethodException e) {
                        return (Throwable) c.getConstructor().newInstance();
                    }
                }
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // fall through to a plain IOException
            }
        }
        return new IOException(msg);
    }

    private void checkConn(ThreadState t, String what, LogRecord r, long logged, int fd) {
        long mine = idOf(fd);
        if (logged != mine && logged != NetCodec.UNTRACKED && mine != NetCodec.UNTRACKED) {
            Replayer.diverged(t, what + " on conn " + mine, r, null);
        }
    }

    // ---------------------------------------------------------------- bind

    /**
     * Replay of a bind: the connection it registered (its recorded address in {@code local}), the
     * recorded failure to throw, or null when this thread is live.
     */
    private Object replayBind(ThreadState t, int fd) {
        LogRecord r = run.take(t, NetHooks.BIND);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long id = b.getLong();
        if (b.get() != 0) {
            return failure(NetCodec.rest(b));
        }
        Conn c = register(id, fd);
        c.local = NetCodec.getAddress(b);
        return c;
    }

    @Override
    public Object bindEnter(ThreadState t, Object channel, int fd, SocketAddress requested, int backlog) {
        Object replayed = replayBind(t, fd);
        if (!(replayed instanceof Conn c)) {
            return replayed;
        }
        c.hidden = (ServerSocketChannel) channel;
        c.backlog = backlog;
        synchronized (hiddenServers) {
            if (!serversBound) {
                hiddenServers.add(c);
                return channel;
            }
        }
        // The process went live (another thread ran out of log) while this thread still replays:
        // the server is bound for real now, to the address it had.
        bindHidden(c);
        return channel;
    }

    @Override
    public void bindExit(ThreadState t, int fd, Object result, Throwable thrown) {
        if (thrown != null) {
            recordBindFailure(t, thrown);
            return;
        }
        SocketAddress bound;
        try {
            bound = ((ServerSocketChannel) result).getLocalAddress();
        } catch (IOException | RuntimeException e) {
            bound = null;
        }
        recordBound(t, fd, bound);
    }

    private void recordBindFailure(ThreadState t, Throwable thrown) {
        byte[] m = NetCodec.utf8(NetCodec.message(thrown));
        run.record(t, NetHooks.BIND, NetCodec.buffer(NetHooks.BIND, 10 + m.length).putLong(NetCodec.FAILED)
                .put((byte) 1).put(m).array());
    }

    private void recordBound(ThreadState t, int fd, SocketAddress bound) {
        bindsRecorded.incrementAndGet();
        long id = nextId.getAndIncrement();
        register(id, fd);
        ByteBuffer b = NetCodec.buffer(NetHooks.BIND, 10 + NetCodec.addressSize(bound)).putLong(id).put((byte) 0);
        NetCodec.putAddress(b, bound);
        long p = run.record(t, NetHooks.BIND, b.array());
        // The app may tell the world its port at once (a log line, a registry); a recovery must bind
        // the same one, so the bind is durable before the app goes on. Binds are rare: one force.
        dev.revenant.log.LogWriter w = run.log();
        try {
            if (p >= 0 && w != null && !w.awaitStable(p, 10, java.util.concurrent.TimeUnit.SECONDS)) {
                AgentLog.warn("the bind of " + bound + " was not durable within 10 s; a recovery may bind another port");
            }
        } catch (IOException e) {
            AgentLog.error("the bind of " + bound + " could not be made durable: " + e.getMessage());
        }
    }

    @Override
    public SocketAddress localAddress(ThreadState t, int fd, SocketAddress live) {
        Conn c = byFd.get(fd);
        return c != null && c.local != null && (c.hidden != null || c.peer != null) ? c.local : live;
    }

    @Override
    public SocketAddress remoteAddress(ThreadState t, int fd, SocketAddress live) {
        Conn c = byFd.get(fd);
        return c != null && c.remote != null && c.peer != null ? c.remote : live;
    }

    // ---------------------------------------------------------------- accept

    @Override
    public Object acceptEnter(ThreadState t, int serverFd) {
        LogRecord r = run.take(t, NetHooks.ACCEPT);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long server = b.getLong();
        long id = b.getLong();
        checkConn(t, "accept", r, server, serverFd);
        if (id == NetCodec.NONE) {
            return NetHooks.NO_CONNECTION;
        }
        if (id == NetCodec.FAILED) {
            return failure(NetCodec.rest(b));
        }
        SocketAddress remote = NetCodec.getAddress(b);
        SocketAddress local = NetCodec.getAddress(b);
        try {
            SocketChannel[] pair = standIn();
            Conn c = register(id, fdOf(pair[0]));
            c.peer = pair[1];
            c.remote = remote;
            c.local = local;
            if (run.live()) {
                interrupt(c); // its replay goes on from the log; once live it sees the reset
            }
            return pair[0];
        } catch (IOException e) {
            AgentLog.error("replay cannot create a stand-in connection for conn " + id + ": " + e.getMessage());
            Runtime.getRuntime().halt(1);
            return null;
        }
    }

    /** A real loopback connection: {@code [0]} is handed to the app, {@code [1]} is the agent's end. */
    private synchronized SocketChannel[] standIn() throws IOException {
        if (standInListener == null) {
            standInListener = ServerSocketChannel.open();
            standInListener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        }
        SocketChannel peer = SocketChannel.open(standInListener.getLocalAddress());
        SocketChannel standIn = standInListener.accept();
        return new SocketChannel[] {standIn, peer};
    }

    @Override
    public void acceptExit(ThreadState t, int serverFd, Object accepted, Throwable thrown) {
        long server = idOf(serverFd);
        if (thrown != null) {
            recordAcceptFailure(t, server, thrown);
            return;
        }
        if (accepted == null) {
            run.record(t, NetHooks.ACCEPT, NetCodec.buffer(NetHooks.ACCEPT, 17).putLong(server).putLong(NetCodec.NONE)
                    .array());
            return;
        }
        SocketChannel ch = (SocketChannel) accepted;
        SocketAddress remote;
        SocketAddress local;
        try {
            remote = ch.getRemoteAddress();
            local = ch.getLocalAddress();
        } catch (IOException | RuntimeException e) {
            remote = null;
            local = null;
        }
        recordAccepted(t, server, fdOf(ch), remote, local);
    }

    private void recordAcceptFailure(ThreadState t, long server, Throwable thrown) {
        byte[] m = NetCodec.utf8(NetCodec.message(thrown));
        run.record(t, NetHooks.ACCEPT, NetCodec.buffer(NetHooks.ACCEPT, 17 + m.length).putLong(server)
                .putLong(NetCodec.FAILED).put(m).array());
    }

    private void recordAccepted(ThreadState t, long server, int fd, SocketAddress remote, SocketAddress local) {
        accepted.incrementAndGet();
        long id = nextId.getAndIncrement();
        register(id, fd);
        ByteBuffer b = NetCodec.buffer(NetHooks.ACCEPT, 17 + NetCodec.addressSize(remote) + NetCodec.addressSize(local))
                .putLong(server).putLong(id);
        NetCodec.putAddress(b, remote);
        NetCodec.putAddress(b, local);
        run.record(t, NetHooks.ACCEPT, b.array());
    }

    // ---------------------------------------------------------------- read

    @Override
    public Object readEnter(ThreadState t, int fd, ByteBuffer dst) {
        LogRecord r = run.take(t, NetHooks.READ);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long conn = b.getLong();
        checkConn(t, "read", r, conn, fd);
        int n = b.getInt();
        if (n == -2) {
            return failure(NetCodec.rest(b));
        }
        if (n > 0) {
            if (dst.remaining() < n) {
                Replayer.diverged(t, "read into a buffer with room for " + dst.remaining() + " bytes", r, null);
            }
            dst.put(b);
        }
        return n;
    }

    @Override
    public void readExit(ThreadState t, int fd, ByteBuffer dst, int n, Throwable thrown) {
        long conn = idOf(fd);
        if (thrown != null) {
            byte[] m = NetCodec.utf8(NetCodec.message(thrown));
            run.record(t, NetHooks.READ, NetCodec.buffer(NetHooks.READ, 13 + m.length).putLong(conn).putInt(-2).put(m)
                    .array());
            return;
        }
        ByteBuffer b = NetCodec.buffer(NetHooks.READ, 13 + Math.max(0, n)).putLong(conn).putInt(n);
        if (n > 0) {
            ByteBuffer d = dst.duplicate();
            d.limit(dst.position()).position(dst.position() - n);
            b.put(d);
        }
        run.record(t, NetHooks.READ, b.array());
    }

    // ---------------------------------------------------------------- write

    /*
     * A write that takes every byte it is given is the rule, and is not logged: only a short or
     * failed write is a determinant, named by its connection and the connection's write ordinal
     * (the how-many-th write on it), so that replay can tell which write it belongs to. That keeps
     * one record per request out of the log.
     */

    /** True if {@code r} is the logged outcome of write number {@code index} on {@code c}. */
    private static boolean isWriteOf(LogRecord r, Conn c, long index) {
        if (r == Run.NOTHING_LOGGED || DeterminantCodec.kind(r.payload()) != NetHooks.WRITE) {
            return false;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        return b.getLong() == c.id && b.getLong() == index;
    }

    private Conn connOf(int fd) {
        return byFd.computeIfAbsent(fd, k -> new Conn(NetCodec.UNTRACKED, k));
    }

    private void recordWrite(ThreadState t, Conn c, long index, long n, Throwable failed) {
        byte[] m = failed == null ? new byte[0] : NetCodec.utf8(NetCodec.message(failed));
        run.record(t, NetHooks.WRITE, NetCodec.buffer(NetHooks.WRITE, 25 + m.length).putLong(c.id).putLong(index)
                .putLong(failed == null ? n : NetCodec.FAILED).put(m).array());
    }

    @Override
    public Object writeEnter(ThreadState t, Object channel, int fd, ByteBuffer src) {
        Conn c = connOf(fd);
        long index = c.writes++;
        LogRecord r = run.peekForEvent(t);
        if (r != null) {
            if (isWriteOf(r, c, index)) {
                run.take(t, NetHooks.WRITE);
                ByteBuffer b = NetCodec.read(r.payload());
                b.position(1 + 16);
                long n = b.getLong();
                if (n == NetCodec.FAILED) {
                    return failure(NetCodec.rest(b));
                }
                if (n > src.remaining()) {
                    Replayer.diverged(t, "write of " + src.remaining() + " bytes", r, null);
                }
                src.position(src.position() + (int) n);
                return (int) n;
            }
            int n = src.remaining(); // the recorded write took everything
            src.position(src.limit());
            return n;
        }
        Outboxes boxes = outboxes;
        if (boxes == null) {
            return null; // commit=none: the JDK writes, the exit logs a short write
        }
        SocketChannel ch = (SocketChannel) channel;
        Outboxes.Outbox ob = outboxFor(boxes, c, ch);
        synchronized (ob) {
            int want = src.remaining();
            int n;
            try {
                n = Math.min(want, ob.room(ch.isBlocking()));
            } catch (IOException e) {
                recordWrite(t, c, index, 0, e);
                return e;
            }
            byte[] data = new byte[n];
            src.get(data);
            long p;
            if (n < want) {
                recordWrite(t, c, index, n, null);
            }
            // Everything this thread (and any other) recorded before is at or below this position.
            p = run.log().appendedPosition();
            if (n > 0) {
                ob.hold(data, p);
            }
            return n;
        }
    }

    @Override
    public void writeExit(ThreadState t, int fd, int n, Throwable thrown, ByteBuffer src) {
        Conn c = connOf(fd);
        long index = c.writes - 1; // counted when the write entered
        if (thrown != null || src.hasRemaining()) {
            recordWrite(t, c, index, n, thrown);
        }
    }

    // ---------------------------------------------------------------- close

    @Override
    public void closing(ThreadState t, Object channel) {
        String cls = channel.getClass().getName();
        if (cls.equals("sun.nio.ch.ServerSocketChannelImpl")) {
            Conn c = byFd.get(serverFdOf(channel));
            if (c != null) {
                unhide(c); // closed before the process went live: nothing to bind then
            }
            return;
        }
        if (!cls.equals("sun.nio.ch.SocketChannelImpl")) {
            return;
        }
        Conn c = byFd.get(fdOf(channel));
        if (c == null) {
            return;
        }
        closePeer(c);
        drain(c, "close");
    }

    /**
     * The app closes a stand-in: the agent's end goes too, and the connection no longer counts as
     * a stand-in — the kernel may give its descriptor number to the next socket, which must not
     * report this one's recorded addresses.
     */
    private static void closePeer(Conn c) {
        SocketChannel peer = c.peer;
        if (peer != null) {
            c.peer = null;
            try {
                peer.close();
            } catch (IOException ignored) {
                // the agent's end of a stand-in; nothing depends on it
            }
        }
    }

    private void unhide(Conn c) {
        synchronized (hiddenServers) {
            hiddenServers.remove(c);
            c.hidden = null;
            c.hiddenImpl = null;
        }
    }

    @Override
    public void shuttingDownOutput(ThreadState t, int fd) {
        Conn c = byFd.get(fd);
        if (c != null) {
            drain(c, "shutdownOutput");
        }
    }

    private void drain(Conn c, String what) {
        Outboxes.Outbox ob = c.outbox;
        if (ob != null && !ob.isEmpty() && !ob.drain(DRAIN_MILLIS)) {
            AgentLog.warn(what + " of conn " + c.id + " waited " + DRAIN_MILLIS / 1000 + " s for held output to leave "
                    + "(log not stable, or the client does not read); it goes ahead and that output is lost");
        }
    }

    // ---------------------------------------------------------------- java.net.Socket / ServerSocket

    @Override
    public Object implBindEnter(ThreadState t, Object impl, int fd, InetAddress host, int port) {
        Object replayed = replayBind(t, fd);
        if (!(replayed instanceof Conn c)) {
            return replayed;
        }
        InetSocketAddress bound = (InetSocketAddress) c.local;
        c.hiddenImpl = impl;
        c.bindHost = host;
        c.backlog = -1;
        // What the JDK's bind leaves in the impl: the host asked for, the port the kernel gave.
        SocketImpls.setAddresses(impl, host, 0, bound == null ? 0 : bound.getPort());
        synchronized (hiddenServers) {
            hiddenServers.add(c);
        }
        return NetHooks.DONE;
    }

    @Override
    public void implBindExit(ThreadState t, Object impl, int fd, Throwable thrown) {
        if (thrown != null) {
            recordBindFailure(t, thrown);
        } else {
            recordBound(t, fd, SocketImpls.localAddress(impl));
        }
    }

    @Override
    public boolean listenEnter(ThreadState t, int fd, int backlog) {
        Conn c = byFd.get(fd);
        if (c == null || c.hiddenImpl == null) {
            return false;
        }
        c.backlog = backlog < 1 ? 50 : backlog;
        return true;
    }

    @Override
    public Object implAcceptEnter(ThreadState t, int serverFd, Object si) {
        LogRecord r = run.take(t, NetHooks.ACCEPT);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long server = b.getLong();
        long id = b.getLong();
        checkConn(t, "accept", r, server, serverFd);
        if (id == NetCodec.FAILED) {
            return failure(NetCodec.rest(b));
        }
        if (id == NetCodec.NONE) {
            Replayer.diverged(t, "a blocking accept (ServerSocket.accept)", r, null);
        }
        InetSocketAddress remote = NetCodec.getAddress(b);
        InetSocketAddress local = NetCodec.getAddress(b);
        try {
            SocketChannel peer = SocketImpls.acceptStandIn(si);
            SocketImpls.setAddresses(si, remote == null ? null : remote.getAddress(), remote == null ? 0 : remote.getPort(),
                    local == null ? -1 : local.getPort());
            Conn c = register(id, NetHooks.fdVal(SocketImpls.fd(si)));
            c.peer = peer;
            c.remote = remote;
            c.local = local;
            if (run.live()) {
                interrupt(c); // its replay goes on from the log; once live it sees the reset
            }
            return NetHooks.DONE;
        } catch (IOException | RuntimeException e) {
            AgentLog.error("replay cannot create a stand-in socket for conn " + id + ": " + e);
            Runtime.getRuntime().halt(1);
            return null;
        }
    }

    @Override
    public void implAcceptExit(ThreadState t, int serverFd, Object si, Throwable thrown) {
        long server = idOf(serverFd);
        if (thrown != null) {
            recordAcceptFailure(t, server, thrown);
            return;
        }
        recordAccepted(t, server, NetHooks.fdVal(SocketImpls.fd(si)), SocketImpls.remote(si),
                SocketImpls.localAddress(si));
    }

    @Override
    public Object streamReadEnter(ThreadState t, int fd, byte[] b, int off, int len) {
        return readEnter(t, fd, ByteBuffer.wrap(b, off, len));
    }

    @Override
    public void streamReadExit(ThreadState t, int fd, byte[] b, int off, int n, Throwable thrown) {
        readExit(t, fd, ByteBuffer.wrap(b).position(off + Math.max(0, n)), n, thrown);
    }

    /**
     * A write of a whole array (a socket's output stream, a channel adaptor): it takes everything or
     * fails, so only a failure is logged, by connection and write ordinal like channel writes.
     * Record with output commit: the bytes go into the outbox, waiting for room if it is full, as a
     * blocking write waits for the kernel. {@code commit=none}: the JDK writes.
     */
    @Override
    public Object streamWriteEnter(ThreadState t, Object owner, int fd, byte[] b, int off, int len) {
        Conn c = connOf(fd);
        long index = c.writes++;
        LogRecord r = run.peekForEvent(t);
        if (r != null) {
            if (isWriteOf(r, c, index)) {
                run.take(t, NetHooks.WRITE);
                ByteBuffer p = NetCodec.read(r.payload());
                p.position(1 + 24);
                return failure(NetCodec.rest(p)); // a stream write either takes everything or fails
            }
            return NetHooks.DONE;
        }
        Outboxes boxes = outboxes;
        if (boxes != null && SocketImpls.acceptsWrites(owner)) {
            return hold(t, boxes, owner, c, index, b, off, len);
        }
        return null; // commit=none, or a socket that cannot take writes: the JDK writes (or throws), the exit logs a failure
    }

    /** A stream write in record: held whole (waiting for room, as a blocking write waits for the kernel). */
    private Object hold(ThreadState t, Outboxes boxes, Object owner, Conn c, long index, byte[] b, int off, int len) {
        Outboxes.Outbox ob = outboxFor(boxes, c, owner);
        int done = 0;
        while (done < len) {
            synchronized (ob) {
                int n;
                try {
                    n = Math.min(len - done, ob.room(true));
                } catch (IOException e) {
                    recordWrite(t, c, index, 0, e);
                    return e;
                }
                ob.hold(java.util.Arrays.copyOfRange(b, off + done, off + done + n), run.log().appendedPosition());
                done += n;
            }
        }
        return NetHooks.DONE;
    }

    @Override
    public void streamWriteExit(ThreadState t, int fd, int len, Throwable thrown) {
        if (thrown != null) {
            Conn c = connOf(fd);
            recordWrite(t, c, c.writes - 1, 0, thrown);
        }
    }

    @Override
    public Object availableEnter(ThreadState t, int fd) {
        LogRecord r = run.take(t, NetHooks.AVAILABLE);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long conn = b.getLong();
        checkConn(t, "available", r, conn, fd);
        int n = b.getInt();
        return n == -2 ? failure(NetCodec.rest(b)) : Integer.valueOf(n);
    }

    @Override
    public void availableExit(ThreadState t, int fd, int n, Throwable thrown) {
        long conn = idOf(fd);
        byte[] m = thrown == null ? new byte[0] : NetCodec.utf8(NetCodec.message(thrown));
        run.record(t, NetHooks.AVAILABLE, NetCodec.buffer(NetHooks.AVAILABLE, 13 + m.length).putLong(conn)
                .putInt(thrown == null ? n : -2).put(m).array());
    }

    @Override
    public Object bindAddress(ThreadState t, int fd, Object live) {
        Conn c = byFd.get(fd);
        return c != null && c.local instanceof InetSocketAddress a && (c.hiddenImpl != null || c.peer != null)
                ? a.getAddress() : live;
    }

    @Override
    public void implClosing(ThreadState t, int fd) {
        Conn c = byFd.get(fd);
        if (c == null) {
            return;
        }
        closePeer(c);
        unhide(c);
        drain(c, "close");
        // No selector reports a SocketImpl's descriptor: forget it, the kernel may reuse the number.
        byFd.remove(fd, c);
    }

    // ---------------------------------------------------------------- outgoing connects

    /** Replay: a connect redirected to a one-off loopback listener of the agent's, until its exit. */
    /** A replayed connect in flight: the JDK connects to {@code target}, the loopback {@code listener}. */
    private record StandInConnect(ServerSocketChannel listener, InetSocketAddress target, long id, byte result,
                                  InetSocketAddress remote, InetSocketAddress local) {}

    private final ConcurrentHashMap<Integer, StandInConnect> standInConnects = new ConcurrentHashMap<>();

    /**
     * Replay: no connect leaves the machine. A connect that failed fails again (and closes the
     * socket, as the JDK does); one that succeeded or was pending is made for real, but to a
     * one-off loopback listener of the agent's, whose end the agent keeps: the app's socket is a
     * stand-in like an accepted one, with the recorded addresses.
     */
    /** A replayed CONNECT record: its connection, result, and the rest of its payload (or the failure to throw). */
    private record ReplayedConnect(LogRecord record, long conn, byte result, ByteBuffer rest, Throwable failure) {}

    /**
     * Replay: takes this thread's next CONNECT record, which must be of kind {@code op} (else a
     * divergence named {@code what}); a recorded failure closes {@code owner}, as the JDK does, and
     * comes back as the failure to throw. Null when this thread is live.
     */
    private ReplayedConnect takeConnect(ThreadState t, byte op, String what, Object owner) {
        LogRecord r = run.take(t, NetHooks.CONNECT);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        byte recordedOp = b.get();
        long conn = b.getLong();
        byte result = b.get();
        if (recordedOp != op) {
            Replayer.diverged(t, what, r, null);
        }
        Throwable failed = null;
        if (result == NetCodec.CONNECT_FAILED) {
            closeOwner(owner);
            failed = failure(NetCodec.rest(b));
        }
        return new ReplayedConnect(r, conn, result, b, failed);
    }

    @Override
    public Object connectEnter(ThreadState t, Object owner, int fd, SocketAddress remote) {
        if (isUnixDomain(remote)) {
            unsupported("connects of Unix-domain socket channels");
            return null;
        }
        ReplayedConnect c = takeConnect(t, NetCodec.OP_CONNECT, "connect", owner);
        if (c == null || c.failure != null) {
            return c == null ? null : c.failure;
        }
        ByteBuffer b = c.rest;
        long id = c.conn;
        byte result = c.result;
        InetSocketAddress recRemote = NetCodec.getAddress(b);
        InetSocketAddress recLocal = NetCodec.getAddress(b);
        try {
            ServerSocketChannel l = ServerSocketChannel.open();
            l.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
            InetSocketAddress target = (InetSocketAddress) l.getLocalAddress();
            standInConnects.put(target.getPort(), new StandInConnect(l, target, id, result, recRemote, recLocal));
            return target;
        } catch (IOException e) {
            AgentLog.error("replay cannot create a stand-in connection for conn " + id + ": " + e.getMessage());
            Runtime.getRuntime().halt(1);
            return null;
        }
    }

    @Override
    public Object connectExit(ThreadState t, Object owner, int fd, SocketAddress remote, Object entered, boolean result,
                              Throwable thrown) {
        // The connect's argument as its entry left it: the stand-in's address when replay made one,
        // else the app's own peer (recorded below).
        if (entered instanceof InetSocketAddress target) {
            StandInConnect s = standInConnects.get(target.getPort());
            if (s != null && s.target().equals(target) && standInConnects.remove(target.getPort(), s)) {
                return finishStandIn(owner, fd, s, result, thrown);
            }
        }
        if (isUnixDomain(remote)) {
            return null;
        }
        if (thrown != null) {
            byte[] m = NetCodec.utf8(NetCodec.message(thrown));
            run.record(t, NetHooks.CONNECT, NetCodec.buffer(NetHooks.CONNECT, 11 + m.length).put(NetCodec.OP_CONNECT)
                    .putLong(NetCodec.FAILED).put(NetCodec.CONNECT_FAILED).put(m).array());
            return null;
        }
        SocketAddress rem;
        SocketAddress loc;
        if (SocketImpls.isImpl(owner)) {
            rem = SocketImpls.remote(owner);
            loc = SocketImpls.localAddress(owner);
        } else {
            try {
                rem = ((SocketChannel) owner).getRemoteAddress();
                loc = ((SocketChannel) owner).getLocalAddress();
            } catch (IOException | RuntimeException e) {
                rem = remote;
                loc = null;
            }
        }
        connected.incrementAndGet();
        long id = nextId.getAndIncrement();
        register(id, fd);
        ByteBuffer b = NetCodec.buffer(NetHooks.CONNECT, 11 + NetCodec.addressSize(rem) + NetCodec.addressSize(loc))
                .put(NetCodec.OP_CONNECT).putLong(id).put(result ? NetCodec.CONNECTED : NetCodec.PENDING);
        NetCodec.putAddress(b, rem);
        NetCodec.putAddress(b, loc);
        run.record(t, NetHooks.CONNECT, b.array());
        return null;
    }

    private Object finishStandIn(Object owner, int fd, StandInConnect s, boolean result, Throwable thrown) {
        try {
            if (thrown != null) {
                throw new IOException("the connect to the agent's own loopback listener failed: " + thrown);
            }
            SocketChannel peer = s.listener().accept();
            s.listener().close();
            Conn old = byFd.get(fd);
            if (old != null) {
                unhide(old); // bound in replay, connected now: nothing to bind when going live
            }
            Conn c = register(s.id(), fd);
            c.peer = peer;
            c.remote = s.remote();
            c.local = s.local();
            if (run.live()) {
                interrupt(c);
            }
            if (SocketImpls.isImpl(owner)) {
                SocketImpls.setAddresses(owner, s.remote() == null ? null : s.remote().getAddress(),
                        s.remote() == null ? 0 : s.remote().getPort(), s.local() == null ? -1 : s.local().getPort());
            } else if (s.result() == NetCodec.CONNECTED && !result) {
                completeConnect((SocketChannel) owner);
            }
            return s.result() == NetCodec.CONNECTED;
        } catch (IOException e) {
            AgentLog.error("replay cannot create a stand-in connection for conn " + s.id() + ": " + e.getMessage());
            Runtime.getRuntime().halt(1);
            return null;
        }
    }

    /** Replay: the channel's connect to the agent's listener completes at once on loopback; wait for it. */
    private static void completeConnect(SocketChannel ch) throws IOException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!ch.finishConnect()) {
            if (System.nanoTime() > deadline) {
                throw new IOException("a stand-in connect on loopback did not complete in 10 s");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
    }

    /** Not recorded in either role (a stand-in is TCP on loopback); the channel's reads and writes are. */
    private static boolean isUnixDomain(SocketAddress a) {
        return a != null && !(a instanceof InetSocketAddress);
    }

    private static void closeOwner(Object owner) {
        if (SocketImpls.isImpl(owner)) {
            SocketImpls.closeQuietly(owner);
        } else if (owner instanceof java.nio.channels.Channel ch) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // it was failing anyway
            }
        }
    }

    @Override
    public Object finishConnectEnter(ThreadState t, Object channel, int fd) {
        ReplayedConnect c = takeConnect(t, NetCodec.OP_FINISH, "finishConnect", channel);
        if (c == null) {
            return null;
        }
        checkConn(t, "finishConnect", c.record, c.conn, fd);
        if (c.failure != null) {
            return c.failure;
        }
        long conn = c.conn;
        byte result = c.result;
        if (result == NetCodec.PENDING) {
            return Boolean.FALSE;
        }
        try {
            completeConnect((SocketChannel) channel);
        } catch (IOException e) {
            AgentLog.error("replay cannot complete a stand-in connection for conn " + conn + ": " + e.getMessage());
            Runtime.getRuntime().halt(1);
        }
        return Boolean.TRUE;
    }

    @Override
    public void finishConnectExit(ThreadState t, int fd, boolean result, Throwable thrown) {
        long conn = idOf(fd);
        byte[] m = thrown == null ? new byte[0] : NetCodec.utf8(NetCodec.message(thrown));
        byte outcome = thrown != null ? NetCodec.CONNECT_FAILED : result ? NetCodec.CONNECTED : NetCodec.PENDING;
        run.record(t, NetHooks.CONNECT, NetCodec.buffer(NetHooks.CONNECT, 11 + m.length).put(NetCodec.OP_FINISH)
                .putLong(conn).put(outcome).put(m).array());
    }

    // ---------------------------------------------------------------- selector

    @Override
    public void selectorOpened(int epfd, Object eventfd) {
        try {
            wakeupByEpfd.put(epfd, (int) Jdk.EVENTFD_FD.invokeExact(eventfd));
        } catch (Throwable e) {
            AgentLog.warn("cannot find the wake-up descriptor of a selector: " + e);
        }
    }

    @Override
    public int epollReplay(ThreadState t, int epfd, long address, int max) {
        LogRecord r = run.take(t, NetHooks.SELECT);
        if (r == null) {
            return -1;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        int n = b.getInt();
        if (n > max) {
            Replayer.diverged(t, "select with room for " + max + " events", r, null);
        }
        try {
            for (int i = 0; i < n; i++) {
                long conn = b.getLong();
                int fd = b.getInt();
                int events = b.getInt();
                if (conn == NetCodec.WAKEUP) {
                    Integer w = wakeupByEpfd.get(epfd);
                    if (w == null) {
                        Replayer.diverged(t, "select on a selector whose wake-up descriptor is unknown", r, null);
                    }
                    fd = w;
                } else if (conn >= 0) {
                    Conn c = byId.get(conn);
                    if (c == null) {
                        Replayer.diverged(t, "select", r, "conn " + conn + " does not exist in the replay");
                    }
                    fd = c.fd;
                }
                long at = address + (long) i * Jdk.EVENT_SIZE;
                Jdk.PUT_INT.invokeExact(at + Jdk.EVENTS_OFFSET, events);
                Jdk.PUT_INT.invokeExact(at + Jdk.FD_OFFSET, fd);
            }
        } catch (Throwable e) {
            AgentLog.error("replay cannot write a ready set into the selector: " + e);
            Runtime.getRuntime().halt(1);
        }
        return n;
    }

    @Override
    public int epollWaitLive(int epfd, long address, int max, int timeout) throws IOException {
        return liveEpollWait(epfd, address, max, timeout);
    }

    /** The JDK's own native wait. */
    static int liveEpollWait(int epfd, long address, int max, int timeout) throws IOException {
        try {
            return (int) Jdk.EPOLL_WAIT.invokeExact(epfd, address, max, timeout);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
    }

    @Override
    public void epollRecord(ThreadState t, int epfd, long address, int n) {
        if (n < 0) {
            return;
        }
        Integer wakeup = wakeupByEpfd.get(epfd);
        ByteBuffer b = NetCodec.buffer(NetHooks.SELECT, 5 + 16 * n).putInt(n);
        try {
            for (int i = 0; i < n; i++) {
                long at = address + (long) i * Jdk.EVENT_SIZE;
                int events = (int) Jdk.GET_INT.invokeExact(at + Jdk.EVENTS_OFFSET);
                int fd = (int) Jdk.GET_INT.invokeExact(at + Jdk.FD_OFFSET);
                long conn = wakeup != null && fd == wakeup ? NetCodec.WAKEUP : idOf(fd);
                if (conn == NetCodec.UNTRACKED && !warnedUntracked) {
                    warnedUntracked = true;
                    AgentLog.warn("a selector reported descriptor " + fd + ", which is not a connection the agent "
                            + "recorded (a pipe, or a channel of a kind not recorded yet): its replay may differ");
                }
                b.putLong(conn).putInt(fd).putInt(events);
            }
        } catch (Throwable e) {
            AgentLog.error("cannot read a selector's ready set: " + e);
        }
        run.record(t, NetHooks.SELECT, b.array());
    }

    private final java.util.Set<String> warned = ConcurrentHashMap.newKeySet();

    @Override
    public void unsupported(String what) {
        if (warned.add(what)) {
            AgentLog.warn("the app uses " + what + ", which this version does not record: what it receives that "
                    + "way is not in the log, and a recovery of this process may not rebuild the same state");
        }
    }

    // ---------------------------------------------------------------- going live

    /** Binds the hidden server sockets and interrupts the stand-ins; returns a one-line summary. */
    /**
     * First step of going live, before the log is touched: binds every server socket replay kept
     * unbound to the address it had. If one cannot be bound the process stops and the log is
     * exactly as it was. Returns the JSON fields of the summary that say so.
     */
    String bindHiddenServers() {
        StringBuilder ports = new StringBuilder();
        int bound = 0;
        synchronized (hiddenServers) {
            for (Conn c : hiddenServers) {
                bindHidden(c);
                bound++;
                ports.append(ports.length() == 0 ? "" : ",").append(c.local);
            }
            hiddenServers.clear();
            serversBound = true;
        }
        return "\"listening\":\"" + ports + "\",\"servers\":" + bound;
    }

    /** The rest of going live, once the new log session is open: output and the stand-ins' reset. */
    String goLive(dev.revenant.log.LogWriter log) {
        startOutput(log);
        int interrupted = 0;
        for (Conn c : byId.values()) {
            if (c.peer != null && c.peer.isOpen()) {
                interrupted++;
            }
            interrupt(c);
        }
        return "\"interruptedConnections\":" + interrupted;
    }

    /** Binds a server socket replay kept unbound to the address it had; the process stops if it cannot. */
    private static void bindHidden(Conn c) {
        IOException last = null;
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                if (c.hidden != null) {
                    c.hidden.bind(c.local, c.backlog);
                } else {
                    SocketImpls.liveBind(c.hiddenImpl, c.bindHost, ((InetSocketAddress) c.local).getPort(), c.backlog);
                }
                last = null;
                break;
            } catch (IOException e) {
                last = e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (last != null) {
            AgentLog.error("recovery cannot bind " + c.local + " again: " + last.getMessage()
                    + " (is another process on that port?); the process stops, the log is unchanged");
            Runtime.getRuntime().halt(1);
        }
        c.hidden = null;
        c.hiddenImpl = null;
    }

    /**
     * Resets the agent's end of a stand-in: the app's end sees a connection reset on its first
     * live read or write (the uncertain interrupt); its recorded addresses are no longer reported.
     */
    private static void interrupt(Conn c) {
        SocketChannel peer = c.peer;
        if (peer == null) {
            return;
        }
        try {
            if (peer.isOpen()) {
                peer.setOption(StandardSocketOptions.SO_LINGER, 0);
                peer.close();
            }
        } catch (IOException ignored) {
            // already gone
        }
        c.peer = null;
        c.local = null;
        c.remote = null;
    }

    long heldBytes() {
        Outboxes o = outboxes;
        return o == null ? 0 : o.bytesHeld.get();
    }

    Outboxes outboxes() {
        return outboxes;
    }

    /** Connections the runtime tracks by descriptor now (server sockets included). */
    int tracked() {
        return byFd.size();
    }
}
