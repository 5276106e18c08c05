package dev.revenant.agent.runtime;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import dev.revenant.bridge.NetHooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * Accepts, of a {@code ServerSocketChannel} and of a {@code ServerSocket}. Record logs the new
 * connection with its addresses; replay answers with a stand-in: a real loopback connection from
 * a listener the agent owns, reporting the recorded addresses.
 */
final class NetAccepts implements NetHooks.Accepts {
    private final Run run;
    private final Conns conns;
    private ServerSocketChannel standInListener;

    NetAccepts(Run run, Conns conns) {
        this.run = run;
        this.conns = conns;
    }

    @Override
    public Object acceptEnter(ThreadState t, int serverFd) {
        LogRecord r = run.take(t, NetHooks.ACCEPT);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long server = b.getLong();
        long id = b.getLong();
        conns.check(t, "accept", r, server, serverFd);
        if (id == NetCodec.NONE) {
            return NetHooks.NO_CONNECTION;
        }
        if (id == NetCodec.FAILED) {
            return NetCodec.failure(NetCodec.rest(b));
        }
        SocketAddress remote = NetCodec.getAddress(b);
        SocketAddress local = NetCodec.getAddress(b);
        try {
            SocketChannel[] pair = standIn();
            Conn c = conns.register(id, NetJdk.fdOf(pair[0]));
            c.peer = pair[1];
            c.remote = remote;
            c.local = local;
            if (run.live()) {
                Conns.interrupt(c); // its replay goes on from the log; once live it sees the reset
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
        long server = conns.idOf(serverFd);
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
        recordAccepted(t, server, NetJdk.fdOf(ch), remote, local);
    }

    private void recordAcceptFailure(ThreadState t, long server, Throwable thrown) {
        byte[] m = NetCodec.utf8(NetCodec.message(thrown));
        run.record(t, NetHooks.ACCEPT, NetCodec.buffer(NetHooks.ACCEPT, 17 + m.length).putLong(server)
                .putLong(NetCodec.FAILED).put(m).array());
    }

    private void recordAccepted(ThreadState t, long server, int fd, SocketAddress remote, SocketAddress local) {
        conns.accepted.incrementAndGet();
        long id = conns.newId();
        conns.register(id, fd);
        ByteBuffer b = NetCodec.buffer(NetHooks.ACCEPT, 17 + NetCodec.addressSize(remote) + NetCodec.addressSize(local))
                .putLong(server).putLong(id);
        NetCodec.putAddress(b, remote);
        NetCodec.putAddress(b, local);
        run.record(t, NetHooks.ACCEPT, b.array());
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
        conns.check(t, "accept", r, server, serverFd);
        if (id == NetCodec.FAILED) {
            return NetCodec.failure(NetCodec.rest(b));
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
            Conn c = conns.register(id, NetHooks.fdVal(SocketImpls.fd(si)));
            c.peer = peer;
            c.remote = remote;
            c.local = local;
            if (run.live()) {
                Conns.interrupt(c); // its replay goes on from the log; once live it sees the reset
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
        long server = conns.idOf(serverFd);
        if (thrown != null) {
            recordAcceptFailure(t, server, thrown);
            return;
        }
        recordAccepted(t, server, NetHooks.fdVal(SocketImpls.fd(si)), SocketImpls.remote(si),
                SocketImpls.localAddress(si));
    }
}
