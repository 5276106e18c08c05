package dev.revenant.agent.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The {@code check=stamps} debugging mode. Identity hashes are stamped from a per-thread counter,
 * so work that hashes an object on a thread in one role only (record or replay) moves every later
 * hash of that thread; a hashed set then iterates in another order thousands of events later, and
 * the divergence report names that late point, not the cause. In this mode the recorder follows
 * each determinant with a {@code STAMP_CHECK} record holding the thread's stamp counter and tick
 * at that determinant; replay compares both when it hands the determinant out and stops at the
 * first one where they part, so the cause lies between it and the thread's previous determinant.
 */
public final class StampCheck {
    private StampCheck() {}

    /** The record's payload: stamp counter, then tick, 8 bytes each. */
    static byte[] payload(long stamps, long ticks) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(stamps).putLong(ticks).array();
    }

    /** The stamp counter a {@code STAMP_CHECK} record holds. */
    public static long stamps(byte[] payload) {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    /** The tick a {@code STAMP_CHECK} record holds. */
    public static long ticks(byte[] payload) {
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
    }

    /** Why replay stops when the recorded counters differ from this run's, or null when they agree. */
    static String mismatch(byte[] recorded, long seq, long stamps, long ticks) {
        long rs = stamps(recorded);
        long rt = ticks(recorded);
        if (rs == stamps && rt == ticks) {
            return null;
        }
        StringBuilder b = new StringBuilder("check=stamps: at this determinant the thread had ");
        if (rs != stamps) {
            b.append("stamped ").append(rs).append(" identity hashes when recorded and ").append(stamps)
                    .append(" here");
        }
        if (rt != ticks) {
            b.append(rs != stamps ? ", and " : "").append("passed ").append(rt)
                    .append(" scheduling points when recorded and ").append(ticks).append(" here");
        }
        b.append(". Something ")
                .append(rs != stamps ? "hashed an object" : "reached a scheduling point")
                .append(" on this thread in one run only, after its previous determinant (sequence ")
                .append(seq - 1).append(") and before this one; REVENANT_TRACE_TICKS=<dir> in both runs traces each"
                        + " stamp and tick with the frames that made it");
        return b.toString();
    }
}
