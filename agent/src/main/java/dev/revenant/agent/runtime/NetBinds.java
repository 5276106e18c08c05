package dev.revenant.agent.runtime;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;

import dev.revenant.bridge.NetHooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * Binds of server sockets (NIO channels and {@code NioSocketImpl}) and the addresses sockets report.
 * Record logs each bind with the address the kernel gave and waits until it is durable; replay
 * does not bind: the server stays hidden at its recorded address until the process goes live,
 * and reports that address (and that it is bound) meanwhile.
 */
final class NetBinds implements NetHooks.Binds {
    private final Run run;
    private final Conns conns;

    NetBinds(Run run, Conns conns) {
        this.run = run;
        this.conns = conns;
    }

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
            return NetCodec.failure(NetCodec.rest(b));
        }
        Conn c = conns.register(id, fd);
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
        if (conns.hide(c)) {
            return channel;
        }
        // The process went live (another thread ran out of log) while this thread still replays:
        // the server is bound for real now, to the address it had.
        Conns.bindHidden(c);
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
        conns.bindsRecorded.incrementAndGet();
        long id = conns.newId();
        conns.register(id, fd);
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
        Conn c = conns.get(fd);
        return c != null && c.local != null && (c.hidden != null || c.peer != null) ? c.local : live;
    }

    @Override
    public boolean serverBound(ThreadState t, int fd, boolean live) {
        Conn c = conns.get(fd);
        return live || c != null && c.hidden != null && c.local != null;
    }

    @Override
    public SocketAddress remoteAddress(ThreadState t, int fd, SocketAddress live) {
        Conn c = conns.get(fd);
        return c != null && c.remote != null && c.peer != null ? c.remote : live;
    }

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
        conns.hideImpl(c);
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
        Conn c = conns.get(fd);
        if (c == null || c.hiddenImpl == null) {
            return false;
        }
        c.backlog = backlog < 1 ? 50 : backlog;
        return true;
    }

    @Override
    public Object bindAddress(ThreadState t, int fd, Object live) {
        Conn c = conns.get(fd);
        return c != null && c.local instanceof InetSocketAddress a && (c.hiddenImpl != null || c.peer != null)
                ? a.getAddress() : live;
    }
}
