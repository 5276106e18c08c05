package dev.revenant.log;

import java.util.Map;
import java.util.TreeMap;

/**
 * The record type codes. The log itself only interprets {@link #HEADER}; the rest are named here
 * so that every tool prints the same names. Codes are part of the on-disk format: never reuse one.
 */
public final class RecordTypes {
    /** First record a writer session writes: format version, app fingerprint, epoch, what it found before it. */
    public static final int HEADER = 1;
    /** Start-up environment (arguments, environment variables, system properties). */
    public static final int ENVIRONMENT = 2;
    /**
     * Second record of a session that a recovered process started when it went live: the session
     * continues the run of the sessions before it (a replay goes on through it), unlike a session
     * that starts a fresh run with its own {@link #ENVIRONMENT}.
     */
    public static final int CONTINUES = 3;
    /** A clock read and its value. */
    public static final int CLOCK = 10;
    /** A timed wait and how it ended (signalled or timed out). */
    public static final int TIMED_WAIT = 11;
    /** A seed or random bytes. */
    public static final int RANDOM = 12;
    /** A server socket bound, or a connection accepted (or none pending). */
    public static final int SOCKET_ACCEPT = 20;
    /** Bytes read from a connection. */
    public static final int SOCKET_READ = 21;
    /** Outcome of a write to a connection (count written). */
    public static final int SOCKET_WRITE = 22;
    /** Ready set returned by a selector. */
    public static final int SELECT = 23;
    /** A thread switch made by the scheduler. */
    public static final int SCHEDULE = 30;
    /**
     * With {@code check=stamps}: the identity-hash stamp counter and scheduling tick its thread had
     * at the determinant it follows (same thread, same sequence number), for replay to compare.
     */
    public static final int STAMP_CHECK = 31;
    /** A checkpoint became durable and covers the log up to the position it names. */
    public static final int CHECKPOINT = 40;
    /** Free-form marker written by tools and tests. */
    public static final int NOTE = 100;

    private static final Map<Integer, String> NAMES = new TreeMap<>();

    static {
        NAMES.put(HEADER, "HEADER");
        NAMES.put(ENVIRONMENT, "ENVIRONMENT");
        NAMES.put(CONTINUES, "CONTINUES");
        NAMES.put(CLOCK, "CLOCK");
        NAMES.put(TIMED_WAIT, "TIMED_WAIT");
        NAMES.put(RANDOM, "RANDOM");
        NAMES.put(SOCKET_ACCEPT, "SOCKET_ACCEPT");
        NAMES.put(SOCKET_READ, "SOCKET_READ");
        NAMES.put(SOCKET_WRITE, "SOCKET_WRITE");
        NAMES.put(SELECT, "SELECT");
        NAMES.put(SCHEDULE, "SCHEDULE");
        NAMES.put(STAMP_CHECK, "STAMP_CHECK");
        NAMES.put(CHECKPOINT, "CHECKPOINT");
        NAMES.put(NOTE, "NOTE");
    }

    private RecordTypes() {}

    /** Name of a type code, or {@code TYPE_<n>} for a code this build does not know. */
    public static String name(int type) {
        String n = NAMES.get(type);
        return n != null ? n : "TYPE_" + type;
    }

    /** Code of a type name (case-insensitive), or of a number written as digits; -1 if unknown. */
    public static int code(String name) {
        for (Map.Entry<Integer, String> e : NAMES.entrySet()) {
            if (e.getValue().equalsIgnoreCase(name)) {
                return e.getKey();
            }
        }
        try {
            return Integer.parseInt(name.startsWith("TYPE_") ? name.substring(5) : name);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public static Map<Integer, String> all() {
        return Map.copyOf(NAMES);
    }
}
