package dev.revenant.bridge;

import java.util.concurrent.locks.LockSupport;

/**
 * Tells a park that waits for a thread outside the serial schedule. A scheduled thread that parks
 * in {@code ReentrantLock.lock()} (or a read-write lock) because one of the agent's threads holds
 * that lock for a moment — the log writer releasing a held reply takes the socket's write lock,
 * which the app's {@code configureBlocking} wants too; the agent's JMX thread initialising
 * {@code LogManager} — waits for timing, not for anything the app did. Counted as a scheduling
 * point, such a park gives the thread a tick in one role only and the replay parts from the log.
 * So it is not one: the thread keeps the token and parks briefly, in record and replay alike.
 *
 * <p>"Outside the schedule": the lock's exclusive owner is a thread the scheduler does not order
 * (agent, JDK system thread), or, for a non-fair {@code ReentrantLock}, nobody (released just now,
 * by such a thread or by a scheduled thread inside a blocking call). A lock held by a scheduled thread
 * stays a scheduling point: that owner needs the token to go on. So does a park behind a scheduled
 * thread queued earlier on the same lock (it takes the lock first, and needs the token for that). Only the JDK's two exclusive lock
 * kinds are looked at; semaphores, latches and conditions wait for app events and stay scheduling
 * points.
 */
final class LockOwners {
    private static final String REENTRANT = "java.util.concurrent.locks.ReentrantLock$";
    private static final String NONFAIR = REENTRANT + "NonfairSync";
    private static final String READ_WRITE = "java.util.concurrent.locks.ReentrantReadWriteLock$";
    private static final long OWNER;
    private static final long STATE;
    private static final long TAIL;
    private static final long PREV;
    private static final long WAITER;
    /** How far back the queue is walked; a longer queue keeps the park a scheduling point. */
    private static final int MAX_WALK = 10_000;

    static {
        long owner = -1;
        long state = -1;
        long tail = -1;
        long prev = -1;
        long waiter = -1;
        try {
            Class<?> aqs = java.util.concurrent.locks.AbstractQueuedSynchronizer.class;
            Class<?> node = Class.forName("java.util.concurrent.locks.AbstractQueuedSynchronizer$Node");
            owner = JdkAccess.fieldOffset(java.util.concurrent.locks.AbstractOwnableSynchronizer.class,
                    "exclusiveOwnerThread");
            state = JdkAccess.fieldOffset(aqs, "state");
            tail = JdkAccess.fieldOffset(aqs, "tail");
            prev = JdkAccess.fieldOffset(node, "prev");
            waiter = JdkAccess.fieldOffset(node, "waiter");
        } catch (Throwable e) {
            owner = -1; // every park stays a scheduling point, as before
        }
        OWNER = owner;
        STATE = state;
        TAIL = tail;
        PREV = prev;
        WAITER = waiter;
    }

    private LockOwners() {}

    /** The exclusive owner of {@code blocker} if it is a lock that has one, else null. */
    static Thread owner(Object blocker) {
        if (OWNER < 0 || !(blocker instanceof java.util.concurrent.locks.AbstractOwnableSynchronizer)) {
            return null;
        }
        Object o = JdkAccess.getObject(blocker, OWNER);
        return o instanceof Thread ? (Thread) o : null;
    }

    /**
     * Whether {@code self} is queued on {@code sync} with no scheduled thread before it: walks the
     * queue back from its tail (the {@code prev} links are the reliable ones) to {@code self}, then on
     * to the head. False if {@code self} is not found.
     */
    private static boolean noScheduledWaiterAhead(Object sync, Thread self) {
        Object n = JdkAccess.getObject(sync, TAIL);
        int steps = 0;
        while (n != null && JdkAccess.getObject(n, WAITER) != self) {
            n = JdkAccess.getObject(n, PREV);
            if (++steps > MAX_WALK) {
                return false;
            }
        }
        if (n == null) {
            return false;
        }
        for (Object p = JdkAccess.getObject(n, PREV); p != null; p = JdkAccess.getObject(p, PREV)) {
            Object w = JdkAccess.getObject(p, WAITER);
            if (w instanceof Thread && w != self && ThreadState.isScheduled((Thread) w)) {
                return false;
            }
            if (++steps > MAX_WALK) {
                return false;
            }
        }
        return true;
    }

    /** Whether the calling thread, about to park, holds the token and waits for a lock held outside the schedule. */
    static boolean waitsOutsideSchedule() {
        if (OWNER < 0 || STATE < 0) {
            return false;
        }
        ThreadState t = Sched.current();
        if (t == null) {
            return false;
        }
        Object blocker = LockSupport.getBlocker(t.thread);
        if (blocker == null) {
            return false;
        }
        String kind = blocker.getClass().getName();
        if (!kind.startsWith(REENTRANT) && !kind.startsWith(READ_WRITE)) {
            return false;
        }
        if (!noScheduledWaiterAhead(blocker, t.thread)) {
            // A scheduled thread queued before this one gets the lock first, and it needs the
            // token to take it: keeping the token here would starve it (and this thread with it).
            return false;
        }
        Thread owner = owner(blocker);
        if (owner == null) {
            // Free now: the next try takes it (a non-fair lock lets the token's holder barge in).
            // A fair lock or a read-write lock may still refuse it to a queued waiter, which needs
            // the token to go on: those stay scheduling points.
            return kind.equals(NONFAIR) && JdkAccess.getInt(blocker, STATE) == 0;
        }
        return owner != t.thread && !ThreadState.isScheduled(owner);
    }
}
