package dev.revenant.agent.instrument;

import java.io.FileDescriptor;
import java.net.InetAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;

import dev.revenant.bridge.NetHooks;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.implementation.bytecode.assign.Assigner;

/**
 * Advice inlined into {@code sun.nio.ch} socket channels and {@code NioSocketImpl}. Each enter asks
 * {@link NetHooks}; a non-null answer skips the JDK method and becomes its result (or, if it is a
 * Throwable, what it throws). Only when the JDK method ran does the exit report its outcome.
 *
 * <p>The advice for {@code NioSocketImpl} and for the adaptor methods of the channels reads the
 * {@code fd} field: a {@code FileDescriptor} in {@code SocketImpl}, {@code SocketChannelImpl} and
 * {@code ServerSocketChannelImpl} alike, on JDK 17 and 25.
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

    // ------------------------------------------------------------ NioSocketImpl and adaptors

    /** {@code NioSocketImpl.bind(InetAddress, int)}: what {@code ServerSocket.bind} and {@code Socket.bind} call first. */
    static final class ImplBind {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                            @Advice.Argument(0) InetAddress host, @Advice.Argument(1) int port) {
            return NetHooks.implBindEnter(self, NetHooks.fdVal(fd), host, port);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                         @Advice.Enter Object replayed, @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.implBindExit(self, NetHooks.fdVal(fd), thrown);
            } else if (replayed instanceof Throwable) {
                thrown = (Throwable) replayed;
            }
        }
    }

    /** {@code NioSocketImpl.listen(int)}: skipped while the server socket is hidden (replay). */
    static final class ImplListen {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static boolean enter(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) int backlog) {
            return NetHooks.listenEnter(NetHooks.fdVal(fd), backlog);
        }
    }

    /** {@code NioSocketImpl.accept(SocketImpl)}: fills the given (new) SocketImpl with the connection. */
    static final class ImplAccept {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) Object si) {
            return NetHooks.implAcceptEnter(NetHooks.fdVal(fd), si);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) Object si,
                         @Advice.Enter Object replayed, @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.implAcceptExit(NetHooks.fdVal(fd), si, thrown);
            } else if (replayed instanceof Throwable) {
                thrown = (Throwable) replayed;
            }
        }
    }

    /**
     * Reads into an array: {@code NioSocketImpl.read(byte[], int, int)} (every read of a
     * {@code Socket}'s stream, timeouts included) and {@code SocketChannelImpl.blockingRead(byte[],
     * int, int, long)} (the adaptor's stream).
     */
    static final class StreamRead {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) byte[] b,
                            @Advice.Argument(1) int off, @Advice.Argument(2) int len) {
            return NetHooks.streamReadEnter(NetHooks.fdVal(fd), b, off, len);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) byte[] b,
                         @Advice.Argument(1) int off, @Advice.Argument(2) int len, @Advice.Enter Object replayed,
                         @Advice.Return(readOnly = false) int ret, @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.streamReadExit(NetHooks.fdVal(fd), b, off, len, ret, thrown);
            } else if (replayed instanceof Integer) {
                ret = (Integer) replayed;
            } else {
                thrown = (Throwable) replayed;
            }
        }
    }

    /** Writes a whole array: {@code NioSocketImpl.write(byte[], int, int)}, {@code SocketChannelImpl.blockingWriteFully}. */
    static final class StreamWrite {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                            @Advice.Argument(0) byte[] b, @Advice.Argument(1) int off, @Advice.Argument(2) int len) {
            return NetHooks.streamWriteEnter(self, NetHooks.fdVal(fd), b, off, len);
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) byte[] b,
                         @Advice.Argument(1) int off, @Advice.Argument(2) int len, @Advice.Enter Object replayed,
                         @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.streamWriteExit(NetHooks.fdVal(fd), b, off, len, thrown);
            } else if (replayed instanceof Throwable) {
                thrown = (Throwable) replayed;
            }
        }
    }

    /** {@code available()} of {@code NioSocketImpl} and {@code SocketChannelImpl} (the adaptor's stream). */
    static final class Available {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.FieldValue("fd") FileDescriptor fd) {
            return NetHooks.availableEnter(NetHooks.fdVal(fd));
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Enter Object replayed,
                         @Advice.Return(readOnly = false) int ret, @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.availableExit(NetHooks.fdVal(fd), ret, thrown);
            } else if (replayed instanceof Integer) {
                ret = (Integer) replayed;
            } else {
                thrown = (Throwable) replayed;
            }
        }
    }

    /**
     * Outgoing connects that return nothing: {@code NioSocketImpl.connect(SocketAddress, int)} and
     * {@code SocketChannelImpl.blockingConnect(SocketAddress, long)}. In replay the enter may hand
     * back another address (the agent's loopback listener) for the JDK to connect to instead.
     */
    static final class VoidConnect {
        @Advice.OnMethodEnter(skipOn = Throwable.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                            @Advice.Argument(value = 0, readOnly = false) SocketAddress remote) {
            Object r = NetHooks.connectEnter(self, NetHooks.fdVal(fd), remote);
            if (r instanceof SocketAddress) {
                remote = (SocketAddress) r;
            }
            return r;
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                         @Advice.Argument(0) SocketAddress remote, @Advice.Enter Object entered,
                         @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (entered instanceof Throwable) {
                thrown = (Throwable) entered;
            } else {
                Object r = NetHooks.connectExit(self, NetHooks.fdVal(fd), remote, entered, true, thrown);
                if (r instanceof Throwable) {
                    thrown = (Throwable) r;
                }
            }
        }
    }

    /** {@code SocketChannelImpl.connect(SocketAddress)}: connected now, or pending (non-blocking). */
    static final class ChannelConnect {
        @Advice.OnMethodEnter(skipOn = Throwable.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                            @Advice.Argument(value = 0, readOnly = false) SocketAddress remote) {
            Object r = NetHooks.connectEnter(self, NetHooks.fdVal(fd), remote);
            if (r instanceof SocketAddress) {
                remote = (SocketAddress) r;
            }
            return r;
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd,
                         @Advice.Argument(0) SocketAddress remote, @Advice.Enter Object entered,
                         @Advice.Return(readOnly = false) boolean ret, @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (entered instanceof Throwable) {
                thrown = (Throwable) entered;
            } else {
                Object r = NetHooks.connectExit(self, NetHooks.fdVal(fd), remote, entered, ret, thrown);
                if (r instanceof Boolean) {
                    ret = (Boolean) r;
                } else if (r instanceof Throwable) {
                    thrown = (Throwable) r;
                }
            }
        }
    }

    /** {@code SocketChannelImpl.finishConnect()}: whether a pending connect completed is an outcome. */
    static final class FinishConnect {
        @Advice.OnMethodEnter(skipOn = Advice.OnNonDefaultValue.class, suppress = Throwable.class)
        static Object enter(@Advice.This Object self, @Advice.FieldValue("fd") FileDescriptor fd) {
            return NetHooks.finishConnectEnter(self, NetHooks.fdVal(fd));
        }

        @Advice.OnMethodExit(onThrowable = Throwable.class, suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Enter Object replayed,
                         @Advice.Return(readOnly = false) boolean ret, @Advice.Thrown(readOnly = false) Throwable thrown) {
            if (replayed == null) {
                NetHooks.finishConnectExit(NetHooks.fdVal(fd), ret, thrown);
            } else if (replayed instanceof Boolean) {
                ret = (Boolean) replayed;
            } else {
                thrown = (Throwable) replayed;
            }
        }
    }

    /** {@code NioSocketImpl.close()}: held output leaves first; a stand-in's peer closes too. */
    static final class ImplClose {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.FieldValue("fd") FileDescriptor fd) {
            NetHooks.implClosing(NetHooks.fdVal(fd));
        }
    }

    /** {@code NioSocketImpl.shutdownOutput()}: held output leaves before the FIN. */
    static final class ImplShutdownOutput {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.FieldValue("fd") FileDescriptor fd) {
            NetHooks.shuttingDownOutput(NetHooks.fdVal(fd));
        }
    }

    /** {@code NioSocketImpl.getOption(int)}: {@code SO_BINDADDR} (Socket.getLocalAddress) as recorded. */
    static final class BindAddress {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("fd") FileDescriptor fd, @Advice.Argument(0) int option,
                         @Advice.Return(readOnly = false, typing = Assigner.Typing.DYNAMIC) Object ret) {
            ret = NetHooks.bindAddress(NetHooks.fdVal(fd), option, ret);
        }
    }
}
