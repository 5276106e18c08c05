package dev.revenant.agent.bootstrap;

import java.lang.reflect.Method;

import net.openhft.posix.ClockId;
import net.openhft.posix.MAdviseFlag;
import net.openhft.posix.MMapFlag;
import net.openhft.posix.MMapProt;
import net.openhft.posix.MSyncFlag;
import net.openhft.posix.MclFlag;
import net.openhft.posix.OpenFlag;
import net.openhft.posix.PosixAPI;
import net.openhft.posix.WhenceFlag;
import net.openhft.posix.internal.PosixAPIHolder;
import net.openhft.posix.internal.jnr.JNRPosixAPI;
import net.openhft.posix.internal.jnr.WinJNRPosixAPI;
import net.openhft.posix.internal.noop.NoOpPosixAPI;

/**
 * Start-up preparation that runs inside the agent's class loader (not at the jar's root: it names
 * library types), called by {@link Premain} once java.base is open to that loader and before the
 * first Chronicle class initialises:
 *
 * <ul>
 *   <li>native access for the unnamed modules on JDK 22+ (jffi's and JNA's {@code System.load}
 *       without the JEP 472 warning) — from here, because it needs {@code java.lang} open to the
 *       caller, which is this loader's module;</li>
 *   <li>Chronicle's POSIX layer deferred ({@link #deferPosix}).</li>
 * </ul>
 *
 * Each step is best effort and never throws: none is needed for correctness.
 */
public final class ImplStartup {

    private ImplStartup() {
    }

    /**
     * Runs every step; called reflectively by {@link Premain}. Returns how long each took, for
     * {@code REVENANT_DEBUG_STARTUP}.
     */
    public static String prepare() {
        long t0 = System.nanoTime();
        enableNativeAccessForUnnamed();
        long t1 = System.nanoTime();
        deferPosix();
        long t2 = System.nanoTime();
        return "native access " + ms(t1 - t0) + " ms, posix deferred " + ms(t2 - t1) + " ms";
    }

