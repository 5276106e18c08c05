package dev.revenant.agent.runtime;

import java.io.IOException;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import dev.revenant.bridge.NetHooks;

/**
 * Payloads of socket determinants. Byte 0 is the kind ({@link NetHooks}), then little-endian:
 *
 * <pre>
 * BIND    kind | conn i64 | status i8 (0 bound, 1 failed) | address, or the error message
 * ACCEPT  kind | server conn i64 | conn i64 (-1 none pending, -2 failed) | remote address | local address, or message
 * READ    kind | conn i64 | n i32 (bytes read; -1 end of stream; -2 failed) | the n bytes, or message
 * WRITE   kind | conn i64 | write ordinal on the conn i64 | n i64 (bytes taken; -2 failed) | message if failed
 *         (only short and failed writes are logged: a write that takes everything is the rule)
 * SELECT  kind | count i32 | count x (conn i64 | fd i32 | epoll events i32)
 * CONNECT kind | op i8 (0 connect, 1 finishConnect) | conn i64 | result i8 (1 connected, 0 pending, 2 failed)
 *         | remote address | local address, or message if failed
 *         (tools decode this layout too: agent/cli/Decoded; change both together)
 * AVAIL   kind | conn i64 | n i32 (bytes available; -2 failed) | message if failed
 * address: length i8 (0 none, 4 or 16 IP bytes) | IP bytes | port u16
 * message: UTF-8 to the end of the payload
 * </pre>
 *
 * READ and WRITE serve channels ({@code ByteBuffer}) and streams (arrays) alike; a stream write
 * takes everything or fails, so only its failures are logged. BIND and ACCEPT serve
 * {@code ServerSocketChannel} and {@code ServerSocket} alike (an accepted socket is never "none").
 *
 * <p>In SELECT, {@code conn} is a connection id, {@link #WAKEUP} for the selector's own wake-up
 * descriptor, or {@link #UNTRACKED} for a descriptor the agent does not know (its number is kept).
 */
final class NetCodec {
    static final long NONE = -1;
    static final long FAILED = -2;
    static final long WAKEUP = -1;
    static final long UNTRACKED = -2;
    static final byte CONNECTED = 1;
    static final byte PENDING = 0;
    static final byte CONNECT_FAILED = 2;
    static final byte OP_CONNECT = 0;
    static final byte OP_FINISH = 1;

    private NetCodec() {}

