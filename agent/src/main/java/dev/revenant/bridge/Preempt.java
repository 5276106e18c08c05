package dev.revenant.bridge;

/**
 * Preemption for the serial scheduler: a thread that loops without ever reaching a blocking call
 * (a spin on a flag another thread must set, a compare-and-set retry loop, a long computation)
 * must still let the others run, or under one run token they never would.
 *
 * <p>Every backward branch of app code calls {@link #backEdge} (see the agent's
 * {@code BackEdgeRewrite}). Each scheduled thread counts its own; after {@link #every()} of them
 * it passes a scheduling point, exactly as at a {@code Thread.yield()}: a tick, the token to the
 * longest waiter when recording, the log's hand-over when replaying. The count depends on
 * nothing but the code the thread runs, which record and replay run alike, so a switch logged
 * "at tick n" is found again. Only app code counts: the JDK's bodies that replay skips (a socket
 * read answered from the log) are never instrumented, and nothing counts while the thread is
 * inside a hook or a blocking call.
 *
 * <p>A thread never gives the token up here while it holds a monitor its own code took
 * ({@code synchronized} blocks and methods of app classes, counted by {@link #entered} and
 * {@link #exited}): the next holder could block on that monitor, which the scheduler cannot
 * order. The point waits until the thread has let go of its last one; the same in both roles,
 * since the monitor depth too depends only on the thread's own code.
 *
 * <p>Everything catches what it throws: a failure here costs fairness, never the app.
 */
public final class Preempt {
    /** Back-edges between two preemption points; 0: off. Set once, before any app class loads. */
    private static int every;

    private Preempt() {}

    /** Sets the budget (from the agent key when recording, from the log when replaying). */
    public static void every(int n) {
        every = Math.max(0, n);
    }

    public static int every() {
        return every;
    }

    /** Before every backward branch of app code. */
    public static void backEdge() {
        try {
            ThreadState t = ThreadState.current();
            if (!t.takesPart() || !t.begun) {
                return;
            }
            int n = every;
            if (n <= 0 || ++t.edges < n) {
                return;
            }
            if (t.monitorDepth > 0) {
                t.edges = n - 1; // still due: the point waits until the thread holds no app monitor
                return;
            }
            t.edges = 0;
            Sched.preemptPoint(t);
        } catch (Throwable e) {
            Sched.failed(e);
        }
    }

    /** App monitors the calling thread holds as its own code counted them (for tests and traces). */
    public static int monitorDepth() {
        return ThreadState.current().monitorDepth;
    }

    /** After a {@code monitorenter} of app code, and at the start of an app {@code synchronized} method. */
    public static void entered() {
        try {
            ThreadState.current().monitorDepth++;
        } catch (Throwable e) {
            Sched.failed(e);
        }
    }

    /** Before a {@code monitorexit} of app code, and at every exit of an app {@code synchronized} method. */
    public static void exited() {
        try {
            ThreadState t = ThreadState.current();
            if (t.monitorDepth > 0) {
                t.monitorDepth--;
            }
        } catch (Throwable e) {
            Sched.failed(e);
        }
    }
}
