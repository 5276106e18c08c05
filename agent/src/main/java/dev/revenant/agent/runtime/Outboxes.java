package dev.revenant.agent.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import dev.revenant.log.LogWriter;

/**
 * Output commit ({@code commit=pessimistic}): what the app writes to a connection waits in that
 * connection's outbox until every determinant recorded before it is stable, and then leaves from
 * one agent thread, {@code revenant-outbox}. The app's write returns as soon as its bytes are in
 * the outbox (as a kernel send buffer would take them); it waits only when the outbox is full
 * (back-pressure), and in {@code close}/{@code shutdownOutput}, which must not overtake held data.
 *
 * <p>If the log fails, nothing more becomes stable and the held output never leaves: the app's
 * clients wait rather than receive an answer the log could not make durable. Output written after
 * the failure is held for good even if its position was stable: the determinants it depends on
 * were refused by the log.
 *
 * <p>While the log is paused (its file system full or read-only) output stays held too, and leaves
 * once the log has room again ({@code diskfull=hold}); with {@code diskfull=fail} the held output is
 * dropped and the app's writes fail with an {@code IOException} until the log has room again.
 */
final class Outboxes implements LogWriter.StableListener {
    /** Bytes one connection may hold before the app's writes wait (blocking) or come back short. */
    static final int CAPACITY = 4 << 20;

    private final LogWriter log;
    private final ConcurrentHashMap<Long, Outbox> pending = new ConcurrentHashMap<>();
    private final AtomicLong keys = new AtomicLong();
    private final AtomicLong requested = new AtomicLong(-1);
    private final Thread releaser;
    private volatile boolean woken;
    /** Set while the log is paused and {@code diskfull=fail}: writes fail with it. */
    private volatile IOException refusal;
    // Counters, for tools.
    final AtomicLong bytesHeld = new AtomicLong();
    final AtomicLong bytesReleased = new AtomicLong();
    /** Time each write's bytes waited in an outbox, from the app's write to the last byte leaving. */
    final java.util.concurrent.atomic.LongAdder heldNanosTotal = new java.util.concurrent.atomic.LongAdder();
    final AtomicLong heldNanosMax = new AtomicLong();
    final java.util.concurrent.atomic.LongAdder writesReleased = new java.util.concurrent.atomic.LongAdder();

    Outboxes(LogWriter log) {
        this.log = log;
        this.releaser = new Thread(this::run, "revenant-outbox");
        releaser.setDaemon(true);
        releaser.start();
    }

    /** Where a connection's released output goes; it must not wait long for room (one releaser serves all). */
    interface Sink {
        /** Writes from {@code data} what the socket takes; advances its position by that; 0 if no room now. */
        int write(ByteBuffer data) throws IOException;
    }

    Outbox create(SocketChannel channel) {
        return new Outbox(keys.incrementAndGet(), data -> SocketImpls.releaseWrite(channel, data), channel);
    }

    Outbox create(Sink sink, Object owner) {
        return new Outbox(keys.incrementAndGet(), sink, owner);
    }

    /**
     * Called on the log's writer (or syncer) thread right after a force: releases what became
     * stable at once — a sink never waits for room — saving the hand-over to the releaser thread;
     * a socket whose send buffer is full is left to the releaser.
     */
    @Override
    public void stable(long position) {
        long stable = log.stablePosition();
        boolean more = false;
        for (Outbox ob : pending.values()) {
            more |= ob.release(stable);
        }
        if (more) {
            wake();
        }
    }

    @Override
    public void failed(long position, IOException cause) {
        // Held output stays held: the log said so loudly already (Recorder).
    }

    /** {@code diskfull=fail}: the log cannot take more: held output is dropped, writes fail until it can. */
    void refuse(IOException cause) {
        refusal = cause;
        for (Outbox ob : pending.values()) {
            ob.fail(cause);
        }
    }

    /** The log has room again: writes are taken (and held) as before. */
    void accept() {
        refusal = null;
    }

    private void wake() {
        woken = true;
        LockSupport.unpark(releaser);
    }

