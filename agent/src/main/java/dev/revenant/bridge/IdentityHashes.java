package dev.revenant.bridge;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Deterministic identity hash codes. HotSpot draws an object's identity hash lazily, at the first
 * request, from a per-thread xorshift generator seeded with {@code os::random()} when the thread
 * is created ({@code os::random()} is also consumed by class loading and by every other thread
 * created), so record and replay see different values. Two mechanisms make them deterministic:
 *
 * <ol>
 *   <li><b>Stamping</b> ({@link #stamp}, {@link #stampIdentity}, {@link #stampSuper}): call sites
 *       that may compute an identity hash — rewritten by
 *       {@code dev.revenant.agent.instrument.HashCallSites} in application classes and in
 *       retransformed JDK classes — first CAS a deterministic hash into the object's mark word if
 *       it has none and is unlocked. The value is:
 *       <ul>
 *         <li>{@link String}: derived from its content, at identity requests only (a virtual
 *             {@code hashCode()} call on a String never stamps: String overrides it);
 *         <li>{@link Enum} constants: derived from the enum class name and the ordinal;
 *         <li>{@link Class} objects: derived from the class name (hidden-class suffix removed);
 *         <li>everything else: derived from the calling thread's key ({@link #setThreadKey}) and a
 *             per-thread counter of such stamps — deterministic as long as each thread asks for
 *             first-time identity hashes in the same order in record and replay.
 *       </ul>
 *       The content-derived kinds are often shared between threads (literals, constants);
 *       deriving them from content keeps which thread asks first out of every thread's counter.
 *   <li><b>Seeding the VM's generator</b>: {@link #setThreadKey} also overwrites the current
 *       platform thread's HotSpot hash state ({@code Thread::_hashStateW/X/Y/Z}, located once by
 *       {@link #install()} by predicting two VM hashes) with values derived from the key. Hashes
 *       the VM still assigns itself on that thread — uninstrumented code, native code, locked
 *       objects, and HotSpot's own hashing of a class's mirror when it links the class — then
 *       form a deterministic sequence too, as long as the thread makes the same such requests in
 *       the same order. It is reseeded again from (key, counter) after every counter-derived
 *       stamp, so a VM hash request made in only one of record or replay (agent work, a class
 *       linked earlier in one run) disturbs the VM-assigned hashes only up to the thread's next
 *       stamp. Off if {@code -Drevenant.idhash.vmseed=false} or if the state is not found
 *       ({@link #vmStreamSeeding()}).
 * </ol>
 *
 * <p>Which requests stamp: {@link #stamp} (virtual/interface {@code hashCode()} call sites)
 * stamps only objects whose class does not override {@code hashCode()} (checked once per class,
 * by reflection, cached in a {@link ClassValue}), plus enums and Class objects; objects with
 * their own {@code hashCode()} are left alone, so they never consume a counter value.
 * {@link #stampIdentity} ({@code System.identityHashCode}, {@code super.hashCode()} resolving to
 * Object's) always stamps. Never stamped: objects that already have a hash, and objects whose mark
 * word is not in the unlocked state (locked, inflated monitor, biased) — counted by
 * {@link #skippedLocked()}; the VM hashes those itself. While a thread is paused
 * ({@link #pauseThread()}) or classifying a class, counter-derived stamps come from a global
 * sequence instead, so neither the thread's counter nor its VM generator moves.
 *
 * <p>Deployment: this class and its nested classes live on the boot class path and reference only
 * {@code java.base} types. Mark words and thread state are accessed with
 * {@code jdk.internal.misc.Unsafe} through a hidden class defined at run time (no compile-time
 * reference: the build uses {@code --release 17}), so this class's module — the unnamed module of
 * the boot loader on the boot class path — needs {@code java.base/jdk.internal.misc} exported to
 * it before {@link #install()}. No public method throws.
 */
public final class IdentityHashes {

    /** Width of the hash field in the mark word of a 64-bit HotSpot (markWord::hash_bits). */
    static final int HASH_BITS = 31;
    static final long HASH_MASK = (1L << HASH_BITS) - 1;

    /** Low three mark-word bits of an unlocked, unbiased, not self-forwarded object. */
    private static final long LOW3_MASK = 0b111L;
    private static final long LOW3_UNLOCKED = 0b001L;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final long TAG_SEED = 0x6A09E667F3BCC909L;
    private static final long TAG_DEFAULT_KEY = 0x1D8E4E27C47D124FL;
    private static final long TAG_STRING = 0x5851F42D4C957F2DL;
    private static final long TAG_ENUM = 0x14057B7EF767814FL;
    private static final long TAG_CLASS = 0x2545F4914F6CDD1DL;
    private static final long TAG_VM_STREAM = 0x3C6EF372FE94F82BL;
    private static final long PRIVATE_SEED = 0x510E527FADE682D1L;

    /** HotSpot's initial Thread::_hashStateY/Z/W (thread.cpp); X is os::random(). */
    private static final int VM_Y0 = 842502087;
    private static final int VM_Z0 = 0x8767;
    private static final int VM_W0 = 273326509;
    /** How far into the JavaThread structure {@link #install()} looks for the hash state. */
    private static final int VM_SCAN_BYTES = 1536;

    private static final int VIRTUAL = 0;
    private static final int IDENTITY = 1;

    /** Set once by {@link #install()}; plain (not volatile) to keep the hot path a plain load. */
    private static boolean enabled;
    private static volatile String status = "not installed";

    /** Offset of {@code Thread.eetop} (the JavaThread*), or -1. */
    private static long eetopOffset = -1;
    /** Offset of {@code _hashStateW} (W, X, Y, Z follow as ints) in the JavaThread, or -1. */
    private static volatile int vmStateOffset = -1;

    private static final AtomicLong STAMPED = new AtomicLong();
    private static final AtomicLong SKIPPED_LOCKED = new AtomicLong();
    private static final AtomicLong PRIVATE_SEQUENCE = new AtomicLong();

    /** Per-thread key, counter and pause flag. ThreadLocal hashes with its own counter. */
    private static final ThreadLocal<State> STATE = new ThreadLocal<State>() {
        @Override
        protected State initialValue() {
            State s = new State();
            // The thread's virtual id (decided by its parent at start()), the same in record and
            // replay; agent threads keep a key from their JVM id.
            ThreadState t = ThreadState.current();
            s.setKey(t.agent ? defaultKey(Thread.currentThread()) : t.vid);
            return s;
        }
    };

    /**
     * Whether instances of a class get their hashCode() from Object (or java.lang.Enum). The
     * reflection it runs may itself hash objects (through instrumented JDK collections): the
     * thread is marked busy meanwhile, and such nested requests use the private sequence.
     */
    private static final ClassValue<Boolean> USES_IDENTITY_HASH = new ClassValue<Boolean>() {
        @Override
        protected Boolean computeValue(Class<?> type) {
            State s = STATE.get();
            boolean was = s.busy;
            s.busy = true;
            CLASSIFYING.incrementAndGet();
            try {
                return usesIdentityHash(type);
            } finally {
                CLASSIFYING.decrementAndGet();
                s.busy = was;
            }
        }
    };

    /** Threads inside {@link #USES_IDENTITY_HASH}'s computeValue (normally 0). */
    private static final AtomicInteger CLASSIFYING = new AtomicInteger();

    /** One-entry cache: the class last found to have its own hashCode() (racy, idempotent). */
    private static Class<?> lastOwnHashCode;

    private IdentityHashes() {
    }

    static final class State {
        long key;
        long seed;
        long counter;
        /** Paused, or classifying a class: counter-derived stamps use the private sequence. */
        boolean busy;
        /** Nesting depth of {@link #enterLinkage()} and what {@link #busy} was at the outermost entry. */
        int linkage;
        boolean busyBeforeLinkage;

        void setKey(long k) {
            key = k;
            seed = mix64(k ^ TAG_SEED);
            counter = 0;
        }
    }

    /**
     * The jdk.internal.misc.Unsafe operations used, implemented by a hidden class that
     * {@link Layout} defines at run time (see {@link #accessorClassFile}). Held in a static final
     * field, calls are devirtualised and inlined by the JIT down to the Unsafe intrinsics.
     */
    interface RawAccess {
        long getLong(Object o, long offset);

        boolean compareAndSetLong(Object o, long offset, long expected, long x);

        int getInt(long address);

        void putInt(long address, int x);

        long objectFieldOffset(Class<?> c, String name);
    }

    /**
     * The mark-word layout, detected in this holder's static initialiser (so the values are
     * constants to the JIT). Initialised only by {@link #install()}, after it checked that
     * {@code jdk.internal.misc} is exported to this class's module.
     */
    static final class Layout {
        static final RawAccess U;
        /** Bit position of the hash field in the mark word, or -1 if not recognised. */
        static final int SHIFT;
        static final long HASH_IN_PLACE;
        static final String PROBLEM;

        static {
            RawAccess u = null;
            int shift = -1;
            String problem = null;
            try {
                if (!"64".equals(System.getProperty("sun.arch.data.model", "64"))) {
                    problem = "not a 64-bit VM";
                } else {
                    Class<?> accessor = MethodHandles.lookup()
                        .defineHiddenClass(accessorClassFile(), true).lookupClass();
                    u = (RawAccess) accessor.getDeclaredConstructor().newInstance();
                    int agreed = -1;
                    int hits = 0;
                    for (int i = 0; i < 64 && hits < 4 && problem == null; i++) {
                        Object probe = new Object();
                        long m0 = u.getLong(probe, 0L);
                        if ((m0 & LOW3_MASK) != LOW3_UNLOCKED) {
                            problem = "fresh objects are not unlocked-unbiased (low mark bits "
                                + Long.toBinaryString(m0 & LOW3_MASK) + "; -XX:+UseBiasedLocking?)";
                            break;
                        }
                        int h = System.identityHashCode(probe);
                        long m1 = u.getLong(probe, 0L);
                        int s = candidateShift(m0, m1, h);
                        if (s < 0) {
                            continue; // e.g. a GC changed the age bits in between: try again
                        }
                        if (agreed == -1) {
                            agreed = s;
                        } else if (agreed != s) {
                            problem = "hash found at bits " + agreed + " and " + s;
                        }
                        hits++;
                    }
                    if (problem == null) {
                        if (hits < 4) {
                            problem = "could not locate the identity hash in the mark word";
                        } else {
                            shift = agreed;
                        }
                    }
                }
            } catch (Throwable t) {
                problem = "layout probe failed: " + t;
            }
            U = u;
            SHIFT = shift;
            HASH_IN_PLACE = shift < 0 ? 0L : HASH_MASK << shift;
            PROBLEM = problem;
        }

        /** The s such that m1 = m0 | h << s with the field empty in m0, or -1. */
        static int candidateShift(long m0, long m1, int h) {
            if (h <= 0) {
                return -1;
            }
            long diff = m0 ^ m1;
            int s = Long.numberOfTrailingZeros(diff) - Integer.numberOfTrailingZeros(h);
            if (s < 0 || s + HASH_BITS > 64) {
                return -1;
            }
            long field = HASH_MASK << s;
            if ((m0 & field) != 0 || diff != ((long) h << s) || (m1 & ~field) != m0) {
                return -1;
            }
            return s;
        }
    }

    // ------------------------------------------------------------------ installation

    /**
     * Detects the mark-word layout and checks by self-test that a stamped value is what
     * {@code System.identityHashCode} and {@code Object.hashCode} return; locates the VM's
     * per-thread hash state (for {@link #setThreadKey}); enables stamping. Returns false
     * (stamping stays off, {@link #status()} says why) if the mark word is not understood.
     * Idempotent; never throws. Consumes a few VM identity hashes of the calling thread.
     */
    public static synchronized boolean install() {
        if (enabled) {
            return true;
        }
        try {
            Module base = Object.class.getModule();
            Module me = IdentityHashes.class.getModule();
            if (!base.isExported("jdk.internal.misc", me)) {
                status = "java.base does not export jdk.internal.misc to " + me
                    + " (use --add-exports java.base/jdk.internal.misc=ALL-UNNAMED or Instrumentation.redefineModule)";
                return false;
            }
            if (Layout.PROBLEM != null) {
                status = "unrecognised mark word: " + Layout.PROBLEM + " (java " + System.getProperty("java.version") + ")";
                return false;
            }
            String selfTest = selfTest();
            if (selfTest != null) {
                status = "self-test failed: " + selfTest + " (hash shift " + Layout.SHIFT + ", java "
                    + System.getProperty("java.version") + ")";
                return false;
            }
            String vm = "VM generator seeding off (-Drevenant.idhash.vmseed=false)";
            if (!"false".equals(System.getProperty("revenant.idhash.vmseed"))) {
                vm = locateVmHashState();
            }
            warmUp();
            status = "enabled: hash at mark bits " + Layout.SHIFT + ".." + (Layout.SHIFT + HASH_BITS - 1)
                + "; " + vm + "; java " + System.getProperty("java.version");
            enabled = true;
            return true;
        } catch (Throwable t) {
            status = "install failed: " + t;
            return false;
        }
    }

    /** Returns null when stamped values round-trip through identityHashCode/hashCode. */
    private static String selfTest() {
        RawAccess u = Layout.U;
        int[] values = {1, 0x7FFFFFFF, 0x40000000, 0x12345678, 0x00010000, 0x2AAAAAAA};
        for (int v : values) {
            Object o = new Object();
            long m = u.getLong(o, 0L);
            if ((m & LOW3_MASK) != LOW3_UNLOCKED || (m & Layout.HASH_IN_PLACE) != 0) {
                return "fresh object has mark 0x" + Long.toHexString(m);
            }
            if (!u.compareAndSetLong(o, 0L, m, m | ((long) v << Layout.SHIFT))) {
                return "CAS on a fresh object's mark word failed";
            }
            int ih = System.identityHashCode(o);
            int oh = o.hashCode();
            if (ih != v || oh != v) {
                return "stamped 0x" + Integer.toHexString(v) + " but identityHashCode=0x"
                    + Integer.toHexString(ih) + ", hashCode=0x" + Integer.toHexString(oh);
            }
            if (u.getLong(o, 0L) != (m | ((long) v << Layout.SHIFT))) {
                return "mark word changed after hashing a stamped object";
            }
        }
        // an object the VM hashed must read back as hashed
        Object o = new Object();
        int h = System.identityHashCode(o);
        long m = u.getLong(o, 0L);
        if ((int) ((m >>> Layout.SHIFT) & HASH_MASK) != h) {
            return "VM-assigned hash not found at bit " + Layout.SHIFT;
        }
        return null;
    }

    /**
     * Finds the current thread's {@code _hashStateW/X/Y/Z} in its JavaThread: snapshots the first
     * {@link #VM_SCAN_BYTES} bytes, lets the VM hash two objects, and keeps the one offset whose
     * four ints predict both hashes (HotSpot's default {@code -XX:hashCode=5} xorshift) and
     * have advanced exactly as predicted. Sets {@link #vmStateOffset}; returns a status phrase.
     */
    private static String locateVmHashState() {
        try {
            RawAccess u = Layout.U;
            long eetop = u.objectFieldOffset(Thread.class, "eetop");
            int n = VM_SCAN_BYTES / 4;
            int[] snap = new int[n + 3];
            int[] state = new int[4];
            for (int attempt = 0; attempt < 3; attempt++) {
                long jt = u.getLong(Thread.currentThread(), eetop);
                if (jt == 0) {
                    return "VM generator seeding off (no JavaThread for the installing thread)";
                }
                Object a = new Object();
                Object b = new Object();
                for (int i = 0; i < n + 3; i++) {
                    snap[i] = u.getInt(jt + 4L * i);
                }
                int h1 = System.identityHashCode(a);
                int h2 = System.identityHashCode(b);
                int found = -1;
                int matches = 0;
                for (int i = 0; i < n; i++) {
                    state[0] = snap[i];     // W
                    state[1] = snap[i + 1]; // X
                    state[2] = snap[i + 2]; // Y
                    state[3] = snap[i + 3]; // Z
                    if (vmNext(state) == h1 && vmNext(state) == h2
                        && u.getInt(jt + 4L * i) == state[0] && u.getInt(jt + 4L * i + 4) == state[1]
                        && u.getInt(jt + 4L * i + 8) == state[2] && u.getInt(jt + 4L * i + 12) == state[3]) {
                        found = 4 * i;
                        matches++;
                    }
                }
                if (matches == 1) {
                    eetopOffset = eetop;
                    vmStateOffset = found;
                    return "VM generator state at JavaThread+" + found;
                }
            }
            return "VM generator seeding off (hash state not found: -XX:hashCode other than 5?)";
        } catch (Throwable t) {
            return "VM generator seeding off (" + t + ")";
        }
    }

    /**
     * One step of HotSpot's {@code get_next_hash} (mode 5) on {@code s = {W, X, Y, Z}}; returns
     * the hash it would produce.
     */
    static int vmNext(int[] s) {
        int t = s[1];
        t ^= t << 11;
        s[1] = s[2];
        s[2] = s[3];
        int v = s[0];
        s[3] = v;
        v = (v ^ (v >>> 19)) ^ (t ^ (t >>> 8));
        s[0] = v;
        int h = v & (int) HASH_MASK;
        return h == 0 ? 0xBAD : h;
    }

    /**
     * Loads and initialises everything the slow path uses (State, ClassValue's map, reflection,
     * atomics) while stamping is still off: a class load inside the slow path would run the
     * agent's transformer, i.e. instrumented JDK code calling back into the slow path.
     */
    private static void warmUp() {
        State s = STATE.get();
        boolean was = s.busy;
        s.busy = true;
        try {
            USES_IDENTITY_HASH.get(IdentityHashes.class);
            USES_IDENTITY_HASH.get(Object.class);
            USES_IDENTITY_HASH.get(String.class);
        } finally {
            s.busy = was;
        }
        CLASSIFYING.get();
        STAMPED.get();
        SKIPPED_LOCKED.get();
        PRIVATE_SEQUENCE.get();
        nameHash(Thread.State.class);
        hashFor(s.seed, 0);
        lastOwnHashCode = null;
    }

    /** Whether stamping is on ({@link #install()} succeeded). */
    public static boolean enabled() {
        return enabled;
    }

    /** Whether {@link #setThreadKey} also seeds the VM's own per-thread hash generator. */
    public static boolean vmStreamSeeding() {
        return vmStateOffset >= 0;
    }

    /** One line: the detected layout, or why {@link #install()} returned false. */
    public static String status() {
        return status;
    }

    // ------------------------------------------------------------------ per-thread key

    /**
     * Sets the current thread's key (its deterministic identity, e.g. a logical thread id assigned
     * by record/replay), resets its stamp counter to 0 and, if available, reseeds the VM's own
     * hash generator of this (platform) thread from the key. Call it at the same point of the
     * thread's life in record and replay, normally first thing in the thread. Never throws.
     */
    public static void setThreadKey(long key) {
        try {
            State s = STATE.get();
            s.setKey(key);
            seedVmStream(s.seed, 0);
        } catch (Throwable t) {
            // never throw into the application
        }
    }

    /**
     * Reseeds the current platform thread's HotSpot hash generator from (thread seed, counter):
     * at {@link #setThreadKey} (counter 0) and after every counter-derived stamp, so that a VM
     * hash request made in only one of record or replay shifts the VM-assigned hashes that follow
     * it only up to the thread's next stamp.
     */
    private static void seedVmStream(long seed, long counter) {
        int off = vmStateOffset;
        if (off < 0 || !enabled) {
            return;
        }
        RawAccess u = Layout.U;
        long jt = u.getLong(Thread.currentThread(), eetopOffset);
        if (jt == 0) {
            return; // a virtual thread: the generator belongs to its carrier
        }
        // As HotSpot initialises a new thread, with a derived value in place of os::random().
        u.putInt(jt + off, VM_W0);
        u.putInt(jt + off + 4, (int) mix64((seed + counter * GOLDEN) ^ TAG_VM_STREAM));
        u.putInt(jt + off + 8, VM_Y0);
        u.putInt(jt + off + 12, VM_Z0);
    }

    /** The current thread's key (default: derived from {@code Thread.getId()}). */
    public static long threadKey() {
        return STATE.get().key;
    }

    /** How many counter-derived stamps the current thread attempted since its key was set. */
    public static long threadCounter() {
        return STATE.get().counter;
    }

    /**
     * Stops counter-derived stamping on the current thread until {@link #resumeThread}: for agent
     * code that runs on an application thread and may hash objects (through instrumented JDK
     * collections) in only one of record or replay. Objects first hashed meanwhile get a value
     * from a global sequence, so neither this thread's counter nor its VM generator moves
     * (content-derived kinds are stamped as usual). Returns the previous state.
     */
    public static boolean pauseThread() {
        try {
            State s = STATE.get();
            boolean was = s.busy;
            s.busy = true;
            return was;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Undoes {@link #pauseThread()}: pass what it returned. */
    public static void resumeThread(boolean wasPaused) {
        try {
            STATE.get().busy = wasPaused;
        } catch (Throwable t) {
            // never throw into the application
        }
    }

    /**
     * {@link #pauseThread()} for code that cannot keep the returned value (instrumented JDK
     * methods get no new local variable): nested entries are counted on the thread and the
     * outermost {@link #exitLinkage()} restores what the outermost entry found. Never throws.
     */
    public static void enterLinkage() {
        try {
            State s = STATE.get();
            if (s.linkage++ == 0) {
                s.busyBeforeLinkage = s.busy;
                s.busy = true;
            }
        } catch (Throwable t) {
            // never throw into the application
        }
    }

    /** Undoes one {@link #enterLinkage()}, on normal and exceptional exit alike. Never throws. */
    public static void exitLinkage() {
        try {
            State s = STATE.get();
            if (s.linkage > 0 && --s.linkage == 0) {
                s.busy = s.busyBeforeLinkage;
            }
        } catch (Throwable t) {
            // never throw into the application
        }
    }

    /** Objects stamped so far (successful CAS), all threads. */
    public static long stamped() {
        return STAMPED.get();
    }

    /** Stamp requests skipped because the object's mark word was not unlocked. */
    public static long skippedLocked() {
        return SKIPPED_LOCKED.get();
    }

    @SuppressWarnings("deprecation") // Thread.threadId() is 19+
    static long defaultKey(Thread t) {
        return mix64(t.getId() ^ TAG_DEFAULT_KEY);
    }

    // ------------------------------------------------------------------ hooks

    /**
     * Hook before a virtual/interface {@code hashCode()} call on {@code o}: stamps {@code o} if it
     * has no hash yet, is unlocked, and its class takes {@code hashCode()} from Object (or is an
     * enum or a Class). Null-safe; never throws.
     */
    public static void stamp(Object o) {
        if (o == null || !enabled) {
            return;
        }
        long m = Layout.U.getLong(o, 0L);
        if ((m & Layout.HASH_IN_PLACE) != 0 && (m & LOW3_MASK) == LOW3_UNLOCKED) {
            return;
        }
        Class<?> c = o.getClass();
        if (c == String.class || c == lastOwnHashCode) {
            return; // own hashCode(): the common HashMap keys never leave the inlined part
        }
        slow(o, m, VIRTUAL, null);
    }

    /**
     * Hook before {@code System.identityHashCode(o)} and {@code super.hashCode()} calls that
     * resolve to {@code Object.hashCode}: stamps {@code o} if it has no hash yet and is unlocked.
     * Null-safe; never throws.
     */
    public static void stampIdentity(Object o) {
        if (o == null || !enabled) {
            return;
        }
        long m = Layout.U.getLong(o, 0L);
        if ((m & Layout.HASH_IN_PLACE) != 0 && (m & LOW3_MASK) == LOW3_UNLOCKED) {
            return;
        }
        slow(o, m, IDENTITY, null);
    }

    /**
     * Hook before {@code super.hashCode()} ({@code invokespecial owner.hashCode()I}): stamps like
     * {@link #stampIdentity} when {@code owner}'s {@code hashCode()} is Object's, else nothing.
     */
    public static void stampSuper(Object o, Class<?> owner) {
        if (o == null || !enabled) {
            return;
        }
        long m = Layout.U.getLong(o, 0L);
        if ((m & Layout.HASH_IN_PLACE) != 0 && (m & LOW3_MASK) == LOW3_UNLOCKED) {
            return;
        }
        slow(o, m, VIRTUAL, owner);
    }

    /** Replacement target for {@code Object::hashCode}-style method references. */
    public static int hashCodeOf(Object o) {
        stamp(o);
        return o.hashCode();
    }

    /** Replacement target for {@code System::identityHashCode} method references. */
    public static int identityHashCodeOf(Object o) {
        stampIdentity(o);
        return System.identityHashCode(o);
    }

    private static void slow(Object o, long m, int kind, Class<?> superOwner) {
        try {
            Class<?> c = o.getClass();
            int h;
            if (c == String.class) {
                if (kind == VIRTUAL) {
                    return; // String.hashCode() is content-based; nothing asks for its identity
                }
                h = fit(mix64(TAG_STRING ^ (((String) o).hashCode() * GOLDEN)));
            } else if (o instanceof Enum) {
                Enum<?> e = (Enum<?>) o;
                h = fit(mix64(mix64(TAG_ENUM ^ nameHash(e.getDeclaringClass())) + (e.ordinal() + 1) * GOLDEN));
            } else if (c == Class.class) {
                h = fit(mix64(TAG_CLASS ^ nameHash((Class<?>) o)));
            } else {
                boolean nested = CLASSIFYING.get() != 0 && STATE.get().busy;
                if (kind == VIRTUAL && !nested) {
                    Class<?> k = superOwner != null ? superOwner : c;
                    if (k == lastOwnHashCode) {
                        return;
                    }
                    if (!USES_IDENTITY_HASH.get(k)) {
                        lastOwnHashCode = k;
                        return;
                    }
                    m = Layout.U.getLong(o, 0L); // classification may have taken a while
                    if ((m & Layout.HASH_IN_PLACE) != 0 && (m & LOW3_MASK) == LOW3_UNLOCKED) {
                        return;
                    }
                }
                if ((m & LOW3_MASK) != LOW3_UNLOCKED) {
                    SKIPPED_LOCKED.incrementAndGet(); // no counter value consumed
                    return;
                }
                State s = STATE.get();
                if (s.busy) {
                    // paused, or hashed by our own classification: keep the thread's sequences still
                    h = hashFor(PRIVATE_SEED, PRIVATE_SEQUENCE.incrementAndGet());
                } else {
                    long n = ++s.counter;
                    h = hashFor(s.seed, n);
                    seedVmStream(s.seed, n);
                    if (TickTrace.on()) {
                        s.busy = true;
                        try {
                            TickTrace.stamp(n, c);
                        } finally {
                            s.busy = false;
                        }
                    }
                }
            }
            if ((m & LOW3_MASK) != LOW3_UNLOCKED) {
                SKIPPED_LOCKED.incrementAndGet();
                return;
            }
            casHash(o, m, h);
        } catch (Throwable t) {
            // never throw into instrumented code; the VM will hash the object itself
        }
    }

    /** CASes hash {@code h} (nonzero, 31 bits) into {@code o}'s mark word {@code m}. */
    private static void casHash(Object o, long m, int h) {
        RawAccess u = Layout.U;
        long bits = ((long) h) << Layout.SHIFT;
        for (int i = 0; i < 8; i++) {
            if (u.compareAndSetLong(o, 0L, m, m | bits)) {
                STAMPED.incrementAndGet();
                return;
            }
            m = u.getLong(o, 0L);
            if ((m & Layout.HASH_IN_PLACE) != 0 && (m & LOW3_MASK) == LOW3_UNLOCKED) {
                return; // hashed meanwhile (another thread, or the VM)
            }
            if ((m & LOW3_MASK) != LOW3_UNLOCKED) {
                SKIPPED_LOCKED.incrementAndGet();
                return;
            }
            // only age/GC bits changed: retry
        }
    }

    // ------------------------------------------------------------------ values

    static boolean usesIdentityHash(Class<?> type) {
        if (Enum.class.isAssignableFrom(type)) {
            return true;
        }
        try {
            Method m = type.getMethod("hashCode");
            return m.getDeclaringClass() == Object.class;
        } catch (Throwable t) {
            return true; // cannot tell: stamping is the deterministic choice
        }
    }

    /** Hash of a class's name, without the address-derived suffix of hidden classes. */
    static long nameHash(Class<?> c) {
        String n = c.getName();
        int slash = n.indexOf('/');
        if (slash >= 0) {
            n = n.substring(0, slash);
        }
        return n.hashCode() & 0xFFFFFFFFL;
    }

    /** The hash for the {@code counter}-th stamp of the thread with key {@code key}. */
    static int hashForKey(long key, long counter) {
        return hashFor(mix64(key ^ TAG_SEED), counter);
    }

    static int hashFor(long seed, long counter) {
        return fit(mix64(seed + counter * GOLDEN));
    }

    /** Top 31 bits of a mixed value; never 0 (0 means "no hash" in the mark word). */
    static int fit(long z) {
        int v = (int) (z >>> (64 - HASH_BITS));
        if (v == 0) {
            v = (int) (z & HASH_MASK);
            if (v == 0) {
                v = 0x2F6B1E3D;
            }
        }
        return v;
    }

    /** SplitMix64 / Stafford variant 13 finaliser. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    // ------------------------------------------------------------------ accessor class file

    private static final String UNSAFE = "jdk/internal/misc/Unsafe";

    /**
     * The class file of the hidden class implementing {@link RawAccess}: each method is
     * {@code return Unsafe.getUnsafe().<same name>(<same arguments>);} with
     * {@code Unsafe = jdk.internal.misc.Unsafe}. Version 52, straight-line code, so no stack map
     * frames are needed.
     */
    static byte[] accessorClassFile() throws IOException {
        ConstantPool cp = new ConstantPool();
        int thisClass = cp.classRef("dev/revenant/bridge/IdentityHashes$UnsafeRawAccess");
        int object = cp.classRef("java/lang/Object");
        int iface = cp.classRef("dev/revenant/bridge/IdentityHashes$RawAccess");
        int objectInit = cp.methodRef("java/lang/Object", "<init>", "()V");
        int getUnsafe = cp.methodRef(UNSAFE, "getUnsafe", "()L" + UNSAFE + ";");
        int code = cp.utf8("Code");

        ByteArrayOutputStream methods = new ByteArrayOutputStream();
        DataOutputStream m = new DataOutputStream(methods);
        // <init>: aload_0, invokespecial Object.<init>, return
        method(m, cp, code, "<init>", "()V", 1, 1, 0x2A, 0xB7, objectInit >> 8, objectInit, 0xB1);
        // arguments are loaded by index: aload_1=0x2B aload_2=0x2C lload_1=0x1F lload_2=0x20
        // iload_3=0x1D lload=0x16 <n>; returns: lreturn=0xAD ireturn=0xAC return=0xB1
        delegate(m, cp, code, getUnsafe, "getLong", "(Ljava/lang/Object;J)J", 4, 4,
            new int[] {0x2B, 0x20}, 0xAD);
        delegate(m, cp, code, getUnsafe, "compareAndSetLong", "(Ljava/lang/Object;JJJ)Z", 8, 8,
            new int[] {0x2B, 0x20, 0x16, 4, 0x16, 6}, 0xAC);
        delegate(m, cp, code, getUnsafe, "getInt", "(J)I", 3, 3, new int[] {0x1F}, 0xAC);
        delegate(m, cp, code, getUnsafe, "putInt", "(JI)V", 4, 4, new int[] {0x1F, 0x1D}, 0xB1);
        delegate(m, cp, code, getUnsafe, "objectFieldOffset", "(Ljava/lang/Class;Ljava/lang/String;)J", 3, 3,
            new int[] {0x2B, 0x2C}, 0xAD);
        m.flush();

        ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(0xCAFEBABE);
        out.writeShort(0);
        out.writeShort(52);
        cp.writeTo(out);
        out.writeShort(0x0001 | 0x0010 | 0x0020); // public final super
        out.writeShort(thisClass);
        out.writeShort(object);
        out.writeShort(1);
        out.writeShort(iface);
        out.writeShort(0); // fields
        out.writeShort(6); // methods
        methods.writeTo(out);
        out.writeShort(0); // class attributes
        out.flush();
        return bytes.toByteArray();
    }

    /** A public method {@code getUnsafe(); <loads>; invokevirtual Unsafe.name desc; <ret>}. */
    private static void delegate(DataOutputStream m, ConstantPool cp, int code, int getUnsafe, String name,
                                 String desc, int maxStack, int maxLocals, int[] loads, int ret) throws IOException {
        int target = cp.methodRef(UNSAFE, name, desc);
        int[] body = new int[3 + loads.length + 3 + 1];
        int i = 0;
        body[i++] = 0xB8; // invokestatic
        body[i++] = getUnsafe >> 8;
        body[i++] = getUnsafe;
        for (int l : loads) {
            body[i++] = l;
        }
        body[i++] = 0xB6; // invokevirtual
        body[i++] = target >> 8;
        body[i++] = target;
        body[i] = ret;
        method(m, cp, code, name, desc, maxStack, maxLocals, body);
    }

    private static void method(DataOutputStream m, ConstantPool cp, int code, String name, String desc,
                               int maxStack, int maxLocals, int... body) throws IOException {
        m.writeShort(0x0001); // public
        m.writeShort(cp.utf8(name));
        m.writeShort(cp.utf8(desc));
        m.writeShort(1); // one attribute: Code
        m.writeShort(code);
        m.writeInt(12 + body.length);
        m.writeShort(maxStack);
        m.writeShort(maxLocals);
        m.writeInt(body.length);
        for (int b : body) {
            m.writeByte(b);
        }
        m.writeShort(0); // exception table
        m.writeShort(0); // attributes
    }

    /** Minimal constant pool: Utf8, Class, NameAndType, Methodref entries, deduplicated. */
    private static final class ConstantPool {
        private final List<String> keys = new ArrayList<>();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final DataOutputStream out = new DataOutputStream(bytes);

        private int lookup(String key) {
            int i = keys.indexOf(key);
            return i < 0 ? -1 : i + 1;
        }

        private int add(String key) {
            keys.add(key);
            return keys.size();
        }

        int utf8(String s) throws IOException {
            int i = lookup("U" + s);
            if (i > 0) {
                return i;
            }
            out.writeByte(1);
            out.writeUTF(s);
            return add("U" + s);
        }

        int classRef(String internalName) throws IOException {
            int i = lookup("C" + internalName);
            if (i > 0) {
                return i;
            }
            int name = utf8(internalName);
            out.writeByte(7);
            out.writeShort(name);
            return add("C" + internalName);
        }

        int methodRef(String owner, String name, String desc) throws IOException {
            String key = "M" + owner + '.' + name + desc;
            int i = lookup(key);
            if (i > 0) {
                return i;
            }
            int c = classRef(owner);
            int n = utf8(name);
            int d = utf8(desc);
            out.writeByte(12); // NameAndType
            out.writeShort(n);
            out.writeShort(d);
            int nat = add("N" + name + desc);
            out.writeByte(10); // Methodref
            out.writeShort(c);
            out.writeShort(nat);
            return add(key);
        }

        void writeTo(DataOutputStream dst) throws IOException {
            out.flush();
            dst.writeShort(keys.size() + 1);
            bytes.writeTo(dst);
        }
    }
}
