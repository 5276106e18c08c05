package dev.revenant.bridge;

import java.util.concurrent.ConcurrentHashMap;

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
    private static final ConcurrentHashMap<Long, Long> PENDING = new ConcurrentHashMap<>();

    private static final ThreadLocal<ThreadState> CURRENT = ThreadLocal.withInitial(ThreadState::create);

    public final long vid;
    public final boolean agent;
    /** Next per-thread determinant sequence number. */
    public long seq;
    private int children;
    /** Set while the runtime works on this thread, so nested hooks pass straight through. */
    public boolean busy;

    private ThreadState(long vid, boolean agent) {
        this.vid = vid;
        this.agent = agent;
    }

    public static ThreadState current() {
        return CURRENT.get();
    }

    private static ThreadState create() {
        Thread t = Thread.currentThread();
        String name = t.getName();
        boolean agent = isAgentName(name);
        Long vid = PENDING.remove(t.getId());
        if (vid == null) {
            vid = "main".equals(name) ? 1L : nameId(name);
        }
        return new ThreadState(vid, agent);
    }

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
        PENDING.put(child.getId(), vid);
    }

    static long mix(long parent, long index) {
        long x = parent * 0x9E3779B97F4A7C15L + index;
        x = (x ^ (x >>> 31)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        x ^= x >>> 31;
        return x == 0 || x == 1 ? x + 2 : x & Long.MAX_VALUE;
    }

    private static long nameId(String name) {
        long h = 1125899906842597L;
        for (int i = 0; i < name.length(); i++) {
            h = 31 * h + name.charAt(i);
        }
        return mix(h, 0);
    }
}
