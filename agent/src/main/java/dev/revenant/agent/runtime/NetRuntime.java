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
 * Sockets and the epoll selector, in every phase of a {@link Run}.
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
 * a <em>stand-in</em>, a real loopback connection to a peer the agent owns; reads return the logged
 * bytes, writes the logged counts; the selector reports the logged ready sets, written into its
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
    private final List<Conn> hiddenServers = new ArrayList<>();
    private ServerSocketChannel standInListener;
    private volatile boolean warnedUntracked;

    private static final MethodHandle EPOLL_WAIT;
    private static final MethodHandle SOCKET_FD;
    private static final MethodHandle EVENTFD_FD;
    private static final MethodHandle GET_INT;
    private static final MethodHandle PUT_INT;
    private static final int EVENT_SIZE;
    private static final int EVENTS_OFFSET;
    private static final int FD_OFFSET;

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

    static void touch() {
        // loads the class (and checks the JDK internals it needs) before any hook can call it
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
            return (int) SOCKET_FD.invokeExact(socketChannel);
        } catch (Throwable e) {
            return -1;
        }
    }

    /** The exception a recorded failure message stands for: the recorded class when it is a JDK IOException. */
    static IOException failure(String recorded) {
        int colon = recorded.indexOf(": ");
        String cls = colon > 0 ? recorded.substring(0, colon) : "";
        String msg = colon > 0 ? recorded.substring(colon + 2) : recorded;
        if (cls.startsWith("java.")) {
            try {
                Class<?> c = Class.forName(cls, false, null);
                if (IOException.class.isAssignableFrom(c)) {
                    try {
                        return (IOException) c.getConstructor(String.class).newInstance(msg.isEmpty() ? null : msg);
                    } catch (NoSuchMethodException e) {
                        return (IOException) c.getConstructor().newInstance();
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

    @Override
    public Object bindEnter(ThreadState t, Object channel, int fd, SocketAddress requested, int backlog) {
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
        c.hidden = (ServerSocketChannel) channel;
        c.backlog = backlog;
        synchronized (hiddenServers) {
            if (!run.live()) {
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
            byte[] m = NetCodec.utf8(NetCodec.message(thrown));
            run.record(t, NetHooks.BIND, NetCodec.buffer(NetHooks.BIND, 10 + m.length).putLong(NetCodec.FAILED)
                    .put((byte) 1).put(m).array());
            return;
        }
        SocketAddress bound;
        try {
            bound = ((ServerSocketChannel) result).getLocalAddress();
        } catch (IOException | RuntimeException e) {
            bound = null;
        }
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
            byte[] m = NetCodec.utf8(NetCodec.message(thrown));
            run.record(t, NetHooks.ACCEPT, NetCodec.buffer(NetHooks.ACCEPT, 17 + m.length).putLong(server)
                    .putLong(NetCodec.FAILED).put(m).array());
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
        long id = nextId.getAndIncrement();
        register(id, fdOf(ch));
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
        LogRecord r = run.peek(t);
        if (r != null) {
            ByteBuffer b = NetCodec.read(r.payload());
            if (DeterminantCodec.kind(r.payload()) == NetHooks.WRITE && b.getLong() == c.id && b.getLong() == index) {
                run.take(t, NetHooks.WRITE);
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
        Outboxes.Outbox ob = c.outbox;
        if (ob == null) {
            ob = boxes.create(ch);
            c.outbox = ob;
        }
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
        if (!channel.getClass().getName().equals("sun.nio.ch.SocketChannelImpl")) {
            return;
        }
        Conn c = byFd.get(fdOf(channel));
        if (c == null) {
            return;
        }
        if (c.peer != null) {
            try {
                c.peer.close();
            } catch (IOException ignored) {
                // the agent's end of a stand-in; nothing depends on it
            }
        }
        drain(c, "close");
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

    // ---------------------------------------------------------------- selector

    @Override
    public void selectorOpened(int epfd, Object eventfd) {
        try {
            wakeupByEpfd.put(epfd, (int) EVENTFD_FD.invokeExact(eventfd));
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
                long at = address + (long) i * EVENT_SIZE;
                PUT_INT.invokeExact(at + EVENTS_OFFSET, events);
                PUT_INT.invokeExact(at + FD_OFFSET, fd);
            }
        } catch (Throwable e) {
            AgentLog.error("replay cannot write a ready set into the selector: " + e);
            Runtime.getRuntime().halt(1);
        }
        return n;
    }

    @Override
    public int epollWaitLive(int epfd, long address, int max, int timeout) throws IOException {
        try {
            return (int) EPOLL_WAIT.invokeExact(epfd, address, max, timeout);
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
                long at = address + (long) i * EVENT_SIZE;
                int events = (int) GET_INT.invokeExact(at + EVENTS_OFFSET);
                int fd = (int) GET_INT.invokeExact(at + FD_OFFSET);
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
    String goLive(dev.revenant.log.LogWriter log) {
        startOutput(log);
        int bound = 0;
        StringBuilder ports = new StringBuilder();
        synchronized (hiddenServers) {
            for (Conn c : hiddenServers) {
                bindHidden(c);
                bound++;
                ports.append(ports.length() == 0 ? "" : ",").append(c.local);
            }
            hiddenServers.clear();
        }
        int interrupted = 0;
        for (Conn c : byId.values()) {
            if (c.peer != null && c.peer.isOpen()) {
                interrupted++;
            }
            interrupt(c);
        }
        return "\"listening\":\"" + ports + "\",\"servers\":" + bound + ",\"interruptedConnections\":" + interrupted;
    }

    /** Binds a server socket replay kept unbound to the address it had; the process stops if it cannot. */
    private static void bindHidden(Conn c) {
        IOException last = null;
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                c.hidden.bind(c.local, c.backlog);
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
}
