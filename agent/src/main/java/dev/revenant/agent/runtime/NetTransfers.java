package dev.revenant.agent.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

import dev.revenant.bridge.NetHooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * What flows over a connection: reads (with their bytes), writes, {@code available}, and the
 * closes that must wait for held output — for NIO channels, their blocking adaptors and
 * {@code NioSocketImpl} streams alike. Record logs every read and only the writes that did not take
 * everything; with output commit a write's bytes go into the connection's outbox instead of the
 * socket. Replay returns the logged bytes and counts and sends nothing.
 */
final class NetTransfers implements NetHooks.Transfers {
    private final Run run;
    private final Conns conns;
    private final NetOutput output;

    NetTransfers(Run run, Conns conns, NetOutput output) {
        this.run = run;
        this.conns = conns;
        this.output = output;
    }

    @Override
    public Object readEnter(ThreadState t, int fd, ByteBuffer dst) {
        LogRecord r = run.take(t, NetHooks.READ);
        if (r == null) {
            return null;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        long conn = b.getLong();
        conns.check(t, "read", r, conn, fd);
        int n = b.getInt();
        if (n == -2) {
            return NetCodec.failure(NetCodec.rest(b));
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
        long conn = conns.idOf(fd);
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

    private void recordWrite(ThreadState t, Conn c, long index, long n, Throwable failed) {
        byte[] m = failed == null ? new byte[0] : NetCodec.utf8(NetCodec.message(failed));
        run.record(t, NetHooks.WRITE, NetCodec.buffer(NetHooks.WRITE, 25 + m.length).putLong(c.id).putLong(index)
                .putLong(failed == null ? n : NetCodec.FAILED).put(m).array());
    }

    @Override
    public Object writeEnter(ThreadState t, Object channel, int fd, ByteBuffer src) {
        Conn c = conns.connOf(fd);
        long index = c.writes++;
        LogRecord r = run.peekForEvent(t);
        if (r != null) {
            if (isWriteOf(r, c, index)) {
                run.take(t, NetHooks.WRITE);
                ByteBuffer b = NetCodec.read(r.payload());
                b.position(1 + 16);
                long n = b.getLong();
                if (n == NetCodec.FAILED) {
                    return NetCodec.failure(NetCodec.rest(b));
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
        Outboxes boxes = output.outboxes();
        if (boxes == null) {
            return null; // commit=none: the JDK writes, the exit logs a short write
        }
        SocketChannel ch = (SocketChannel) channel;
        Outboxes.Outbox ob = output.outboxFor(boxes, c, ch);
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
        Conn c = conns.connOf(fd);
        long index = c.writes - 1; // counted when the write entered
        if (thrown != null || src.hasRemaining()) {
            recordWrite(t, c, index, n, thrown);
        }
    }

    @Override
    public void closing(ThreadState t, Object channel) {
        String cls = channel.getClass().getName();
        if (cls.equals("sun.nio.ch.ServerSocketChannelImpl")) {
            Conn c = conns.get(NetJdk.serverFdOf(channel));
            if (c != null) {
                conns.unhide(c); // closed before the process went live: nothing to bind then
            }
            return;
        }
        if (!cls.equals("sun.nio.ch.SocketChannelImpl")) {
            return;
        }
        Conn c = conns.get(NetJdk.fdOf(channel));
        if (c == null) {
            return;
        }
        Conns.closePeer(c);
        output.drain(c, "close");
    }

    @Override
    public void shuttingDownOutput(ThreadState t, int fd) {
        Conn c = conns.get(fd);
        if (c != null) {
            output.drain(c, "shutdownOutput");
        }
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
        Conn c = conns.connOf(fd);
        long index = c.writes++;
        LogRecord r = run.peekForEvent(t);
        if (r != null) {
            if (isWriteOf(r, c, index)) {
                run.take(t, NetHooks.WRITE);
                ByteBuffer p = NetCodec.read(r.payload());
                p.position(1 + 24);
                return NetCodec.failure(NetCodec.rest(p)); // a stream write either takes everything or fails
            }
            return NetHooks.DONE;
        }
        Outboxes boxes = output.outboxes();
        if (boxes != null && SocketImpls.acceptsWrites(owner)) {
            return hold(t, boxes, owner, c, index, b, off, len);
        }
        return null; // commit=none, or a socket that cannot take writes: the JDK writes (or throws), the exit logs a failure
    }

    /** A stream write in record: held whole (waiting for room, as a blocking write waits for the kernel). */
    private Object hold(ThreadState t, Outboxes boxes, Object owner, Conn c, long index, byte[] b, int off, int len) {
        Outboxes.Outbox ob = output.outboxFor(boxes, c, owner);
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
            Conn c = conns.connOf(fd);
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
        conns.check(t, "available", r, conn, fd);
        int n = b.getInt();
        return n == -2 ? NetCodec.failure(NetCodec.rest(b)) : Integer.valueOf(n);
    }

    @Override
    public void availableExit(ThreadState t, int fd, int n, Throwable thrown) {
        long conn = conns.idOf(fd);
        byte[] m = thrown == null ? new byte[0] : NetCodec.utf8(NetCodec.message(thrown));
        run.record(t, NetHooks.AVAILABLE, NetCodec.buffer(NetHooks.AVAILABLE, 13 + m.length).putLong(conn)
                .putInt(thrown == null ? n : -2).put(m).array());
    }

    @Override
    public void implClosing(ThreadState t, int fd) {
        Conn c = conns.get(fd);
        if (c == null) {
            return;
        }
        Conns.closePeer(c);
        conns.unhide(c);
        output.drain(c, "close");
        // No selector reports a SocketImpl's descriptor: forget it, the kernel may reuse the number.
        conns.forget(fd, c);
    }
}