    private void run() {
        while (true) {
            woken = false;
            long stable = log.stablePosition();
            boolean blocked = false;
            for (Outbox ob : pending.values()) {
                blocked |= ob.release(stable);
            }
            if (!woken) {
                LockSupport.parkNanos(this, blocked ? TimeUnit.MILLISECONDS.toNanos(1) : TimeUnit.MILLISECONDS.toNanos(200));
            }
        }
    }

    /** One connection's held output, in write order, each chunk tagged with the position it waits for. */
    final class Outbox {
        private final long key;
        private final Sink sink;
        /** The channel or SocketImpl this outbox writes to. */
        final Object owner;
        private final ArrayDeque<Chunk> chunks = new ArrayDeque<>();
        private long held;
        private IOException failure;

        private Outbox(long key, Sink sink, Object owner) {
            this.key = key;
            this.sink = sink;
            this.owner = owner;
        }

        /** Room left, waiting for some if {@code wait} and the outbox is full. */
        synchronized int room(boolean wait) throws IOException {
            IOException r = refusal;
            if (r != null) {
                throw new IOException(r.getMessage(), r);
            }
            while (failure == null && held >= CAPACITY && wait) {
                try {
                    wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.nio.channels.ClosedByInterruptException();
                }
            }
            if (failure != null) {
                throw failure;
            }
            return (int) Math.max(0, CAPACITY - held);
        }

        /** Holds {@code data} until {@code position} is stable. */
        synchronized void hold(byte[] data, long position) {
            if (log.failure() != null && !log.isClosing()) {
                // What this output answers may not be in the log (appends are refused now): never send it.
                position = Long.MAX_VALUE;
            }
            chunks.add(new Chunk(ByteBuffer.wrap(data), position, System.nanoTime()));
            held += data.length;
            bytesHeld.addAndGet(data.length);
            pending.put(key, this);
            if (position >= 0 && position != Long.MAX_VALUE && requested.get() < position) {
                requested.accumulateAndGet(position, Math::max);
                log.onStable(position, Outboxes.this);
            }
        }

        /** Writes what is stable; true if the socket took less than that (try again soon). */
        synchronized boolean release(long stable) {
            try {
                while (!chunks.isEmpty() && chunks.peek().position >= 0 && chunks.peek().position <= stable) {
                    Chunk c = chunks.peek();
                    int n = sink.write(c.data);
                    held -= n;
                    bytesHeld.addAndGet(-n);
                    bytesReleased.addAndGet(n);
                    if (c.data.hasRemaining()) {
                        if (n > 0) {
                            notifyAll(); // room for a waiting writer; the sink may take more at once
                            continue;
                        }
                        return true;
                    }
                    chunks.poll();
                    long waited = System.nanoTime() - c.heldAt;
                    heldNanosTotal.add(waited);
                    writesReleased.increment();
                    if (waited > heldNanosMax.get()) {
                        heldNanosMax.accumulateAndGet(waited, Math::max);
                    }
                    notifyAll();
                }
            } catch (IOException e) {
                // The peer is gone: what was held cannot reach it. The app learns on its next call.
                failure = e;
                bytesHeld.addAndGet(-held);
                held = 0;
                chunks.clear();
                notifyAll();
            }
            if (chunks.isEmpty()) {
                pending.remove(key);
            }
            return false;
        }

        /** Drops what is held; the app's next write (or close) on this connection fails with {@code cause}. */
        synchronized void fail(IOException cause) {
            if (chunks.isEmpty()) {
                return;
            }
            failure = new IOException(cause.getMessage() + "; " + held + " byte(s) of output were not sent", cause);
            bytesHeld.addAndGet(-held);
            held = 0;
            chunks.clear();
            pending.remove(key);
            notifyAll();
        }

        /** Waits until everything held has left (close, shutdownOutput); false if it timed out. */
        synchronized boolean drain(long timeoutMillis) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
            while (!chunks.isEmpty() && failure == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                wake();
                try {
                    wait(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }

        synchronized boolean isEmpty() {
            return chunks.isEmpty();
        }
    }

    private record Chunk(ByteBuffer data, long position, long heldAt) {}
}
