package dev.revenant.log;

import java.io.IOException;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Who waits for the stable position to reach theirs: threads parked in
 * {@link LogWriter#awaitStable} (woken to look again) and {@link LogWriter.StableListener}s
 * (called once, with the position or with the writer's failure). Thread-safe; listeners run on
 * the thread that completes or fails them, and a listener's bug never stops the others.
 */
final class StableWaiters {
    private record Pending(long position, LogWriter.StableListener listener) {}

    private final ConcurrentLinkedQueue<Thread> sleepers = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Pending> listeners = new ConcurrentLinkedQueue<>();

    void sleeping(Thread t) {
        sleepers.add(t);
    }

    void awake(Thread t) {
        sleepers.remove(t);
    }

    void listen(long position, LogWriter.StableListener listener) {
        listeners.add(new Pending(position, listener));
    }

    boolean anyListener() {
        return !listeners.isEmpty();
    }

    /** The stable position is {@code stable} now: calls the listeners it covers, wakes every sleeper. */
    void stable(long stable) {
        for (Iterator<Pending> it = listeners.iterator(); it.hasNext(); ) {
            Pending p = it.next();
            if (p.position <= stable) {
                it.remove();
                try {
                    p.listener.stable(p.position);
                } catch (Throwable t) {
                    // A listener's bug must not stop the log.
                }
            }
        }
        wakeSleepers();
    }

    void wakeSleepers() {
        for (Thread t : sleepers) {
            LockSupport.unpark(t);
        }
    }

    /** The writer failed or closed: every listener hears {@code cause}, once. */
    void fail(IOException cause) {
        for (Iterator<Pending> it = listeners.iterator(); it.hasNext(); ) {
            Pending p = it.next();
            it.remove();
            try {
                p.listener.failed(p.position, cause);
            } catch (Throwable ignored) {
                // keep failing the others
            }
        }
    }
}
