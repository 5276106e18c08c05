package dev.revenant.bridge;

import java.lang.ref.WeakReference;

/**
 * Per-thread state the hooks need: the thread's virtual id (stable between record and replay),
 * its determinant sequence, and how many threads it has started.
 *
 * <p>Virtual ids: the main thread is 1; a thread started by thread P as its n-th child gets
 * {@code mix(P, n)}, decided in the parent when it calls {@code Thread.start}, so the id does not
 * depend on timing or on JVM-internal thread ids (which JDK 25 shares with compiler threads).
 * Threads the JVM starts itself (no {@code start()} seen) get an id from their name. Threads of
 * the agent (and of the libraries it uses) are marked and never recorded.
 */
public final class ThreadState {
    /** Virtual ids decided by parents, keyed by the child's JVM thread id, until the child claims it. */
    private static final Pending PENDING = new Pending();

    private static final ThreadLocal<ThreadState> CURRENT = ThreadLocal.withInitial(ThreadState::create);

    public final long vid;
    public final boolean agent;
    /** Next per-thread determinant sequence number. */
    public long seq;
    private int children;
    /** Set while the runtime works on this thread, so nested hooks pass straight through. */
    public boolean busy;

    // ---- the serial scheduler's view of this thread (see Sched)
    /** The thread itself, so that the scheduler can wake it when it hands it the run token. */
    public final Thread thread;
    /** Whether the serial scheduler orders this thread: an app thread started by a scheduled thread (or main). */
    public boolean scheduled;
    /** Set once the thread has taken the run token for the first time. */
    public boolean begun;
    /** Set once the thread has given the token up for good (its {@code Thread.exit}). */
    public boolean ended;
    /** Set while the thread is inside a blocking call with the token given up: nested scheduling points pass through. */
    public boolean released;
    /** Scheduling points this thread has passed: where a switch happened, counted alike in record and replay. */
    public long ticks;
    /**
     * Replay: the tick after which the run token was taken from this thread while it ran between
     * scheduling points (a switch recorded while it was stuck entering a monitor); while
     * {@link #ticks} is still that, its determinants come off the main line, as they were recorded
     * without the token. -1: never.
     */
    public long stolenAt = -1;
    /**
     * Set when a recovery went live while this thread waited for the log's word at a blocking
     * call: the call is then made for real, except where a spurious wake-up is allowed (see
     * {@link Sched#wokeAtGoingLive}).
     */
    boolean wentLiveWaiting;
    /** Set while the thread waits in {@code Thread.join} with the token given up. */
    boolean inJoin;
    /** App back-edges counted since this thread's last preemption point (see {@link Preempt}). */
    int edges;
    /** App monitors this thread holds, as its own code took them (see {@link Preempt}). */
    int monitorDepth;

    /** A state that belongs to no thread (a marker value). */
    static ThreadState placeholder() {
        return new ThreadState(0, true, null);
    }

    private ThreadState(long vid, boolean agent, Thread thread) {
        this.vid = vid;
        this.agent = agent;
        this.thread = thread;
    }

    public static ThreadState current() {
        return CURRENT.get();
    }

    private static ThreadState create() {
        Thread t = Thread.currentThread();
        String name = t.getName();
        boolean agent = isAgentName(name);
        long vid = PENDING.take(t.getId());
        boolean child = vid != 0;
        boolean parentScheduled = child && (vid & SCHEDULED_BIT) != 0;
        vid &= ~SCHEDULED_BIT;
        if (vid == 0) {
            vid = "main".equals(name) ? 1L : nameId(name);
        }
        ThreadState s = new ThreadState(vid, agent, t);
        if (parentScheduled && !agent && !Sched.unscheduledKind(t)) {
            s.schedule();
        }
        return s;
    }

    /** The threads the serial scheduler orders and that have not ended; copied on change, scanned by identity. */
    private static volatile Thread[] scheduledThreads = new Thread[0];

    /**
     * Whether a scheduling point reached now counts for this thread: it is scheduled, not the
     * agent's, not inside a hook or a blocking call, not ended.
     */
    boolean takesPart() {
        return scheduled && !agent && !busy && !released && !ended;
    }

    /** Puts this thread under the serial scheduler. */
    public void schedule() {
        scheduled = true;
        synchronized (ThreadState.class) {
            Thread[] now = scheduledThreads;
            for (Thread x : now) {
                if (x == thread) {
                    return;
                }
            }
            Thread[] more = java.util.Arrays.copyOf(now, now.length + 1);
            more[now.length] = thread;
            scheduledThreads = more;
        }
    }

    /** The thread has ended: it no longer counts as scheduled for {@link #isScheduled}. */
    void unlist() {
        synchronized (ThreadState.class) {
            Thread[] now = scheduledThreads;
            for (int i = 0; i < now.length; i++) {
                if (now[i] == thread) {
                    Thread[] less = new Thread[now.length - 1];
                    System.arraycopy(now, 0, less, 0, i);
                    System.arraycopy(now, i + 1, less, i, now.length - i - 1);
                    scheduledThreads = less;
                    return;
                }
            }
        }
    }

