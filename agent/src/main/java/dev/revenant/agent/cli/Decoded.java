package dev.revenant.agent.cli;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import dev.revenant.agent.runtime.DeterminantCodec;
import dev.revenant.agent.runtime.StampCheck;
import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.NetHooks;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;

/**
 * A record's payload taken apart into named fields, for the commands that need more than the
 * one-line description ({@code export}, {@code inspect --conn}, {@code stats}, {@code diff}).
 *
 * <p>The socket layouts read here are the ones {@code NetCodec} documents (byte 0 the kind, then
 * little-endian fields). The human-readable {@link #summary} still comes from
 * {@link DeterminantCodec#describe}, so the text the CLI prints has one source; a payload that
 * does not parse keeps its raw bytes in {@link #data} and says so in {@link #error}.
 */
final class Decoded {
    /** In an ACCEPT: no connection was pending; in a READ count: end of stream. */
    static final long NONE = -1;
    /** The call failed (the message is in {@link #error}). */
    static final long FAILED = -2;
    /** In a SELECT entry: the selector's own wake-up descriptor, not a connection. */
    static final long WAKEUP = -1;
    /** In a SELECT entry: a descriptor the agent does not know; its number is in the entry. */
    static final long UNTRACKED = -2;

    /** One ready descriptor of a SELECT. */
    record Ready(long conn, int fd, int events) {
        String label() {
            return (conn == WAKEUP ? "wakeup" : conn == UNTRACKED ? "fd" + fd : "conn" + conn)
                    + ":0x" + Integer.toHexString(events);
        }
    }

    /** Payload byte 0 for determinant records, -1 for records that carry none (headers, notes). */
    int kindCode = -1;
    /** Name of the kind ({@code System.nanoTime}, {@code socket read}, ...), null without one. */
    String kind;
    /** Clock, random and wait values: the first (and second, for pairs) number. */
    Long value;
    Long value2;
    /** The connection the record is about: bound, accepted (or NONE/FAILED), read from, written to. */
    Long conn;
    /** ACCEPT: the server connection accepted on. */
    Long serverConn;
    /** READ: bytes read (-1 end of stream, -2 failed); WRITE: bytes taken; SELECT: ready descriptors. */
    Long count;
    /** WRITE: the ordinal of the write on its connection. */
    Long ordinal;
    /** BIND: address bound; ACCEPT: the peer's address. */
    String address;
    /** ACCEPT: the local end's address. */
    String localAddress;
    /** A failed call's message, or why the payload could not be taken apart. */
    String error;
    /** SELECT: the ready set. */
    List<Ready> ready;
    /**
     * Bytes the record carries: a read's data, SecureRandom bytes, a header's or an environment's
     * encoded text, a note; null when everything is in the fields above.
     */
    byte[] data;
    /** One line for people, as {@code inspect} prints it. */
    String summary;

    private Decoded() {}

    static Decoded of(LogRecord r) {
        Decoded d = new Decoded();
        byte[] p = r.payload();
        switch (r.type()) {
            case RecordTypes.HEADER -> {
                d.data = p;
                d.summary = LogHeader.fields(p).toString();
            }
            case RecordTypes.CLOCK, RecordTypes.TIMED_WAIT, RecordTypes.RANDOM, RecordTypes.SOCKET_ACCEPT,
                    RecordTypes.SOCKET_READ, RecordTypes.SOCKET_WRITE, RecordTypes.SELECT, RecordTypes.SCHEDULE ->
                    d.determinant(p);
            case RecordTypes.STAMP_CHECK -> {
                d.data = p;
                d.summary = p.length == 16
                        ? "stamp check of sequence " + r.threadSeq() + ": " + StampCheck.stamps(p) + " stamps, tick "
                                + StampCheck.ticks(p)
                        : InspectCommand.escaped(p, 64);
            }
            default -> {
                d.data = p;
                d.summary = InspectCommand.escaped(p, 64);
            }
        }
        return d;
    }