    /**
     * JDK 22+ (JEP 472): grants native access to the unnamed modules, the effect of
     * {@code --enable-native-access=ALL-UNNAMED}. Returns false (and changes nothing) on JDKs
     * without the mechanism (17, 21) or when it fails.
     */
    static boolean enableNativeAccessForUnnamed() {
        if (Runtime.version().feature() < 22) {
            return false;
        }
        try {
            Method m = Module.class.getDeclaredMethod("implAddEnableNativeAccessToAllUnnamed");
            m.setAccessible(true);
            m.invoke(null);
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * Chronicle's {@code Jvm} class initialiser loads the POSIX layer eagerly: jnr-ffi unpacks and
     * loads jffi's native library and generates its bindings with ASM, some 400 classes and
     * 150 ms before the first record, for calls ({@code msync}, {@code madvise}, thread ids) the
     * log does not make on its start-up path (it forces with {@code FileChannel.force}). Install a
     * stand-in that builds the real {@code PosixAPI} on its first use, exactly as
     * {@code PosixAPIHolder.loadPosixApi} would, and then puts it in the holder itself. Nothing
     * changes if the layer is already loaded. Returns whether the stand-in was installed.
     */
    static boolean deferPosix() {
        try {
            if (PosixAPIHolder.POSIX_API != null) {
                return false;
            }
            PosixAPIHolder.POSIX_API = new DeferredPosixAPI();
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * The stand-in: every method of {@code PosixAPI}, default ones included (the real layer may
     * override them), delegating to the real layer, which the first call builds. Written out
     * rather than a {@code java.lang.reflect.Proxy}: generating a proxy for this 40-method
     * interface costs some 60 ms of start-up; a new abstract method in a future posix version is a
     * compile error here, not a surprise at run time.
     */
    static final class DeferredPosixAPI implements PosixAPI {
        private volatile PosixAPI real;

        PosixAPI real() {
            PosixAPI r = real;
            if (r == null) {
                synchronized (this) {
                    r = real;
                    if (r == null) {
                        r = load();
                        real = r;
                        PosixAPIHolder.POSIX_API = r;
                    }
                }
            }
            return r;
        }

        /** What {@code PosixAPIHolder.loadPosixApi} does. */
        private static PosixAPI load() {
            try {
                return jnr.ffi.Platform.getNativePlatform().isUnix() ? new JNRPosixAPI() : new WinJNRPosixAPI();
            } catch (Throwable t) {
                return new NoOpPosixAPI(t.toString());
            }
        }

        @Override
        public String toString() {
            PosixAPI r = real;
            return r == null ? "PosixAPI (not loaded yet)" : r.toString();
        }

        @Override
        public int close(int a0) {
            return real().close(a0);
        }

        @Override
        public int fallocate(int a0, int a1, long a2, long a3) {
            return real().fallocate(a0, a1, a2, a3);
        }

        @Override
        public int ftruncate(int a0, long a1) {
            return real().ftruncate(a0, a1);
        }

        @Override
        public long lseek(int a0, long a1, WhenceFlag a2) {
            return real().lseek(a0, a1, a2);
        }

        @Override
        public long lseek(int a0, long a1, int a2) {
            return real().lseek(a0, a1, a2);
        }

        @Override
        public int lockf(int a0, int a1, long a2) {
            return real().lockf(a0, a1, a2);
        }

        @Override
        public int madvise(long a0, long a1, MAdviseFlag a2) {
            return real().madvise(a0, a1, a2);
        }

        @Override
        public int madvise(long a0, long a1, int a2) {
            return real().madvise(a0, a1, a2);
        }

        @Override
        public long mmap(long a0, long a1, MMapProt a2, MMapFlag a3, int a4, long a5) {
            return real().mmap(a0, a1, a2, a3, a4, a5);
        }

        @Override
        public long mmap(long a0, long a1, int a2, int a3, int a4, long a5) {
            return real().mmap(a0, a1, a2, a3, a4, a5);
        }

        @Override
        public boolean mlock(long a0, long a1) {
            return real().mlock(a0, a1);
        }

        @Override
        public boolean mlock2(long a0, long a1, boolean a2) {
            return real().mlock2(a0, a1, a2);
        }

        @Override
        public void mlockall(MclFlag a0) {
            real().mlockall(a0);
        }

        @Override
        public void mlockall(int a0) {
            real().mlockall(a0);
        }

        /**
         * Chronicle releases a mapping with {@code msync(MS_ASYNC)} unless its sync mode is NONE
         * (its metadata file is mapped with the JVM-wide default, ASYNC), so every recorded
         * process built the POSIX layer on its way out, for a call Linux has made a no-op since
         * 2.6.19 (msync(2): the kernel tracks dirty pages and writes them back anyway). Before the
         * layer exists that call is answered here; once it exists, it goes through. Any other
         * flag, or another kernel, builds the layer.
         */
        private boolean asyncNoOp(int flags) {
            return real == null && flags == MS_ASYNC && LINUX;
        }

        private static final int MS_ASYNC = 1;
        private static final boolean LINUX = "Linux".equals(System.getProperty("os.name"));

        @Override
        public int msync(long a0, long a1, MSyncFlag a2) {
            return a2 != null && asyncNoOp(a2.value()) ? 0 : real().msync(a0, a1, a2);
        }

        @Override
        public int msync(long a0, long a1, int a2) {
            return asyncNoOp(a2) ? 0 : real().msync(a0, a1, a2);
        }

        @Override
        public int munmap(long a0, long a1) {
            return real().munmap(a0, a1);
        }

        @Override
        public int open(CharSequence a0, OpenFlag a1, int a2) {
            return real().open(a0, a1, a2);
        }

        @Override
        public int open(CharSequence a0, int a1, int a2) {
            return real().open(a0, a1, a2);
        }

        @Override
        public long read(int a0, long a1, long a2) {
            return real().read(a0, a1, a2);
        }

        @Override
        public long write(int a0, long a1, long a2) {
            return real().write(a0, a1, a2);
        }

        @Override
        public long du(String a0) throws java.io.IOException {
            return real().du(a0);
        }

        @Override
        public int gettimeofday(long a0) {
            return real().gettimeofday(a0);
        }

        @Override
        public int sched_setaffinity(int a0, int a1, long a2) {
            return real().sched_setaffinity(a0, a1, a2);
        }

        @Override
        public int sched_getaffinity(int a0, int a1, long a2) {
            return real().sched_getaffinity(a0, a1, a2);
        }

        @Override
        public String sched_getaffinity_summary(int a0) {
            return real().sched_getaffinity_summary(a0);
        }

        @Override
        public int lastError() {
            return real().lastError();
        }

        @Override
        public int sched_setaffinity_as(int a0, int a1) {
            return real().sched_setaffinity_as(a0, a1);
        }

        @Override
        public int sched_setaffinity_range(int a0, int a1, int a2) {
            return real().sched_setaffinity_range(a0, a1, a2);
        }

        @Override
        public long gettimeofday() {
            return real().gettimeofday();
        }

        @Override
        public long clock_gettime() {
            return real().clock_gettime();
        }

        @Override
        public long clock_gettime(ClockId a0) throws IllegalArgumentException {
            return real().clock_gettime(a0);
        }

        @Override
        public long clock_gettime(int a0) throws IllegalArgumentException {
            return real().clock_gettime(a0);
        }

        @Override
        public long malloc(long a0) {
            return real().malloc(a0);
        }

        @Override
        public void free(long a0) {
            real().free(a0);
        }

        @Override
        public int get_nprocs() {
            return real().get_nprocs();
        }

        @Override
        public int get_nprocs_conf() {
            return real().get_nprocs_conf();
        }

        @Override
        public int getpid() {
            return real().getpid();
        }

        @Override
        public int gettid() {
            return real().gettid();
        }

        @Override
        public String strerror(int a0) {
            return real().strerror(a0);
        }

        @Override
        public String lastErrorStr() {
            return real().lastErrorStr();
        }
    }

    /** Own copy: this class is in another runtime package than the root's bootstrap classes. */
    private static String ms(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.1f", nanos / 1e6);
    }
}
