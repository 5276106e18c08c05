package dev.revenant.agent.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.NetHooks;
import dev.revenant.log.RecordTypes;

/**
 * Payloads of determinant records: byte 0 is the {@link Hooks} kind, then little-endian values:
 * one i64 ({@code value}), two i64 ({@code pair}), or the raw bytes ({@code bytes}).
 */
public final class DeterminantCodec {
    private DeterminantCodec() {}

    static int recordType(int kind) {
        return switch (kind) {
            case Hooks.NANO_TIME, Hooks.CURRENT_MILLIS, Hooks.INSTANT, Hooks.CLOCK_MILLIS -> RecordTypes.CLOCK;
            case Hooks.SLEEP, Hooks.TIMED_WAIT, Hooks.PARK_NANOS -> RecordTypes.TIMED_WAIT;
            case NetHooks.BIND, NetHooks.ACCEPT, NetHooks.CONNECT -> RecordTypes.SOCKET_ACCEPT;
            case NetHooks.READ, NetHooks.AVAILABLE -> RecordTypes.SOCKET_READ;
            case NetHooks.WRITE -> RecordTypes.SOCKET_WRITE;
            case NetHooks.SELECT -> RecordTypes.SELECT;
            case Hooks.SWITCH -> RecordTypes.SCHEDULE;
            default -> RecordTypes.RANDOM;
        };
    }

    static byte[] value(int kind, long v) {
        return ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN).put((byte) kind).putLong(v).array();
    }

    static byte[] pair(int kind, long a, long b) {
        return ByteBuffer.allocate(17).order(ByteOrder.LITTLE_ENDIAN).put((byte) kind).putLong(a).putLong(b).array();
    }

    static byte[] bytes(int kind, byte[] buf, int off, int len) {
        byte[] p = new byte[1 + len];
        p[0] = (byte) kind;
        System.arraycopy(buf, off, p, 1, len);
        return p;
    }

    static int kind(byte[] payload) {
        return payload.length == 0 ? -1 : payload[0] & 0xFF;
    }

    static long first(byte[] payload) {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong(1);
    }

    static long second(byte[] payload) {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong(9);
    }

    /** Name of a kind of determinant, for reports. */
    static String kindName(int kind) {
        String n = NetHooks.kindName(kind);
        return n != null ? n : Hooks.kindName(kind);
    }

    /** Human-readable form for divergence reports and {@code inspect}. */
    public static String describe(byte[] payload) {
        int kind = kind(payload);
        if (NetHooks.kindName(kind) != null) {
            return NetCodec.describe(payload);
        }
        String name = Hooks.kindName(kind);
        if (kind == Hooks.SWITCH && payload.length == 17) {
            long from = first(payload);
            long tick = second(payload); // the opening mark's (from thread 0) is the preemption budget
            return from == 0 ? "serial schedule: this thread starts with the run token"
                    + (tick > 0 ? "; preemption every " + tick + " loop back-edges" : "; no preemption")
                    : "run token to this thread from thread " + from + " at its tick "
                            + dev.revenant.agent.runtime.schedule.SerialScheduler.describeTick(tick);
        }
        if (payload.length == 9) {
            return name + " = " + first(payload);
        }
        if (payload.length == 17) {
            return name + " = (" + first(payload) + ", " + second(payload) + ")";
        }
        return name + " (" + (payload.length - 1) + " bytes)";
    }
}
