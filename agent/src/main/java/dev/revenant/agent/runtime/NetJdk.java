package dev.revenant.agent.runtime;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The JDK internals the socket hooks use. A holder of its own: loading it loads
 * {@code SocketChannelImpl} and friends. Recording initialises it on a background thread while
 * {@code main} starts ({@link NetRuntime#prepareInBackground}); an app thread that needs it earlier
 * waits for that initialisation, as the JVM makes every thread wait for a class being initialised.
 */
final class NetJdk {
    static final MethodHandle EPOLL_WAIT;
    static final MethodHandle SOCKET_FD;
    static final MethodHandle SERVER_FD;
    static final MethodHandle EVENTFD_FD;
    static final MethodHandle GET_INT;
    static final MethodHandle PUT_INT;
    static final int EVENT_SIZE;
    static final int EVENTS_OFFSET;
    static final int FD_OFFSET;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            Class<?> epoll = Class.forName("sun.nio.ch.EPoll");
            MethodHandles.Lookup el = MethodHandles.privateLookupIn(epoll, l);
            EPOLL_WAIT = el.findStatic(epoll, "wait", MethodType.methodType(int.class, int.class, long.class, int.class,
                    int.class));
            EVENT_SIZE = (int) el.findStaticVarHandle(epoll, "SIZEOF_EPOLLEVENT", int.class).get();
            EVENTS_OFFSET = (int) el.findStaticVarHandle(epoll, "OFFSETOF_EVENTS", int.class).get();
            FD_OFFSET = (int) el.findStaticVarHandle(epoll, "OFFSETOF_FD", int.class).get();
            Class<?> sc = Class.forName("sun.nio.ch.SocketChannelImpl");
            SOCKET_FD = MethodHandles.privateLookupIn(sc, l).findGetter(sc, "fdVal", int.class)
                    .asType(MethodType.methodType(int.class, Object.class));
            Class<?> ssc = Class.forName("sun.nio.ch.ServerSocketChannelImpl");
            SERVER_FD = MethodHandles.privateLookupIn(ssc, l).findGetter(ssc, "fdVal", int.class)
                    .asType(MethodType.methodType(int.class, Object.class));
            Class<?> ev = Class.forName("sun.nio.ch.EventFD");
            EVENTFD_FD = MethodHandles.privateLookupIn(ev, l).findGetter(ev, "efd", int.class)
                    .asType(MethodType.methodType(int.class, Object.class));
            Class<?> u = Class.forName("jdk.internal.misc.Unsafe");
            Object unsafe = u.getMethod("getUnsafe").invoke(null);
            GET_INT = l.findVirtual(u, "getInt", MethodType.methodType(int.class, long.class)).bindTo(unsafe);
            PUT_INT = l.findVirtual(u, "putInt", MethodType.methodType(void.class, long.class, int.class)).bindTo(unsafe);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private NetJdk() {}

    static int fdOf(Object socketChannel) {
        try {
            return (int) SOCKET_FD.invokeExact(socketChannel);
        } catch (Throwable e) {
            return -1;
        }
    }

    static int serverFdOf(Object serverChannel) {
        try {
            return (int) SERVER_FD.invokeExact(serverChannel);
        } catch (Throwable e) {
            return -1;
        }
    }

    /** The JDK's own native wait. */
    static int liveEpollWait(int epfd, long address, int max, int timeout) throws IOException {
        try {
            return (int) EPOLL_WAIT.invokeExact(epfd, address, max, timeout);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IOException(e);
        }
    }
}
