package dev.revenant.agent.instrument;

import java.net.SocketAddress;
import java.nio.ByteBuffer;

import dev.revenant.bridge.NetHooks;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bytecode.assign.Assigner;

/**
 * Advice inlined into {@code sun.nio.ch} socket channels. Each enter asks {@link NetHooks}; a
 * non-null answer skips the JDK method and becomes its result (or, if it is a Throwable, what it
 * throws). Only when the JDK method ran does the exit report its outcome.
 */
final class NetAdvice {
    private NetAdvice() {}

    /** {@code ServerSocketChannelImpl.bind(SocketAddress, int)}. */
    static final class Bind {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fdVal") int fd,
                            @Advice.Argument(0) SocketAddress local, @Advice.Argument(1) int backlog) {
            return NetHooks.bindEnter(self, fd, local, backlog);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fdVal") int fd, @Advice.Enter Object replayed,
                         @Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) Object ret,
                         @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.bindExit(fd, ret, thrown);
            } else if (replayed instanceof Throwable) {
                thrown = (Throwable) replayed;
            } else {
                ret = replayed;
            }
        }
    }

    /** {@code ServerSocketChannelImpl.accept()}. */
    static final class Accept {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.FieldValue("fdVal") int fd) {
            return NetHooks.acceptEnter(fd);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fdVal") int fd, @Advice.Enter Object replayed,
                         @Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) Object ret,
                         @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.acceptExit(fd, ret, thrown);
            } else if (replayed == NetHooks.NO_CONNECTION) {
                ret = null;
            } else if (replayed instanceof Throwable) {
                thrown = (Throwable) replayed;
            } else {
                ret = replayed;
            }
        }
    }

    /** {@code SocketChannelImpl.read(ByteBuffer)}. */
    static final class Read {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.FieldValue("fdVal") int fd, @Advice.Argument(0) ByteBuffer dst) {
            return NetHooks.readEnter(fd, dst);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fdVal") int fd, @Advice.Argument(0) ByteBuffer dst,
                         @Advice.Enter Object replayed, @Advice.Return(readOnly = false) int ret,
                         @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.readExit(fd, dst, ret, thrown);
            } else if (replayed instanceof Integer) {
                ret = (Integer) replayed;
            } else {
                thrown = (Throwable) replayed;
            }
        }
    }

    /** {@code SocketChannelImpl.write(ByteBuffer)}. */
    static final class Write {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fdVal") int fd,
                            @Advice.Argument(0) ByteBuffer src) {
            return NetHooks.writeEnter(self, fd, src);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fdVal") int fd, @Advice.Argument(0) ByteBuffer src,
                         @Advice.Enter Object replayed, @Advice.Return(readOnly = false) int ret,
                         @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.writeExit(fd, ret, thrown, src);
            } else if (replayed instanceof Integer) {
                ret = (Integer) replayed;
            } else {
                thrown = (Throwable) replayed;
            }
        }
    }

    /** Scatter/gather I/O on a socket channel: not recorded yet, said once. */
    static final class Vectored {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter() {
            NetHooks.unsupported("scatter/gather socket I/O (SocketChannel.read/write of ByteBuffer[])");
        }
    }

    /** {@code getLocalAddress()} / {@code localAddress()} of socket and server socket channels. */
    static final class LocalAddress {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fdVal") int fd,
                         @Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) SocketAddress ret) {
            ret = NetHooks.localAddress(fd, ret);
        }
    }

    /** {@code getRemoteAddress()} / {@code remoteAddress()} of socket channels. */
    static final class RemoteAddress {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fdVal") int fd,
                         @Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) SocketAddress ret) {
            ret = NetHooks.remoteAddress(fd, ret);
        }
    }

    /** {@code SocketChannelImpl.shutdownOutput()}: held output leaves before the FIN. */
    static final class ShutdownOutput {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.FieldValue("fdVal") int fd) {
            NetHooks.shuttingDownOutput(fd);
        }
    }

    /** {@code AbstractInterruptibleChannel.close()}: held output leaves before the channel closes. */
    static final class Close {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object self) {
            NetHooks.closing(self);
        }
    }

    /** Constructor of {@code EPollSelectorImpl}: remembers its wake-up descriptor. */
    static final class SelectorOpened {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("epfd") int epfd, @Advice.FieldValue("eventfd") Object eventfd) {
            NetHooks.selectorOpened(epfd, eventfd);
        }
    }

    /** Constructors of channel kinds that are not recorded yet. */
    static final class Unsupported {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Origin("#t") String type) {
            NetHooks.unsupported(type);
        }
    }
}
