package dev.revenant.agent.runtime;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentHashMap;

import dev.revenant.bridge.NetHooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * Outgoing connects, of a channel or a {@code SocketImpl}. Record logs the outcome with the
 * addresses. Replay: no connect leaves the machine. A connect that failed fails again (and closes
 * the socket, as the JDK does); one that succeeded or was pending is made for real, but to a
 * one-off loopback listener of the agent's, whose end the agent keeps: the app's socket is a
 * stand-in like an accepted one, with the recorded addresses.
 */
final class NetConnects implements NetHooks.Connects {
    private final Run run;
    private final Conns conns;
    private final java.util.function.Consumer<String> unsupported;

    NetConnects(Run run, Conns conns, java.util.function.Consumer<String> unsupported) {
        this.run = run;
        this.conns = conns;
        this.unsupported = unsupported;
    }

    /** A replayed connect in flight: the JDK connects to {@code target}, the agent's loopback {@code listener}, until its exit. */
    private record StandInConnect(ServerSocketChannel listener, InetSocketAddress target, long id, byte result,
                                  InetSocketAddress remote, InetSocketAddress local) {}

    /** A replayed CONNECT record: its connection, result, and the rest of its payload (or the failure to throw). */
    private record ReplayedConnect(LogRecord record, long conn, byte result, ByteBuffer rest, Throwable failure) {}

    private final ConcurrentHashMap<Integer, StandInConnect> standInConnects = new ConcurrentHashMap<>();

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
            failed = NetCodec.failure(NetCodec.rest(b));
        }
        return new ReplayedConnect(r, conn, result, b, failed);
    }

    @Override
    public Object connectEnter(ThreadState t, Object owner, int fd, SocketAddress remote) {
        if (isUnixDomain(remote)) {
            unsupported.accept("connects of Unix-domain socket channels");
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
        conns.connected.incrementAndGet();
        long id = conns.newId();
        conns.register(id, fd);
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
            Conn old = conns.get(fd);
            if (old != null) {
                conns.unhide(old); // bound in replay, connected now: nothing to bind when going live
            }
            Conn c = conns.register(s.id(), fd);
            c.peer = peer;
            c.remote = s.remote();
            c.local = s.local();
            if (run.live()) {
                Conns.interrupt(c);
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
        conns.check(t, "finishConnect", c.record, c.conn, fd);
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
        long conn = conns.idOf(fd);
        byte[] m = thrown == null ? new byte[0] : NetCodec.utf8(NetCodec.message(thrown));
        byte outcome = thrown != null ? NetCodec.CONNECT_FAILED : result ? NetCodec.CONNECTED : NetCodec.PENDING;
        run.record(t, NetHooks.CONNECT, NetCodec.buffer(NetHooks.CONNECT, 11 + m.length).put(NetCodec.OP_FINISH)
                .putLong(conn).put(outcome).put(m).array());
    }
}