    private void determinant(byte[] p) {
        summary = DeterminantCodec.describe(p);
        if (p.length == 0) {
            error = "empty payload";
            return;
        }
        kindCode = p[0] & 0xFF;
        String net = NetHooks.kindName(kindCode);
        kind = net != null ? net : Hooks.kindName(kindCode);
        ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.LITTLE_ENDIAN);
        b.get();
        try {
            if (net != null) {
                socket(b);
            } else if (p.length == 9) {
                value = b.getLong();
            } else if (p.length == 17) {
                value = b.getLong();
                value2 = b.getLong();
            } else {
                data = Arrays.copyOfRange(p, 1, p.length);
            }
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            error = "payload of " + p.length + " bytes does not parse as " + kind;
            data = p;
        }
    }

    private void socket(ByteBuffer b) {
        switch (kindCode) {
            case NetHooks.BIND -> {
                conn = b.getLong();
                if (b.get() == 0) {
                    address = address(b);
                } else {
                    error = rest(b);
                }
            }
            case NetHooks.ACCEPT -> {
                serverConn = b.getLong();
                conn = b.getLong();
                if (conn == FAILED) {
                    error = rest(b);
                } else if (conn != NONE) {
                    address = address(b);
                    localAddress = address(b);
                }
            }
            case NetHooks.READ -> {
                conn = b.getLong();
                count = (long) b.getInt();
                if (count == FAILED) {
                    error = rest(b);
                } else if (count >= 0) {
                    data = new byte[count.intValue()];
                    b.get(data);
                }
            }
            case NetHooks.WRITE -> {
                conn = b.getLong();
                ordinal = b.getLong();
                count = b.getLong();
                if (count == FAILED) {
                    error = rest(b);
                }
            }
            case NetHooks.SELECT -> {
                int n = b.getInt();
                if (n < 0 || n > b.remaining() / 16) {
                    throw new IllegalArgumentException("ready count " + n);
                }
                count = (long) n;
                ready = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    ready.add(new Ready(b.getLong(), b.getInt(), b.getInt()));
                }
            }
            case NetHooks.CONNECT -> {
                b.get(); // 0 connect, 1 finishConnect
                conn = b.getLong();
                byte result = b.get();
                count = (long) result; // 1 connected, 0 pending, 2 failed
                if (result == 2) {
                    error = rest(b);
                } else if (b.hasRemaining()) {
                    address = address(b);
                }
            }
            case NetHooks.AVAILABLE -> {
                conn = b.getLong();
                count = (long) b.getInt();
                if (count == FAILED) {
                    error = rest(b);
                }
            }
            default -> data = Arrays.copyOfRange(b.array(), 1, b.array().length);
        }
    }

    /** length i8 (0: none) | IP bytes | port u16, as {@code host:port} ({@code [v6]:port}). */
    private static String address(ByteBuffer b) {
        int n = b.get();
        if (n == 0) {
            return null;
        }
        if (n != 4 && n != 16) {
            throw new IllegalArgumentException("address length " + n);
        }
        byte[] ip = new byte[n];
        b.get(ip);
        int port = b.getShort() & 0xFFFF;
        try {
            String host = InetAddress.getByAddress(ip).getHostAddress();
            return (n == 16 ? "[" + host + "]" : host) + ":" + port;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A failure's message (the frames recorded behind it are for replay only). */
    private static String rest(ByteBuffer b) {
        byte[] m = new byte[b.remaining()];
        b.get(m);
        return dev.revenant.agent.runtime.FailureShape.text(new String(m, StandardCharsets.UTF_8));
    }

    /** True if the record is about connection {@code c}: binds it, accepts it or on it, reads, writes, or selects it. */
    boolean names(long c) {
        if (c < 0) {
            return false;
        }
        if ((conn != null && conn == c) || (serverConn != null && serverConn == c)) {
            return true;
        }
        if (ready != null) {
            for (Ready e : ready) {
                if (e.conn() == c) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The ready set as {@code conn1:0x1 wakeup:0x1}, or null. */
    String readyText() {
        if (ready == null) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        for (Ready e : ready) {
            sb.append(sb.length() == 0 ? "" : " ").append(e.label());
        }
        return sb.toString();
    }

    /** True for the record types replay hands back to the app (what {@code diff} compares). */
    static boolean isDeterminant(int type) {
        return type == RecordTypes.CLOCK || type == RecordTypes.TIMED_WAIT || type == RecordTypes.RANDOM
                || type == RecordTypes.SOCKET_ACCEPT || type == RecordTypes.SOCKET_READ
                || type == RecordTypes.SOCKET_WRITE || type == RecordTypes.SELECT || type == RecordTypes.SCHEDULE;
    }
}