    static ByteBuffer buffer(int kind, int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN).put((byte) kind);
    }

    static ByteBuffer read(byte[] payload) {
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        b.get();
        return b;
    }

    static int addressSize(SocketAddress a) {
        return a instanceof InetSocketAddress i && i.getAddress() != null ? 3 + i.getAddress().getAddress().length : 1;
    }

    static void putAddress(ByteBuffer b, SocketAddress a) {
        if (a instanceof InetSocketAddress i && i.getAddress() != null) {
            byte[] ip = i.getAddress().getAddress();
            b.put((byte) ip.length).put(ip).putShort((short) i.getPort());
        } else {
            b.put((byte) 0);
        }
    }

    static InetSocketAddress getAddress(ByteBuffer b) {
        int n = b.get();
        if (n == 0) {
            return null;
        }
        byte[] ip = new byte[n];
        b.get(ip);
        int port = b.getShort() & 0xFFFF;
        try {
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    static byte[] utf8(String s) {
        return (s == null ? "" : s).getBytes(StandardCharsets.UTF_8);
    }

    static String rest(ByteBuffer b) {
        byte[] m = new byte[b.remaining()];
        b.get(m);
        return new String(m, StandardCharsets.UTF_8);
    }

    /**
     * A failure as it is recorded: class and message, then (see {@link FailureShape}) the frames of
     * its stack above the hooked method, from which replay rebuilds an exception of the same shape.
     * Called in the hook of the method that threw.
     */
    static String message(Throwable t) {
        String m = t.getClass().getName() + ": " + (t.getMessage() == null ? "" : t.getMessage());
        String frames = FailureShape.framesOf(t);
        return frames == null ? m : m + FailureShape.SEPARATOR + frames;
    }

    /** Human-readable form for {@code inspect} and divergence reports. */
    static String describe(byte[] p) {
        try {
            ByteBuffer b = read(p);
            int kind = p[0] & 0xFF;
            switch (kind) {
                case NetHooks.BIND -> {
                    long conn = b.getLong();
                    return b.get() == 0 ? "bind conn " + conn + " to " + getAddress(b)
                            : "bind conn " + conn + " failed: " + FailureShape.text(rest(b));
                }
                case NetHooks.ACCEPT -> {
                    long server = b.getLong();
                    long conn = b.getLong();
                    if (conn == NONE) {
                        return "accept on conn " + server + ": none pending";
                    }
                    if (conn == FAILED) {
                        return "accept on conn " + server + " failed: " + FailureShape.text(rest(b));
                    }
                    return "accept on conn " + server + ": conn " + conn + " from " + getAddress(b);
                }
                case NetHooks.READ -> {
                    long conn = b.getLong();
                    int n = b.getInt();
                    if (n == -1) {
                        return "read conn " + conn + ": end of stream";
                    }
                    if (n == -2) {
                        return "read conn " + conn + " failed: " + FailureShape.text(rest(b));
                    }
                    StringBuilder sb = new StringBuilder("read conn " + conn + ": " + n + " bytes \"");
                    for (int i = 0; i < n && i < 48; i++) {
                        int c = b.get() & 0xFF;
                        sb.append(c == '\\' ? "\\\\" : c >= 0x20 && c < 0x7F ? String.valueOf((char) c)
                                : c == '\n' ? "\\n" : String.format("\\x%02x", c));
                    }
                    return sb.append(n > 48 ? "...\"" : "\"").toString();
                }
                case NetHooks.WRITE -> {
                    long conn = b.getLong();
                    long index = b.getLong();
                    long n = b.getLong();
                    return n == FAILED ? "write #" + index + " on conn " + conn + " failed: " + FailureShape.text(rest(b))
                            : "write #" + index + " on conn " + conn + ": only " + n + " bytes taken";
                }
                case NetHooks.SELECT -> {
                    int n = b.getInt();
                    StringBuilder sb = new StringBuilder("select: " + n + " ready");
                    for (int i = 0; i < n && i < 16; i++) {
                        long conn = b.getLong();
                        int fd = b.getInt();
                        int ev = b.getInt();
                        sb.append(i == 0 ? " [" : ", ")
                                .append(conn == WAKEUP ? "wakeup" : conn == UNTRACKED ? "fd " + fd : "conn " + conn)
                                .append(" 0x").append(Integer.toHexString(ev));
                    }
                    return sb.append(n > 0 ? (n > 16 ? ", ...]" : "]") : "").toString();
                }
                case NetHooks.CONNECT -> {
                    String op = b.get() == OP_FINISH ? "finishConnect" : "connect";
                    long conn = b.getLong();
                    byte result = b.get();
                    if (result == CONNECT_FAILED) {
                        return op + " conn " + conn + " failed: " + FailureShape.text(rest(b));
                    }
                    return op + " conn " + conn + (result == CONNECTED ? ": connected" : ": pending")
                            + (b.hasRemaining() ? " to " + getAddress(b) : "");
                }
                case NetHooks.AVAILABLE -> {
                    long conn = b.getLong();
                    int n = b.getInt();
                    return n == -2 ? "available conn " + conn + " failed: " + FailureShape.text(rest(b))
                            : "available conn " + conn + ": " + n + " bytes";
                }
                default -> {
                    return "kind " + kind;
                }
            }
        } catch (RuntimeException e) {
            return "socket determinant (" + p.length + " bytes, undecodable)";
        }
    }

    /**
     * The exception a recorded failure message stands for: the recorded class when it is a JDK
     * {@code IOException} (a {@code SocketTimeoutException} stays one) or {@code RuntimeException}
     * (an {@code IllegalBlockingModeException}), else a plain {@code IOException}.
     */
    static Throwable failure(String recorded) {
        int sep = recorded.indexOf(FailureShape.SEPARATOR);
        if (sep < 0) {
            return made(recorded); // logs from before frames were kept: the agent's own stack
        }
        Throwable e = made(recorded.substring(0, sep));
        FailureShape.shape(e, recorded.substring(sep + 1));
        return e;
    }

    private static Throwable made(String recorded) {
        int colon = recorded.indexOf(": ");
        String cls = colon > 0 ? recorded.substring(0, colon) : "";
        String msg = colon > 0 ? recorded.substring(colon + 2) : recorded;
        if (cls.startsWith("java.")) {
            try {
                Class<?> c = Class.forName(cls, false, null);
                if (IOException.class.isAssignableFrom(c) || RuntimeException.class.isAssignableFrom(c)) {
                    try {
                        return (Throwable) c.getConstructor(String.class).newInstance(msg.isEmpty() ? null : msg);
                    } catch (NoSuchMethodException e) {
                        return (Throwable) c.getConstructor().newInstance();
                    }
                }
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // fall through to a plain IOException
            }
        }
        return new IOException(msg);
    }
}
