package dev.revenant.bridge;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Reads and writes the JDK-private fields the hooks need (a thread's ThreadLocalRandom seed and
 * probe) through {@code jdk.internal.misc.Unsafe}, which premain exports to this module. Looked up
 * reflectively: {@code javac --release 17} does not let code name that package.
 */
final class JdkAccess {
    private static final Object U;
    private static final MethodHandle GET_LONG;
    private static final MethodHandle GET_INT;
    private static final MethodHandle PUT_LONG;
    private static final MethodHandle PUT_INT;
    private static final MethodHandle GET_REFERENCE;
    private static final MethodHandle FIELD_OFFSET;
    private static final long SEED;
    private static final long PROBE;
    private static final long FD;

    static {
        try {
            Class<?> c = Class.forName("jdk.internal.misc.Unsafe");
            U = c.getMethod("getUnsafe").invoke(null);
            MethodHandles.Lookup l = MethodHandles.lookup();
            MethodHandle offset = l.findVirtual(c, "objectFieldOffset",
                    MethodType.methodType(long.class, Class.class, String.class));
            FIELD_OFFSET = offset.bindTo(U);
            SEED = (long) offset.invoke(U, Thread.class, "threadLocalRandomSeed");
            PROBE = (long) offset.invoke(U, Thread.class, "threadLocalRandomProbe");
            FD = (long) offset.invoke(U, java.io.FileDescriptor.class, "fd");
            GET_LONG = l.findVirtual(c, "getLong", MethodType.methodType(long.class, Object.class, long.class)).bindTo(U);
            GET_INT = l.findVirtual(c, "getInt", MethodType.methodType(int.class, Object.class, long.class)).bindTo(U);
            PUT_LONG = l.findVirtual(c, "putLong", MethodType.methodType(void.class, Object.class, long.class, long.class))
                    .bindTo(U);
            PUT_INT = l.findVirtual(c, "putInt", MethodType.methodType(void.class, Object.class, long.class, int.class))
                    .bindTo(U);
            GET_REFERENCE = l.findVirtual(c, "getReference", MethodType.methodType(Object.class, Object.class, long.class))
                    .bindTo(U);
        } catch (Throwable t) {
            throw new ExceptionInInitializerError(t);
        }
    }

    private JdkAccess() {}

    /** {@code Unsafe.park(boolean, long)} bound to the JDK's Unsafe: the park the scheduler's hook makes for real. */
    static MethodHandle parkHandle() {
        try {
            return MethodHandles.lookup().findVirtual(U.getClass(), "park",
                    MethodType.methodType(void.class, boolean.class, long.class)).bindTo(U);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static long threadLocalRandomSeed(Thread t) {
        try {
            return (long) GET_LONG.invokeExact((Object) t, SEED);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    static int threadLocalRandomProbe(Thread t) {
        try {
            return (int) GET_INT.invokeExact((Object) t, PROBE);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    static void setThreadLocalRandom(Thread t, long seed, int probe) {
        try {
            PUT_LONG.invokeExact((Object) t, SEED, seed);
            PUT_INT.invokeExact((Object) t, PROBE, probe);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** The number inside a {@code FileDescriptor}; -1 for null (a socket not created yet). */
    static int fdVal(Object fileDescriptor) {
        if (fileDescriptor == null) {
            return -1;
        }
        try {
            return (int) GET_INT.invokeExact(fileDescriptor, FD);
        } catch (Throwable e) {
            return -1;
        }
    }

    /** The offset of a declared field, for {@link #getObject} and {@link #getInt}. */
    static long fieldOffset(Class<?> c, String field) throws Throwable {
        return (long) FIELD_OFFSET.invokeExact(c, field);
    }

    /** Reads an object field at {@code offset} (from {@link #fieldOffset}); null if it cannot. */
    static Object getObject(Object o, long offset) {
        try {
            return (Object) GET_REFERENCE.invokeExact(o, offset);
        } catch (Throwable e) {
            return null;
        }
    }

    /** Reads an int field at {@code offset} (from {@link #fieldOffset}); -1 if it cannot. */
    static int getInt(Object o, long offset) {
        try {
            return (int) GET_INT.invokeExact(o, offset);
        } catch (Throwable e) {
            return -1;
        }
    }
}
