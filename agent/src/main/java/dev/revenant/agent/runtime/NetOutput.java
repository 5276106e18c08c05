package dev.revenant.agent.runtime;

import java.nio.channels.SocketChannel;

/**
 * Output commit for sockets ({@code commit=pessimistic}): the outboxes that hold each connection's
 * writes until the log is stable, made once the run records (at start, or when a recovery goes live).
 */
final class NetOutput {
    private static final long DRAIN_MILLIS = 30_000;

    private final boolean holdOutput;
    private volatile Outboxes outboxes;

    NetOutput(boolean holdOutput) {
        this.holdOutput = holdOutput;
    }

    /** Output starts being held, against {@code log}'s stable position. */
    void start(dev.revenant.log.LogWriter log) {
        if (holdOutput && outboxes == null) {
            outboxes = new Outboxes(log);
        }
    }

    /** The outboxes, or null while replaying or with {@code commit=none}. */
    Outboxes outboxes() {
        return outboxes;
    }

    /** At exit: waits (up to {@code millis}) for held output to leave. */
    void drainAll(Conns conns, long millis) {
        long deadline = System.currentTimeMillis() + millis;
        for (Conn c : conns.all()) {
            Outboxes.Outbox ob = c.outbox;
            if (ob != null && !ob.isEmpty()) {
                ob.drain(Math.max(1, deadline - System.currentTimeMillis()));
            }
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

    /**
     * The connection's outbox, made on its first held write. A descriptor the kernel gave again to
     * another socket (its old connection closed) gets a fresh outbox writing to the new owner.
     */
    Outboxes.Outbox outboxFor(Outboxes boxes, Conn c, Object owner) {
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

    void drain(Conn c, String what) {
        Outboxes.Outbox ob = c.outbox;
        if (ob != null && !ob.isEmpty() && !ob.drain(DRAIN_MILLIS)) {
            AgentLog.warn(what + " of conn " + c.id + " waited " + DRAIN_MILLIS / 1000 + " s for held output to leave "
                    + "(log not stable, or the client does not read); it goes ahead and that output is lost");
        }
    }

    long heldBytes() {
        Outboxes o = outboxes;
        return o == null ? 0 : o.bytesHeld.get();
    }
}