    /** Whether {@code x} is a live thread the serial scheduler orders (compared by identity, no hashing). */
    static boolean isScheduled(Thread x) {
        for (Thread s : scheduledThreads) {
            if (s == x) {
                return true;
            }
        }
        return false;
    }

    /** Whether the live thread with JVM thread id {@code tid} is one the serial scheduler orders. */
    public static boolean isScheduledId(long tid) {
        for (Thread s : scheduledThreads) {
            if (s.getId() == tid) {
                return true;
            }
        }
        return false;
    }

    /** Marks a pending id: the parent was scheduled, so the child is too. Ids never use the top bit. */
    private static final long SCHEDULED_BIT = Long.MIN_VALUE;

    /**
     * Threads of the agent and of the libraries it uses (Chronicle names its threads so), and the
     * JDK's monitoring threads: the attach listener, and the RMI and JMX threads of the management
     * agent it starts when a tool (jconsole, {@code revenant status}) connects. Those come and go
     * with tools, not with the app, and recording them would leave determinants a replay never asks
     * for (and a later attach would find in its way after a recovery).
     */
    static boolean isAgentName(String name) {
        return name.startsWith("revenant-") || name.startsWith("chronicle") || name.contains("~")
                || name.equals("Attach Listener") || name.startsWith("RMI ") || name.startsWith("JMX ");
    }

    /**
     * Called in the parent just before {@code child.start()}: decides the child's virtual id. The
     * agent's own threads are not children: the agent starts them at different moments in record
     * and replay (the outbox releaser, for one), and counting them would shift the ids of the app's
     * later threads.
     */
    public static void starting(Thread child) {
        if (isAgentName(child.getName())) {
            return;
        }
        ThreadState parent = current();
        long vid = mix(parent.vid, ++parent.children);
        PENDING.put(child, parent.scheduled ? vid | SCHEDULED_BIT : vid);
    }

    static long mix(long parent, long index) {
        long x = parent * 0x9E3779B97F4A7C15L + index;
        x = (x ^ (x >>> 31)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        x ^= x >>> 31;
        long y = x & Long.MAX_VALUE;
        return y < 2 ? y + 2 : y; // 0 means "none" and 1 is main
    }

    private static long nameId(String name) {
        long h = 1125899906842597L;
        for (int i = 0; i < name.length(); i++) {
            h = 31 * h + name.charAt(i);
        }
        return mix(h, 0);
    }

    /**
     * The ids decided and not yet claimed: plain arrays under a lock, scanned linearly (a handful
     * of threads are between {@code start()} and their first hook at any time). Deliberately no
     * JDK collection: {@link #create} runs inside the first {@code ThreadLocal.get} of a thread,
     * and the JDK collections' hash call sites are instrumented; a {@code ConcurrentHashMap.remove}
     * there could stamp an identity hash, whose per-thread state asks for this thread's
     * {@code ThreadState} again, and that nested {@code create} took the id, leaving the outer
     * one (the value the thread kept) a name-derived id. It happened about once in 60 short runs
     * on JDK 25, and the replay of such a log ran out of records for the thread.
     *
     * <p>Entries of threads that never ran a hook (they never claim theirs) are dropped once their
     * thread has ended or been collected, when the arrays would otherwise have to grow.
     */
    private static final class Pending {
        private long[] ids = new long[16];
        private long[] vids = new long[16];
        @SuppressWarnings("unchecked")
        private WeakReference<Thread>[] threads = new WeakReference[16];
        private int size;

        synchronized void put(Thread child, long vid) {
            long id = child.getId();
            for (int i = 0; i < size; i++) {
                if (ids[i] == id) {
                    vids[i] = vid;
                    return;
                }
            }
            if (size == ids.length) {
                prune();
            }
            if (size == ids.length) {
                ids = java.util.Arrays.copyOf(ids, size * 2);
                vids = java.util.Arrays.copyOf(vids, size * 2);
                threads = java.util.Arrays.copyOf(threads, size * 2);
            }
            ids[size] = id;
            vids[size] = vid;
            threads[size] = new WeakReference<>(child);
            size++;
        }

        /** The id decided for thread {@code id} (removed), or 0 if none (no valid id is 0). */
        synchronized long take(long id) {
            for (int i = 0; i < size; i++) {
                if (ids[i] == id) {
                    long vid = vids[i];
                    removeAt(i);
                    return vid;
                }
            }
            return 0;
        }

        private void prune() {
            for (int i = size - 1; i >= 0; i--) {
                Thread t = threads[i].get();
                if (t == null || t.getState() == Thread.State.TERMINATED) {
                    removeAt(i);
                }
            }
        }

        private void removeAt(int i) {
            size--;
            ids[i] = ids[size];
            vids[i] = vids[size];
            threads[i] = threads[size];
            threads[size] = null;
        }
    }
}
